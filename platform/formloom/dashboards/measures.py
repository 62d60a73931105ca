"""A widget's numbers: its measures compiled to one grouped SQL query under the
viewer's data scope.

Every measure becomes one aggregate column whose own filter sits inside it
(`sum(CASE WHEN filter THEN amount END)`), so a widget with several measures,
or a ratio (numerator and denominator), costs one query. The rows are those
`store.query.scoped` allows the viewer to read (the policy's SQL clause), then
the page's owner filter, the widget's filter and the period. Date buckets are
boundaries computed in the app's timezone (dashboards.periods) and compared in
a CASE, so SQLite and PostgreSQL answer the same, empty buckets included.

Median: PostgreSQL has `percentile_cont`; SQLite has no median, so there it is
the middle of each group's values ranked by a window function (at most MEDIAN_ROWS
values per widget; above the bound the widget says it could not).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import (ColumnElement, Connection, and_, case, distinct, false, func, literal, literal_column, null,
                        select)

from ..auth.users import Actor, user_names
from ..definitions.model import AppDef, EntityDef
from ..store.query import scoped, titles_for
from ..store.tables import records, stage_history
from .filters import compile_filter, day_bound
from .model import GroupDef, MeasureDef, WidgetDef
from .periods import Period, bucket_label, buckets, next_bucket
from .related import widget_entity
from .variables import expression, variable_kind

MEDIAN_ROWS = 200_000
NONE_KEY = "__none__"


@dataclass(frozen=True)
class Viewer:
    """Who is looking, at what period, narrowed to which owners (None: everyone they may see)."""

    conn: Connection
    app: AppDef
    actor: Actor | None
    period: Period
    today: date
    owners: frozenset[int] | None = None
    lang: str = "en"

    @property
    def zone(self) -> ZoneInfo:
        return self.period.zone

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @cached_property
    def slots(self) -> dict[str, dict[str, str]]:
        """The app's typed slot columns (store.slots), read once per viewer in its transaction."""
        from ..store.slots import mapping
        return mapping(self.conn, self.app.key)

    def slots_of(self, entity: EntityDef) -> dict[str, str]:
        return self.slots.get(entity.key, {})


@dataclass
class Row:
    key: Any
    label: str
    values: list[float | None]


@dataclass
class WidgetData:
    key: str
    type: str
    format: str
    series: list[str]
    rows: list[Row] = field(default_factory=list)
    value: float | None = None
    previous: float | None = None
    status: str | None = None          # number card with a target: "good" | "bad"
    target: float | None = None
    records: list[Any] = field(default_factory=list)
    note: str | None = None            # a sentence key when a number could not be computed
    group_by: str | None = None
    pivot: "Pivot | None" = None
    series_keys: list[str] | None = None     # a widget of series: each column's series (drill-down names it)

    def as_json(self) -> dict:
        return {**({"pivot": self.pivot.as_json()} if self.pivot else {}),"key": self.key, "type": self.type, "format": self.format, "series": self.series,
                "labels": [r.label for r in self.rows], "keys": [r.key for r in self.rows],
                "values": [[r.values[i] for r in self.rows] for i in range(len(self.series))],
                "value": self.value, "previous": self.previous, "status": self.status, "target": self.target,
                "note": self.note, **({"series_keys": self.series_keys} if self.series_keys else {})}


@dataclass
class Pivot:
    """A pivot's columns (keys and labels), its cells (`WidgetData.rows[i].values`, one per column),
    and its totals: each row's, each column's and the whole's, each computed over its own rows
    (an average of averages is not an average)."""
    keys: list[Any]
    labels: list[str]
    row_totals: list[float | None]
    column_totals: list[float | None]
    total: float | None

    def as_json(self) -> dict:
        return {"column_keys": self.keys, "column_labels": self.labels, "row_totals": self.row_totals,
                "column_totals": self.column_totals, "total": self.total}


# -- the WHERE -------------------------------------------------------------------------------------------------

def base_where(v: Viewer, entity: EntityDef, widget: WidgetDef, period: Period | None) -> list:
    where = [scoped(v.conn, v.app, entity, v.actor)]
    if v.owners is not None:
        where.append(records.c.owner_id.in_(sorted(v.owners)))
    if widget.mine and v.actor is not None:
        where.append(records.c.owner_id == v.actor.id)
    if widget.filter is not None:
        where.append(compile_filter(v.dialect, entity, _thaw(widget.filter), v.today, v.zone, v.slots_of(entity)))
    if widget.date and period is not None and period.bounded:
        where.append(period_clause(v, entity, widget.date, period))
    return where


def period_clause(v: Viewer, entity: EntityDef, name: str, period: Period) -> ColumnElement[bool]:
    column = expression(v.dialect, entity, name, v.slots_of(entity))
    kind = variable_kind({f.key: f for f in entity.fields}, name, "history")
    return and_(column.is_not(None), column >= day_bound(kind, period.start, v.zone),
                column < day_bound(kind, period.end, v.zone))


def _thaw(value: Any) -> Any:
    from ..definitions.model import thaw
    return thaw(value)


def _from(widget: WidgetDef):
    if widget.source == "history":
        return stage_history.join(records, records.c.id == stage_history.c.record_id)
    return records


def _hinted(v: Viewer, widget: WidgetDef, stmt):
    """Over the records alone, on SQLite: read the entity's dashboard index (dashboards.storage).
    Not with related records: their subqueries read `records` too, and the hint names the first."""
    if widget.source != "records" or widget.related is not None:
        return stmt
    from .storage import hint_for, use_index
    name = hint_for(v.conn, v.app.key, widget.entity)
    return use_index(v.conn, stmt, name) if name else stmt


# -- measures --------------------------------------------------------------------------------------------------

def _aggregate(v: Viewer, entity: EntityDef, m: MeasureDef) -> ColumnElement:
    cond = (compile_filter(v.dialect, entity, _thaw(m.filter), v.today, v.zone, v.slots_of(entity))
            if m.filter is not None else None)
    if m.agg == "count":
        return func.count(case((cond, 1))) if cond is not None else func.count()
    value = expression(v.dialect, entity, m.field, v.slots_of(entity))
    if m.weighted:
        value = value * expression(v.dialect, entity, "$probability") / literal(100.0)
    if cond is not None:
        value = case((cond, value))
    if m.agg == "count_distinct":
        return func.count(distinct(value))
    if m.agg == "median":
        if v.dialect == "postgresql":
            return func.percentile_cont(0.5).within_group(value)
        return func.count(value)  # how many values: the median's n (the median itself: _sqlite_medians)
    return {"sum": func.sum, "avg": func.avg, "min": func.min, "max": func.max}[m.agg](value)


def _columns(v: Viewer, entity: EntityDef, measures: Iterable[MeasureDef]) -> list[ColumnElement]:
    out = []
    for m in measures:
        if m.agg == "ratio":
            out += [_aggregate(v, entity, m.of), _aggregate(v, entity, m.per)]
        else:
            out.append(_aggregate(v, entity, m))
    return out


def _values(measures: Iterable[MeasureDef], raw: list) -> list[float | None]:
    out, i = [], 0
    for m in measures:
        if m.agg == "ratio":
            num, den = _num(raw[i]), _num(raw[i + 1])
            out.append(None if not den or num is None else num / den)
            i += 2
        else:
            value = _num(raw[i])
            out.append(0.0 if value is None and m.agg in ("count", "count_distinct", "sum") else value)
            i += 1
    return out


def _num(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


# -- groups ----------------------------------------------------------------------------------------------------

def _group(v: Viewer, entity: EntityDef, widget: WidgetDef, period: Period | None, group: GroupDef | None = None):
    """(SQL expression, the ordered keys to show even when empty or None) of `group`
    (default: the widget's)."""
    group = group or widget.group
    by = group.by
    column = expression(v.dialect, entity, by, v.slots_of(entity))
    kind = variable_kind({f.key: f for f in entity.fields}, by, widget.source)
    if group.bucket:
        period = period or v.period
        if widget.date is None:                # the period does not apply: every value there is, future ones too
            period = _data_span(v, entity, widget, column, kind, period, future=True)
        elif not period.bounded:               # "all": from the first value there is to today
            period = _data_span(v, entity, widget, column, kind, period)
        starts = buckets(period, group.bucket, v.today)
        end = next_bucket(starts[-1], group.bucket)
        expr = case((column.is_(None), null()), (column < day_bound(kind, starts[0], v.zone), null()),
                    (column >= day_bound(kind, end, v.zone), null()),
                    else_=_bucket_search(column, kind, starts, v.zone))
        return expr, [s.isoformat() for s in starts]
    if kind == "stage":            # every open stage, in order; closed ones only when they have rows
        workflow = v.app.workflow_for(entity.key)
        return column, [s.key for s in workflow.stages if s.terminal is None] if workflow else []
    if kind == "select":
        return column, list(entity.field(by).option_values)
    return column, []


def _bucket_search(column, kind: str, starts: list, zone: ZoneInfo):
    """The start of the bucket holding `column` (known to be inside them) as nested CASEs
    halving the buckets: about log2(n) comparisons a row instead of n/2."""
    if len(starts) == 1:
        return literal(starts[0].isoformat())
    mid = len(starts) // 2
    return case((column < day_bound(kind, starts[mid], zone), _bucket_search(column, kind, starts[:mid], zone)),
                else_=_bucket_search(column, kind, starts[mid:], zone))


def _data_span(v: Viewer, entity: EntityDef, widget: WidgetDef, column, kind: str, period: Period,
               future: bool = False) -> Period:
    """The local days from the earliest value of `column` the widget can see to today (`future`:
    to the latest value when that is later, e.g. expected close dates)."""
    earliest, latest = v.conn.execute(select(func.min(column), func.max(column)).select_from(_from(widget))
                                      .where(*base_where(v, entity, widget, period))).one()
    from datetime import timedelta
    start = _local_day(v, kind, earliest) if earliest is not None else v.today
    end = v.today
    if future and latest is not None:
        end = max(end, _local_day(v, kind, latest))
    return Period(period.key, min(start, v.today), end + timedelta(days=1), v.zone)


def _local_day(v: Viewer, kind: str, value) -> date:
    if kind == "date":
        return date.fromisoformat(str(value)[:10])
    from datetime import datetime, timezone
    moment = value if isinstance(value, datetime) else \
        datetime.fromisoformat(str(value).replace("Z", "+00:00").replace(" ", "T"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(v.zone).date()


def _labels(v: Viewer, entity: EntityDef, widget: WidgetDef, keys: list) -> dict:
    by = widget.group.by
    kind = variable_kind({f.key: f for f in entity.fields}, by, widget.source)
    if widget.group.bucket:
        return {k: bucket_label(date.fromisoformat(k), widget.group.bucket) for k in keys if k is not None}
    if kind == "stage":
        workflow = v.app.workflow_for(entity.key)
        return {s.key: s.label.get(v.lang) for s in (workflow.stages if workflow else ())}
    if kind == "select":
        return {o.value: o.label.get(v.lang) for o in entity.field(by).options}
    ids = [int(k) for k in keys if isinstance(k, (int, float, str)) and str(k).isdigit()]
    if kind == "user":
        names = user_names(v.conn, ids)
        return {i: names.get(i, f"#{i}") for i in ids}
    if kind == "reference":        # a title only where the viewer may read the record, else its number
        titles = titles_for(v.conn, v.app, v.app.entity(entity.field(by).entity), v.actor, ids)
        return {i: titles.get(i, f"#{i}") for i in ids}
    if kind == "bool":
        return {True: "✓", False: "✗", 1: "✓", 0: "✗"}
    return {}


def _key(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


# -- running a widget ------------------------------------------------------------------------------------------

def run_widget(v: Viewer, widget: WidgetDef) -> WidgetData:
    entity = widget_entity(v.app, widget)
    data = WidgetData(widget.key, widget.type, widget.format, [m.label.get(v.lang) for m in widget.measures],
                      group_by=widget.group.by if widget.group else None)
    if widget.type == "records":
        data.records = list_records(v, entity, widget)
        return data
    if widget.series:
        data.series_keys = [s.key for s in widget.series]
        data.rows = _series(v, widget)
        return data
    if widget.type == "funnel":
        return _funnel(v, entity, widget, data)
    if widget.across is not None:
        return _pivot(v, entity, widget, data)
    if widget.type == "number" or widget.group is None:
        data.value = _single(v, entity, widget, v.period)
        data.rows = [Row(None, data.series[0] if data.series else "", [data.value])]
        if widget.compare and widget.date:
            previous = v.period.previous()
            data.previous = _single(v, entity, widget, previous) if previous else None
        if widget.target is not None and data.value is not None:
            data.target = widget.target.value
            better = data.value >= widget.target.value if widget.target.better == "higher" \
                else data.value <= widget.target.value
            data.status = "good" if better else "bad"
        return data
    data.rows = _grouped(v, entity, widget)
    return data


def _single(v: Viewer, entity: EntityDef, widget: WidgetDef, period: Period) -> float | None:
    measures = widget.measures[:1]
    where = base_where(v, entity, widget, period)
    stmt = _hinted(v, widget, select(*_columns(v, entity, measures)).select_from(_from(widget)).where(*where))
    raw = list(v.conn.execute(stmt).one())
    values = _values(measures, raw)
    if measures and measures[0].agg == "median" and v.dialect != "postgresql":
        medians = _sqlite_medians(v, entity, widget, measures[0], where, None, int(raw[0] or 0))
        values[0] = medians.get(None) if medians is not None else None
    return values[0] if values else None


def _grouped(v: Viewer, entity: EntityDef, widget: WidgetDef) -> list[Row]:
    period = v.period
    group_expr, order = _group(v, entity, widget, period)
    where = base_where(v, entity, widget, period)
    stmt = (select(group_expr.label("g"), *_columns(v, entity, widget.measures)).select_from(_from(widget))
            .where(*where).group_by(literal_column("1")))
    found = {_key(r[0]): _values(widget.measures, list(r[1:])) for r in v.conn.execute(_hinted(v, widget, stmt))}
    for i, m in enumerate(widget.measures):
        if m.agg == "median" and v.dialect != "postgresql":
            total = int(sum(values[i] or 0 for values in found.values()))
            medians = _sqlite_medians(v, entity, widget, m, where, group_expr, total) or {}
            for key, values in found.items():
                values[i] = medians.get(key)
    if widget.group.bucket:
        found.pop(None, None)                  # outside the buckets (only with an open period)
    keys = list(order) + [k for k in _in_order(v, entity, widget, found) if k not in order]
    empty = _values(widget.measures, [None] * len(_columns(v, entity, widget.measures)))
    labels = _labels(v, entity, widget, [k for k in keys if k is not None])
    rows = []
    for k in keys:
        if k not in found and k not in order:
            continue
        values = found.get(k, list(empty))
        rows.append(Row(NONE_KEY if k is None else k, labels.get(k, "—" if k is None else str(k)), values))
    if not order:                              # owners, references, text: largest first
        rows.sort(key=lambda r: (r.values[0] is None, -(r.values[0] or 0), r.label))
    if widget.limit:
        rows = rows[:widget.limit]
    return rows


def _series(v: Viewer, widget: WidgetDef) -> list[Row]:
    """One column per series, each computed as the bucketed widget it is (its own entity,
    scope, filter and date), joined on the bucket. A bucket one series has no records in
    shows its empty value (0 for counts and sums), so every series has every bucket."""
    columns = []
    for part in (s.widget for s in widget.series):
        entity = widget_entity(v.app, part)
        empty = _values(part.measures, [None] * len(_columns(v, entity, part.measures)))[0]
        columns.append(({r.key: r for r in _grouped(v, entity, part)}, empty))
    keys = sorted({k for found, _empty in columns for k in found})      # ISO dates: in time order
    rows = []
    for k in keys:
        label = next(found[k].label for found, _empty in columns if k in found)
        rows.append(Row(k, label, [found[k].values[0] if k in found else empty for found, empty in columns]))
    return rows


def _pivot(v: Viewer, entity: EntityDef, widget: WidgetDef, data: WidgetData) -> WidgetData:
    """Rows by `group`, columns by `across`, the first measure in the cells; the rows and
    columns are those a table grouped by either alone would show, in the same order."""
    from dataclasses import replace
    measures = widget.measures[:1]
    one = replace(widget, measures=measures, across=None)
    rows = _grouped(v, entity, one)
    columns = _grouped(v, entity, replace(one, group=widget.across, limit=None))
    row_expr, _order = _group(v, entity, widget, v.period)
    col_expr, _order = _group(v, entity, widget, v.period, widget.across)
    stmt = (select(row_expr.label("g"), col_expr.label("c"), *_columns(v, entity, measures))
            .select_from(_from(widget)).where(*base_where(v, entity, widget, v.period))
            .group_by(literal_column("1"), literal_column("2")))
    cells = {(_key(r[0]), _key(r[1])): _values(measures, list(r[2:])) for r in v.conn.execute(_hinted(v, widget, stmt))}
    empty = _values(measures, [None] * len(_columns(v, entity, measures)))[0]

    def raw(key):
        return None if key == NONE_KEY else key

    data.series = [c.label for c in columns]
    data.rows = [Row(r.key, r.label, [cells.get((raw(r.key), raw(c.key)), [empty])[0] for c in columns])
                 for r in rows]
    data.pivot = Pivot([c.key for c in columns], [c.label for c in columns], [r.values[0] for r in rows],
                       [c.values[0] for c in columns], _single(v, entity, one, v.period))
    return data


def _in_order(v: Viewer, entity: EntityDef, widget: WidgetDef, found: dict) -> list:
    """Found keys; stages (closed ones found beyond the open ones) in the workflow's order."""
    kind = variable_kind({f.key: f for f in entity.fields}, widget.group.by, widget.source)
    workflow = v.app.workflow_for(entity.key) if kind == "stage" else None
    if workflow is None:
        return list(found)
    rank = {s.key: i for i, s in enumerate(workflow.stages)}
    return sorted(found, key=lambda k: (k not in rank, rank.get(k, 0), str(k)))


def _sqlite_medians(v: Viewer, entity: EntityDef, widget: WidgetDef, m: MeasureDef, where: list,
                    group_expr: ColumnElement | None, total: int) -> dict | None:
    """Medians per group in SQL: each value's rank within its group (a window function), then
    the average of the one or two middle ranks, so no row leaves the database. The average of
    two middles is (a + b) / 2 as statistics.median computes it; above MEDIAN_ROWS values (the
    `total` the widget's own query counted) the widget says it could not, before sorting any
    of them (the same answer on every database size)."""
    if total > MEDIAN_ROWS:
        return None
    if total == 0:
        return {}
    value = expression(v.dialect, entity, m.field, v.slots_of(entity))
    if m.weighted:
        value = value * expression(v.dialect, entity, "$probability") / literal(100.0)
    conds = [value.is_not(None)]
    if m.filter is not None:
        conds.append(compile_filter(v.dialect, entity, _thaw(m.filter), v.today, v.zone, v.slots_of(entity)))
    g = group_expr if group_expr is not None else literal(None)
    base = select(g.label("g"), value.label("x")).select_from(_from(widget)).where(*where, *conds).subquery()
    ranked = (select(base.c.g, base.c.x,
                     func.row_number().over(partition_by=base.c.g, order_by=base.c.x).label("rn"),
                     # the same window (one sort), framed over the whole group: its size
                     func.count().over(partition_by=base.c.g, order_by=base.c.x, rows=(None, None)).label("n"))
              .subquery())
    rows = v.conn.execute(select(ranked.c.g, func.avg(ranked.c.x))
                          .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
                          .group_by(ranked.c.g)).all()
    return {_key(key): float(x) for key, x in rows}


def _funnel(v: Viewer, entity: EntityDef, widget: WidgetDef, data: WidgetData) -> WidgetData:
    """Records that reached each stage (in the stage history or where they sit now), not
    where they are now: a record that skipped a stage counts for it, a lost one for the
    stages it had reached (at least the first). Lost stages are not steps.

    Two queries, neither visiting every record's history: how many records sit at each step
    now (over the entity's dashboard index, as a bar by stage is), and, from the history
    rows that entered a step, the records whose history went further than where they are now
    (reopened, moved back, lost), each with both ranks."""
    workflow = v.app.workflow_for(entity.key)
    steps = [s for s in (workflow.stages if workflow else ()) if s.terminal != "lost"]
    ordinal = {s.key: i for i, s in enumerate(steps)}
    where = base_where(v, entity, widget, v.period)

    def rank(column):
        return case(ordinal, value=column, else_=-1) if ordinal else literal(-1)

    now = rank(records.c.stage)
    at_now = {c: n for c, n in v.conn.execute(_hinted(v, widget, select(now.label("c"), func.count())
                                                      .select_from(records).where(*where)
                                                      .group_by(literal_column("1"))))}
    before = func.max(rank(stage_history.c.to_stage))
    further = (select(func.max(now).label("c"), before.label("h"))
               .select_from(stage_history.join(records, records.c.id == stage_history.c.record_id))
               .where(*where, stage_history.c.to_stage.in_(list(ordinal)[1:]) if len(ordinal) > 1 else false())
               .group_by(records.c.id).having(before > func.max(now)).subquery())
    went_further = v.conn.execute(select(further.c.c, further.c.h, func.count())
                                  .group_by(further.c.c, further.c.h)).all()
    data.series = [data.series[0] if data.series else "count"]
    for i, s in enumerate(steps):        # every record entered the pipeline: at least the first step
        reached = sum(n for c, n in at_now.items() if max(c if c is not None else 0, 0) >= i)
        reached += sum(n for c, h, n in went_further if max(c if c is not None else 0, 0) < i <= h)
        data.rows.append(Row(s.key, s.label.get(v.lang), [float(reached)]))
    return data


def list_records(v: Viewer, entity: EntityDef, widget: WidgetDef) -> list:
    from ..store.records import record_from_row
    from ..store.expressions import field_expr
    where = base_where(v, entity, widget, v.period)
    order = [records.c.updated_at.desc()]
    if widget.sort:
        name = widget.sort.lstrip("-")
        f = entity.field(name)
        column = field_expr(v.dialect, f) if f is not None else expression(v.dialect, entity, name, v.slots_of(entity))
        order = [(column.desc() if widget.sort.startswith("-") else column.asc()), records.c.id]
    stmt = select(records).where(*where).order_by(*order).limit(widget.limit or 10)
    return [record_from_row(r) for r in v.conn.execute(stmt)]


def count_matching(v: Viewer, widget: WidgetDef) -> int:
    """How many records a widget's filters, scope and period let through (drill-down checks)."""
    entity = widget_entity(v.app, widget)
    return v.conn.execute(select(func.count()).select_from(records)
                          .where(*base_where(v, entity, widget, v.period))).scalar_one()
