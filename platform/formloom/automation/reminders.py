"""Time triggers as durable reminder rows.

A time-triggered rule is materialized per record as `jobs` rows of kind
"reminder", keyed `rem:APP:WORKFLOW:RULE:RECORD:OCCURRENCE`, due_at in UTC. The
occurrence names what the reminder is about (the date value, the moment the
stage was entered, the moment the no-related clock started), so:

- when the record, its stage or its related records change, `sync_record`
  recomputes the wanted occurrences: reminders no longer wanted are cancelled,
  new ones created, and one whose due time changed (the rule's offset was
  edited) is moved;
- the unique key means each occurrence fires once, however many workers run;
- a reminder whose due time is already past when it would be created is not
  created (adding a rule does not flood people with stale reminders); one that
  was pending during downtime fires once when the worker is back, marked late.

Schedules (cron) are per app, not per record: one job per occurrence
(`sch:APP:WORKFLOW:RULE:ISO`), so a schedule fires once per cluster.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, NamedTuple

from sqlalchemy import Connection, func, or_, select, update

from ..definitions.model import AppDef, EntityDef, RuleDef, WorkflowDef
from ..store.expressions import field_expr, live
from ..store.query import Filter, filter_clause
from ..store.records import RECORD_COLUMNS, Record, get_record, record_from_row
from ..store.tables import jobs, records
from .batch import current as current_batch
from .jobs import enqueue
from ..definitions import rule_checks
from .rule_settings import DURATION, ENTITY, FIELD, STAGE, VIA, setting
from .rules import TRIGGERS, all_rules, rules_for, time_trigger
from .timing import add_duration, cron_occurrences, date_trigger_due, parse_duration

log = logging.getLogger("formloom.automation")

REMINDER = "reminder"
#: A reminder firing later than this after its due time is logged as late.
LATE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class TimeContext:
    conn: Connection
    app: AppDef
    now: datetime
    #: latest_related answers within this one pass (several rules ask the same question)
    related: dict = field(default_factory=dict, compare=False, repr=False)


# -- time triggers: when is a rule due for a record ------------------------------------------------

@time_trigger("date_field", label={"en": "Date reached", "zh": "到达日期时"},
              help={"en": "At a date field's day (plus an offset, at a time of day).",
                    "zh": "在日期字段所指的那天（可加偏移量，可指定时刻）触发。"},
              settings=(FIELD.but(required=True),
                        setting("offset", DURATION, "Offset", "偏移量", "Before (-P1D) or after (P2D) the date.",
                                "日期之前（-P1D）或之后（P2D）。"),
                        setting("at", {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
                                       "x-message": "must be a time of day written HH:MM (24-hour clock), such as 09:00"},
                                "At", "时刻", "The time of day, HH:MM in the app's time zone.", "当天的时刻，按应用时区 HH:MM。"),
                        setting("business_days", {"type": "boolean"}, "Business days", "工作日",
                                "Count the offset in working days, skipping holidays.", "偏移量按工作日计算，跳过节假日。")),
              check=rule_checks.check_date_field)
def date_field(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record: Record) -> list[tuple[str, datetime]]:
    """The date (or datetime) field plus `offset`, at local time `at`, counting business days when asked."""
    spec = rule.trigger
    entity = tc.app.entity(workflow.entity)
    f = entity.field(spec["field"]) if entity else None
    value = record.data.get(spec["field"])
    if f is None or not isinstance(value, str) or not value:
        return []
    try:
        due = date_trigger_due(value, is_date=f.type == "date", offset=spec.get("offset"), at=spec.get("at"),
                               business_days=bool(spec.get("business_days")), tz_name=tc.app.timezone,
                               working_days=tc.app.working_days, holidays=tc.app.holidays)
    except ValueError:
        return []
    return [(f"d{value}", due)]


@time_trigger("stage_idle", label={"en": "Idle in stage", "zh": "阶段停留过久"},
              help={"en": "When a record has stayed in a stage for a while.", "zh": "记录在某阶段停留一段时间后触发。"},
              settings=(STAGE.but(required=True),
                        setting("after", DURATION, "After", "经过", "How long, such as P3D.", "停留多久，例如 P3D。",
                                required=True)))
def stage_idle(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record: Record) -> list[tuple[str, datetime]]:
    """`after` since the record entered `stage`, while it is still there."""
    spec = rule.trigger
    if record.stage != spec["stage"] or record.stage_entered_at is None:
        return []
    entered = record.stage_entered_at.astimezone(timezone.utc)
    return [(f"s{entered.isoformat()}", add_duration(entered, spec["after"]))]


@time_trigger("approval_waiting", label={"en": "Approval waiting", "zh": "审批等待过久"},
              help={"en": "When an approval request has waited a while (for a move into `stage`, when named).",
                    "zh": "审批申请等待一段时间后触发（指定阶段时仅限移入该阶段的申请）。"},
              settings=(STAGE, setting("after", DURATION, "After", "经过", "How long, such as P2D.",
                                       "等待多久，例如 P2D。", required=True)))
def approval_waiting(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef,
                     record: Record) -> list[tuple[str, datetime]]:
    """`after` since the record's pending approval request was made, while it still waits."""
    from ..workflow.approvals import pending_request
    spec = rule.trigger
    req = pending_request(tc.conn, record.id)
    if req is None or (spec.get("stage") and spec["stage"] != req.to_stage):
        return []
    return [(f"a{req.id}", add_duration(req.requested_at.astimezone(timezone.utc), spec["after"]))]


@time_trigger("no_related", label={"en": "No related record", "zh": "无相关记录"},
              help={"en": "When no related record (such as a visit) was added for a while.",
                    "zh": "一段时间内没有新增相关记录（例如拜访）时触发。"},
              settings=(ENTITY.but(required=True),
                        VIA,
                        setting("for", DURATION, "For", "持续", "How long, such as P14D.", "持续多久，例如 P14D。",
                                required=True)),
              check=rule_checks.check_no_related)
def no_related(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record: Record) -> list[tuple[str, datetime]]:
    """`for` without a new related record: the clock starts at creation and restarts
    with each related record created."""
    spec = rule.trigger
    memo_key = (spec["entity"], spec["via"], record.id)
    if memo_key not in tc.related:
        tc.related[memo_key] = latest_related(tc.conn, tc.app, spec["entity"], spec["via"], record.id)
    clock = tc.related[memo_key] or record.created_at
    clock = max(clock, record.created_at).astimezone(timezone.utc)
    return [(f"n{clock.isoformat()}", add_duration(clock, spec["for"]))]


@time_trigger("schedule", label={"en": "Schedule", "zh": "定时"},
              help={"en": "At times given by a cron line, in the app's time zone.", "zh": "按 cron 表达式的时间触发（应用时区）。"},
              settings=(setting("cron", {"type": "string", "minLength": 1, "maxLength": 200}, "Cron", "Cron 表达式",
                                "Five fields: minute hour day month weekday, such as 0 9 * * 1.",
                                "五段：分 时 日 月 周，例如 0 9 * * 1。", required=True),))
def schedule(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record: Record) -> list[tuple[str, datetime]]:
    """Cron, per app: materialized by `sync_schedules`, never per record."""
    return []


def latest_related(conn: Connection, app: AppDef, entity_key: str, via_key: str, record_id: int) -> datetime | None:
    entity = app.entity(entity_key)
    via = entity.field(via_key) if entity else None
    if via is None:
        return None
    dialect = conn.dialect.name
    points = filter_clause(dialect, via, Filter(via.key, "eq", record_id)) if via.multiple \
        else field_expr(dialect, via) == record_id
    value = conn.execute(select(func.max(records.c.created_at)).where(live(app.key, entity.key), points)).scalar()
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


# -- keeping reminder rows in step -----------------------------------------------------------------------

def reminder_prefix(app_key: str, workflow_key: str, rule_key: str, record_id: int) -> str:
    return f"rem:{app_key}:{workflow_key}:{rule_key}:{record_id}:"


def _record_rules(app: AppDef, entity_key: str) -> Iterator[tuple[WorkflowDef, RuleDef]]:
    for workflow, rule in rules_for(app, entity_key):
        trigger = TRIGGERS.get(rule.trigger.get("type"))
        if trigger is not None and trigger.timed and rule.trigger.get("type") != "schedule":
            yield workflow, rule


def wanted(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record: Record | None) -> dict[str, datetime]:
    if record is None or record.deleted_at is not None:
        return {}
    try:
        return dict(TRIGGERS[rule.trigger["type"]].due(tc, workflow, rule, record))
    except Exception:   # one odd value never stops the others
        log.exception("could not compute reminder %s for record %s", rule.key, record.id)
        return {}


#: The time triggers whose inputs `reminder_reads` knows: what each reads of the record's data.
#: A trigger not named here (an extension's) is taken to read every field.
_KNOWN_READS = frozenset({"date_field", "stage_idle", "no_related", "approval_waiting"})
#: Keys in an event's changed `fields` that no built-in time trigger reads.
_UNREAD_KEYS = frozenset({"$owner"})
#: (app key, content hash, entity key) -> the fields `sync_record` reads of that entity's records
_READS: dict[tuple[str, str, str], frozenset[str] | None] = {}


def reminder_reads(app: AppDef, entity_key: str) -> frozenset[str] | None:
    """The data fields `sync_record` reads of a record of `entity_key` under this version of the
    app, or None when it may read any (then nothing is skipped). date_field reads its field
    (any field when that field is computed: a formula, rollup or lookup moves with others);
    stage_idle the stage, approval_waiting the approval requests and no_related the creation
    time and related records: none of them a data field, each moved by an event of its own
    (stage_entered, approval_requested, the related record's). The no_related rules counting
    this entity read its `via` field (`_sync_parents`)."""
    key = (app.key, app.content_hash, entity_key)
    if app.content_hash and key in _READS:
        return _READS[key]
    entity = app.entity(entity_key)
    reads: set[str] | None = set()
    for _workflow, rule in _record_rules(app, entity_key):
        kind = rule.trigger.get("type")
        if kind not in _KNOWN_READS:
            reads = None
            break
        if kind == "date_field":
            f = entity.field(rule.trigger.get("field")) if entity else None
            if f is None or f.is_computed:
                reads = None
                break
            reads.add(f.key)
    if reads is not None:
        for _workflow, rule in all_rules(app):
            if rule.trigger.get("type") == "no_related" and rule.trigger.get("entity") == entity_key:
                reads.add(rule.trigger.get("via"))
    found = frozenset(reads) if reads is not None else None
    if app.content_hash:
        _READS[key] = found
    return found


def sync_needed(app: AppDef, entity_key: str, event_type: str, payload: Any) -> bool:
    """Whether handling this event must bring the record's reminders in step. Not for a
    `record_updated` whose changed fields (all of them named, none computed) no time rule
    reads, such as an assignment's owner: every input of `sync_record` other than those fields
    changes with an event of its own, which syncs, so the reminders are already those it would
    compute. When unsure (another event, an unknown key or trigger), it is needed."""
    if event_type != "record_updated" or not isinstance(payload, dict):
        return True
    changed = payload.get("fields")
    if not isinstance(changed, list) or not changed:
        return True
    reads = reminder_reads(app, entity_key)
    if reads is None:
        return True
    entity = app.entity(entity_key)
    for key in changed:
        if key in _UNREAD_KEYS:
            continue
        f = entity.field(key) if isinstance(key, str) and entity is not None else None
        if f is None or f.is_computed or key in reads:
            return True
    return False


def sync_record(conn: Connection, app: AppDef, entity_key: str, record: Record | int, now: datetime) -> int:
    """Create, move or cancel the reminders of one record; returns how many rows changed.
    Also resyncs the records this one is "related" to (no_related clocks)."""
    tc = TimeContext(conn, app, now)
    entity = app.entity(entity_key)
    if isinstance(record, int):
        record = _load(conn, app, entity, record)
    if record is None:
        return 0
    changed = 0
    rules = list(_record_rules(app, entity_key))
    # the record's pending reminders of every rule in one statement, not one per rule (the
    # worker does this after every event): each rule's _sync touches only its own jobs
    pending = _pending_by_rule(conn, app.key, record.id) if rules else {}
    b = current_batch()
    if b is not None and b.reminders is not None:       # clocks the event batch read for all its records
        for memo_key in _related_keys(app, entity_key, record.id):
            if ("related", app.key) + memo_key in b.memo:
                tc.related[memo_key] = b.memo[("related", app.key) + memo_key]
    for workflow, rule in rules:
        changed += _sync(tc, workflow, rule, record.id, wanted(tc, workflow, rule, record),
                         pending=pending.get(rule.key, []))
    changed += _sync_parents(tc, entity_key, record)
    return changed


def _pending_by_rule(conn: Connection, app_key: str, record_id: int) -> dict[str, list]:
    by_rule: dict[str, list] = {}
    for job in _pending_of(conn, app_key, record_id):
        by_rule.setdefault(job.rule_key, []).append(job)
    return by_rule


class PendingReminder:
    """A pending reminder row as `_sync` sees it: read from the jobs table (`id` set), or, in a
    worker's batch of events, queued for the batch's one INSERT (`queued` is that row)."""

    __slots__ = ("id", "idempotency_key", "due_at", "payload", "rule_key", "queued")

    def __init__(self, id, idempotency_key, due_at, payload, rule_key, queued=None):
        self.id, self.idempotency_key, self.due_at = id, idempotency_key, due_at
        self.payload, self.rule_key, self.queued = payload, rule_key, queued


def _read_pending(conn: Connection, app_key: str, record_ids: Iterable[int]) -> dict[int, list[PendingReminder]]:
    found: dict[int, list[PendingReminder]] = {i: [] for i in record_ids}
    if not found:
        return found
    for job in sorted(conn.execute(pending_query(app_key, sorted(found))), key=lambda job: job.id):
        found[job.record_id].append(PendingReminder(job.id, job.idempotency_key, job.due_at, job.payload, job.rule_key))
    return found


def pending_query(app_key: str, ids: list[int]):
    """The pending reminders of some records (served by ix_jobs_record), in no order: asked to
    put them in id order, SQLite walks every reminder in id order instead, for a worker batch's
    few hundred records once the reminders are some tens of thousands (the caller sorts)."""
    which = jobs.c.record_id == ids[0] if len(ids) == 1 else jobs.c.record_id.in_(ids)
    return (select(jobs.c.id, jobs.c.idempotency_key, jobs.c.due_at, jobs.c.payload, jobs.c.rule_key, jobs.c.record_id)
            .where(jobs.c.kind == REMINDER, which, jobs.c.app_key == app_key, jobs.c.status == "pending"))


def _pending_of(conn: Connection, app_key: str, record_id: int) -> list[PendingReminder]:
    """The record's pending reminders. In a worker's batch of events the list is the batch's
    own (read once, then kept in step by `_sync` with what it queued, moved and cancelled);
    otherwise read now."""
    b = current_batch()
    if b is None or b.reminders is None:
        return _read_pending(conn, app_key, [record_id])[record_id]
    key = (app_key, record_id)
    if key not in b.reminders:
        b.reminders[key] = _read_pending(conn, app_key, [record_id])[record_id]
        b.undo.append(lambda: b.reminders.pop(key, None))
    return b.reminders[key]


def prefetch_for_events(conn: Connection, app: AppDef, entity_key: str, record_ids: Iterable[int]) -> None:
    """What `sync_record` will ask for each record of a batch of events, asked for all of them:
    their pending reminders, and their no_related clocks."""
    if any(True for _ in _record_rules(app, entity_key)):
        ids = sorted(set(record_ids))
        prefetch_pending(conn, app.key, ids)
        prefetch_related(conn, app, entity_key, ids)


def prefetch_pending(conn: Connection, app_key: str, record_ids: Iterable[int]) -> None:
    """Read the pending reminders of a batch of events' records in one statement."""
    b = current_batch()
    if b is None or b.reminders is None:
        return
    missing = {i for i in record_ids if (app_key, i) not in b.reminders}
    for record_id, found in _read_pending(conn, app_key, missing).items():
        b.reminders[(app_key, record_id)] = found


def _related_keys(app: AppDef, entity_key: str, record_id: int) -> Iterator[tuple[str, str, int]]:
    for _workflow, rule in _record_rules(app, entity_key):
        if rule.trigger.get("type") == "no_related":
            yield (rule.trigger["entity"], rule.trigger["via"], record_id)


#: the batch memo's list of the no_related clocks read ahead (dropped when a rule may have moved them)
RELATED_PREFETCHED = ("prefetched", "related")


def prefetch_related(conn: Connection, app: AppDef, entity_key: str, record_ids: Iterable[int]) -> None:
    """`latest_related` for a batch of events' records, one grouped statement per (entity, via)
    a no_related rule of `entity_key` counts, remembered in the batch for `sync_record`."""
    b = current_batch()
    if b is None or b.reminders is None:
        return
    ids = sorted(set(record_ids))
    pairs = {(rule.trigger["entity"], rule.trigger["via"]) for _w, rule in _record_rules(app, entity_key)
             if rule.trigger.get("type") == "no_related"}
    dialect = conn.dialect.name
    for entity_key_related, via_key in sorted(pairs):
        entity = app.entity(entity_key_related)
        via = entity.field(via_key) if entity else None
        missing = [i for i in ids if ("related", app.key, entity_key_related, via_key, i) not in b.memo]
        if via is None or via.multiple or not missing:
            continue                       # latest_related answers these one by one
        points = field_expr(dialect, via)
        latest = {}
        for value, at in conn.execute(select(points, func.max(records.c.created_at))
                                      .where(live(app.key, entity.key), points.in_(missing)).group_by(points)):
            if value is not None:
                latest[int(value)] = at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at
        kept = b.memo.setdefault(RELATED_PREFETCHED, [])
        for record_id in missing:
            b.memo[("related", app.key, entity_key_related, via_key, record_id)] = latest.get(record_id)
            kept.append(("related", app.key, entity_key_related, via_key, record_id))


def _sync_parents(tc: TimeContext, entity_key: str, record: Record) -> int:
    changed = 0
    for workflow, rule in all_rules(tc.app):
        spec = rule.trigger
        if spec.get("type") != "no_related" or spec.get("entity") != entity_key:
            continue
        value = record.data.get(spec.get("via"))
        parent_ids = value if isinstance(value, list) else [value]
        parent_entity = tc.app.entity(workflow.entity)
        for parent_id in parent_ids:
            if isinstance(parent_id, int) and parent_entity is not None:
                parent = _load(tc.conn, tc.app, parent_entity, parent_id)
                changed += _sync(tc, workflow, rule, parent_id, wanted(tc, workflow, rule, parent))
    return changed


def prefetch_records(conn: Connection, app_of: Any, claimed: Iterable[Any]) -> int:
    """Read the records of a worker batch's reminders in one query per app (one each was a
    quarter of a reminder's cost), for `_load` to find in the batch. Only when every rule in
    the batch only sends messages: then no firing changes a record a later one reads, so what
    was read up front is what each would have read. Returns how many records were read."""
    from .actions import MESSAGE_ACTIONS    # actions import the store; keep this module light

    b = current_batch()
    if b is None:
        return 0
    wanted_ids: dict[str, set[int]] = {}
    for job in claimed:
        payload = job.payload or {}
        if payload.get("schedule") or job.record_id is None:
            continue
        try:
            app = app_of(job.app_key)
        except Exception:      # an app gone: its job fails in its own savepoint, as without this
            continue
        found = find_rule(app, payload.get("workflow"), job.rule_key) if app is not None else None
        if found is None:
            continue
        if not all(spec.get("type") in MESSAGE_ACTIONS for spec in found[1].actions):
            return 0
        wanted_ids.setdefault(app.key, set()).add(job.record_id)
    read = 0
    for app_key, ids in wanted_ids.items():
        rows = conn.execute(select(*RECORD_COLUMNS).where(records.c.app_key == app_key, records.c.id.in_(sorted(ids))))
        found_records = {row.id: record_from_row(row) for row in rows}
        read += len(found_records)
        for record_id in ids:
            b.memo[("record", app_key, record_id)] = found_records.get(record_id)
    return read


def writes_only_to_batch(app: AppDef, job: Any) -> bool:
    """Whether firing `job` in a worker's batch writes nothing but rows the batch queues (its
    notifications and run log): then a failure midway leaves only those, which the worker
    drops, and the job needs no savepoint (one per job was over a third of a batch's cost).
    A statement that fails on PostgreSQL without one spoils the batch's transaction; the
    worker then runs the batch job by job, as for any batch that fails as a whole."""
    from .actions import QUEUED_ACTIONS    # actions import the store; keep this module light

    payload = job.payload or {}
    found = None if payload.get("schedule") else find_rule(app, payload.get("workflow"), job.rule_key)
    if found is None:
        return False
    rule = found[1]
    return not rule.repeat and all(spec.get("type") in QUEUED_ACTIONS for spec in rule.actions)


def _load(conn: Connection, app: AppDef, entity: EntityDef | None, record_id: int) -> Record | None:
    if entity is None:
        return None
    b = current_batch()
    if b is not None and ("record", app.key, record_id) in b.memo:
        record = b.memo[("record", app.key, record_id)]
        return record if record is not None and record.entity_key == entity.key else None
    row = conn.execute(select(*RECORD_COLUMNS).where(records.c.id == record_id, records.c.app_key == app.key,
                                             records.c.entity_key == entity.key)).first()
    return record_from_row(row) if row is not None else None


def _sync(tc: TimeContext, workflow: WorkflowDef, rule: RuleDef, record_id: int, want: dict[str, datetime],
          pending: list | None = None) -> int:
    """`pending`: the rule's pending reminders of the record, when the caller read them already.
    An occurrence already pending is not inserted again (its key exists: the insert would be
    ignored). In a worker's batch of events new reminders are queued for one INSERT per batch
    (automation.batch), and every change is noted in the batch's list of the record's pending
    reminders, with how to undo it should the event fail."""
    conn, now = tc.conn, tc.now
    prefix = reminder_prefix(tc.app.key, workflow.key, rule.key, record_id)
    b = current_batch()
    book = b.reminders if b is not None else None
    if pending is None:
        pending = [job for job in _pending_of(conn, tc.app.key, record_id) if job.rule_key == rule.key]
    changed = 0
    present = set()
    for job in list(pending):
        payload = job.payload or {}
        if payload.get("workflow") != workflow.key:
            continue
        occurrence = payload.get("occurrence")
        if occurrence not in want:
            _cancel_pending(conn, b, tc.app.key, record_id, job, now)
            changed += 1
        else:
            present.add(occurrence)
            if not payload.get("repeat") and _aware(job.due_at) != want[occurrence]:
                _move_pending(conn, b, job, want[occurrence])
                changed += 1
    for occurrence, due in want.items():
        if due <= now or occurrence in present:
            continue
        payload = {"workflow": workflow.key, "rule": rule.key, "occurrence": occurrence, "repeat": 0}
        if book is not None:
            _queue_pending(conn, b, tc.app.key, rule.key, record_id, prefix + occurrence, payload, due, now)
            changed += 1
        elif enqueue(conn, REMINDER, prefix + occurrence, payload, due, now, app_key=tc.app.key,
                     rule_key=rule.key, record_id=record_id):
            changed += 1
    return changed


def _cancel_pending(conn: Connection, b, app_key: str, record_id: int, job: PendingReminder, now: datetime) -> None:
    if job.queued is None:
        conn.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.status == "pending")
                     .values(status="cancelled", finished_at=now, last_error="no longer due"))
    else:        # written as it would have ended: inserted, then cancelled
        before = dict(job.queued)
        job.queued.update(status="cancelled", finished_at=now, last_error="no longer due")
        b.undo.append(lambda: job.queued.update(before))
    listed = b.reminders.get((app_key, record_id)) if b is not None and b.reminders is not None else None
    if listed is not None and job in listed:
        at = listed.index(job)
        listed.pop(at)
        b.undo.append(lambda: listed.insert(at, job))


def _move_pending(conn: Connection, b, job: PendingReminder, due: datetime) -> None:
    if job.queued is None:
        conn.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.status == "pending").values(due_at=due))
    if b is not None and b.reminders is not None:
        before = job.due_at
        _set_due(job, due)
        b.undo.append(lambda: _set_due(job, before))


def _set_due(job: PendingReminder, due: datetime) -> None:
    job.due_at = due
    if job.queued is not None:
        job.queued["due_at"] = due


def _queue_pending(conn: Connection, b, app_key: str, rule_key: str, record_id: int, key: str, payload: dict,
                   due: datetime, now: datetime) -> None:
    row = {"kind": REMINDER, "idempotency_key": key[:300], "app_key": app_key, "rule_key": rule_key,
           "record_id": record_id, "payload": payload, "due_at": due, "status": "pending", "attempts": 0,
           "created_at": now, "finished_at": None, "last_error": None}
    b.jobs.append(row)
    listed = _pending_of(conn, app_key, record_id)
    job = PendingReminder(None, row["idempotency_key"], due, payload, rule_key, queued=row)
    listed.append(job)

    def undo() -> None:
        b.jobs.remove(row)
        listed.remove(job)
    b.undo.append(undo)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def schedule_prefix(app_key: str, workflow_key: str, rule_key: str) -> str:
    return f"sch:{app_key}:{workflow_key}:{rule_key}:"


def sync_schedules(conn: Connection, app: AppDef, now: datetime) -> int:
    """Make sure each schedule rule has its next occurrence pending (and nothing stale)."""
    changed = 0
    live_rules = set()
    for workflow, rule in all_rules(app):
        if rule.trigger.get("type") != "schedule":
            continue
        live_rules.add((workflow.key, rule.key))
        changed += _sync_schedule(conn, app, workflow, rule, now, after=now)
    for job in _pending(conn, app.key, schedule=True):
        if (job.payload.get("workflow"), job.rule_key) not in live_rules:
            changed += _cancel(conn, job.id, now, "the rule was removed or disabled")
    return changed


def _sync_schedule(conn: Connection, app: AppDef, workflow: WorkflowDef, rule: RuleDef, now: datetime,
                   after: datetime) -> int:
    try:
        upcoming = next(cron_occurrences(rule.trigger["cron"], app.timezone, after))
    except Exception:
        log.exception("schedule rule %s has an unusable cron expression", rule.key)
        return 0
    changed = 0
    keep = False
    for job in _pending(conn, app.key, schedule=True, rule_key=rule.key):
        if job.payload.get("workflow") != workflow.key:
            continue
        due = _aware(job.due_at)
        if due <= now or (due == upcoming and job.payload.get("cron") == rule.trigger["cron"]):
            keep = True        # due already (fires, late if need be) or still right
        else:
            changed += _cancel(conn, job.id, now, "the schedule changed")
    if not keep:
        key = schedule_prefix(app.key, workflow.key, rule.key) + upcoming.isoformat()
        if enqueue(conn, REMINDER, key, {"workflow": workflow.key, "rule": rule.key, "schedule": True,
                                         "occurrence": upcoming.isoformat(), "cron": rule.trigger["cron"]},
                   upcoming, now, app_key=app.key, rule_key=rule.key):
            changed += 1
    return changed


def _pending(conn: Connection, app_key: str, *, schedule: bool | None = None, rule_key: str | None = None):
    query = select(jobs.c.id, jobs.c.rule_key, jobs.c.record_id, jobs.c.due_at, jobs.c.payload,
                   jobs.c.idempotency_key).where(
        jobs.c.kind == REMINDER, jobs.c.app_key == app_key, jobs.c.status == "pending")
    if schedule is True:
        query = query.where(jobs.c.record_id.is_(None))
    elif schedule is False:
        query = query.where(jobs.c.record_id.is_not(None))
    if rule_key is not None:
        query = query.where(jobs.c.rule_key == rule_key)
    return conn.execute(query).all()


def _cancel(conn: Connection, job_id: int, now: datetime, why: str) -> int:
    return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "pending")
                        .values(status="cancelled", finished_at=now, last_error=why)).rowcount


def resync_app(conn: Connection, app: AppDef, now: datetime | None = None) -> int:
    """Bring every reminder of the app in line with its current rules (after the rules
    changed): cancels reminders of removed or disabled rules, moves and creates the
    others for every live record, and schedules the next cron occurrences."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    tc = TimeContext(conn, app, now)
    changed = 0
    active = set()
    for entity in app.entities:
        rules = list(_record_rules(app, entity.key))
        active |= {(w.key, r.key) for w, r in rules}
        if not rules:
            continue
        last_id = 0
        while True:
            rows = conn.execute(select(records).where(live(app.key, entity.key), records.c.id > last_id)
                                .order_by(records.c.id).limit(500)).all()
            if not rows:
                break
            for row in rows:
                record = record_from_row(row)
                for workflow, rule in rules:
                    changed += _sync(tc, workflow, rule, record.id, wanted(tc, workflow, rule, record))
            last_id = rows[-1].id
    for job in _pending(conn, app.key, schedule=False):
        if (job.payload.get("workflow"), job.rule_key) not in active:
            changed += _cancel(conn, job.id, now, "the rule was removed or disabled")
    changed += sync_schedules(conn, app, now)
    return changed


# -- firing ------------------------------------------------------------------------------------------------

def find_rule(app: AppDef, workflow_key: str | None, rule_key: str) -> tuple[WorkflowDef, RuleDef] | None:
    workflow = app.workflows.get(workflow_key) if workflow_key else None
    candidates = [workflow] if workflow else list(app.workflows.values())
    for wf in candidates:
        for rule in wf.rules:
            if rule.key == rule_key and rule.enabled:
                return wf, rule
    return None


def fire_reminder(conn: Connection, app: AppDef, job: Any, now: datetime, settings) -> str:
    """Run a due reminder job (in the worker's transaction); returns the job's final status:
    done (fired or skipped by its condition) or cancelled (no longer due)."""
    from .actions import RuleContext, fire_rule, log_run   # actions import the store; keep this module light

    payload = job.payload or {}
    found = find_rule(app, payload.get("workflow"), job.rule_key)
    due_at = _aware(job.due_at)
    late = now - due_at > LATE_AFTER
    if found is None:
        return "cancelled"
    workflow, rule = found
    entity = app.entity(workflow.entity)
    if payload.get("schedule"):
        _fire_schedule(conn, app, workflow, rule, entity, job, now, settings, late)
        _sync_schedule(conn, app, workflow, rule, now, after=max(now, due_at))
        return "done"
    record = _load(conn, app, entity, job.record_id)
    tc = TimeContext(conn, app, now)
    if record is None or record.deleted_at is not None:
        return "cancelled"
    if payload.get("occurrence") not in wanted(tc, workflow, rule, record):
        return "cancelled"     # the record changed and the event is not processed yet
    ctx = RuleContext(conn=conn, app=app, rule=rule, workflow=workflow, entity=entity, record=record,
                      key=job.idempotency_key, now=now, settings=settings, depth=0,
                      trigger=rule.trigger.get("type", ""), late=late, job_id=job.id)
    outcome = fire_rule(ctx)
    if outcome != "skipped" and rule.repeat:
        _schedule_repeat(conn, app, workflow, rule, job, now)
    return "done"


def _fire_schedule(conn, app, workflow, rule, entity, job, now, settings, late) -> None:
    """Once for the app; with a condition, once for each live record of the entity that meets it."""
    from ..conditions import truthy
    from .actions import RuleContext, condition_vars, fire_rule

    def context(record: Record | None, key: str) -> RuleContext:
        return RuleContext(conn=conn, app=app, rule=rule, workflow=workflow, entity=entity, record=record, key=key,
                           now=now, settings=settings, trigger="schedule", late=late, job_id=job.id)

    if rule.condition is None or entity is None:
        fire_rule(context(None, job.idempotency_key))
        return
    rows = conn.execute(select(records).where(live(app.key, entity.key)).order_by(records.c.id).limit(10_000))
    for row in rows.all():
        record = record_from_row(row)
        ctx = context(record, f"{job.idempotency_key}:r{record.id}")
        if truthy(rule.condition, condition_vars(ctx)):
            fire_rule(ctx)


def _schedule_repeat(conn: Connection, app: AppDef, workflow: WorkflowDef, rule: RuleDef, job: Any,
                     now: datetime) -> None:
    """`repeat: {every, max}`: up to `max` more firings, `every` apart (missed ones are not
    made up: after downtime the next repeat is the first one still in the future)."""
    every, most = rule.repeat.get("every"), rule.repeat.get("max")
    if not every:
        return
    payload = dict(job.payload or {})
    n = int(payload.get("repeat") or 0)
    due = _aware(job.due_at)
    while True:
        n += 1
        if most is not None and n > int(most):
            return
        due = add_duration(due, every)
        if due > now:
            break
    base = job.idempotency_key.split("#r")[0]
    enqueue(conn, REMINDER, f"{base}#r{n}", payload | {"repeat": n}, due, now, app_key=app.key,
            rule_key=rule.key, record_id=job.record_id)


# -- preview -------------------------------------------------------------------------------------------------

class DueReminder(NamedTuple):
    rule_key: str
    record_id: int | None
    due_at: datetime


def due_reminders(conn: Connection, at: datetime, app_key: str | None = None, *,
                  catalog=None, limit: int = 10_000) -> list[DueReminder]:
    """Every reminder that would be due by `at` (nothing is fired): pending reminder rows,
    plus the later occurrences of schedules and repeats that fall before `at` (those need
    `catalog` to read the rules; without it only stored rows are listed)."""
    at = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    query = select(jobs).where(jobs.c.kind == REMINDER, jobs.c.status.in_(("pending", "running")),
                               jobs.c.due_at <= at)
    if app_key:
        query = query.where(jobs.c.app_key == app_key)
    found: list[DueReminder] = []
    for job in conn.execute(query.order_by(jobs.c.due_at, jobs.c.id).limit(limit)):
        due = _aware(job.due_at)
        found.append(DueReminder(job.rule_key, job.record_id, due))
        if catalog is None:
            continue
        found += _later_occurrences(conn, catalog, job, due, at, limit)
    found.sort(key=lambda r: (r.due_at, r.rule_key, r.record_id or 0))
    return found[:limit]


def _later_occurrences(conn, catalog, job, due: datetime, at: datetime, limit: int) -> list[DueReminder]:
    try:
        app = catalog.app(job.app_key, conn)
    except Exception:
        return []
    found = find_rule(app, (job.payload or {}).get("workflow"), job.rule_key)
    if found is None:
        return []
    _, rule = found
    out = []
    if (job.payload or {}).get("schedule"):
        for instant in cron_occurrences(rule.trigger["cron"], app.timezone, due):
            if instant > at or len(out) >= limit:
                break
            out.append(DueReminder(rule.key, None, instant))
    elif rule.repeat and rule.repeat.get("every"):
        n = int((job.payload or {}).get("repeat") or 0)
        most = rule.repeat.get("max")
        nxt = due
        while most is None or n < int(most):
            n += 1
            nxt = add_duration(nxt, rule.repeat["every"])
            if nxt > at or len(out) >= limit:
                break
            out.append(DueReminder(rule.key, job.record_id, nxt))
    return out


def pending_reminders(conn: Connection, app_key: str, rule_key: str | None = None, limit: int = 200) -> list[dict]:
    """Pending reminders (admin page), soonest first."""
    query = select(jobs).where(jobs.c.kind == REMINDER, jobs.c.app_key == app_key, jobs.c.status == "pending")
    if rule_key:
        query = query.where(jobs.c.rule_key == rule_key)
    rows = conn.execute(query.order_by(jobs.c.due_at).limit(limit))
    return [{"id": r.id, "rule_key": r.rule_key, "record_id": r.record_id, "due_at": _aware(r.due_at),
             "occurrence": (r.payload or {}).get("occurrence"), "repeat": (r.payload or {}).get("repeat", 0)}
            for r in rows]
