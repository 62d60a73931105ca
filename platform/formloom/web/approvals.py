"""Approvals on screen and in the API: the approver inbox, the record page's approval
panel, approve / reject / withdraw from either, `GET /api/v1/approvals?mine=1` and
`POST /api/v1/<app>/<entity>/<id>/approvals/<request>/approve|reject|withdraw`.

Every decision goes through workflow.approvals (the same checks for the browser and
the API); record titles and key fields reach the inbox through the policy
(`titles_for`, `lookups_for`, `visible_fields`), so an approver who may not read a
record sees its number and the step, never its values.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import policy
from ..auth.users import reports_of, user_names
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError, NotFoundError
from ..store.query import titles_for
from ..store.records import get_record
from ..workflow.approvals import (ApprovalRequest, decide, decisions_of, may_decide, requested_by,
                                  requests_of, waiting_on, withdraw)
from ..workflow.approvers import step_label
from . import api
from .display import lookups_for, show
from .helpers import catalog, current_actor, db, lang, local_time, page_read, safe_next

bp = Blueprint("approvals", __name__)
api_bp = Blueprint("approvals_api", __name__)

KEY_FIELDS = 4
ACTIONS = ("approve", "reject", "withdraw")


@bp.before_request
@login_required
def _require_login():
    return None


# -- what the screens show --------------------------------------------------------------------

@dataclass
class RequestView:
    request: ApprovalRequest
    app: AppDef
    entity: EntityDef
    title: str
    url: str | None
    status: str
    stage: str
    requester: str | None
    requested_at: str
    cells: list = dc_field(default_factory=list)      # [(FieldDef, Shown)]
    can_decide: bool = False
    can_withdraw: bool = False
    decisions: list = dc_field(default_factory=list)

    def action_url(self, action: str) -> str:
        return url_for("approvals.act", app_key=self.app.key, entity_key=self.entity.key,
                       record_id=self.request.record_id, request_id=self.request.id, action=action)


def _place(app_key: str, entity_key: str) -> tuple[AppDef, EntityDef]:
    try:
        app, _version = catalog().get(app_key)
    except NotFoundError:
        raise NotFoundError(_("There is no such approval request.")) from None
    entity = app.entity(entity_key) if app else None
    if entity is None or not policy.is_member(current_actor(), app):
        raise NotFoundError(_("There is no such approval request."))
    return app, entity


def _decision_views(conn, app: AppDef, req: ApprovalRequest) -> list[dict]:
    steps = req.steps
    out = []
    for d in decisions_of(conn, [req.id]):
        step = steps[d["step_index"]] if 0 <= d["step_index"] < len(steps) else {}
        out.append({**d, "step_label": step_label(step, lang()) if step else d["step_key"],
                    "at_text": local_time(d["at"], app), "decision_text": decision_text(d["decision"])})
    return out


def decision_text(decision: str) -> str:
    return {"request": _("asked for approval"), "approve": _("approved"), "reject": _("rejected"),
            "withdraw": _("withdrew the request"), "escalate": _("escalated (no decision in time)"),
            "timeout": _("rejected automatically (no decision in time)")}.get(decision, decision)


def request_views(conn, items: list[ApprovalRequest], *, with_fields: bool = True) -> list[RequestView]:
    actor = current_actor()
    views = []
    names = user_names(conn, [r.requested_by for r in items if r.requested_by])
    for req in items:
        try:
            app, _version = catalog().get(req.app_key, conn)
        except NotFoundError:       # an app since removed: nothing to show
            continue
        entity = app.entity(req.entity_key)
        if entity is None:
            continue
        record = get_record(conn, app, entity, req.record_id)
        readable = policy.can(actor, "read", app, entity, record, team_of=lambda uid: reports_of(conn, uid))
        title = titles_for(conn, app, entity, actor, [req.record_id]).get(req.record_id) or f"#{req.record_id}"
        workflow = app.workflow_for(entity.key)
        target = workflow.stage(req.to_stage) if workflow else None
        cells = []
        if readable and with_fields:
            visible = {f.key: f for f in policy.visible_fields(actor, app, entity)}
            keys = [k for k in entity.default_columns if k in visible and k != entity.title][:KEY_FIELDS]
            fields = [visible[k] for k in keys]
            lookups = lookups_for(conn, app, fields, [record.data], actor=actor)
            cells = [(f, show(app, f, record.data.get(f.key), lang(), lookups)) for f in fields]
            cells = [(f, s) for f, s in cells if not s.empty]
        views.append(RequestView(
            req, app, entity, title,
            url_for("records.detail", app_key=app.key, entity_key=entity.key, record_id=req.record_id)
            if readable else None,
            req.status_text(lang()), target.label.get(lang()) if target else req.to_stage,
            names.get(req.requested_by), local_time(req.requested_at, app), cells,
            may_decide(app, req, actor), req.pending and (req.requested_by == actor.id
                                                          or policy.is_app_admin(actor, app)),
            _decision_views(conn, app, req)))
    return views


def approval_panel(app: AppDef, entity: EntityDef, record: Any) -> dict | None:
    """The record page's approval box: the waiting request (with decide/withdraw forms for
    who may) and the decisions of every request, newest request first (a template global)."""
    workflow = app.workflow_for(entity.key)
    if workflow is None or not any(s.gate.extra.get("approval") for s in workflow.stages):
        return None
    with db().read() as conn:
        items = requests_of(conn, record.id)
        if not items:
            return None
        views = request_views(conn, items, with_fields=False)
    pending = next((v for v in views if v.request.pending), None)
    actor = current_actor()
    editable = (pending.request.step or {}).get("editable") if pending else None
    locked = pending is not None and not (actor is not None and actor.id in pending.request.waiting_on and editable)
    return {"pending": pending, "requests": views, "locked": locked}


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals["approval_panel"] = approval_panel
    state.app.jinja_env.globals["approvals_waiting"] = approvals_waiting
    state.app.jinja_env.globals["approval_decision_text"] = decision_text


def approvals_waiting() -> int:
    """How many requests wait on the actor (the count next to *Approvals* in the top bar)."""
    actor = current_actor()
    if actor is None:
        return 0
    with page_read() as conn:
        return len(_waiting(conn, actor))


def _waiting(conn, actor) -> list[ApprovalRequest]:
    """Only the apps the actor belongs to are read (superusers: all)."""
    return waiting_on(conn, actor, None if actor.is_superuser else list(actor.roles))


# -- pages ---------------------------------------------------------------------------------------

@bp.get("/approvals")
def inbox():
    actor = current_actor()
    with db().read() as conn:
        mine = request_views(conn, _waiting(conn, actor))
        asked = request_views(conn, [r for r in requested_by(conn, actor)][:50], with_fields=False)
    return render_template("approvals/inbox.html", waiting=mine, asked=asked)


@bp.post("/apps/<app_key>/<entity_key>/<int:record_id>/approvals/<int:request_id>/<action>")
def act(app_key: str, entity_key: str, record_id: int, request_id: int, action: str):
    """Approve, reject (a comment is required) or withdraw; back to `next` (the inbox or the record)."""
    if action not in ACTIONS or max(record_id, request_id) > api.MAX_ID:
        raise NotFoundError(_("There is no such approval request."))
    app, entity = _place(app_key, entity_key)
    comment = request.form.get("comment", "")
    with db().write() as conn:
        _apply(conn, app, entity, record_id, request_id, action, comment)
    back = safe_next(request.form.get("next"), url_for("approvals.inbox"))
    return redirect(back, 303)


def _apply(conn, app, entity, record_id, request_id, action, comment) -> ApprovalRequest:
    if action == "withdraw":
        return withdraw(conn, app, entity, record_id, request_id, current_actor(), comment, lang=lang())
    return decide(conn, app, entity, record_id, request_id, current_actor(), action, comment, lang=lang())


# -- the API ---------------------------------------------------------------------------------------

api_bp.before_request(api.authenticate)
api_bp.register_error_handler(api.Unauthorized, api._unauthorized)
api_bp.register_error_handler(api.GateBlocked, api._gate_blocked)
api_bp.register_error_handler(api.ConflictError, api._conflict)


@api_bp.get("/api/v1/approvals")
def api_list():
    """Requests waiting on the caller (`mine=1`, the default), or the caller's own (`mine=0`)."""
    actor = current_actor()
    mine = request.args.get("mine", "1")
    if mine not in ("0", "1"):
        raise FormloomError(_("mine must be 0 or 1."))
    with db().read() as conn:
        items = _waiting(conn, actor) if mine == "1" else requested_by(conn, actor)
        views = request_views(conn, items)
    return jsonify({"approvals": [_view_json(v) for v in views]})


def _view_json(v: RequestView) -> dict:
    return {**v.request.as_dict(lang()), "title": v.title, "stage_label": v.stage, "requester": v.requester,
            "fields": {f.key: s.text or ", ".join(t for _href, t in s.links) for f, s in v.cells}, "can_decide": v.can_decide,
            "decisions": [{"step": d["step_key"], "user": d["user_name"], "decision": d["decision"],
                           "comment": d["comment"], "at": d["at"].isoformat() if d["at"] else None}
                          for d in v.decisions]}


@api_bp.post("/api/v1/<app_key>/<entity_key>/<int:record_id>/approvals/<int:request_id>/<action>")
def api_act(app_key: str, entity_key: str, record_id: int, request_id: int, action: str):
    """`{"comment": "..."}` (required to reject); 200 with the request as it is now."""
    if action not in ACTIONS or request_id > api.MAX_ID:
        raise NotFoundError(_("There is no such approval request."))
    app, _version, entity = api.place(app_key, entity_key)
    body = api.json_body(("comment",)) if request.get_data() else {}
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise FormloomError(_("comment must be text."))
    with db().write() as conn:
        req = _apply(conn, app, entity, api.checked_id(record_id), request_id, action, comment)
    return jsonify({"approval": req.as_dict(lang())})
