"""POST /api/v1/<app>/<entity>/bulk with `items`: create, or upsert by a unique field, up
to 1,000 records in one request and one transaction.

The body's structure is checked against the schema the OpenAPI document publishes for it
(`openapi.bulk_write_schema`, the same object; see `structure`): a body whose items,
mode or upsert field the document refuses is refused (400) before any record is touched. Each item is then written by
`bulk_write.BulkWriter`, the path the import takes too: the policy (create; read and
update for a record an upsert key matches), the keys the caller may send in the
record's stage (unknown and hidden alike are "unknown", as for a single write), the
store's validation, audit rows and outbox events (the worker runs the rules, as for a
single write).

`mode`: "all_or_nothing" (the default) commits only when every item passes, else 422
listing every item's problems with the item's index in its path; "per_item" commits
the items that pass and answers with each item's outcome: 200 when all passed, 207
(Multi-Status) when some were refused, so a client checking only the status cannot
mistake a partial write for a complete one.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import current_app, jsonify
from flask_babel import gettext as _
from jsonschema.exceptions import best_match

from ..bulk_write import BulkWriter, Outcome, Refused, WriteItem
from ..definitions.model import AppDef, EntityDef, StageDef
from ..errors import ForbiddenError, FormloomError, RecordInvalid
from ..record_schema import field_validator
from ..store.statistics import refresh_if_moved
from . import api as records_api
from .helpers import db, lang
from .openapi import MAX_BULK_ITEMS, bulk_write_schema

KEYS = ("items", "mode", "upsert_by")
MODES = ("all_or_nothing", "per_item")


class TooManyItems(FormloomError):
    """More items than one request may carry (422, with the problem under "errors" like every
    422 of the API)."""

    status = 422
    code = "too_many_items"


class _Rollback(Exception):
    """Leave the transaction without committing: an all-or-nothing batch had a refusal."""


def max_items() -> int:
    return int(current_app.config.get("BULK_MAX_ITEMS", MAX_BULK_ITEMS))


def _checked_body(app: AppDef, entity: EntityDef, body: dict) -> None:
    items = body.get("items")
    if isinstance(items, list) and len(items) > max_items():
        raise TooManyItems(_("One request may carry at most %(max)s items; this one has %(count)s.",
                             max=f"{max_items():,}", count=f"{len(items):,}"),
                           hint=_("Send the rest in further requests."))
    schema = bulk_write_schema(records_api.actor(), app, entity, lang(), max_items())
    if schema is None:
        raise ForbiddenError(_("You may not do this here."), hint=_("Ask an administrator of this app for access."))
    if isinstance(items, list) and items and all(type(i) is dict and len(i) == 1 and type(i.get("data")) is dict
                                                 for i in items):
        body = {**body, "items": [{"data": {}}]}       # items fit: the schema judges the rest at once
    errors = list(field_validator(structure(schema)).iter_errors(body))
    if errors:
        error = best_match(errors)
        where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                        for i, p in enumerate(error.absolute_path))
        raise FormloomError(_("%(key)s is not valid: %(detail)s", key=where or "body", detail=error.message[:200]),
                            hint=_("The body must fit the schema of this operation in /api/v1/openapi.json."))


def structure(schema: dict) -> dict:
    """The published body with each item's `data` only required to be an object: its values
    are the store's to judge, item by item, with located problems in the caller's language
    (so one bad item among a thousand does not refuse the other 999 in per_item mode)."""
    items = schema["properties"]["items"]
    item = items["items"]
    return {**schema, "properties": {**schema["properties"], "items": {
        **items, "items": {**item, "properties": {"data": {"type": "object"}}}}}}


def _key_check(app: AppDef, entity: EntityDef):
    """The single writes' rule for keys, per stage: refuse unknown, hidden, computed and
    read-only keys (each named), write the rest."""
    sets: dict[str | None, tuple[set[str], set[str]]] = {}

    def check(values: Mapping[str, Any], stage: StageDef | None) -> tuple[dict, list]:
        key = stage.key if stage else None
        if key not in sets:
            sets[key] = records_api.field_sets(app, entity, stage)
        visible, writable = sets[key]
        problems = records_api.key_problems(entity, values, visible, writable, lang())
        return {k: v for k, v in values.items() if k in writable}, problems
    return check


def _problems(index: int, error: Exception | None) -> list[dict]:
    """An item's refusal as the API's problems, each path starting at the item."""
    base = f"/items/{index}"
    if isinstance(error, RecordInvalid):
        return [{"field": p.field, "path": f"{base}/data{p.path}", "code": p.code, "message": p.message,
                 "item": index} for p in error.problems]
    if isinstance(error, Refused):
        path = f"{base}/data/{error.field}" if error.field else base
        return [{"field": error.field, "path": path, "code": error.code, "message": error.message, "item": index}]
    if isinstance(error, FormloomError):
        return [{"field": None, "path": base, "code": error.code, "message": error.message, "item": index}]
    raise error if error is not None else AssertionError("a failed item without its reason")


def _result(index: int, outcome: Outcome) -> dict:
    if outcome.ok:
        record = outcome.record
        return {"index": index, "status": outcome.status, "id": record.id, "version": record.version}
    return {"index": index, "status": "failed", "errors": _problems(index, outcome.error)}


def post(app: AppDef, version_id: int, entity: EntityDef, body: dict):
    try:
        _checked_body(app, entity, body)
    except TooManyItems as error:
        return records_api.missing_reason(error, "/items")
    mode = body.get("mode", "all_or_nothing")
    writer = BulkWriter(app, version_id, entity, records_api.actor(), lang(), upsert_by=body.get("upsert_by"),
                        check_hidden=True, key_check=_key_check(app, entity))
    items = [WriteItem(item["data"]) for item in body["items"]]
    outcomes: list[Outcome] = []
    try:
        with db().write() as conn:
            outcomes = writer.write(conn, items)
            if mode == "all_or_nothing" and not all(o.ok for o in outcomes):
                raise _Rollback()
    except _Rollback:
        failed = [(i, o) for i, o in enumerate(outcomes) if not o.ok]
        return jsonify({"error": {"code": "invalid",
                                  "message": _("%(failed)s of %(total)s items were refused; nothing was written.",
                                               failed=len(failed), total=len(items)),
                                  "hint": _("Fix the items listed, or send mode \"per_item\" to write the others.")},
                        "errors": [p for i, o in failed for p in _problems(i, o.error)]}), 422
    counts = {status: sum(1 for o in outcomes if o.status == status)
              for status in ("created", "updated", "unchanged", "failed")}
    if counts["created"] or counts["updated"]:
        refresh_if_moved(db())
    response = jsonify({"mode": mode, **counts, "results": [_result(i, o) for i, o in enumerate(outcomes)]})
    response.status_code = 207 if counts["failed"] else 200
    return response
