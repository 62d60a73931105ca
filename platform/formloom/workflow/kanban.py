"""The queries behind a kanban board: column totals in one grouped SQL query and
cards one column page at a time, both restricted by the policy's scope in SQL,
so a board stays fast at 100k records (nothing loads every record)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from sqlalchemy import ColumnElement, Connection, func, select

from ..definitions.model import AppDef, EntityDef, FieldDef, Label, StageDef
from ..fields import field_type
from ..store.expressions import field_expr
from ..store.query import Filter, ListQuery, QueryError, list_records, where_clauses
from ..store.records import Record, utcnow
from ..store.tables import records
from .moves import target_stage, workflow_of
from .stages import is_stale

MAX_CARDS = 200


@dataclass(frozen=True)
class Column:
    """One stage's column: how many records the actor can see there and their sums."""

    stage: StageDef
    count: int
    total: Decimal | None = None            # sum of the sum field (None without one)
    weighted_total: Decimal | None = None   # total x stage probability / 100

    @property
    def key(self) -> str:
        return self.stage.key

    @property
    def collapsible(self) -> bool:
        return self.stage.terminal is not None


@dataclass(frozen=True)
class Card:
    record: Record
    stale: bool


@dataclass
class CardPage:
    cards: list[Card]
    has_more: bool
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None


def _as_query(filters: ListQuery | Iterable[Filter] | None) -> ListQuery:
    if filters is None:
        return ListQuery()
    if isinstance(filters, ListQuery):
        return filters
    return ListQuery(filters=tuple(filters))


def _clauses(conn: Connection, app: AppDef, entity: EntityDef, actor: Any, query: ListQuery) -> list[ColumnElement]:
    """The list's own WHERE (store.query), so the board filters exactly like the list;
    each column adds its stage."""
    return where_clauses(conn, app, entity, actor, replace(query, stage=None))


def sum_field_of(app: AppDef, entity: EntityDef, sum_field: str | None) -> FieldDef | None:
    """The numeric field a board sums: the one asked for, else the workflow's `kanban.sum`."""
    workflow = app.workflow_for(entity.key)
    key = sum_field or (workflow.kanban.get("sum") if workflow else None)
    if not key:
        return None
    f = entity.field(key)
    if f is None or field_type(f.type).field_sql_kind(f) != "number":
        raise QueryError(f"Cannot sum {key!r}: it is not a number or money field of {entity.key!r}.")
    return f


def _places(f: FieldDef) -> int:
    if f.type == "money":
        return 2
    return f.precision if f.precision is not None else 0


def _decimal(value: Any, places: int) -> Decimal:
    if value is None:
        return Decimal(0).quantize(Decimal(1).scaleb(-places))
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def kanban_columns(conn: Connection, app: AppDef, entity: EntityDef, actor: Any,
                   filters: ListQuery | Iterable[Filter] | None = None,
                   sum_field: str | None = None) -> list[Column]:
    """One column per stage, in workflow order, with the count of records `actor` may
    read (after `filters`: a ListQuery or Filters), the sum of `sum_field` (default: the
    workflow's `kanban.sum`) and that sum weighted by the stage's probability. Records in
    a stage the workflow no longer has get a column of their own at the end, so none
    disappear. One GROUP BY query."""
    workflow = workflow_of(app, entity)
    query = _as_query(filters)
    f = sum_field_of(app, entity, sum_field)
    columns = [records.c.stage, func.count().label("n")]
    if f is not None:
        columns.append(func.sum(field_expr(conn.dialect.name, f)).label("total"))
    stmt = select(*columns).where(*_clauses(conn, app, entity, actor, query)).group_by(records.c.stage)
    found = {row.stage: row for row in conn.execute(stmt)}
    stages = list(workflow.stages)
    stages += [StageDef(key=k, label=Label.of(k)) for k in sorted(k for k in found if k and not workflow.stage(k))]
    result = []
    for stage in stages:
        row = found.get(stage.key)
        count = row.n if row is not None else 0
        total = weighted = None
        if f is not None:
            places = _places(f)
            total = _decimal(row.total if row is not None else None, places)
            weighted = _decimal(total * stage.probability / Decimal(100), places)
        result.append(Column(stage, count, total, weighted))
    return result


def kanban_cards(conn: Connection, app: AppDef, entity: EntityDef, actor: Any, stage: str,
                 limit: int = 20, offset: int = 0, filters: ListQuery | Iterable[Filter] | None = None,
                 now: datetime | None = None) -> CardPage:
    """One page of a column's cards (LIMIT n+1, no count), most recently updated first by
    default (a ListQuery's `sort` applies), each marked stale per the stage's `rot_after`."""
    workflow = workflow_of(app, entity)
    stage_def = workflow.stage(stage) or target_stage(workflow, stage)
    limit = max(1, min(int(limit), MAX_CARDS))
    query = replace(_as_query(filters), stage=stage_def.key, limit=limit, offset=max(0, int(offset)))
    page = list_records(conn, app, entity, actor, query)
    now = now or utcnow()
    return CardPage([Card(r, is_stale(stage_def, r, now)) for r in page.items], page.has_more,
                    page.offset, page.limit)
