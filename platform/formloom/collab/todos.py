"""What is due for one person, between two moments: the reminders that will notify
them, and the dates of their own records that their entities show on the calendar.

Two sources, both read through the policy:
- pending reminder jobs of records the reader may read, whose rule's notify (or any
  action with recipients `to`) addresses the reader once resolved for that record
  (owner, role, user field...: the same resolution the reminder will use when it fires);
- records the reader owns with a value in one of the entity's `calendar_fields` that
  the reader may see, compared in SQL as ISO text (dates) or UTC instants (date-times).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from types import SimpleNamespace
from typing import Iterable

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor
from ..automation.recipients import resolve_ids
from ..automation.reminders import REMINDER, find_rule
from ..definitions.model import AppDef, EntityDef, FieldDef, Label
from ..store.expressions import field_expr
from ..store.query import scoped
from ..store.records import record_from_row
from ..store.tables import jobs, records

#: The most entries one page shows (the busiest month of one person).
MAX_ITEMS = 500


@dataclass(frozen=True)
class Todo:
    """One thing due. `day` is the local date it falls on; `at` the moment (None: all day)."""

    kind: str                       # "reminder" or "date"
    day: date
    at: datetime | None
    app: AppDef
    entity: EntityDef
    record_id: int
    title: str
    what: Label | None              # the rule's label, or the calendar field's label


def due_for(conn: Connection, apps: Iterable[AppDef], actor: Actor, start: datetime, end: datetime,
            zone) -> list[Todo]:
    """Everything due for `actor` in [start, end) (aware datetimes), in time order; days
    are local to `zone` (the reader's timezone)."""
    found: list[Todo] = []
    for app in apps:
        if not policy.is_member(actor, app):
            continue
        for entity in app.entities:
            if policy.scope(actor, "read", app, entity) == "none" and not policy.sees_pool(actor, app, entity):
                continue
            found += _dates(conn, app, entity, actor, start, end, zone)
            found += _reminders(conn, app, entity, actor, start, end, zone)
    found.sort(key=lambda t: (t.day, t.at is not None, t.at or start, t.title))
    return found[:MAX_ITEMS]


def calendar_fields(actor: Actor, app: AppDef, entity: EntityDef) -> list[FieldDef]:
    visible = {f.key for f in policy.visible_fields(actor, app, entity)}
    return [f for key in entity.calendar_fields if key in visible and (f := entity.field(key)) is not None
            and f.type in ("date", "datetime")]


def _dates(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, start: datetime, end: datetime,
           zone) -> list[Todo]:
    out = []
    dialect = conn.dialect.name
    for f in calendar_fields(actor, app, entity):
        value = field_expr(dialect, f)
        if f.type == "date":
            low, high = start.astimezone(zone).date().isoformat(), end.astimezone(zone).date().isoformat()
        else:
            low, high = _iso_utc(start), _iso_utc(end)
        rows = conn.execute(select(records.c.id, records.c.title, value.label("due"))
                            .where(scoped(conn, app, entity, actor), records.c.owner_id == actor.id,
                                   value >= low, value < high)
                            .order_by(value, records.c.id).limit(MAX_ITEMS))
        for r in rows:
            if f.type == "date":
                day, at = date.fromisoformat(str(r.due)[:10]), None
            else:
                at = datetime.fromisoformat(str(r.due).replace("Z", "+00:00")).astimezone(zone)
                day = at.date()
            out.append(Todo("date", day, at, app, entity, r.id, r.title, f.label))
    return out


def _reminders(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, start: datetime, end: datetime,
               zone) -> list[Todo]:
    if app.workflow_for(entity.key) is None:
        return []
    rows = conn.execute(select(jobs.c.due_at, jobs.c.rule_key, jobs.c.payload, records)
                        .select_from(jobs.join(records, records.c.id == jobs.c.record_id))
                        .where(and_(jobs.c.kind == REMINDER, jobs.c.status == "pending", jobs.c.app_key == app.key,
                                    jobs.c.due_at >= start, jobs.c.due_at < end),
                               scoped(conn, app, entity, actor))
                        .order_by(jobs.c.due_at).limit(MAX_ITEMS))
    out = []
    for r in rows:
        found = find_rule(app, (r.payload or {}).get("workflow"), r.rule_key or "")
        if found is None:
            continue
        record = record_from_row(r)
        ctx = SimpleNamespace(conn=conn, app=app, record=record, entity=entity)
        targets = [t for action in found[1].actions if isinstance(action.get("to"), (list, tuple))
                   for t in action["to"]]
        if not any(actor.id in resolve_ids(ctx, [t]) for t in dict.fromkeys(targets)):   # stops at the first hit
            continue
        at = r.due_at if r.due_at.tzinfo else r.due_at.replace(tzinfo=timezone.utc)
        at = at.astimezone(zone)
        out.append(Todo("reminder", at.date(), at, app, entity, record.id, record.title, found[1].label))
    return out


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
