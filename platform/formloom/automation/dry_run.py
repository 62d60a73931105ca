"""Dry-run: what a rule would do if it ran now, without doing any of it.

It asks the engine's own functions every question the worker asks, in the same
order: the time trigger's `due` (through `reminders.wanted`) for when, the
reminder's idempotency key for "already fired", `condition_vars` + `truthy` for
the condition, `resolve_recipients` and `message_for` for who gets what. None of
those write; `dry_run_db` still runs them in a transaction it rolls back, so a
dry-run can never leave a trace. Reasons are English sentences (msgids) with
their parameters, translated where they are shown.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from sqlalchemy import Connection, func, select

from ..conditions import truthy
from ..definitions.model import AppDef, RuleDef, WorkflowDef, thaw
from ..errors import NotFoundError
from ..store.db import Database
from ..store.expressions import live
from ..store.records import Record, record_from_row
from ..store.tables import jobs, records
from .actions import ACTIONS, RuleContext, _set_value, condition_vars, message_for, resolve_recipients
from .reminders import TimeContext, reminder_prefix, wanted
from .rules import TRIGGERS, Event
from .settings import Settings
from .tables import rule_runs
from .timing import cron_occurrences

#: How many reminders (or schedule runs) a dry-run lists.
LIMIT = 50
#: Records looked at for a time trigger (the dry-run says when there were more).
MAX_RECORDS = 20_000

#: The changes records emit (store/records.py, workflow/): what an event trigger's dry-run may be asked about.
EVENT_TYPES = ("record_created", "record_updated", "stage_entered", "stage_left", "approval_requested",
               "approval_decided")

NO_DUE = "The trigger gives this record no due time (its date is empty, or it is not in the stage the trigger names)."
ALREADY_FIRED = "Already fired for this occurrence; it does not fire again."
CANCELLED = "This occurrence was cancelled earlier; it is not scheduled again."
PASSED = "Its time (%(when)s) passed before the rule applied; past reminders are not created."
CONDITION_FALSE = "The condition does not hold."
TERMINAL = "The condition does not hold: the record is in a terminal stage (%(stage)s)."
NOT_MATCHED = "This change does not fire the rule's trigger."
FIRED_BEFORE = ("This rule already acted on this record (last on %(when)s). A rule triggered by changes acts on "
                "each matching change, so this one would fire it again.")
DELETED = "The record is deleted."


@dataclass
class Reason:
    msgid: str
    params: dict = field(default_factory=dict)


@dataclass
class ActionPreview:
    type: str
    recipients: list[str] = field(default_factory=list)      # "Name <email>"
    subject: str = ""
    body: str = ""
    changes: list[tuple[str, Any]] = field(default_factory=list)   # (field key, new value)
    detail: str = ""                                          # the other settings, as JSON
    error: str = ""


@dataclass
class Item:
    """One firing: a record (None for a schedule without a condition) at a time."""

    record_id: int | None
    title: str
    due_at: datetime | None
    acts: bool
    reason: Reason | None = None
    actions: list[ActionPreview] = field(default_factory=list)
    note: Reason | None = None          # said beside a firing that still happens (it fired before)


@dataclass
class DryRun:
    workflow_key: str
    rule_key: str
    trigger: str
    timed: bool
    now: datetime
    items: list[Item] = field(default_factory=list)       # soonest first (time), or the one change (event)
    skipped: list[Item] = field(default_factory=list)     # records the rule leaves alone, and why
    more: int = 0                                         # due reminders beyond the listed ones

    def as_json(self) -> dict:
        def item(i: Item) -> dict:
            return {"record_id": i.record_id, "title": i.title, "acts": i.acts,
                    "due_at": i.due_at.astimezone(timezone.utc).isoformat() if i.due_at else None,
                    "reason": (i.reason.msgid % i.reason.params) if i.reason else None,
                    "note": (i.note.msgid % i.note.params) if i.note else None,
                    "actions": [{"type": a.type, "recipients": a.recipients, "subject": a.subject, "body": a.body,
                                 "changes": [[k, v] for k, v in a.changes], "detail": a.detail, "error": a.error}
                                for a in i.actions]}
        return {"workflow": self.workflow_key, "rule": self.rule_key, "trigger": self.trigger, "timed": self.timed,
                "now": self.now.astimezone(timezone.utc).isoformat(), "items": [item(i) for i in self.items],
                "skipped": [item(i) for i in self.skipped], "more": self.more}


def rule_of(app: AppDef, workflow_key: str, rule_key: str) -> tuple[WorkflowDef, RuleDef]:
    """The rule, enabled or not (a disabled rule may be dry-run before it is switched on)."""
    workflow = app.workflows.get(workflow_key)
    rule = next((r for r in workflow.rules if r.key == rule_key), None) if workflow else None
    if rule is None:
        raise NotFoundError(f"There is no rule {rule_key!r} in the workflow {workflow_key!r}.")
    return workflow, rule


@contextmanager
def rolled_back(db: Database) -> Iterator[Connection]:
    """A connection whose transaction is always rolled back: nothing a dry-run does is kept."""
    with db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def dry_run_db(db: Database, app: AppDef, workflow_key: str, rule_key: str, **options: Any) -> DryRun:
    with rolled_back(db) as conn:
        return dry_run(conn, app, workflow_key, rule_key, **options)


def dry_run(conn: Connection, app: AppDef, workflow_key: str, rule_key: str, *, now: datetime,
            settings: Settings | None = None, record_id: int | None = None,
            change: Mapping[str, Any] | None = None, limit: int = LIMIT) -> DryRun:
    """What the rule would do: for a time trigger the next `limit` reminders after `now`
    (only `record_id`'s when given); for an event trigger, what `change` (an event type
    and its payload) to the record `record_id` would do."""
    workflow, rule = rule_of(app, workflow_key, rule_key)
    now = now.astimezone(timezone.utc)
    trigger = TRIGGERS.get(rule.trigger.get("type"))
    out = DryRun(workflow.key, rule.key, rule.trigger.get("type", ""), bool(trigger and trigger.timed), now)
    settings = settings or Settings.from_env()
    if trigger is None:
        return out
    if rule.trigger.get("type") == "schedule":
        _schedule(conn, app, workflow, rule, now, settings, limit, out)
    elif trigger.timed:
        _timed(conn, app, workflow, rule, now, settings, record_id, limit, out)
    elif record_id is not None:
        _event(conn, app, workflow, rule, now, settings, record_id, change or {}, out)
    return out


def default_change(trigger: Mapping[str, Any]) -> dict:
    """A change that an event trigger is written to catch (the CLI's default): the event of the
    trigger's name when records emit one, else an update; the fields and stage it names."""
    name = trigger.get("type")
    fields = list(trigger.get("fields") or ([trigger["field"]] if trigger.get("field") else []))
    sources = trigger.get("from")
    change: dict[str, Any] = {"type": name if name in EVENT_TYPES else "record_updated", "fields": fields}
    if trigger.get("stage"):
        change["to"] = trigger["stage"]
        change["from"] = trigger["stage"]
    if isinstance(sources, list) and sources:
        change["from"] = sources[0]
    if trigger.get("outcome"):
        change["outcome"] = trigger["outcome"]
    return change


def _context(conn, app, workflow, rule, record, now, settings, trigger: str) -> RuleContext:
    return RuleContext(conn=conn, app=app, rule=rule, workflow=workflow, entity=app.entity(workflow.entity),
                       record=record, key="dry-run", now=now, settings=settings, trigger=trigger)


def _records(conn: Connection, app: AppDef, workflow: WorkflowDef, record_id: int | None) -> list[Record]:
    query = select(records).where(live(app.key, workflow.entity))
    if record_id is not None:
        query = query.where(records.c.id == record_id)
    return [record_from_row(r) for r in conn.execute(query.order_by(records.c.id).limit(MAX_RECORDS))]


def _timed(conn, app, workflow, rule, now, settings, record_id, limit, out: DryRun) -> None:
    tc = TimeContext(conn, app, now)
    candidates: list[tuple[datetime, Record]] = []
    for record in _records(conn, app, workflow, record_id):
        want = wanted(tc, workflow, rule, record)
        if not want:
            out.skipped.append(Item(record.id, record.title, None, False, Reason(NO_DUE)))
        prefix = reminder_prefix(app.key, workflow.key, rule.key, record.id)
        stored = {row.idempotency_key: row for row in conn.execute(
            select(jobs.c.idempotency_key, jobs.c.status, jobs.c.due_at).where(
                jobs.c.idempotency_key.in_([prefix + o for o in want])))} if want else {}
        for occurrence, due in want.items():
            job = stored.get(prefix + occurrence)
            status = job.status if job is not None else None
            if status == "done":
                out.skipped.append(Item(record.id, record.title, due, False, Reason(ALREADY_FIRED)))
            elif status in ("cancelled", "failed", "dead"):
                out.skipped.append(Item(record.id, record.title, due, False, Reason(CANCELLED)))
            elif status is None and due <= now:
                out.skipped.append(Item(record.id, record.title, due, False,
                                        Reason(PASSED, {"when": due.isoformat()})))
            else:
                candidates.append((due, record))
    candidates.sort(key=lambda c: (c[0], c[1].id))
    out.more = max(0, len(candidates) - limit)
    for due, record in candidates[:limit]:
        out.items.append(_firing(_context(conn, app, workflow, rule, record, max(due, now), settings,
                                          rule.trigger.get("type", "")), due))


def _schedule(conn, app, workflow, rule, now, settings, limit, out: DryRun) -> None:
    """Each run of the schedule; with a condition, each acts on the records that meet it
    (judged now: the records will have changed by the later runs)."""
    try:
        times = []
        for instant in cron_occurrences(rule.trigger["cron"], app.timezone, now):
            times.append(instant)
            if len(times) >= min(limit, 5):
                break
    except Exception:
        return
    for instant in times:
        if rule.condition is None:
            out.items.append(_firing(_context(conn, app, workflow, rule, None, instant, settings, "schedule"), instant))
            continue
        for record in _records(conn, app, workflow, None)[:limit]:
            out.items.append(_firing(_context(conn, app, workflow, rule, record, instant, settings, "schedule"),
                                     instant, skip_silently=True))
        out.items = [i for i in out.items if i.acts or i.record_id is None]


def _event(conn, app, workflow, rule, now, settings, record_id, change, out: DryRun) -> None:
    found = _records(conn, app, workflow, record_id)
    if not found:
        raise NotFoundError(f"There is no record {record_id} of {workflow.entity!r}.")
    record = found[0]
    event_type = str(change.get("type") or "record_updated")
    payload = {k: thaw(v) for k, v in change.items() if k != "type"}
    event = Event(0, app.key, workflow.entity, record.id, event_type, payload, 0, now)
    if not TRIGGERS[rule.trigger["type"]].matches(rule.trigger, event):
        out.skipped.append(Item(record.id, record.title, now, False, Reason(NOT_MATCHED)))
        return
    ctx = _context(conn, app, workflow, rule, record, now, settings, rule.trigger["type"])
    ctx.event_at = now
    item = _firing(ctx, now)
    last = _last_fired(conn, app.key, rule.key, record.id)
    if last is not None and item.acts:
        item.note = Reason(FIRED_BEFORE, {"when": last.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    out.items.append(item)


def _last_fired(conn: Connection, app_key: str, rule_key: str, record_id: int) -> datetime | None:
    """When the rule last acted on the record (its run log). Unlike a reminder, an event rule has
    no occurrence to have fired already: each change is an event of its own, handled once
    (`events.handle_event`, keyed by the event), so a change yet to happen always fires it;
    what the engine can say is that it fired before."""
    return conn.execute(select(func.max(rule_runs.c.at)).where(
        rule_runs.c.app_key == app_key, rule_runs.c.rule_key == rule_key, rule_runs.c.record_id == record_id,
        rule_runs.c.outcome == "fired")).scalar()


def _firing(ctx: RuleContext, due: datetime, skip_silently: bool = False) -> Item:
    """The firing as `actions.fire_rule` would see it: the condition first, then each action."""
    record = ctx.record
    item = Item(record.id if record else None, record.title if record else "", due, True)
    if record is not None and record.deleted_at is not None:
        item.acts, item.reason = False, Reason(DELETED)
        return item
    if ctx.rule.condition is not None and not truthy(ctx.rule.condition, condition_vars(ctx)):
        stage = ctx.workflow.stage(record.stage) if ctx.workflow and record and record.stage else None
        item.acts = False
        item.reason = Reason(TERMINAL, {"stage": stage.key}) if stage and stage.terminal else Reason(CONDITION_FALSE)
        return item
    item.actions = [preview_action(ctx, spec) for spec in ctx.rule.actions]
    return item


def recipients_written(spec: Mapping[str, Any]) -> list | None:
    """Who an action reaches, as written: its `to`, or the owner's manager for escalate."""
    entry = ACTIONS.get(spec.get("type"))
    if entry is None:
        return None
    if any(s.name == "to" for s in entry.settings):
        return list(thaw(spec.get("to")) or [])
    if spec.get("type") == "escalate":
        return ["manager"]
    return None


def preview_action(ctx: RuleContext, spec: Mapping[str, Any]) -> ActionPreview:
    """What one action would do, computed by the functions the action itself calls."""
    kind = str(spec.get("type"))
    preview = ActionPreview(kind)
    entry = ACTIONS.get(kind)
    if entry is None:
        preview.error = f"there is no action type {kind!r}"
        return preview
    names = {s.name for s in entry.settings}
    try:
        written = recipients_written(spec)
        people = resolve_recipients(ctx, written) if written is not None else []
        preview.recipients = [f"{p.name} <{p.email}>" for p in people]
        if "message" in names or "subject" in names:
            preview.subject, preview.body = message_for(ctx, spec, people[0].language if people else "en")
        if kind == "set_field" and not spec.get("on") and ctx.record is not None:
            preview.changes = [(spec["field"], _set_value(ctx, spec, ctx.entity, ctx.record))]
        elif kind == "move_stage":
            preview.changes = [("$stage", spec.get("stage"))]
        rest = {k: thaw(v) for k, v in spec.items() if k not in ("type", "to", "subject", "message")}
        preview.detail = json.dumps(rest, ensure_ascii=False, sort_keys=True) if rest else ""
    except Exception as error:   # a template or a value the action would fail on: say so
        preview.error = getattr(error, "message", None) or str(error) or type(error).__name__
    return preview
