"""Approval requests: a move into a stage whose gate carries `approval` waits for sign-off.

`move_to_stage` refuses such a move with `ApprovalRequired` (a `GateBlocked` whose
only unmet requirement is the approval), so every path that does not know about
approvals (automation, bulk edits, imports) simply stays refused. The screens and
the API catch it and call `start_request` in the same transaction: the request
snapshots the applicable steps (in-flight requests finish under the approval
they started with), waits on the current step's approvers, notifies them (bell and
email), schedules the step's timeout as a durable job and emits
`approval_requested`. `decide` approves or rejects under a conditional update on
the request's version, so two approvers acting at once produce exactly one
decision; the last approval performs the move through the stage guard, in the
same transaction. Every decision is an `approval_decisions` row and an audit row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, bindparam, insert, select, update

from ..auth.policy import can, is_app_admin
from ..auth.users import load_actor, members_of, reports_of
from ..definitions.model import AppDef, EntityDef
from ..errors import ConflictError, ForbiddenError, FormloomError, NotFoundError
from ..i18n import N_, translate
from ..store.records import AwaitingApproval, emit_event, get_record, utcnow
from ..store.tables import approval_decisions, approval_requests, audit, jobs, users
from .approvers import applicable_steps, resolve_approvers, step_label, waiting_text
from .gates import GateBlocked, condition_vars
from .stages import parse_duration

PENDING = "pending"
#: A request into a stage that a published version no longer has: it can never end in the move.
CANCELLED = "cancelled"
STAGE_GONE = N_("The stage %(stage)s was removed from the pipeline, so this request was cancelled; "
                "the record stays where it is.")
#: The job kind the worker runs when a step's timeout comes (automation/worker.py).
TIMEOUT_JOB = "approval_timeout"


class ApprovalRequired(GateBlocked):
    """The move passes every requirement but an approval (a refusal: nothing is stored);
    `move_to_stage(..., request_approval=True)` starts a request instead."""

    status = 422
    code = "approval_required"


class ApprovalStarted(FormloomError):
    """Not an error: the move needs approval and `request` was started (values saved).
    Raised by `move_to_stage(..., request_approval=True)`; callers answer 202."""

    status = 202
    code = "approval_started"

    def __init__(self, request: "ApprovalRequest"):
        super().__init__("An approval request was started.")
        self.request = request


#: The record is waiting for an approval: it cannot be moved or edited meanwhile (409).
ApprovalPending = AwaitingApproval


class CommentMissing(FormloomError):
    """A rejection (or withdrawal) was asked for without saying why."""

    status = 422
    code = "comment_missing"


@dataclass(frozen=True)
class ApprovalRequest:
    """One request as stored, with what the screens show of it."""

    id: int
    app_key: str
    entity_key: str
    record_id: int
    from_stage: str | None
    to_stage: str
    requested_by: int | None
    requested_at: datetime
    status: str
    spec: Mapping[str, Any]
    step_index: int
    step_started_at: datetime
    waiting_on: list[int]
    decided_at: datetime | None
    reason: str | None
    version: int

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("steps") or ())

    @property
    def step(self) -> Mapping[str, Any] | None:
        steps = self.steps
        return steps[self.step_index] if 0 <= self.step_index < len(steps) else None

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    def status_text(self, lang: str) -> str:
        if self.pending and self.step is not None:
            return waiting_text(lang, self.step_index, len(self.steps), step_label(self.step, lang))
        return translate(lang, {"approved": N_("approved"), "rejected": N_("rejected"),
                                "withdrawn": N_("withdrawn"), CANCELLED: N_("cancelled")}.get(self.status, self.status))

    def as_dict(self, lang: str = "en") -> dict:
        return {"id": self.id, "app": self.app_key, "entity": self.entity_key, "record_id": self.record_id,
                "from_stage": self.from_stage, "to_stage": self.to_stage, "requested_by": self.requested_by,
                "requested_at": _iso(self.requested_at), "status": self.status,
                "status_text": self.status_text(lang), "step": self.step_index + 1, "steps": len(self.steps),
                "step_key": self.step.get("key") if self.step else None,
                "step_label": step_label(self.step, lang) if self.step else None,
                "waiting_on": list(self.waiting_on), "decided_at": _iso(self.decided_at), "reason": self.reason,
                "version": self.version}


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value is not None else None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _request(row) -> ApprovalRequest:
    return ApprovalRequest(row.id, row.app_key, row.entity_key, row.record_id, row.from_stage, row.to_stage,
                           row.requested_by, _aware(row.requested_at), row.status, dict(row.spec or {}),
                           row.step_index, _aware(row.step_started_at), list(row.waiting_on or []),
                           _aware(row.decided_at), row.reason, row.version)


# -- reading --------------------------------------------------------------------------------------

def get_request(conn: Connection, request_id: int, *, for_update: bool = False) -> ApprovalRequest | None:
    query = select(approval_requests).where(approval_requests.c.id == request_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return _request(row) if row is not None else None


#: Built once: every move asks (building a statement costs more than running it).
_PENDING_OF = (select(approval_requests).where(approval_requests.c.record_id == bindparam("record_id"),
                                               approval_requests.c.status == PENDING)
               .order_by(approval_requests.c.id.desc()).limit(1))


def pending_request(conn: Connection, record_id: int) -> ApprovalRequest | None:
    """The request the record is waiting on, if any (at most one at a time)."""
    row = conn.execute(_PENDING_OF, {"record_id": record_id}).first()
    return _request(row) if row is not None else None


def requests_of(conn: Connection, record_id: int) -> list[ApprovalRequest]:
    rows = conn.execute(select(approval_requests).where(approval_requests.c.record_id == record_id)
                        .order_by(approval_requests.c.id.desc()))
    return [_request(r) for r in rows]


def decisions_of(conn: Connection, request_ids: Iterable[int]) -> list[dict]:
    """Decisions, oldest first: {request_id, step_index, step_key, user_id, user_name, decision, comment, at}."""
    ids = list(request_ids)
    if not ids:
        return []
    rows = conn.execute(select(approval_decisions, users.c.name, users.c.email)
                        .select_from(approval_decisions.outerjoin(users, users.c.id == approval_decisions.c.user_id))
                        .where(approval_decisions.c.request_id.in_(ids)).order_by(approval_decisions.c.id))
    return [{"request_id": r.request_id, "step_index": r.step_index, "step_key": r.step_key, "user_id": r.user_id,
             "user_name": r.name or r.email, "decision": r.decision, "comment": r.comment, "at": _aware(r.at)}
            for r in rows]


#: Built once: the top bar of every page asks (building a statement costs more than running it).
_PENDING_ALL = select(approval_requests).where(approval_requests.c.status == PENDING).order_by(approval_requests.c.id)
_PENDING_IN_APPS = _PENDING_ALL.where(approval_requests.c.app_key.in_(bindparam("app_keys", expanding=True)))
#: the common case of the top bar's count (a member of one app): a list parameter is expanded
#: into the statement on every run, which cost more than the count's query itself
_PENDING_IN_APP = _PENDING_ALL.where(approval_requests.c.app_key == bindparam("app_key"))


def waiting_on(conn: Connection, actor: Any, app_keys: Iterable[str] | None = None) -> list[ApprovalRequest]:
    """Pending requests whose current step waits on `actor` (and, for app admins, those
    whose step has nobody left to wait on), oldest first."""
    if app_keys is None:
        rows = conn.execute(_PENDING_ALL)
    else:
        keys = list(app_keys)
        rows = (conn.execute(_PENDING_IN_APP, {"app_key": keys[0]}) if len(keys) == 1
                else conn.execute(_PENDING_IN_APPS, {"app_keys": keys}))
    found = []
    for row in rows:
        req = _request(row)
        if actor.id in req.waiting_on or (not req.waiting_on and actor.is_superuser):
            found.append(req)
    return found


def in_flight(conn: Connection, app_key: str) -> list[ApprovalRequest]:
    """Pending requests of an app, for an impact preview: each finishes under the steps it
    started with (its `spec`), whatever a newly published workflow says."""
    rows = conn.execute(select(approval_requests).where(approval_requests.c.app_key == app_key,
                                                        approval_requests.c.status == PENDING)
                        .order_by(approval_requests.c.id))
    return [_request(r) for r in rows]


def stranded(conn: Connection, app: AppDef) -> list[ApprovalRequest]:
    """Pending requests of `app` into a stage its workflow no longer has (a publish removed it)."""
    out = []
    for req in in_flight(conn, app.key):
        entity = app.entity(req.entity_key)
        workflow = app.workflow_for(entity.key) if entity is not None else None
        if entity is not None and (workflow is None or workflow.stage(req.to_stage) is None):
            out.append(req)
    return out


def cancel_stranded(conn: Connection, app: AppDef, now: datetime) -> int:
    """After a publish, cancel the requests `stranded` names, with a trace a person can read: the
    request says why, the decision and the audit say "cancel", the requester and the step's
    approvers are told, `approval_decided` is emitted. A request whose stage still exists keeps
    the steps it started with, whatever the new version's approval says."""
    count = 0
    for req in stranded(conn, app):
        entity = app.entity(req.entity_key)
        reason = translate("en", STAGE_GONE, stage=req.to_stage)
        try:
            record = get_record(conn, app, entity, req.record_id, for_update=True)
            _advance(conn, req, "en", status=CANCELLED, decided_at=now, reason=reason, waiting_on=[])
        except (ConflictError, NotFoundError):      # decided meanwhile, or its record is gone: not ours to end
            continue
        _decision(conn, req, None, "cancel", reason, now)
        _audit(conn, app, entity, record, None, now, {"request": req.id, "decision": "cancel",
                                                      "step": (req.step or {}).get("key"), "comment": reason})
        _decided(conn, app, entity, record, get_request(conn, req.id), None, now, also=req.waiting_on)
        count += 1
    return count


def requested_by(conn: Connection, actor: Any) -> list[ApprovalRequest]:
    rows = conn.execute(select(approval_requests).where(approval_requests.c.requested_by == actor.id)
                        .order_by(approval_requests.c.id.desc()).limit(200))
    return [_request(r) for r in rows]


def may_decide(app: AppDef, req: ApprovalRequest, actor: Any) -> bool:
    """Whom the current step waits on; app admins only when it waits on nobody (never stranded)."""
    if not req.pending or actor is None:
        return False
    if req.requested_by == actor.id and not req.spec.get("allow_self_approval"):
        return False
    return actor.id in req.waiting_on or (not req.waiting_on and is_app_admin(actor, app))


def may_see(conn: Connection, app: AppDef, entity: EntityDef, req: ApprovalRequest, actor: Any) -> bool:
    """The requester, the people it waits or waited on, and whoever may read the record."""
    if actor is None:
        return False
    if actor.id in (req.requested_by, *req.waiting_on) or is_app_admin(actor, app):
        return True
    if any(d["user_id"] == actor.id for d in decisions_of(conn, [req.id])):
        return True
    record = get_record(conn, app, entity, req.record_id)
    return can(actor, "read", app, entity, record, team_of=lambda uid: reports_of(conn, uid))


# -- starting ---------------------------------------------------------------------------------------

def start_request(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, to_stage: str, actor: Any,
                  *, lang: str = "en", now: datetime | None = None) -> ApprovalRequest:
    """Start the approval of the move of `record_id` to `to_stage` that `move_to_stage`
    refused with ApprovalRequired (call it in the same transaction, after the refusal)."""
    now = (now or utcnow()).astimezone(timezone.utc)
    workflow = app.workflow_for(entity.key)
    target = workflow.stage(to_stage) if workflow else None
    spec = target.gate.extra.get("approval") if target else None
    if not spec:
        raise FormloomError(translate(lang, "Moving to %(stage)s needs no approval.", stage=to_stage))
    record = get_record(conn, app, entity, record_id, for_update=True)
    if pending_request(conn, record_id) is not None:
        raise ApprovalPending(translate(lang, "This record is already awaiting approval."),
                              hint=translate(lang, "Wait for the decision, or withdraw the request first."))
    steps = [dict(_thaw(s)) for s in applicable_steps(_thaw(spec),
                                                        condition_vars(app, workflow, record, record.data, now))]
    if not steps:
        raise FormloomError(translate(lang, "Moving to %(stage)s needs no approval.", stage=to_stage))
    frozen = {"steps": steps, "allow_self_approval": bool(spec.get("allow_self_approval")),
              "notify": list(spec.get("notify") or ()), "stage_label": _thaw(target.label.texts)}
    waiting = _approvers_for(conn, app, record, steps[0], actor.id, frozen["allow_self_approval"])
    request_id = conn.execute(insert(approval_requests).values(
        app_key=app.key, entity_key=entity.key, record_id=record.id, from_stage=record.stage, to_stage=to_stage,
        requested_by=actor.id, requested_at=now, status=PENDING, spec=frozen, step_index=0, step_started_at=now,
        waiting_on=waiting, definition_version_id=record.definition_version_id, version=1)
    ).inserted_primary_key[0]
    req = get_request(conn, request_id)
    _decision(conn, req, actor.id, "request", None, now)
    _audit(conn, app, entity, record, actor.id, now, {"request": req.id, "decision": "request",
                                                      "to": to_stage, "step": steps[0].get("key")})
    emit_event(conn, app.key, entity.key, record.id, "approval_requested",
               {"request": req.id, "to": to_stage, "from": record.stage, "actor": actor.id,
                "step": steps[0].get("key")}, now)
    _step_started(conn, app, entity, record, req, now)
    return req


def _clean_comment(comment: str | None) -> str | None:
    """Trimmed, at most 4000 characters, without NUL (which PostgreSQL text refuses)."""
    return (comment or "").replace("\x00", "").strip()[:4000] or None


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _approvers_for(conn: Connection, app: AppDef, record: Any, step: Mapping[str, Any], requester: int | None,
                   allow_self: bool) -> list[int]:
    ids = resolve_approvers(conn, app, record, step.get("approvers") or ())
    active = set(conn.execute(select(users.c.id).where(users.c.id.in_(ids), users.c.active.is_(True))).scalars())
    ids = [i for i in ids if i in active and (allow_self or i != requester)]
    if not ids:      # nobody resolved (no manager, empty field): the app's admins decide
        ids = [uid for uid, _ in members_of(conn, app.key, app.admin_role) if allow_self or uid != requester]
    return ids


def _step_started(conn: Connection, app: AppDef, entity: EntityDef, record: Any, req: ApprovalRequest,
                  now: datetime) -> None:
    """Tell the step's approvers (bell and email) and schedule its timeout."""
    from ..automation.channels.inapp import notify_user     # the channels sit in the layer above
    from ..automation.jobs import enqueue
    step = req.step
    people = conn.execute(select(users.c.id, users.c.email, users.c.language)
                          .where(users.c.id.in_(req.waiting_on))).all()
    for person in people:
        lang = person.language or "en"
        subject = translate(lang, "Approval needed: %(title)s", title=record.title or f"#{record.id}")
        body = translate(lang, "%(title)s is waiting for your approval to move to %(stage)s (%(status)s).",
                         title=record.title or f"#{record.id}", stage=_stage_text(req, lang),
                         status=req.status_text(lang))
        key = f"approval:{req.id}:s{req.step_index}:v{req.version}:u{person.id}"
        notify_user(conn, person.id, subject, body, key, now, app_key=app.key, record_id=record.id)
        if person.email:
            enqueue(conn, "email", key, {"to": person.email, "subject": subject,
                                         "body": f"{body}\n\n/apps/{app.key}/{entity.key}/{record.id}",
                                         "user_id": person.id},
                    now, now, app_key=app.key, record_id=record.id)
    if step is not None and step.get("timeout"):
        enqueue(conn, TIMEOUT_JOB, f"approval:{req.id}:s{req.step_index}:v{req.version}:timeout",
                {"request": req.id, "step_index": req.step_index, "version": req.version},
                timeout_due(app, step, now), now, app_key=app.key, record_id=record.id)


def timeout_due(app: AppDef, step: Mapping[str, Any], now: datetime) -> datetime:
    """When the step times out: `timeout` after `now`; with `business_days`, its days count
    the app's working days (holidays skipped) at the same local time."""
    if not step.get("business_days"):
        return now + parse_duration(step["timeout"])
    from ..automation.timing import add_business_days, add_months, localize, split_duration, zone
    years, months, days, rest = split_duration(step["timeout"])
    local = now.astimezone(zone(app.timezone))
    day = add_months(local.date(), years * 12 + months) if years or months else local.date()
    day = add_business_days(day, days, app.working_days, app.holidays)
    return localize(datetime.combine(day, local.time().replace(tzinfo=None)), app.timezone) + rest


def _stage_text(req: ApprovalRequest, lang: str) -> str:
    label = req.spec.get("stage_label") or {}
    return str(label.get(lang) or label.get("en") or req.to_stage)


# -- deciding ---------------------------------------------------------------------------------------

def decide(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, request_id: int, actor: Any,
           decision: str, comment: str | None = None, *, lang: str = "en",
           now: datetime | None = None) -> ApprovalRequest:
    """Approve or reject the request's current step as `actor`. A rejection needs a comment.
    The last approval moves the record through `move_to_stage` in this transaction."""
    from .moves import move_to_stage
    now = (now or utcnow()).astimezone(timezone.utc)
    if decision not in ("approve", "reject"):
        raise FormloomError(translate(lang, "Say approve or reject."))
    comment = _clean_comment(comment)
    req = _the_request(conn, app, entity, record_id, request_id, actor, lang)
    if not req.pending:
        raise ConflictError(translate(lang, "This request was already decided."),
                            hint=translate(lang, "Reload to see the decision."))
    if not may_decide(app, req, actor):
        if req.requested_by == actor.id and req.pending:
            raise ForbiddenError(translate(lang, "You may not approve your own request."))
        raise ForbiddenError(translate(lang, "This request is not waiting on you."))
    if decision == "reject" and not comment:
        raise CommentMissing(translate(lang, "Say why you reject the request."),
                             hint=translate(lang, "The reason is shown on the record."))
    record = get_record(conn, app, entity, record_id, for_update=True)
    step = req.step or {}
    remaining = [i for i in req.waiting_on if i != actor.id]
    if decision == "reject":
        _advance(conn, req, lang, status="rejected", decided_at=now, reason=comment, waiting_on=[])
    elif step.get("rule") == "all" and remaining:
        _advance(conn, req, lang, waiting_on=remaining)
    elif req.step_index + 1 < len(req.steps):
        nxt = req.steps[req.step_index + 1]
        waiting = _approvers_for(conn, app, record, nxt, req.requested_by, bool(req.spec.get("allow_self_approval")))
        _advance(conn, req, lang, step_index=req.step_index + 1, step_started_at=now, waiting_on=waiting)
    else:
        _advance(conn, req, lang, status="approved", decided_at=now, waiting_on=[])
    _decision(conn, req, actor.id, decision, comment, now)
    _audit(conn, app, entity, record, actor.id, now, {"request": req.id, "decision": decision,
                                                      "step": step.get("key"), "comment": comment})
    fresh = get_request(conn, req.id)
    if fresh.status == "approved":
        mover = load_actor(conn, req.requested_by) if req.requested_by else None
        move_to_stage(conn, app, entity, record_id, req.to_stage, mover or actor, lang=lang, now=now,
                      approved_request=req.id)
    if fresh.status != PENDING:
        _decided(conn, app, entity, record, fresh, actor.id, now)
    elif fresh.step_index != req.step_index:
        _step_started(conn, app, entity, record, fresh, now)
    return fresh


def withdraw(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, request_id: int, actor: Any,
             comment: str | None = None, *, lang: str = "en", now: datetime | None = None) -> ApprovalRequest:
    """The requester (or an app admin) takes the request back; the record stays where it is."""
    now = (now or utcnow()).astimezone(timezone.utc)
    req = _the_request(conn, app, entity, record_id, request_id, actor, lang)
    if not req.pending:
        raise ConflictError(translate(lang, "This request was already decided."))
    if req.requested_by != actor.id and not is_app_admin(actor, app):
        raise ForbiddenError(translate(lang, "Only who asked may withdraw the request."))
    record = get_record(conn, app, entity, record_id, for_update=True)
    comment = _clean_comment(comment)
    _advance(conn, req, lang, status="withdrawn", decided_at=now, reason=comment, waiting_on=[])
    _decision(conn, req, actor.id, "withdraw", comment, now)
    _audit(conn, app, entity, record, actor.id, now, {"request": req.id, "decision": "withdraw",
                                                      "comment": comment})
    fresh = get_request(conn, req.id)
    _decided(conn, app, entity, record, fresh, actor.id, now)
    return fresh


def run_timeout(conn: Connection, app: AppDef, payload: Mapping[str, Any], now: datetime) -> str:
    """A step's timeout came: escalate to the waiting approvers' managers (they are added to
    the step and notified) or reject, as the step says; nothing when the step moved on."""
    req = get_request(conn, int(payload.get("request", 0)), for_update=True)
    if req is None or not req.pending or req.step_index != payload.get("step_index") \
            or req.version != payload.get("version"):
        return "skipped"
    entity = app.entity(req.entity_key)
    if entity is None:
        return "skipped"
    record = get_record(conn, app, entity, req.record_id, for_update=True)
    step = req.step or {}
    if step.get("on_timeout") == "reject":
        reason = translate("en", "No decision in time: rejected automatically.")
        _advance(conn, req, "en", status="rejected", decided_at=now, reason=reason, waiting_on=[])
        _decision(conn, req, None, "timeout", reason, now)
        _audit(conn, app, entity, record, None, now, {"request": req.id, "decision": "timeout",
                                                      "step": step.get("key")})
        _decided(conn, app, entity, record, get_request(conn, req.id), None, now)
        return "done"
    managers = conn.execute(select(users.c.manager_id).where(users.c.id.in_(req.waiting_on),
                                                           users.c.manager_id.is_not(None))).scalars().all()
    extra = [m for m in dict.fromkeys(managers) if m not in req.waiting_on and m != req.requested_by]
    _advance(conn, req, "en", waiting_on=req.waiting_on + extra)
    _decision(conn, req, None, "escalate", None, now)
    fresh = get_request(conn, req.id)
    _step_started(conn, app, entity, record, fresh, now)
    return "done"


def _the_request(conn, app, entity, record_id, request_id, actor, lang) -> ApprovalRequest:
    req = get_request(conn, request_id, for_update=True)
    if req is None or req.record_id != record_id or req.app_key != app.key or req.entity_key != entity.key \
            or not may_see(conn, app, entity, req, actor):
        raise NotFoundError(translate(lang, "There is no such approval request."))
    return req


def _advance(conn: Connection, req: ApprovalRequest, lang: str, **values: Any) -> None:
    """Change the request only if nobody else did since we read it: exactly one decision wins."""
    result = conn.execute(update(approval_requests)
                          .where(approval_requests.c.id == req.id, approval_requests.c.version == req.version,
                                 approval_requests.c.status == PENDING)
                          .values(version=req.version + 1, **values))
    if result.rowcount != 1:
        raise ConflictError(translate(lang, "Someone else decided this request meanwhile."),
                            hint=translate(lang, "Reload to see the decision."))


def _decision(conn, req: ApprovalRequest, user_id, decision: str, comment, now) -> None:
    step = req.step or {}
    conn.execute(insert(approval_decisions).values(request_id=req.id, step_index=req.step_index,
                                                   step_key=str(step.get("key", "")), user_id=user_id,
                                                   decision=decision, comment=comment, at=now))


def _audit(conn, app, entity, record, user_id, now, what: Mapping[str, Any]) -> None:
    conn.execute(insert(audit).values(record_id=record.id, app_key=app.key, entity_key=entity.key,
                                      action="approval", changes={"$approval": [None, dict(what)]},
                                      user_id=user_id, at=now, record_version=record.version))


def _decided(conn, app, entity, record, req: ApprovalRequest, actor_id, now, also: Iterable[int] = ()) -> None:
    """Emit `approval_decided`, cancel the pending timeout and tell the requester, `notify` and
    `also`."""
    from ..automation.channels.inapp import notify_user
    conn.execute(update(jobs).where(jobs.c.kind == TIMEOUT_JOB, jobs.c.record_id == record.id,
                                    jobs.c.status == "pending").values(status="cancelled", finished_at=now))
    emit_event(conn, app.key, entity.key, record.id, "approval_decided",
               {"request": req.id, "outcome": req.status, "to": req.to_stage, "actor": actor_id,
                "reason": req.reason}, now)
    people = [req.requested_by] if req.requested_by else []
    people += _notify_list(conn, app, record, req.spec.get("notify") or ()) + list(also)
    for uid in dict.fromkeys(p for p in people if p and p != actor_id):
        row = conn.execute(select(users.c.language).where(users.c.id == uid)).first()
        lang = (row.language if row else None) or "en"
        subject = translate(lang, "Approval %(outcome)s: %(title)s", outcome=req.status_text(lang),
                            title=record.title or f"#{record.id}")
        notify_user(conn, uid, subject, req.reason or "", f"approval:{req.id}:{req.status}:u{uid}", now,
                    app_key=app.key, record_id=record.id)


def _notify_list(conn, app, record, recipients) -> list[int]:
    """Recipients written like an action's `to` (role:finance, owner, manager, field:x)."""
    ids: list = []
    for text in recipients:
        kind, _sep, argument = str(text).partition(":")
        if kind == "owner":
            ids.append(record.owner_id)
        elif kind == "creator":
            ids.append(record.created_by)
        else:
            ids += resolve_approvers(conn, app, record, [text])
    return [i for i in ids if isinstance(i, int)]


def locked_fields(conn: Connection, record_id: int, actor_id: int | None) -> tuple[bool, frozenset[str]]:
    """(waiting, fields `actor_id` may still edit) for a record: while a request waits, only
    the current step's approvers edit, and only the step's `editable` fields."""
    req = pending_request(conn, record_id)
    if req is None:
        return False, frozenset()
    if actor_id is None or actor_id not in req.waiting_on:
        return True, frozenset()
    return True, frozenset((req.step or {}).get("editable") or ())
