"""The designer through the API: an app's draft, its impact, publishing and versions,
for scripts, CI and keeping apps in git. App admins only (a member who is not
one gets 403; anyone else 404, as for the app's records).

The routes have their own blueprint sharing the records API's authentication (the
same Bearer token, CSRF for session callers) and error shapes. They call the same
functions the designer's pages call (design/drafts.py, design/impact.py), so the
browser and the API cannot disagree about what is valid or what publishing does.

Documents travel as `{"app": {...}, "workflows": [{"key": ..., ...}], "version": n}`:
workflows are a list (each document names its own key, as in its file), and
`version` is the draft's revision (0 while there is no draft: the live documents).
A replace names the revision it was made on, as "version" in the body or in
If-Match; a stale one answers 409. A replace with problems stores nothing and
answers 422 listing each problem with its document and JSON path.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth import policy
from ..definitions.model import AppDef
from ..definitions.problems import DocumentError, Problem
from ..design import drafts, impact as impact_mod
from ..errors import ConflictError, ForbiddenError, FormloomError, InstallError, NotFoundError
from ..store.apps import InstalledVersion, current_version, list_versions
from ..store.records import _aware
from ..store.tables import definition_versions, users
from . import api
from .api import IF_MATCH, KEY, VersionRequired, actor, json_body
from .helpers import catalog, db, lang
from .problem_text import problem_message

#: the `errors[].code` of a problem found in a document (validation, meaning checks)
DOCUMENT_PROBLEM = "document"
#: the `error.code` of a publish the install refuses (a stored value would not survive)
VALUES_LOST = "install_refused"
MAX_COMMENT = 2000
#: what GET .../draft adds to the documents; a PUT may send them back (they are ignored)
READ_ONLY = ("live_version", "stale", "problems")


class DraftInvalid(FormloomError):
    """Documents with problems: each is listed with its document and JSON path."""

    status = 422
    code = "invalid"

    def __init__(self, problems: list[Problem]):
        super().__init__(_("The documents have problems; nothing was changed."))
        self.problems = problems


bp = Blueprint("api_design", __name__, url_prefix="/api/v1")
bp.before_request(api.authenticate)
bp.register_error_handler(api.Unauthorized, api._unauthorized)
bp.register_error_handler(ConflictError, api._conflict)


@bp.errorhandler(DraftInvalid)
def _draft_invalid(error: DraftInvalid):
    return _json({"error": {"code": error.code, "message": error.message,
                            "hint": _("Fix each problem at the path given, then send the documents again.")},
                  "errors": problems_json(error.problems)}, 422)


def problems_json(problems: list[Problem]) -> list[dict]:
    """Problems as the API lists them: `document` (app.json, workflows/<key>.json), `path` (JSON path)."""
    return [{"field": None, "document": p.source, "path": p.json_path, "code": DOCUMENT_PROBLEM,
             "message": problem_message(p.message)} for p in problems]


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    """JSON with the documents' own key order (not sorted), pretty printed like a downloaded file."""
    return Response(json.dumps(body, ensure_ascii=False, indent=2) + "\n", status=status,
                    mimetype="application/json", headers=headers)


def admin_app(app_key: str) -> AppDef:
    """The app, for its admins: 404 when unknown or not the caller's, 403 for its other members."""
    try:
        app = catalog().get(app_key)[0] if KEY.match(app_key) else None
    except NotFoundError:
        app = None
    if app is None or not policy.is_member(actor(), app):
        raise NotFoundError(_("There is no app %(key)s.", key=app_key[:80]))
    if not policy.is_app_admin(actor(), app):
        raise ForbiddenError(_("Only the administrators of this app may design it."),
                             hint=_("Ask an administrator of this app for access."))
    return app


def as_documents(documents: dict, version: int) -> dict:
    workflows = documents.get("workflows") or {}
    return {"app": documents["app"], "workflows": [workflows[k] for k in sorted(workflows)], "version": version}


def _live(conn, app_key: str) -> InstalledVersion:
    live = current_version(conn, app_key)
    if live is None:
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    return live


# -- the draft ------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/draft")
def design_get_draft(app_key: str):
    app = admin_app(app_key)
    with db().read() as conn:
        draft, live, documents, problems = _state(conn, app.key)
    revision = draft.revision if draft else 0
    return _json({**as_documents(documents, revision), **_status(draft, live, problems)},
                 headers={"ETag": f'"{revision}"'})


def _problems(live: InstalledVersion, documents: dict) -> list[Problem]:
    return drafts.draft_problems(documents, drafts.archived_fields(live.documents, documents["app"]))


def _state(conn, app_key: str) -> tuple[drafts.Draft | None, InstalledVersion, dict, list[Problem]]:
    """The draft (the live documents while there is none), the live version, and the draft's problems."""
    draft = drafts.load_draft(conn, app_key)
    live = _live(conn, app_key)
    documents = drafts.documents_of(draft, live)
    return draft, live, documents, _problems(live, documents)


def _status(draft: drafts.Draft | None, live: InstalledVersion, problems: list[Problem]) -> dict:
    return {"live_version": live.number, "stale": bool(draft and draft.base_version_id != live.id),
            "problems": problems_json(problems)}


def _workflows_of(body: dict) -> dict:
    """The body's workflow list as {key: document}; 400 when it is not a list of keyed objects,
    422 when two name the same key (the schema cannot say that)."""
    listed = body.get("workflows")
    if not isinstance(listed, list):
        raise FormloomError(_("Send the workflows as \"workflows\", a list of workflow documents (or [])."))
    out: dict[str, dict] = {}
    for i, doc in enumerate(listed):
        key = doc.get("key") if isinstance(doc, dict) else None
        if not isinstance(key, str) or not KEY.match(key):
            raise FormloomError(_("workflows[%(index)s] must be a workflow document with a \"key\".", index=i))
        if key in out:
            raise DraftInvalid([Problem(f"workflows/{key}.json", "$.key",
                                        _("Two workflow documents have the key %(key)s.", key=key))])
        out[key] = doc
    return out


def _revision(body: dict) -> int:
    """The draft revision a write was made on: body "version", else If-Match; 0 means the
    live documents (no draft yet), as GET .../draft says."""
    if "version" in body:
        found = body["version"]
        if isinstance(found, float) and found.is_integer():
            found = int(found)
        if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found < 2**62:
            raise FormloomError(_("version must be a whole number, the one GET .../draft gave."))
        return found
    header = (request.headers.get("If-Match") or "").strip()
    match = re.fullmatch(IF_MATCH, header) if header not in ("", "*") else None
    if header not in ("", "*") and match is None:
        raise FormloomError(_("If-Match must be the draft's version, such as \"3\"."))
    if match is None:
        raise VersionRequired(_("Say which revision of the draft you are replacing."),
                              hint=_("Send \"version\" (from GET .../draft) in the body or an If-Match header."))
    return int(match.group(1))


@bp.put("/apps/<app_key>/draft")
def design_put_draft(app_key: str):
    app = admin_app(app_key)
    body = json_body(("app", "workflows", "version", *READ_ONLY))
    if not isinstance(body.get("app"), dict):
        raise FormloomError(_("Send the app document as \"app\", a JSON object."))
    revision = _revision(body)
    workflows = _workflows_of(body)
    if body["app"].get("key") != app.key:
        raise DraftInvalid([Problem("app.json", "$.key", _("The key of an app cannot change here; it must be %(key)s.",
                                                           key=app.key))])
    documents = {"app": body["app"], "workflows": workflows}
    with db().write() as conn:
        live = _live(conn, app.key)
        problems = _problems(live, documents)
        if problems:
            raise DraftInvalid(problems)
        draft = drafts.load_draft(conn, app.key)
        if draft is None and revision == 0:
            draft = drafts.open_draft(conn, app.key, actor().id)
        elif draft is None or draft.revision != revision:
            raise _translated(drafts.DraftConflict("Someone else changed this draft since you opened it.",
                                                   hint="Reload the page to see their change, then make yours again."))
        saved = drafts.save_draft(conn, app.key, documents, draft.revision, actor().id)
    return _json({**as_documents(saved.documents, saved.revision), **_status(saved, live, [])},
                 headers={"ETag": f'"{saved.revision}"'})


def _translated(error: FormloomError) -> FormloomError:
    return type(error)(_(error.message), hint=_(error.hint) if error.hint else None)


# -- impact and publish ---------------------------------------------------------------------

def _text(value: Any) -> Any:
    return value.get(lang()) if hasattr(value, "get") and not isinstance(value, (str, dict)) else value


def change_json(change: impact_mod.Change) -> dict:
    entity_key, _sep, field_key = change.key.partition(".")
    return {"kind": change.kind, "entity": entity_key or None, "field": field_key or None,
            "entity_label": _text(change.entity), "field_label": _text(change.field),
            "records": change.records, "converts": change.converts, "fails": change.fails,
            "examples": [{"record": rid, "value": value} for rid, value in change.examples],
            "before": change.before or None, "after": change.after or None, "blocking": change.blocking}


@bp.get("/apps/<app_key>/draft/impact")
def design_draft_impact(app_key: str):
    """What publishing the draft would change. A draft with problems has no impact to show:
    `publishable` is false and `problems` lists them."""
    app = admin_app(app_key)
    with db().read() as conn:
        draft, live, documents, problems = _state(conn, app.key)
        preview = None if problems else impact_mod.preview(conn, live.documents, documents)
    status = _status(draft, live, problems)
    return _json({"version": draft.revision if draft else 0, **status,
                  "publishable": bool(draft) and preview is not None and not preview.blocked and not status["stale"],
                  "changes": [change_json(c) for c in preview.changes] if preview else [],
                  "records": preview.records if preview else {}})


def version_json(row) -> dict:
    return {"number": row.number, "hash": row.content_hash, "created_at": _aware(row.created_at).isoformat(),
            "created_by": None if row.created_by is None else {"id": row.created_by, "name": row.name or row.email},
            "comment": row.comment, "source": row.source}


def _version_rows(app_key: str, number: int | None = None) -> list:
    query = (select(definition_versions.c.number, definition_versions.c.content_hash,
                    definition_versions.c.created_at, definition_versions.c.created_by,
                    definition_versions.c.comment, definition_versions.c.source, users.c.name, users.c.email)
             .select_from(definition_versions.outerjoin(users, users.c.id == definition_versions.c.created_by))
             .where(definition_versions.c.app_key == app_key).order_by(definition_versions.c.number.desc()))
    if number is not None:
        query = query.where(definition_versions.c.number == number)
    with db().read() as conn:
        return conn.execute(query).all()


def _published(app_key: str, result) -> Response:
    row = _version_rows(app_key, result.version.number)[0]
    return _json({"version": version_json(row), "changed": result.changed, "archived": result.archived,
                  "restored": result.restored, "converted": result.converted})


def _refusal(error: InstallError) -> Response:
    """A publish the install or its checks refuse, as a 422 (the draft's problems, or the values lost)."""
    problems = getattr(error, "problems", None)
    if problems:
        raise DraftInvalid(problems)
    return _json({"error": {"code": VALUES_LOST, "message": _(error.message),
                            "hint": _(error.hint) if error.hint else None},
                  "errors": [{"field": None, "path": "$", "code": VALUES_LOST, "message": _(error.message)}]}, 422)


@bp.post("/apps/<app_key>/draft/publish")
def design_publish(app_key: str):
    app = admin_app(app_key)
    body = json_body(("comment", "version"))
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise FormloomError(_("comment must be text of at most %(max)s characters.", max=MAX_COMMENT))
    with db().read() as conn:
        draft = drafts.load_draft(conn, app.key)
    if draft is None:
        raise NotFoundError(_("There is no draft to publish."), hint=_("Make a change in the designer first."))
    revision = (_revision(body) if "version" in body or (request.headers.get("If-Match") or "").strip() not in ("", "*")
                else draft.revision)
    try:
        result = drafts.publish_draft(db(), app.key, revision=revision, user_id=actor().id, comment=comment,
                                      catalog=current_app.extensions["formloom.catalog"])
    except (drafts.DraftConflict, NotFoundError) as error:
        raise _translated(error) from None
    except drafts.PublishRefused as refused:
        if not refused.problems:       # the live app changed since the draft began
            raise ConflictError(_(refused.message), hint=_(refused.hint) if refused.hint else None) from None
        return _refusal(refused)
    except InstallError as refused:
        return _refusal(refused)
    return _published(app.key, result)


# -- versions ------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/versions")
def design_versions(app_key: str):
    app = admin_app(app_key)
    with db().read() as conn:
        live = _live(conn, app.key)
    return _json({"current": live.number, "versions": [version_json(r) for r in _version_rows(app.key)]})


def _version(app_key: str, number: int) -> InstalledVersion:
    with db().read() as conn:
        found = [v for v in list_versions(conn, app_key) if v.number == number]
    if not found:
        raise NotFoundError(_("There is no version %(number)s of this app.", number=number))
    return found[0]


@bp.get("/apps/<app_key>/versions/<int:number>/documents")
def design_version_documents(app_key: str, number: int):
    """A published version's documents, as GET .../draft gives a draft's (for git sync)."""
    app = admin_app(app_key)
    found = _version(app.key, number)
    return _json({**as_documents(found.documents, found.number), "hash": found.content_hash})


@bp.post("/apps/<app_key>/versions/<int:number>/restore")
def design_restore(app_key: str, number: int):
    app = admin_app(app_key)
    json_body(())
    _version(app.key, number)
    try:
        result = drafts.restore_version(db(), app.key, number, user_id=actor().id,
                                        catalog=current_app.extensions["formloom.catalog"])
    except DocumentError as error:
        raise DraftInvalid(error.problems) from None
    except InstallError as refused:
        return _refusal(refused)
    return _published(app.key, result)
