"""Keeping rollup fields (fields/rollup.py) up to date, in the transaction of the write that changes them.

Every write of a record that a rollup reads (create, update, delete, restore, in a
form, the API, an import, a bulk edit or a rule) calls `after_write` with the data
before and after; the parents it pointed at, before and after, are re-counted from
their related records by one aggregate query per rollup, and their data is updated
(with the formulas that read the rollup, and a record_updated event for rules). The
value is never computed on read. Re-counting rather than adding deltas keeps
min, max and latest exact and makes `rebuild` the same code as the maintenance.

A rollup with a time window changes without any write when a related record ages out
of the window (or a future-dated one comes into it): each parent's next such moment is
kept as a `rollup_window` job, which the worker runs (`run_window_job`).

The parent's version is not bumped: a rollup is derived, not an edit, and a person
editing the parent meanwhile must not be told someone else changed it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import isodate
from sqlalchemy import Connection, String, bindparam, case, func, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from ..definitions.model import AppDef, EntityDef, FieldDef, thaw
from ..fields.computed import formula_json_value
from ..fields.dates import parse_date, parse_datetime, utc_text
from ..record_data import compute_formulas
from . import logic_sql
from .expressions import field_expr, live, raw_value
from .slots import entity_mapping, slot_values
from .tables import events, jobs, records

log = logging.getLogger(__name__)

JOB_KIND = "rollup_window"
#: how far a rollup's change may travel up (a rollup of a rollup of ...)
MAX_DEPTH = 4
_CHUNK = 500


@dataclass(frozen=True)
class RollupPlan:
    """One rollup field, with the definitions it reads resolved."""

    parent: EntityDef
    field: FieldDef
    source: EntityDef
    via: FieldDef
    function: str
    rolled: FieldDef | None
    where: Any
    window_field: FieldDef | None
    window: timedelta | None

    @property
    def reads(self) -> frozenset[str]:
        """The keys of the related record's data whose change can change the result."""
        keys = {self.via.key}
        if self.rolled is not None:
            keys.add(self.rolled.key)
        if self.window_field is not None:
            keys.add(self.window_field.key)
        if self.where is not None:
            keys |= _variables(self.where)
        return frozenset(keys)


def _variables(logic: Any) -> set[str]:
    if isinstance(logic, Mapping):
        if set(logic) == {"var"}:
            var = logic["var"]
            name = var[0] if isinstance(var, (list, tuple)) and var else var
            return {name} if isinstance(name, str) else set()
        return set().union(*(_variables(v) for v in logic.values())) if logic else set()
    if isinstance(logic, (list, tuple)):
        return set().union(*(_variables(v) for v in logic)) if logic else set()
    return set()


def window_length(text: Any) -> timedelta | None:
    """P30D, P2W, PT48H as a timedelta; None for anything else (months have no fixed length)."""
    if not isinstance(text, str):
        return None
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        return None
    return parsed if isinstance(parsed, timedelta) and parsed > timedelta(0) else None


def plans_of(app: AppDef) -> tuple[RollupPlan, ...]:
    """Every rollup of the app whose definitions resolve (documents are validated on install)."""
    cache_key = (app.key, app.content_hash)
    if app.content_hash and cache_key in _PLANS:
        return _PLANS[cache_key]
    plans = []
    for parent in app.entities:
        for f in parent.fields:
            if f.type != "rollup" or f.archived:
                continue
            source = app.entity(f.extra.get("source"))
            via = source.field(f.extra.get("via")) if source else None
            if source is None or via is None or via.type != "reference" or via.entity != parent.key or via.multiple:
                continue
            window = thaw(f.extra.get("window")) or {}
            window_field = source.field(window.get("field")) if window else None
            plans.append(RollupPlan(
                parent=parent, field=f, source=source, via=via, function=f.extra.get("function", "count"),
                rolled=source.field(f.extra.get("field")) if f.extra.get("field") else None,
                where=thaw(f.extra.get("where")), window_field=window_field,
                window=window_length(window.get("last")) if window_field is not None else None))
    result = tuple(plans)
    if app.content_hash:
        if len(_PLANS) > 64:
            _PLANS.clear()
        _PLANS[cache_key] = result
    return result


_PLANS: dict[tuple[str, str], tuple[RollupPlan, ...]] = {}


def fed_by(app: AppDef, entity_key: str) -> tuple[RollupPlan, ...]:
    plans = plans_of(app)
    if not plans:
        return ()
    return tuple(p for p in plans if p.source.key == entity_key)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- maintenance -----------------------------------------------------------------------------------

def after_write(conn: Connection, app: AppDef, entity: EntityDef, before: Mapping[str, Any] | None,
                after: Mapping[str, Any] | None, now: datetime | None = None, *, depth: int = 0) -> None:
    """A record of `entity` was written (`before` None: created or restored; `after` None:
    deleted): re-count the rollups of the records it pointed at, before and after."""
    plans = fed_by(app, entity.key)
    if not plans:
        return
    wanted: dict[str, tuple[list[RollupPlan], set[int]]] = {}
    for plan in plans:
        if before is not None and after is not None and all(before.get(k) == after.get(k) for k in plan.reads):
            continue
        ids = {_ref(data.get(plan.via.key)) for data in (before, after) if data is not None} - {None}
        if ids:
            bucket = wanted.setdefault(plan.parent.key, ([], set()))
            bucket[0].append(plan)
            bucket[1].update(ids)
    for parent_key, (parent_plans, ids) in wanted.items():
        refresh(conn, app, parent_plans, sorted(ids), now or utcnow(), depth=depth)


def recount(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, now: datetime | None = None) -> int:
    """Re-count the rollups of one record of `entity` itself (a restored record: its related
    records were written while it was deleted, and deleted records are not kept up to date)."""
    plans = [p for p in plans_of(app) if p.parent.key == entity.key]
    return refresh(conn, app, plans, [record_id], now or utcnow()) if plans else 0


def after_writes(conn: Connection, app: AppDef, entity: EntityDef, written: Sequence[Mapping[str, Any]],
                 now: datetime | None = None) -> None:
    """Records of `entity` were created in a batch: one re-count per parent, not per record."""
    plans = fed_by(app, entity.key)
    by_parent: dict[str, tuple[list[RollupPlan], set[int]]] = {}
    for plan in plans:
        ids = {_ref(data.get(plan.via.key)) for data in written} - {None}
        if ids:
            bucket = by_parent.setdefault(plan.parent.key, ([], set()))
            bucket[0].append(plan)
            bucket[1].update(ids)
    for parent_key, (parent_plans, ids) in by_parent.items():
        refresh(conn, app, parent_plans, sorted(ids), now or utcnow())


def _reads_rollups(app: AppDef, entity: EntityDef) -> bool:
    """True when a formula of `entity` reads a rollup (or a formula that does): only then does a
    re-count have formulas to compute again."""
    key = ((app.key, app.content_hash, entity.key) if app.content_hash
           else (entity.key, tuple((f.key, f.type, f.formula) for f in entity.fields)))
    if key not in _READERS:
        from ..record_data import parsed_formula
        formulas = {f.key: parsed_formula(f.formula or "") for f in entity.fields if f.type == "formula"}
        reached = {f.key for f in entity.maintained_fields}
        grew = True
        while grew:
            grew = False
            for name, parsed in formulas.items():
                if name not in reached and parsed is not None and set(parsed.variables) & reached:
                    reached.add(name)
                    grew = True
        if len(_READERS) > 256:
            _READERS.clear()
        _READERS[key] = bool(reached - {f.key for f in entity.maintained_fields})
    return _READERS[key]


_READERS: dict[tuple, bool] = {}

#: rule triggers that react to a record_updated event of the record itself
_EVENT_TRIGGERS = frozenset({"record_updated", "field_changed"})


def _wants_events(app: AppDef, entity: EntityDef) -> bool:
    """True when a rule of the entity's workflow reacts to its record_updated events (an update or
    field-change trigger, or a date trigger on a rollup): only then is a re-count's change an event.
    Other rules read the stored value when they fire, so they see it without one."""
    key = ("events", app.key, app.content_hash, entity.key)
    if key not in _READERS or not app.content_hash:
        workflow = app.workflow_for(entity.key)
        rollup_keys = {f.key for f in entity.maintained_fields}
        _READERS[key] = workflow is not None and any(
            rule.trigger.get("type") in _EVENT_TRIGGERS
            or (rule.trigger.get("type") == "date_field" and rule.trigger.get("field") in rollup_keys)
            for rule in workflow.rules)
    return _READERS[key]


def _ref(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def refresh(conn: Connection, app: AppDef, plans: Sequence[RollupPlan], ids: Sequence[int], now: datetime, *,
            depth: int = 0, emit: bool = True) -> int:
    """Re-count `plans` (rollups of one parent entity) for the parent records `ids` and write
    what changed; returns how many records changed."""
    if not plans or not ids:
        return 0
    parent = plans[0].parent
    if len(ids) <= _FEW and all(p.function != "latest" for p in plans):
        return sum(_refresh_one(conn, app, plans, record_id, now, depth, emit) for record_id in ids)
    changed = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start:start + _CHUNK])
        query = select(records.c.id, records.c.data, records.c.stage).where(
            records.c.id.in_(chunk), records.c.app_key == app.key, records.c.entity_key == parent.key,
            records.c.deleted_at.is_(None)).order_by(records.c.id)
        if conn.dialect.name == "postgresql":
            # lock the parents first, then count in later statements: under READ COMMITTED each
            # statement sees what writers that held the lock before us committed
            query = query.with_for_update()
        rows = conn.execute(query).all()
        values, edges = compute(conn, app, plans, chunk, now)
        slots = entity_mapping(conn, app.key, parent.key)     # typed columns mirror the JSON (store.slots)
        for row in rows:
            old = dict(row.data or {})
            new = {**old, **values[row.id]}
            if new != old and _reads_rollups(app, parent):
                new.update(compute_formulas(parent, new))
            keys = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
            if keys:
                conn.execute(update(records).where(records.c.id == row.id)
                             .values(data=new, **slot_values(conn.dialect.name, parent, slots, new)))
                changed += 1
                if emit and _wants_events(app, parent):
                    conn.execute(events.insert().values(
                        app_key=app.key, entity_key=parent.key, record_id=row.id, type="record_updated",
                        payload={"actor": None, "fields": keys, "stage": row.stage, "via": "rollup"},
                        depth=0, created_at=now))
                if depth < MAX_DEPTH:
                    after_write(conn, app, parent, old, new, now, depth=depth + 1)
            if any(p.window is not None for p in plans):
                schedule_edge(conn, app, parent, row.id, edges.get(row.id), now)
    return changed


def compute(conn: Connection, app: AppDef, plans: Sequence[RollupPlan], ids: Sequence[int],
            now: datetime) -> tuple[dict[int, dict[str, Any]], dict[int, datetime]]:
    """(parent id -> {rollup key: value}, parent id -> the next moment a window changes a value)
    for the parents `ids`, from their live related records."""
    values: dict[int, dict[str, Any]] = {i: {} for i in ids}
    edges: dict[int, datetime] = {}
    for plan in plans:
        for parent_id, value, edge in _compute_one(conn, app, plan, ids, now):
            values[parent_id][plan.field.key] = value
            if edge is not None and (parent_id not in edges or edge < edges[parent_id]):
                edges[parent_id] = edge
    return values, edges


def _compute_one(conn: Connection, app: AppDef, plan: RollupPlan, ids: Sequence[int], now: datetime):
    dialect = conn.dialect.name
    ref = field_expr(dialect, plan.via)
    clauses = [live(app.key, plan.source.key), ref.in_(list(ids))]
    if plan.where is not None:
        clauses.append(logic_sql.clause(dialect, plan.source, plan.where))
    inside, upper, at = _window(dialect, app, plan, now)
    initial = 0 if plan.function in ("count", "sum") else None
    found: dict[int, list] = {}
    if plan.function == "latest":
        key = plan.rolled.key if plan.rolled is not None else None
        rows = conn.execute(select(ref.label("ref"), records.c.data, records.c.created_at, records.c.id)
                            .where(*clauses, inside).order_by(records.c.created_at.desc(), records.c.id.desc()))
        for row in rows:
            parent_id = _as_id(row.ref)
            if parent_id is not None and parent_id not in found:
                found[parent_id] = [(row.data or {}).get(key) if key else None]
        edge_rows = []
        if plan.window is not None:
            edge_rows = conn.execute(select(ref.label("ref"), *_edge_columns(dialect, plan, inside, upper))
                                     .where(*clauses).group_by(ref)).all()
        edges = {_as_id(r.ref): (r.oldest, r.soonest) for r in edge_rows}
    else:
        expr = _value_expr(dialect, plan)
        aggregate = {"count": func.count(case((inside, literal(1)))),
                     "sum": func.sum(case((inside, expr))),
                     "min": func.min(case((inside, expr))),
                     "max": func.max(case((inside, expr)))}[plan.function]
        columns = [ref.label("ref"), aggregate.label("value")]
        if plan.window is not None:
            columns += _edge_columns(dialect, plan, inside, upper)
        rows = conn.execute(select(*columns).where(*clauses).group_by(ref)).all()
        edges = {}
        for row in rows:
            parent_id = _as_id(row.ref)
            if parent_id is None:
                continue
            found[parent_id] = [row.value]
            if plan.window is not None:
                edges[parent_id] = (row.oldest, row.soonest)
    for parent_id in ids:
        raw = found.get(parent_id, [initial])[0]
        value = _result(plan, raw, initial)
        edge = _next_edge(app, plan, *edges.get(parent_id, (None, None))) if plan.window is not None else None
        yield parent_id, value, edge


def _as_id(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _value_expr(dialect: str, plan: RollupPlan):
    if plan.rolled is None:
        return literal(1)
    return field_expr(dialect, plan.rolled)


def _window(dialect: str, app: AppDef, plan: RollupPlan, now: datetime):
    """(the SQL condition "in the window", the upper bound as stored text, now)."""
    if plan.window is None or plan.window_field is None:
        return true(), None, now
    value = raw_value(dialect, plan.window_field.key)
    if plan.window_field.type == "date":
        zone = ZoneInfo(app.timezone)
        upper = now.astimezone(zone).date().isoformat()
        lower = (now - plan.window).astimezone(zone).date().isoformat()
    else:
        upper, lower = utc_text(now), utc_text(now - plan.window)
    return (value > lower) & (value <= upper), upper, now


def _edge_columns(dialect: str, plan: RollupPlan, inside, upper: str) -> list:
    value = raw_value(dialect, plan.window_field.key)
    return [func.min(case((inside, value))).label("oldest"), func.min(case((value > upper, value))).label("soonest")]


def _next_edge(app: AppDef, plan: RollupPlan, oldest: Any, soonest: Any) -> datetime | None:
    """The next moment the window changes this parent's value: the oldest counted record
    leaves it, or the soonest future-dated one enters it."""
    moments = []
    if oldest is not None and (start := _instant(app, plan, oldest)) is not None:
        moments.append(start + plan.window)
    if soonest is not None and (start := _instant(app, plan, soonest)) is not None:
        moments.append(start)
    return min(moments) if moments else None


def _instant(app: AppDef, plan: RollupPlan, stored: Any) -> datetime | None:
    if plan.window_field.type == "date":
        day = parse_date(stored)
        if day is None:
            return None
        zone = ZoneInfo(app.timezone)
        local = datetime.combine(day, time(0), tzinfo=zone)
        return local.astimezone(timezone.utc)
    return parse_datetime(stored)


def _result(plan: RollupPlan, raw: Any, initial: Any) -> Any:
    """A value as the JSON the record keeps: whole numbers as ints, sums rounded to the
    rolled-up field's places (so the order the database adds in cannot show)."""
    if raw is None:
        return initial
    if plan.function == "count":
        return int(raw)
    if plan.function == "latest":
        return raw
    kind = plan.field.extra.get("value_type")
    if kind in ("date", "datetime", "text"):
        return raw if isinstance(raw, str) else str(raw)
    if isinstance(raw, str):
        try:
            raw = Decimal(raw)
        except ArithmeticError:
            return raw
    if isinstance(raw, float):
        raw = Decimal(repr(raw))
    if isinstance(raw, (int, Decimal)):
        places = 2 if kind == "money" else (plan.rolled.precision if plan.rolled is not None
                                             and plan.rolled.precision is not None else 6)
        return formula_json_value(Decimal(raw).quantize(Decimal(1).scaleb(-places)))
    return raw


# -- the path of one write: statements compiled once, run at the driver ----------------------------------
#
# A write of one related record re-counts one or two parents. Building SQLAlchemy statements
# costs more than running them, several times over, so the statements of this path are compiled
# once per rollup and dialect and run with exec_driver_sql; what they compute is the same select
# as the batch path above (`_compute_one`), so maintenance and rebuild cannot disagree.

_FEW = 4


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None
    constants: Mapping[str, Any]        # the statement's own literal values, by bind name

    def run(self, conn: Connection, **values: Any):
        params = {**self.constants, **values}
        if self.positional is not None:
            return conn.exec_driver_sql(self.sql, tuple(params[name] for name in self.positional))
        return conn.exec_driver_sql(self.sql, params)


def _compile(conn: Connection, stmt) -> _Compiled:
    compiled = stmt.compile(dialect=conn.dialect)
    positional = tuple(compiled.positiontup) if compiled.positional else None
    return _Compiled(compiled.string, positional, compiled.construct_params(_check=False))


_COMPILED: dict[tuple, _Compiled] = {}


def _combined(conn: Connection, app: AppDef, plans: Sequence[RollupPlan]) -> _Compiled:
    """One statement for one parent (`pid`): its data and stage, each plan's value (with the oldest
    counted and the soonest future window value for a windowed plan: `lower_i`, `upper_i`), and the
    due time of its pending window job (`job`), so an unmoved edge costs no write."""
    dialect = conn.dialect.name
    key = ("combined", dialect, app.key, app.content_hash, plans[0].parent.key, tuple(p.field.key for p in plans))
    if key not in _COMPILED:
        parent = records.alias("parent")
        columns = [parent.c.data, parent.c.stage]
        for i, plan in enumerate(plans):
            ref = field_expr(dialect, plan.via)
            clauses = [live(app.key, plan.source.key), ref == parent.c.id]
            if plan.where is not None:
                clauses.append(logic_sql.clause(dialect, plan.source, plan.where))
            if plan.window is not None:
                value = raw_value(dialect, plan.window_field.key)
                upper = bindparam(f"upper_{i}", type_=String)
                inside = (value > bindparam(f"lower_{i}", type_=String)) & (value <= upper)
            else:
                inside, upper = true(), None
            expr = _value_expr(dialect, plan)
            aggregate = {"count": func.count(case((inside, literal(1)))), "sum": func.sum(case((inside, expr))),
                         "min": func.min(case((inside, expr))), "max": func.max(case((inside, expr)))}[plan.function]
            parts = [aggregate] + (_edge_columns(dialect, plan, inside, upper) if plan.window is not None else [])
            columns += [select(part).where(*clauses).scalar_subquery().label(f"c{i}_{j}")
                        for j, part in enumerate(parts)]
        columns.append(select(jobs.c.due_at).where(jobs.c.idempotency_key == bindparam("job"),
                                                   jobs.c.status == "pending").scalar_subquery().label("due"))
        stmt = select(*columns).where(parent.c.id == bindparam("pid"), parent.c.deleted_at.is_(None))
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        _COMPILED[key] = _compile(conn, stmt)
    return _COMPILED[key]


def _bounds(app: AppDef, plans: Sequence[RollupPlan], now: datetime) -> dict[str, str]:
    out = {}
    for i, plan in enumerate(plans):
        if plan.window is None:
            continue
        if plan.window_field.type == "date":
            zone = ZoneInfo(app.timezone)
            out[f"upper_{i}"] = now.astimezone(zone).date().isoformat()
            out[f"lower_{i}"] = (now - plan.window).astimezone(zone).date().isoformat()
        else:
            out[f"upper_{i}"], out[f"lower_{i}"] = utc_text(now), utc_text(now - plan.window)
    return out


def _refresh_one(conn: Connection, app: AppDef, plans: Sequence[RollupPlan], record_id: int, now: datetime,
                 depth: int, emit: bool) -> int:
    """`refresh` of one parent record: one statement reads it and re-counts, at most three write."""
    postgres = conn.dialect.name == "postgresql"
    parent = plans[0].parent
    if postgres:        # lock first: the re-count below then runs on a snapshot taken after any writer before us
        conn.exec_driver_sql("SELECT id FROM records WHERE id = %(id)s FOR UPDATE", {"id": record_id})
    row = _combined(conn, app, plans).run(conn, pid=record_id, job=job_key(app.key, record_id),
                                          **_bounds(app, plans, now)).first()
    if row is None:
        return 0
    values: dict[str, Any] = {}
    edge: datetime | None = None
    at = 2
    for plan in plans:
        initial = 0 if plan.function in ("count", "sum") else None
        values[plan.field.key] = _result(plan, row[at], initial)
        if plan.window is not None:
            moment = _next_edge(app, plan, row[at + 1], row[at + 2])
            if moment is not None and (edge is None or moment < edge):
                edge = moment
            at += 3
        else:
            at += 1
    due = row[at]
    old = row[0] if isinstance(row[0], dict) else json.loads(row[0] or "{}")
    new = {**old, **values}
    if new != old and _reads_rollups(app, parent):
        new.update(compute_formulas(parent, new))
    keys = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
    if keys:
        if postgres:
            conn.exec_driver_sql("UPDATE records SET data = %(data)s::jsonb WHERE id = %(id)s",
                                 {"data": json.dumps(new), "id": record_id})
        else:
            conn.exec_driver_sql("UPDATE records SET data = ? WHERE id = ?", (json.dumps(new), record_id))
        slots = entity_mapping(conn, app.key, parent.key)
        if slots.keys() & set(keys):        # a changed value a dashboard aggregates: its typed column too
            conn.execute(update(records).where(records.c.id == record_id)
                         .values(**slot_values(conn.dialect.name, parent, slots, new)))
        if emit and _wants_events(app, parent):
            payload = json.dumps({"actor": None, "fields": keys, "stage": row[1], "via": "rollup"})
            if postgres:
                conn.exec_driver_sql(
                    "INSERT INTO events (app_key, entity_key, record_id, type, payload, depth, created_at) "
                    "VALUES (%(a)s, %(e)s, %(r)s, 'record_updated', %(p)s::jsonb, 0, %(t)s)",
                    {"a": app.key, "e": parent.key, "r": record_id, "p": payload, "t": now})
            else:
                conn.exec_driver_sql(
                    "INSERT INTO events (app_key, entity_key, record_id, type, payload, depth, created_at) "
                    "VALUES (?, ?, ?, 'record_updated', ?, 0, ?)",
                    (app.key, parent.key, record_id, payload, _sqlite_time(now)))
        if depth < MAX_DEPTH:
            after_write(conn, app, parent, old, new, now, depth=depth + 1)
    if any(p.window is not None for p in plans) and not _same_moment(due, edge):
        _schedule_edge_fast(conn, app, parent, record_id, edge, now)
    return 1 if keys else 0


def _same_moment(stored: Any, edge: datetime | None) -> bool:
    """The pending job's due time (as the driver hands it back) is `edge` (None: no pending job)."""
    if stored is None or edge is None:
        return stored is None and edge is None
    if isinstance(stored, str):
        return stored == _sqlite_time(edge)
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=timezone.utc)
    return stored == edge


def _sqlite_time(moment: datetime) -> str:
    """A moment as SQLAlchemy stores DateTime on SQLite (UTC, no offset), so it compares with the rest."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _schedule_edge_fast(conn: Connection, app: AppDef, parent: EntityDef, record_id: int, edge: datetime | None,
                        now: datetime) -> None:
    """`schedule_edge` at the driver: one statement, which writes nothing when the edge did not move."""
    key = job_key(app.key, record_id)
    if conn.dialect.name == "postgresql":
        if edge is None:
            conn.exec_driver_sql("UPDATE jobs SET status = 'cancelled', finished_at = %(t)s "
                                 "WHERE idempotency_key = %(k)s AND status = 'pending'", {"t": now, "k": key})
            return
        conn.exec_driver_sql(_UPSERT_JOB.replace("?", "%s"),
                             (JOB_KIND, key, app.key, record_id, json.dumps({"entity": parent.key}), edge, now))
        return
    if edge is None:
        conn.exec_driver_sql("UPDATE jobs SET status = 'cancelled', finished_at = ? "
                             "WHERE idempotency_key = ? AND status = 'pending'", (_sqlite_time(now), key))
        return
    conn.exec_driver_sql(_UPSERT_JOB, (JOB_KIND, key, app.key, record_id, json.dumps({"entity": parent.key}),
                                       _sqlite_time(edge), _sqlite_time(now)))


_UPSERT_JOB = (
    "INSERT INTO jobs (kind, idempotency_key, app_key, record_id, payload, due_at, status, attempts, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?) "
    "ON CONFLICT (idempotency_key) DO UPDATE SET due_at = excluded.due_at, status = 'pending', attempts = 0, "
    "locked_by = NULL, lease_until = NULL, finished_at = NULL, last_error = NULL "
    "WHERE jobs.status <> 'pending' OR jobs.due_at <> excluded.due_at")


# -- window edges -------------------------------------------------------------------------------------

def job_key(app_key: str, record_id: int) -> str:
    return f"rollup:{app_key}:{record_id}"


def schedule_edge(conn: Connection, app: AppDef, parent: EntityDef, record_id: int, edge: datetime | None,
                  now: datetime) -> None:
    """Keep one pending `rollup_window` job per parent, due at its next window edge (none: cancelled)."""
    key = job_key(app.key, record_id)
    if edge is None:
        conn.execute(update(jobs).where(jobs.c.idempotency_key == key, jobs.c.status == "pending")
                     .values(status="cancelled", finished_at=now))
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    fresh = {"status": "pending", "due_at": edge, "attempts": 0, "locked_by": None, "lease_until": None,
             "finished_at": None, "last_error": None}
    stmt = dialect.insert(jobs).values(kind=JOB_KIND, idempotency_key=key, app_key=app.key, record_id=record_id,
                                       payload={"entity": parent.key}, created_at=now, **fresh)
    conn.execute(stmt.on_conflict_do_update(index_elements=[jobs.c.idempotency_key], set_=fresh))


def run_window_job(conn: Connection, app: AppDef, payload: Mapping[str, Any], record_id: int | None,
                   now: datetime) -> int:
    """A window edge passed: re-count the parent's windowed rollups (which schedules the next edge)."""
    parent = app.entity((payload or {}).get("entity"))
    if parent is None or record_id is None:
        return 0
    plans = [p for p in plans_of(app) if p.parent.key == parent.key and p.window is not None]
    return refresh(conn, app, plans, [record_id], now)


# -- rebuilding ------------------------------------------------------------------------------------

def parent_ids(conn: Connection, app: AppDef, parent: EntityDef) -> list[int]:
    return list(conn.execute(select(records.c.id).where(
        records.c.app_key == app.key, records.c.entity_key == parent.key,
        records.c.deleted_at.is_(None)).order_by(records.c.id)).scalars())


def rebuild(conn: Connection, app: AppDef, *, only: Iterable[str] | None = None, now: datetime | None = None) -> int:
    """Recompute every rollup of the app (or those named "entity.field" in `only`) from the
    related records; returns how many records changed. What install runs for a new rollup,
    and `formloom rollups rebuild`."""
    now = now or utcnow()
    wanted = set(only) if only is not None else None
    by_parent: dict[str, list[RollupPlan]] = {}
    for plan in plans_of(app):
        if wanted is None or f"{plan.parent.key}.{plan.field.key}" in wanted:
            by_parent.setdefault(plan.parent.key, []).append(plan)
    changed = 0
    for parent_key, plans in by_parent.items():
        changed += refresh(conn, app, plans, parent_ids(conn, app, plans[0].parent), now, emit=False)
    return changed


def differences(conn: Connection, app: AppDef, now: datetime | None = None) -> list[tuple[int, str, Any, Any]]:
    """(record id, rollup key, stored, recomputed) for every stored value that differs from a
    recount: empty when the maintenance kept up."""
    now = now or utcnow()
    out = []
    by_parent: dict[str, list[RollupPlan]] = {}
    for plan in plans_of(app):
        by_parent.setdefault(plan.parent.key, []).append(plan)
    for plans in by_parent.values():
        ids = parent_ids(conn, app, plans[0].parent)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            values, _edges = compute(conn, app, plans, chunk, now)
            stored = {r.id: dict(r.data or {}) for r in conn.execute(
                select(records.c.id, records.c.data).where(records.c.id.in_(chunk)))}
            for record_id in chunk:
                for key, value in values[record_id].items():
                    if stored[record_id].get(key) != value:
                        out.append((record_id, key, stored[record_id].get(key), value))
    return out


__all__ = ["JOB_KIND", "RollupPlan", "after_write", "after_writes", "compute", "differences", "fed_by", "plans_of",
           "rebuild", "refresh", "run_window_job", "schedule_edge", "window_length"]
