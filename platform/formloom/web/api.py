"""The JSON REST API for records: /api/v1/<app>/<entity>[/<id>[/stage|/restore]].

Authentication is a Bearer token (`Authorization: Bearer TOKEN`); a logged-in
browser session works too, but then every state-changing request needs the
CSRF token like any form (a cookie alone never authorizes a write). Every call
asks the one policy: lists are scoped in SQL, a record one may not read answers
404 (its existence is not revealed), hidden fields are absent from responses
and cannot be filtered or sorted on, and a write naming a field one may not
write is refused whole (422) before anything is stored.

Answers: 200/201/204 on success; 400 bad parameters or body; 401 no or bad
token; 403 not allowed; 404 unknown app, entity or record; 409 stale version;
413 body too large; 415 not JSON; 422 `{"errors": [{field, path, code,
message}]}` listing every problem in the caller's language (Accept-Language,
else the user's language); 428 a change without the version it applies to.
The OpenAPI document (openapi.py) says the same: list parameters come from one
description (api_params.py) that the document publishes and `list_view` enforces,
and each 422 lists the business rules that may refuse a schema-valid request.
"""
from __future__ import annotations

import json
import math
import re
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator, Mapping

from flask import Blueprint, current_app, g, jsonify, make_response, request
from flask_babel import gettext as _
from sqlalchemy import Connection

from ..auth import policy
from ..auth.tokens import TOKEN_NOT_REVOKED, actor_of_token_rows, token_due_for_touch, token_read, touch_token
from ..auth.users import Actor, reports_of
from ..definitions.model import AppDef, EntityDef, StageDef
from ..errors import ConflictError, ForbiddenError, FormloomError, NotFoundError, RecordInvalid
from ..fields import FieldProblem
from ..i18n import translate
from ..record_data import pointer
from ..store.apps import CURRENT_VERSIONS
from ..store.db import read_together
from ..store.query import parse_list_args, list_records
from ..store.records import (Record, create_record, delete_record, get_record, record_of_rows,
                             record_read_locked_if, restore_record, stale, update_record)
from ..workflow import GateBlocked, OverrideReasonMissing, move_to_stage
from ..workflow.approvals import ApprovalStarted
from . import errors as web_errors
from .api_params import check_query, list_parameters
from .auth import SessionUser
from .helpers import catalog, current_actor, db, lang

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_ID = 2**53                 # larger ids do not exist (and would overflow a BIGINT)
MAX_JSON_DEPTH = 32
REALM = 'Bearer realm="formloom"'
MAX_REASON = 2000
IF_MATCH = r'(?:W/)?"?([0-9]{1,18})"?'            # the OpenAPI document publishes the same pattern


class Unauthorized(FormloomError):
    """No valid credentials: no token, an unknown, revoked or expired one, or an inactive user."""

    status = 401
    code = "unauthorized"


class VersionRequired(FormloomError):
    """A change must say which version of the record it applies to."""

    status = 428
    code = "version_required"


class UnsupportedMediaType(FormloomError):
    status = 415
    code = "unsupported_media_type"


# -- authentication -------------------------------------------------------------------

@bp.before_request
def authenticate() -> None:
    _refuse_bad_text(request.args.items(multi=True))
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized(_("Send your API token as: Authorization: Bearer TOKEN"))
        max_days = current_app.config.get("API_TOKEN_MAX_AGE_DAYS")
        max_age = timedelta(days=max_days) if max_days else None
        if _shares_transaction():
            conn = db().engine.connect().execution_options(formloom_write=True)
            g._api_write = conn                   # write_transaction() commits it, teardown closes it
            conn.begin()
            found = _check_token(conn, secret.strip(), max_age, _record_to_lock())
        else:
            with db().read() as conn:
                found = _check_token(conn, secret.strip(), max_age)
        if found is None:
            raise Unauthorized(_("This API token is not valid (unknown, revoked or expired)."),
                               hint=_("Create a new token on your profile page."))
        actor, token = found
        g._login_user = SessionUser(actor)        # this request acts as the token's user; no session is made
        g.api_token = token
        if token_due_for_touch(token):
            with db().write() as conn:
                touch_token(conn, token)
        return
    if current_actor() is None:
        raise Unauthorized(_("Please log in first."), hint=_("Send your API token as: Authorization: Bearer TOKEN"))
    if request.method not in SAFE_METHODS:
        from .setup import csrf
        csrf.protect()                            # a session cookie alone never authorizes a write


def _check_token(conn, secret: str, max_age: timedelta | None, record: tuple[str, str, int] | None = None):
    """The token's actor and the installed apps (the ones this request will look up, in the
    same transaction), read together: one round trip with the BEGIN on PostgreSQL. With
    `record` (app, entity, id: a change to one record, see _record_to_lock), that record is
    read FOR UPDATE in the same round trip, if the token is one (an unknown or revoked token
    locks nothing), and kept for `readable` to find in this transaction."""
    read = token_read(secret)
    if read is None:
        return None
    reads = [read, (CURRENT_VERSIONS, {})]
    if record is not None:
        statement, params = record_read_locked_if(TOKEN_NOT_REVOKED, *record)
        reads.append((statement, {**params, **read[1]}))
    token_rows, app_rows, *record_rows = read_together(conn, reads)
    found = actor_of_token_rows(conn, token_rows, max_age=max_age)
    if found is not None:
        catalog().installed(conn, app_rows)
        if record is not None:
            g._api_locked_record = (conn, record, record_rows[0])
    return found


def locks_its_record(view):
    """Mark an API write to one record (/<app>/<entity>/<id>) that reads it FOR UPDATE first
    thing in its transaction: on PostgreSQL that read is sent with the token's (one round
    trip fewer). Only with @one_transaction."""
    view.formloom_locks_record = True
    return view


def _record_to_lock() -> tuple[str, str, int] | None:
    """The record a @locks_its_record view names, when its read may go with the token's."""
    view = current_app.view_functions.get(request.endpoint or "")
    args = request.view_args or {}
    if not getattr(view, "formloom_locks_record", False) or not isinstance(args.get("record_id"), int):
        return None
    if args["record_id"] > MAX_ID:                # no such record (checked_id answers 404)
        return None
    return str(args.get("app_key")), str(args.get("entity_key")), args["record_id"]


def one_transaction(view):
    """Mark an API write whose token check may share its write transaction (see write_transaction)."""
    view.formloom_one_transaction = True
    return view


def _shares_transaction() -> bool:
    """On PostgreSQL a token-authenticated write checks its token in the transaction that
    then writes: one BEGIN and one COMMIT fewer, two of a write's ~15 round trips. Not on
    SQLite, where a write transaction begins with BEGIN IMMEDIATE and would hold the
    database's one write lock from the token check on, even for a request refused before
    it writes; nor for a view that does not take the transaction (write_transaction)."""
    if request.method in SAFE_METHODS or not db().is_postgres:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "formloom_one_transaction", False))


@contextmanager
def write_transaction() -> Iterator[Connection]:
    """The request's write transaction: the one its token was checked in when authenticate()
    opened one (committed when the block ends, rolled back if it raises), else a new one."""
    conn = g.pop("_api_write", None)
    if conn is None:
        with db().write() as conn:
            yield conn
        return
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()                          # rolls back whatever was not committed


@bp.teardown_request
def _close_unused_transaction(_error) -> None:
    """A request refused before its write (404, 422 on the body) never took the transaction."""
    conn = g.pop("_api_write", None)
    if conn is not None:
        conn.close()


def token_authenticated() -> bool:
    return getattr(g, "api_token", None) is not None


@bp.errorhandler(Unauthorized)
def _unauthorized(error: Unauthorized):
    response = make_response(web_errors.error_response(401, error.code, error.message, error.hint))
    response.headers["WWW-Authenticate"] = REALM
    return response


@bp.errorhandler(RecordInvalid)
def _invalid(error: RecordInvalid):
    return _problems_response(error.problems)


@bp.errorhandler(GateBlocked)
def _gate_blocked(error: GateBlocked):
    body = {"error": {"code": "gate_blocked", "message": error.message, "hint": error.hint},
            "errors": [f.as_dict() for f in error.failures]}
    return jsonify(body), 422


@bp.errorhandler(OverrideReasonMissing)
def _override_without_reason(error: OverrideReasonMissing):
    return missing_reason(error, "/override_reason")


def missing_reason(error: FormloomError, path: str):
    """Every 422 of the API lists its problems under "errors", as the document says, even
    a refusal that is not about a field (a reason left empty): one shape to parse."""
    problem = {"field": None, "path": path, "code": error.code, "message": error.message}
    return jsonify({"error": {"code": error.code, "message": error.message, "hint": error.hint},
                    "errors": [problem]}), 422


@bp.errorhandler(ConflictError)
def _conflict(error: ConflictError):
    current = getattr(error, "current", None)
    body = {"error": {"code": error.code, "message": error.message, "hint": error.hint}}
    if current is not None:
        body["current_version"] = current.version
    return jsonify(body), 409


def _problems_response(problems) -> Any:
    seen, unique = set(), []
    for p in problems:
        item = (p.field, p.path, p.code, p.message)
        if item not in seen:
            seen.add(item)
            unique.append({"field": p.field, "path": p.path, "code": p.code, "message": p.message})
    body = {"error": {"code": "invalid", "message": _("Some values need attention."), "hint": None},
            "errors": unique}
    return jsonify(body), 422


# -- where the URL points -------------------------------------------------------------

def actor() -> Actor:
    found = current_actor()
    assert found is not None     # authenticate() ran
    return found


def place(app_key: str, entity_key: str) -> tuple[AppDef, int, EntityDef]:
    """The app and entity, if the actor belongs to the app and may read the entity; 404 otherwise."""
    if not KEY.match(app_key) or not KEY.match(entity_key):
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key if KEY.match(app_key) else app_key))
    try:
        app, version_id = catalog().get(app_key)
    except NotFoundError:
        raise NotFoundError(_("There is no app %(key)s.", key=app_key)) from None
    if not policy.is_member(actor(), app):
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    entity = app.entity(entity_key)
    if entity is None or policy.scope(actor(), "read", app, entity) == "none":
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key))
    return app, version_id, entity


def checked_id(record_id: int) -> int:
    if record_id > MAX_ID:
        raise NotFoundError(_("There is no such record."))
    return record_id


def team_of(conn):
    return lambda user_id: reports_of(conn, user_id)


def readable(conn, app: AppDef, entity: EntityDef, record_id: int, *, for_update: bool = False) -> Record:
    try:
        record = _locked_with_token(conn, app, entity, record_id) if for_update else None
        if record is None:
            record = get_record(conn, app, entity, checked_id(record_id), for_update=for_update)
    except NotFoundError:
        raise NotFoundError(_("There is no such record.")) from None
    if not policy.can(actor(), "read", app, entity, record, team_of=team_of(conn)):
        raise NotFoundError(_("There is no such record."))
    return record


def _locked_with_token(conn, app: AppDef, entity: EntityDef, record_id: int) -> Record | None:
    """The record as _check_token read it FOR UPDATE in this transaction, if it did (once)."""
    held = g.pop("_api_locked_record", None)
    if held is None or held[0] is not conn or held[1] != (app.key, entity.key, record_id):
        return None
    return record_of_rows(held[2])


def stage_def(app: AppDef, entity: EntityDef, stage_key: str | None) -> StageDef | None:
    workflow = app.workflow_for(entity.key)
    if workflow is None:
        return None
    if stage_key is None:
        return workflow.first_stage
    return workflow.stage(stage_key)


def shown_keys(app: AppDef, entity: EntityDef, stage_key: str | None, cache: dict | None = None) -> tuple[str, ...]:
    """The keys of the fields the actor sees in a record at `stage_key` (hidden and archived
    fields are absent), asked of the policy once per stage in a request: a list of 50
    records in a few stages asks it a few times, not 50."""
    if cache is None:
        cache = g.setdefault("api_shown_keys", {})
    found = cache.get((app.key, entity.key, stage_key))
    if found is None:
        visible = policy.visible_fields(actor(), app, entity, stage_def(app, entity, stage_key))
        found = cache[(app.key, entity.key, stage_key)] = tuple(f.key for f in visible if not f.archived)
    return found


def record_json(app: AppDef, entity: EntityDef, record: Record, shown: dict | None = None) -> dict:
    """The record as the actor may see it: hidden (and archived) fields are absent."""
    data = record.data
    return {
        "id": record.id,
        "version": record.version,
        "stage": record.stage,
        "owner": record.owner_id,
        "data": {key: data.get(key) for key in shown_keys(app, entity, record.stage, shown)},
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def record_response(app: AppDef, entity: EntityDef, record: Record, status: int = 200):
    response = jsonify(record_json(app, entity, record))
    response.status_code = status
    response.headers["ETag"] = f'"{record.version}"'
    return response


# -- request bodies -----------------------------------------------------------------

def json_body(allowed: tuple[str, ...]) -> dict:
    """The request's JSON object; 415 when it is not JSON, 400 when it cannot be used."""
    raw = request.get_data(cache=True)             # 413 when larger than MAX_CONTENT_LENGTH
    if not raw.strip():
        return {}
    if not request.is_json:
        raise UnsupportedMediaType(_("Send JSON with the header Content-Type: application/json."))
    try:
        body = json.loads(raw, parse_constant=_no_constants, object_pairs_hook=_unique_keys,
                          parse_float=_finite_float)
    except NonFiniteNumber as number:
        raise FormloomError(_("The number %(number)s in the body is too large.", number=number.text[:40]),
                            hint=_("Send finite numbers only.")) from None
    except DuplicateKey as duplicate:
        raise FormloomError(_("The key %(key)s appears more than once in the same object of the body.",
                              key=repr(duplicate.key)[:80]),
                            hint=_("Send each key once (JSON readers would silently keep only the last).")) from None
    except (ValueError, RecursionError):
        raise FormloomError(_("The body is not valid JSON."), hint=_("Check the JSON syntax and try again.")) \
            from None
    if not isinstance(body, dict):
        raise FormloomError(_("The body must be a JSON object."))
    if _needs_walk(raw):
        _refuse_bad_text(_strings(body))
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise FormloomError(_("Unknown key %(key)s in the body.", key=repr(unknown[0])[:80]),
                            hint=_("Allowed keys: %(keys)s.", keys=", ".join(allowed)))
    return body


class DuplicateKey(ValueError):
    """A JSON object names the same key twice (at any depth)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """Refuse duplicate keys like the document loader does: which value wins is up to the
    reader, so one part of a system could check "a" while another stores "b"."""
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


class NonFiniteNumber(ValueError):
    """A JSON number too large for a float (1e999): it would become infinity."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(text)
    return value


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
#: the only ways a JSON text can hold NUL or a lone surrogate (raw control characters and
#: invalid UTF-8 are refused by the parser): an escape; an escaped backslash before "u" is a
#: false alarm that only costs the full walk
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _needs_walk(raw: bytes) -> bool:
    """Whether the parsed body must be walked value by value (`_strings`): it may hold text
    no database stores, or be nested nearly too deep. A bulk body of a thousand records has
    a hundred thousand values; its brackets and escapes are found in the raw bytes instead."""
    if _SUSPECT_ESCAPE.search(raw):
        return True
    depth = deepest = 0
    for char in _NOT_BRACKET.sub(b"", _STRING_LITERAL.sub(b"", raw)):
        if char in (91, 123):           # [ {
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest > MAX_JSON_DEPTH


def _strings(value: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > MAX_JSON_DEPTH:
        raise FormloomError(_("The body is nested too deeply."))
    if isinstance(value, str):
        yield "", value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield "", k
            yield from _strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, depth + 1)


def _refuse_bad_text(pairs) -> None:
    """NUL characters and lone surrogates cannot be stored by any database: refuse them up front."""
    for name, value in pairs:
        for text in (name, value):
            if not isinstance(text, str):
                continue
            if "\x00" in text:
                raise FormloomError(_("Text must not contain NUL characters."))
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise FormloomError(_("Text must be valid Unicode.")) from None


def data_of(body: Mapping[str, Any], required: bool = False) -> dict:
    if required and "data" not in body:
        raise FormloomError(_("Send the fields to change as \"data\", a JSON object."),
                            hint=_("For example: {\"data\": {\"name\": \"New name\"}, \"version\": 3}"))
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise RecordInvalid([FieldProblem("data", "", "type", _("data must be a JSON object."))])
    return data


def version_of(body: Mapping[str, Any], required: bool) -> int | None:
    """The version a change applies to: body "version", else If-Match ("3", W/"3" or 3).

    A JSON number with no fraction (3.0) is the whole number it names, as in JSON
    Schema; `"version": null` is refused like any other non-number."""
    header = request.headers.get("If-Match")
    header_version = None
    if header is not None and header.strip() not in ("", "*"):
        match = re.fullmatch(IF_MATCH, header.strip())
        if not match:
            raise FormloomError(_("If-Match must be the record's version, such as \"3\"."))
        header_version = int(match.group(1))
    version = body.get("version")
    if "version" not in body:
        version = header_version
    elif isinstance(version, float) and version.is_integer():
        version = int(version)
    if "version" in body and (isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**62):
        raise FormloomError(_("version must be a positive whole number."))
    if version is None and required:
        raise VersionRequired(_("Say which version of the record you are changing."),
                              hint=_("Send \"version\" in the body or an If-Match header with the version you read."))
    return version


def key_problems(entity: EntityDef, incoming: Mapping[str, Any], visible: set[str], writable: set[str],
                 lang_code: str) -> list[FieldProblem]:
    """Every key one may not write: unknown and hidden fields alike are "unknown" (no probing)."""
    problems = []
    for key in incoming:
        f = entity.field(key)
        if f is None or f.archived or key not in visible:
            problems.append(FieldProblem(key, pointer(key), "unknown_field",
                                         translate(lang_code, "This field does not exist.")))
        elif f.is_computed:
            problems.append(FieldProblem(key, pointer(key), "computed",
                                         translate(lang_code, "This field is computed and cannot be set.")))
        elif key not in writable:
            problems.append(FieldProblem(key, pointer(key), "readonly",
                                         translate(lang_code, "This field cannot be changed.")))
    return problems


def field_sets(app: AppDef, entity: EntityDef, stage: StageDef | None) -> tuple[set[str], set[str]]:
    who = actor()
    return ({f.key for f in policy.visible_fields(who, app, entity, stage)},
            {f.key for f in policy.writable_fields(who, app, entity, stage)})


# -- the endpoints --------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi_json():
    """The API's own description, tailored to the caller (web/openapi.py builds it; it reads
    this module's limits, hence the import here rather than at the top)."""
    from .openapi import openapi_document
    return jsonify(openapi_document(current_actor(), lang()))


#: (the compiled entity, visible field keys) -> the list's parameters: they depend on nothing
#: else, and building them (option patterns in any case, per operator) cost more than the
#: list's query. The catalog keeps one compiled entity per published version, so a new
#: version is a new entry; the entity is held in the value, so its id is never reused while
#: the entry lives. Bounded: cleared when it grows past what a few versions and roles need.
_PARAMETERS: dict[tuple, tuple[EntityDef, list]] = {}
_PARAMETERS_MAX = 512


def cached_list_parameters(entity: EntityDef, visible) -> list:
    key = (id(entity), tuple(f.key for f in visible))
    found = _PARAMETERS.get(key)
    if found is None or found[0] is not entity:
        if len(_PARAMETERS) >= _PARAMETERS_MAX:
            _PARAMETERS.clear()
        found = _PARAMETERS[key] = (entity, list_parameters(entity, visible))
    return found[1]


@bp.get("/<app_key>/<entity_key>")
def list_view(app_key: str, entity_key: str):
    app, _version_id, entity = place(app_key, entity_key)
    visible = policy.visible_fields(actor(), app, entity)
    check_query(request.args.items(multi=True), cached_list_parameters(entity, visible))
    query = parse_list_args(entity, request.args, visible, getlist=request.args.getlist, lang=lang())
    if query.owner_id is not None and not 0 < query.owner_id <= MAX_ID:
        raise FormloomError(_("owner must be a user id."))
    with db().read() as conn:
        page = list_records(conn, app, entity, actor(), query)
    shown: dict = {}
    return jsonify({"items": [record_json(app, entity, r, shown) for r in page.items], "limit": page.limit,
                    "offset": page.offset, "has_more": page.has_more, "next_offset": page.next_offset})


@bp.post("/<app_key>/<entity_key>")
@one_transaction
def create(app_key: str, entity_key: str):
    app, version_id, entity = place(app_key, entity_key)
    if not policy.can(actor(), "create", app, entity):
        raise ForbiddenError(_("You may not do this here."), hint=_("Ask an administrator of this app for access."))
    incoming = data_of(json_body(("data",)))
    visible, writable = field_sets(app, entity, stage_def(app, entity, None))
    problems = key_problems(entity, incoming, visible, writable, lang())
    allowed = {k: v for k, v in incoming.items() if k in writable}
    try:
        with write_transaction() as conn:
            record = create_record(conn, app, entity, allowed, actor_id=actor().id, lang=lang(),
                                   writable=writable, version_id=version_id, reader=actor(), check_hidden=True)
            if problems:
                raise RecordInvalid(problems)      # rolls the insert back: nothing is stored
    except RecordInvalid as invalid:
        raise RecordInvalid(problems + invalid.problems) from None
    return record_response(app, entity, record, 201)


@bp.get("/<app_key>/<entity_key>/<int:record_id>")
def detail(app_key: str, entity_key: str, record_id: int):
    app, _version_id, entity = place(app_key, entity_key)
    with db().read() as conn:
        record = readable(conn, app, entity, record_id)
    return record_response(app, entity, record)


@bp.patch("/<app_key>/<entity_key>/<int:record_id>")
@one_transaction
@locks_its_record
def change(app_key: str, entity_key: str, record_id: int):
    app, version_id, entity = place(app_key, entity_key)
    body = json_body(("data", "version"))
    incoming = data_of(body, required=True)
    expected = version_of(body, required=True)
    problems: list[FieldProblem] = []
    try:
        with write_transaction() as conn:
            record = readable(conn, app, entity, record_id, for_update=True)
            if not policy.can(actor(), "update", app, entity, record, team_of=team_of(conn)):
                raise ForbiddenError(_("You may not change this record."),
                                     hint=_("Ask an administrator of this app for access."))
            if expected != record.version:
                raise stale(record, lang())
            visible, writable = field_sets(app, entity, stage_def(app, entity, record.stage))
            problems = key_problems(entity, incoming, visible, writable, lang())
            allowed = {k: v for k, v in incoming.items() if k in writable}
            record = update_record(conn, app, entity, record.id, allowed, actor_id=actor().id,
                                   expected_version=expected, lang=lang(), writable=writable,
                                   version_id=version_id, reader=actor(), check_hidden=True, current=record)
            if problems:
                raise RecordInvalid(problems)
    except RecordInvalid as invalid:
        raise RecordInvalid(problems + invalid.problems) from None
    return record_response(app, entity, record)


@bp.delete("/<app_key>/<entity_key>/<int:record_id>")
@one_transaction
def remove(app_key: str, entity_key: str, record_id: int):
    app, _version_id, entity = place(app_key, entity_key)
    expected = version_of({}, required=False)
    with write_transaction() as conn:
        record = readable(conn, app, entity, record_id, for_update=True)
        if not policy.can(actor(), "delete", app, entity, record, team_of=team_of(conn)):
            raise ForbiddenError(_("You may not delete this record."),
                                 hint=_("Ask an administrator of this app for access."))
        if expected is not None and expected != record.version:
            raise stale(record, lang())
        delete_record(conn, app, entity, record.id, actor_id=actor().id)
    return "", 204


@bp.post("/<app_key>/<entity_key>/<int:record_id>/restore")
def restore(app_key: str, entity_key: str, record_id: int):
    """Undo a delete: app admins only."""
    app, _version_id, entity = place(app_key, entity_key)
    if not policy.is_app_admin(actor(), app):
        raise ForbiddenError(_("Only app admins may restore deleted records."))
    json_body(())
    try:
        with db().write() as conn:
            record = restore_record(conn, app, entity, checked_id(record_id), actor_id=actor().id, lang=lang())
    except NotFoundError:
        raise NotFoundError(_("There is no such record.")) from None
    return record_response(app, entity, record)


@bp.post("/<app_key>/<entity_key>/<int:record_id>/stage")
@one_transaction
def move(app_key: str, entity_key: str, record_id: int):
    """Move through the stage gate: 200 with the record, 422 listing every unmet requirement,
    202 with `{"approval": request}` when the move needs approval and a request was started.
    `data` (with `version`) is saved with the move in one commit, judged in the target stage."""
    app, _version_id, entity = place(app_key, entity_key)
    body = json_body(("to", "version", "data", "override_reason"))
    target = body.get("to")
    if not isinstance(target, str) or not target:
        raise FormloomError(_("Say which stage to move to, as \"to\"."))
    reason = body.get("override_reason")
    if "override_reason" in body and not isinstance(reason, str):
        raise FormloomError(_("override_reason must be text."))
    if reason is not None and len(reason) > MAX_REASON:
        raise FormloomError(_("override_reason must be at most %(max)s characters.", max=MAX_REASON))
    incoming = data_of(body)
    expected = version_of(body, required=bool(incoming))
    problems: list[FieldProblem] = []
    try:
        with write_transaction() as conn:
            values = None
            if incoming:
                stage = stage_def(app, entity, target[:200])
                if stage is not None:     # an unknown stage is move_to_stage's to report
                    visible, writable = field_sets(app, entity, stage)
                    problems = key_problems(entity, incoming, visible, writable, lang())
                    values = {k: v for k, v in incoming.items() if k in writable}
            try:
                record = move_to_stage(conn, app, entity, checked_id(record_id), target[:200], actor(),
                                       expected_version=expected, values=values, override_reason=reason,
                                       lang=lang(), request_approval=True, check_hidden=True)
            except ApprovalStarted as started:
                if problems:
                    raise RecordInvalid(problems) from None    # rolls the request back: nothing is stored
                return jsonify({"approval": started.request.as_dict(lang())}), 202
            except GateBlocked:
                if problems:           # the refused keys explain the refusal better than the gate
                    raise RecordInvalid(problems) from None
                raise
            if problems:
                raise RecordInvalid(problems)      # rolls the move back: nothing is stored
    except NotFoundError:
        raise NotFoundError(_("There is no such record.")) from None
    except RecordInvalid as invalid:
        if invalid.problems == problems:
            raise
        raise RecordInvalid(problems + invalid.problems) from None
    return record_response(app, entity, record)
