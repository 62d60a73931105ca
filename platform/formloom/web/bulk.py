"""Bulk edit from any list: pick records (or "all N matching this filter"), choose
what to do, confirm, and read the report of every record that was refused.

Two steps, no script needed: the list posts the selection and the action here;
this page asks for the value (the field's own widget, the new owner, the target
stage, or a confirmation for delete) and posts back with `step=apply`. Small
selections run at once; larger ones become a job the worker runs batch by batch,
with a progress page. Every record goes through `bulk_edit.apply_one`: the same
policy, validation, stage guard, audit and events as a single edit.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from jsonschema.exceptions import best_match
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import bulk_edit
from ..auth import policy
from ..auth.users import members_of
from ..bulk_edit import BulkError, BulkOperation
from ..errors import ForbiddenError, NotFoundError
from ..forms import build_form_class, form_to_data
from ..record_schema import field_validator
from ..store.query import parse_list_args, where_clauses
from ..store.records import clean_context
from ..store.tables import records
from . import api as records_api, bulk_writes
from .helpers import Place, current_actor, db, is_fragment_request, lang, load_entity, zone_for
from .openapi import bulk_body_schema
from .records import FieldView

bp = Blueprint("bulk", __name__)

#: Selections larger than this run as a background job (config BULK_JOB_THRESHOLD).
JOB_THRESHOLD = 200
#: The most records one bulk edit may touch (config BULK_MAX_RECORDS).
MAX_RECORDS = bulk_edit.MAX_RECORDS
LIST_ARGS_DROPPED = ("offset", "limit", "cols")


@bp.before_request
@login_required
def _require_login():
    return None


def _config(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def action_labels() -> dict[str, str]:
    return {"set_field": _("Set a field"), "owner": _("Change owner"), "stage": _("Move to stage"),
            "delete": _("Delete")}


def available_actions(place: Place) -> list[str]:
    """What the bulk bar offers this actor (each record is still checked on its own)."""
    actor, app, entity = current_actor(), place.app, place.entity
    out = []
    if policy.scope(actor, "update", app, entity) != "none":
        out += ["set_field", "owner"]
        workflow = app.workflow_for(entity.key)
        if workflow is not None and workflow.stages:
            out.append("stage")
    if policy.scope(actor, "delete", app, entity) != "none":
        out.append("delete")
    return out


def _list_args() -> MultiDict:
    raw = request.form.get("query", "")
    if "\x00" in raw or len(raw) > 8000:
        abort(400)
    args = MultiDict(parse_qsl(raw, keep_blank_values=True))
    for key in LIST_ARGS_DROPPED:
        args.poplist(key)
    return args


def selected_ids(place: Place, conn) -> list[int]:
    """The ids ticked, or every record matching the list's filter (as this actor sees it)."""
    actor, app, entity = current_actor(), place.app, place.entity
    limit = _config("BULK_MAX_RECORDS", MAX_RECORDS)
    if request.form.get("all") == "1":
        args = _list_args()
        if args.get("owner") == "me":
            args.setlist("owner", [str(actor.id)])
        visible = policy.visible_fields(actor, app, entity)
        query = parse_list_args(entity, args, visible, getlist=args.getlist, lang=lang())
        where = where_clauses(conn, app, entity, actor, query)
        ids = list(conn.execute(select(records.c.id).where(*where).order_by(records.c.id).limit(limit + 1)).scalars())
    else:
        ids = []
        for raw in request.form.getlist("ids"):
            if not raw.isdigit() or len(raw) > 18:
                abort(400)
            ids.append(int(raw))
        ids = list(dict.fromkeys(ids))
    if len(ids) > limit:
        raise BulkError(_("A bulk edit may change at most %(max)s records at once.", max=f"{limit:,}"),
                        hint=_("Narrow the list with a filter and try again."))
    return ids


def _settable_fields(place: Place):
    """Fields a bulk "set" may offer: writable for the actor, and not subtables (a table of
    rows is edited record by record)."""
    return [f for f in policy.writable_fields(current_actor(), place.app, place.entity)
            if f.type != "subtable"]


def _value_form(place: Place, key: str, formdata=None):
    form_class = build_form_class(place.entity, lang(), only=[key], timezone=zone_for(place.app).key)
    if key not in form_class.field_names:
        return None
    if formdata is None:
        return form_class()
    with db().read() as conn:       # references: records the actor may read, as in the record's own form
        form = form_class(formdata, context=clean_context(conn, place.app, lang(), reader=current_actor()))
        form.validate()
    return form


def _operation(place: Place, action: str, form) -> BulkOperation:
    if action == "set_field":
        key = request.form.get("field", "")
        return BulkOperation("set_field", key, form_to_data(form, place.entity).get(key) if form else None)
    if action == "owner":
        raw = request.form.get("owner", "")
        if raw == "":
            return BulkOperation("owner", value=None)
        if not raw.isdigit():
            raise BulkError(_("Choose the new owner."))
        return BulkOperation("owner", value=int(raw))
    if action == "stage":
        return BulkOperation("stage", value=request.form.get("stage", ""))
    return BulkOperation(action)


@bp.post("/apps/<app_key>/<entity_key>/bulk")
def bulk(app_key: str, entity_key: str):
    place = load_entity(app_key, entity_key)
    actor, app, entity = current_actor(), place.app, place.entity
    action = request.form.get("action", "")
    actions = available_actions(place)
    if action not in actions:
        raise BulkError(_("Choose what to do with the selected records."),
                        hint=_("Available here: %(actions)s.", actions=", ".join(action_labels()[a] for a in actions)))
    with db().read() as conn:
        ids = selected_ids(place, conn)
        owners = members_of(conn, app.key) if action == "owner" else []
    if not ids:
        raise BulkError(_("Select at least one record."), hint=_("Tick the records in the list, or choose all."))
    fields = _settable_fields(place)
    field_key = request.form.get("field", "")
    chosen = next((f for f in fields if f.key == field_key), None) if action == "set_field" else None
    applying = request.form.get("step") == "apply"
    form = _value_form(place, chosen.key, request.form if applying else None) if chosen else None
    errors: list[str] = []
    if applying and action == "set_field" and chosen is None:
        errors.append(_("Choose the field to set."))
    if applying and action == "stage" and app.workflow_for(entity.key).stage(request.form.get("stage", "")) is None:
        errors.append(_("Choose the stage to move to."))
    if applying and form is not None and form.errors:
        errors += [m for messages in form.errors.values() for m in messages]
    if applying and not errors:
        op = _operation(place, action, form)
        if len(ids) > _config("BULK_JOB_THRESHOLD", JOB_THRESHOLD):
            with db().write() as conn:
                job_id = bulk_edit.enqueue_bulk(conn, app, entity, actor, ids, op, lang())
            return redirect(url_for("bulk.progress", app_key=app.key, entity_key=entity.key, job_id=job_id), 303)
        report = bulk_edit.run_bulk(db(), app, entity, actor, ids, op, lang())
        return render_template("bulk/report.html", place=place, app=app, entity=entity, report=report,
                               action=action, action_label=action_labels()[action], job=None, finished=True)
    value_field = None
    if form is not None:
        value_field = FieldView(chosen, form.field_for(chosen.key), False,
                                errors=list(form.field_for(chosen.key).errors))
    workflow = app.workflow_for(entity.key)
    return render_template(
        "bulk/confirm.html", place=place, app=app, entity=entity, action=action,
        action_label=action_labels()[action], ids=ids, count=len(ids), all=request.form.get("all") == "1",
        query=request.form.get("query", ""), fields=fields, chosen=chosen, fv=value_field, errors=errors,
        owners=owners, stages=list(workflow.stages) if workflow and action == "stage" else [],
        threshold=_config("BULK_JOB_THRESHOLD", JOB_THRESHOLD),
        back=url_for("records.list_view", app_key=app.key, entity_key=entity.key,
                     **MultiDict(parse_qsl(request.form.get("query", ""))).to_dict(flat=False)),
        validate_url="",
    ), 422 if errors else 200


@bp.get("/apps/<app_key>/<entity_key>/bulk/jobs/<int:job_id>")
def progress(app_key: str, entity_key: str, job_id: int):
    """The progress of a bulk job and, once done, its report; only the person who started it sees it."""
    place = load_entity(app_key, entity_key)
    if job_id > 2**53:
        abort(404)
    with db().read() as conn:
        found = bulk_edit.job_report(conn, job_id, current_actor())
    if found is None or found[0].get("app_key") != place.app.key or found[0].get("entity") != place.entity.key:
        abort(404)
    payload, report = found
    action = (payload.get("op") or {}).get("kind", "")
    finished = payload["status"] in ("done", "failed", "dead") or report.finished
    context = dict(place=place, app=place.app, entity=place.entity, report=report, action=action,
                   action_label=action_labels().get(action, action), job=payload | {"id": job_id}, finished=finished)
    if is_fragment_request():
        return render_template("bulk/_progress.html", **context)
    return render_template("bulk/report.html", **context)


@bp.app_template_global()
def bulk_actions(place: Place) -> list[tuple[str, str]]:
    """(action, label) pairs for a list's bulk bar, worked out once per request and place:
    the list page and its rows both ask, and each answer reads the actor's policy."""
    key = (place.app.key, place.version_id, place.entity.key if place.entity is not None else None)
    known = g.setdefault("formloom_bulk_actions", {})
    found = known.get(key)
    if found is None:
        labels = action_labels()
        found = known[key] = [(a, labels[a]) for a in available_actions(place)]
    return found



# -- the bulk API (routes on the records API blueprint: its token auth, CSRF rule and errors) ----

API_KEYS = ("ids", "action", "field", "value", "owner", "stage")


def _api_body(app, entity, body: dict) -> tuple[list[int], BulkOperation]:
    """The ids and the operation of a bulk body, once it fits the schema the OpenAPI document
    publishes for it (`openapi.bulk_body_schema`, the same object): a body that does not is
    refused whole (400) with the key and the rule it breaks, before any record is touched."""
    schema = bulk_body_schema(records_api.actor(), app, entity, lang(), _config("BULK_MAX_RECORDS", MAX_RECORDS))
    if schema is None:
        raise ForbiddenError(_("You may not do this here."), hint=_("Ask an administrator of this app for access."))
    problem = body_problem(schema, body)
    if problem is not None:
        raise BulkError(*problem)
    ids = list(dict.fromkeys(int(i) for i in body["ids"]))        # 3.0 is the whole number 3, as in JSON Schema
    action = body["action"]
    if action == "set_field":
        return ids, BulkOperation("set_field", body["field"], body["value"])
    if action == "owner":
        owner = body["owner"]
        return ids, BulkOperation("owner", value=None if owner is None else int(owner))
    if action == "stage":
        return ids, BulkOperation("stage", value=body["stage"])
    return ids, BulkOperation(action)


def body_problem(schema: dict, body: dict) -> tuple[str, str | None] | None:
    """(message, hint) for the first rule of `schema` that `body` breaks, or None. Under the
    `oneOf` of actions, the branch of the body's own action (and field) says what is wrong."""
    errors = list(field_validator(schema).iter_errors(body))
    if not errors:
        return None
    plain = [e for e in errors if e.validator != "oneOf"]
    error = min(plain, key=lambda e: list(e.absolute_schema_path)) if plain else _branch_error(schema, body, errors[0])
    return _describe(error, body)


def _branch_error(schema: dict, body: dict, error):
    for index, branch in enumerate(schema["oneOf"]):
        consts = {k: v["const"] for k, v in branch["properties"].items() if "const" in v}
        if all(body.get(k) == v for k, v in consts.items()):
            inner = [e for e in error.context if e.schema_path and e.schema_path[0] == index]
            if inner:
                return min(inner, key=lambda e: list(e.absolute_schema_path))
    return error


def _describe(error, body: dict) -> tuple[str, str | None]:
    where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                    for i, p in enumerate(error.absolute_path))
    hint = _("The body must fit the schema of this operation in /api/v1/openapi.json.")
    if error.validator == "required":
        missing = next((k for k in error.validator_value if k not in error.instance), "?")
        if missing in ("field", "value", "owner", "stage"):
            return (_("The action %(action)s needs %(key)s in the body.", action=str(body.get("action"))[:40],
                      key=missing), hint)
        return _("The body needs %(key)s.", key=missing), hint
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = next((k for k in error.instance if k not in allowed), "?")
        return (_("%(key)s does not go with the action %(action)s.", key=str(extra)[:40],
                  action=str(body.get("action"))[:40]),
                _("Send only the keys this action takes: %(keys)s.", keys=", ".join(allowed)))
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        shown = ", ".join(str(v) for v in allowed[:30])
        return (_("%(value)s is not a valid %(key)s here.", value=repr(error.instance)[:60], key=where or "body"),
                _("Use one of: %(values)s.", values=shown))
    if where == "ids" and error.validator == "maxItems":
        return _("A bulk edit may change at most %(max)s records at once.", max=f"{error.validator_value:,}"), \
            _("Narrow the list with a filter and try again.")
    if where.startswith("ids"):
        return _("Select at least one record."), _("Send \"ids\": a list of record ids (whole numbers).")
    if where == "value" and isinstance(body.get("field"), str):
        return (_("The value is not valid for the field %(field)s: %(detail)s",
                  field=body["field"][:60], detail=best_match([error]).message[:200]), hint)
    return _("%(key)s is not valid: %(detail)s", key=where or "body", detail=error.message[:200]), hint


def _report_json(report) -> dict:
    return {"total": report.total, "done": report.done, "succeeded": report.succeeded, "failed": report.failed,
            "failures": [{"id": f.record_id, "messages": f.messages} for f in report.failures]}


@records_api.bp.post("/<app_key>/<entity_key>/bulk")
def api_bulk(app_key: str, entity_key: str):
    """Apply one change to many records: 200 with the report, or 202 with a job to follow.
    A body with `items` creates or upserts records instead (web/bulk_writes.py)."""
    app, version_id, entity = records_api.place(app_key, entity_key)
    body = records_api.json_body(tuple(dict.fromkeys(API_KEYS + bulk_writes.KEYS)))
    if "items" in body:
        return bulk_writes.post(app, version_id, entity, body)
    actor = records_api.actor()
    ids, op = _api_body(app, entity, body)
    if len(ids) > _config("BULK_JOB_THRESHOLD", JOB_THRESHOLD):
        with db().write() as conn:
            job_id = bulk_edit.enqueue_bulk(conn, app, entity, actor, ids, op, lang())
        url = url_for("api.api_bulk_job", app_key=app.key, entity_key=entity.key, job_id=job_id)
        response = jsonify({"job": job_id, "status": "pending", "url": url})
        response.status_code = 202
        response.headers["Location"] = url
        return response
    report = bulk_edit.run_bulk(db(), app, entity, actor, ids, op, lang())
    return jsonify({"status": "done", **_report_json(report)})


@records_api.bp.get("/<app_key>/<entity_key>/bulk/<int:job_id>")
def api_bulk_job(app_key: str, entity_key: str, job_id: int):
    app, _version_id, entity = records_api.place(app_key, entity_key)
    with db().read() as conn:
        found = bulk_edit.job_report(conn, job_id, records_api.actor()) if job_id <= 2**53 else None
    if found is None or found[0].get("app_key") != app.key or found[0].get("entity") != entity.key:
        raise NotFoundError(_("There is no such bulk job."))
    payload, report = found
    status = "done" if payload["status"] == "done" or report.finished else payload["status"]
    return jsonify({"job": job_id, "status": status, **_report_json(report)})
