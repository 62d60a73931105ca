"""Reading records: filtered, sorted, searched, paged lists, related lists and
title look-ups, each restricted in SQL by the caller's scope.

Pages are fetched with LIMIT n+1 instead of counting, so a list stays fast at
millions of rows; the UI shows "more" rather than a total.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

import json

from sqlalchemy import ColumnElement, Connection, and_, cast, exists, false, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from ..auth.policy import record_scope_clause
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..errors import FormloomError
from ..fields import field_type
from ..ids import MAX_ID, parse_int
from .expressions import field_expr, live, raw_value
from .records import Record, record_from_row
from .tables import records

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
ALL_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "is_empty")


class QueryError(FormloomError):
    """A list parameter cannot be understood (unknown field, operator or value)."""


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    sort: str | None = None          # "amount" or "-amount"; also "updated_at", "created_at", "title"
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    owner_id: int | None = None
    stage: str | None = None


@dataclass
class Page:
    items: list[Record]
    has_more: bool
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None

    @property
    def prev_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None


SYSTEM_SORTS = {"updated_at": records.c.updated_at, "created_at": records.c.created_at,
                "title": records.c.title, "id": records.c.id, "stage": records.c.stage}


def parse_list_args(entity: EntityDef, args: Mapping[str, Any], visible: Iterable[FieldDef],
                    getlist: Callable[[str], list[str]] | None = None) -> ListQuery:
    """Turn query-string arguments into a ListQuery. Filters look like `amount__gte=100`
    or `source=expo`; only visible fields can be filtered or sorted (no probing)."""
    visible_by_key = {f.key: f for f in visible}
    filters = []
    for name in args:
        if name in ("q", "sort", "limit", "offset", "cols", "owner", "stage", "page", "version", "partial"):
            continue
        key, _, op = name.partition("__")
        op = op or "eq"
        f = visible_by_key.get(key)
        if f is None:
            raise QueryError(f"Cannot filter on {key!r}: there is no such field here.")
        if op not in field_type(f.type).field_operators(f):
            allowed = ", ".join(field_type(f.type).field_operators(f))
            raise QueryError(f"Cannot use {op!r} on {key!r}. Allowed: {allowed}.")
        values = getlist(name) if getlist else [args[name]]
        for raw in values:
            if raw in ("", None) and op != "is_empty":
                continue
            filters.append(Filter(key, op, coerce_filter_value(f, op, raw)))
    sort = args.get("sort") or None
    if sort:
        key = sort.lstrip("-")
        if key not in SYSTEM_SORTS and key not in visible_by_key:
            raise QueryError(f"Cannot sort by {key!r}: there is no such field here.")
    limit = _int_arg(args.get("limit"), DEFAULT_LIMIT, "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}.")
    offset = _int_arg(args.get("offset"), 0, "offset")
    if offset < 0 or offset > 10_000_000:
        raise QueryError("offset must be between 0 and 10000000.")
    owner = args.get("owner")
    return ListQuery(filters=tuple(filters), sort=sort, q=(args.get("q") or "").strip()[:200] or None,
                     limit=limit, offset=offset, owner_id=_int_arg(owner, None, "owner") if owner else None,
                     stage=args.get("stage") or None)


def _int_arg(raw: Any, default: int | None, name: str) -> int | None:
    if raw in (None, ""):
        return default
    value = parse_int(raw, low=-MAX_ID, high=MAX_ID, signed=True)   # beyond: no column holds it
    if value is None:
        raise QueryError(f"{name} must be a whole number.")
    return value


def coerce_filter_value(f: FieldDef, op: str, raw: Any) -> Any:
    if op == "is_empty":
        return str(raw).lower() in ("1", "true", "yes", "")
    if op == "in":
        parts = raw if isinstance(raw, list) else str(raw).split(",")
        return [_scalar(f, p) for p in parts if str(p) != ""]
    if op == "contains":
        return str(raw)[:200]
    return _scalar(f, raw)


def _scalar(f: FieldDef, raw: Any) -> Any:
    kind = field_type(f.type).field_sql_kind(f)
    text = str(raw).strip()
    try:
        if kind == "number":
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidOperation
            return float(value)
        if kind == "date":
            return date.fromisoformat(text).isoformat()
        if kind == "datetime":
            return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
        if kind == "bool":
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
    except (ValueError, InvalidOperation):
        raise QueryError(f"{text[:50]!r} is not a valid value for {f.key!r}.") from None
    return text[:500]


def _bool_literal(dialect: str, value: bool):
    if dialect == "postgresql":
        return "true" if value else "false"
    return 1 if value else 0


def filter_clause(dialect: str, f: FieldDef, flt: Filter) -> ColumnElement[bool]:
    expr = field_expr(dialect, f)
    kind = field_type(f.type).field_sql_kind(f)
    value = flt.value
    if kind == "bool" and flt.op in ("eq", "ne"):
        value = _bool_literal(dialect, value)
    if kind == "json":   # multiselect / multi reference: stored as a JSON list
        return _json_list_clause(dialect, f, flt)
    if kind == "number" and dialect == "postgresql" and flt.op in ("eq", "ne", "lt", "lte", "gt", "gte", "in"):
        # compare as NUMERIC, like the index expression: a float parameter would make
        # PostgreSQL cast the column to double precision, and no index would match
        value = [_numeric(v) for v in value] if isinstance(value, list) else _numeric(value)
    if flt.op == "eq":
        return expr == value
    if flt.op == "ne":
        return or_(expr != value, expr.is_(None))
    if flt.op == "lt":
        return expr < value
    if flt.op == "lte":
        return expr <= value
    if flt.op == "gt":
        return expr > value
    if flt.op == "gte":
        return expr >= value
    if flt.op == "in":
        return expr.in_(value) if value else false()
    if flt.op == "contains":
        return func.lower(raw_value(dialect, f.key)).contains(value.lower(), autoescape=True)
    if flt.op == "is_empty":
        empty = or_(raw_value(dialect, f.key).is_(None), raw_value(dialect, f.key) == "")
        return empty if value else ~empty
    raise QueryError(f"Unknown operator {flt.op!r}.")


def _numeric(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


# operators whose clause is false for a missing value, so a sort on that field never meets NULL
NOT_NULL_OPS = frozenset({"eq", "lt", "lte", "gt", "gte", "in"})


def _never_null(entity: EntityDef, filters: Iterable[Filter]) -> set[str]:
    keys = set()
    for flt in filters:
        f = entity.field(flt.field)
        if f is None or field_type(f.type).field_sql_kind(f) == "json":
            continue
        if flt.op in NOT_NULL_OPS or (flt.op == "is_empty" and flt.value is False):
            keys.add(flt.field)
    return keys


def _json_list_clause(dialect: str, f: FieldDef, flt: Filter) -> ColumnElement[bool]:
    """Multiselect and multi-reference values are JSON lists: match by membership."""
    raw = raw_value(dialect, f.key)
    if flt.op == "is_empty":
        empty = or_(raw.is_(None), raw == "[]")
        return empty if flt.value else ~empty
    wanted = flt.value if isinstance(flt.value, list) else [flt.value]
    clauses = [_json_list_has(dialect, f.key, item) for item in wanted]
    combined = or_(*clauses) if clauses else false()
    return ~combined if flt.op == "ne" else combined


def _json_list_has(dialect: str, key: str, item: Any) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return records.c.data[key].op("@>")(cast(literal(json.dumps([item])), JSONB))
    items = func.json_each(records.c.data, literal_column(f"'$.{key}'")).table_valued("value").alias()
    return exists(select(literal(1)).select_from(items).where(items.c.value == item))


def _search_clause(q: str) -> ColumnElement[bool]:
    return func.lower(records.c.title).contains(q.lower(), autoescape=True)


def scoped(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor | None, action: str = "read"):
    from ..auth.users import reports_of
    return and_(live(app.key, entity.key),
                record_scope_clause(actor, action, app, entity, team_of=lambda uid: reports_of(conn, uid)))


def list_records(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor | None, query: ListQuery) -> Page:
    dialect = conn.dialect.name
    stmt = select(records).where(scoped(conn, app, entity, actor))
    for flt in query.filters:
        f = entity.field(flt.field)
        if f is None:
            raise QueryError(f"Cannot filter on {flt.field!r}: there is no such field here.")
        stmt = stmt.where(filter_clause(dialect, f, flt))
    if query.q:
        stmt = stmt.where(_search_clause(query.q))
    if query.owner_id is not None:
        stmt = stmt.where(records.c.owner_id == query.owner_id)
    if query.stage:
        stmt = stmt.where(records.c.stage == query.stage)
    stmt = (stmt.order_by(*_order(dialect, entity, query.sort, _never_null(entity, query.filters)))
            .limit(query.limit + 1).offset(query.offset))
    rows = conn.execute(stmt).all()
    return Page([record_from_row(r) for r in rows[:query.limit]], len(rows) > query.limit, query.offset, query.limit)


def _order(dialect: str, entity: EntityDef, sort: str | None, never_null: set[str] = frozenset()) -> list:
    """ORDER BY for a sort; missing values last on both databases. Where a filter already
    rules out missing values, PostgreSQL gets no NULLS LAST, so it can walk the field's
    (ascending) expression index backwards for a descending sort."""
    if not sort:
        return [records.c.updated_at.desc(), records.c.id.desc()]
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = SYSTEM_SORTS.get(key)
    if column is None:
        column = field_expr(dialect, entity.field(key))
    ordered = column.desc() if descending else column.asc()
    if dialect == "postgresql" and key not in never_null:
        ordered = ordered.nulls_last()
    return [ordered, records.c.id.desc() if descending else records.c.id.asc()]


def related_records(conn: Connection, app: AppDef, actor: Actor | None, entity: EntityDef, via: FieldDef,
                    record_id: int, limit: int = 20) -> list[Record]:
    """Records of `entity` whose reference field `via` points at `record_id`."""
    dialect = conn.dialect.name
    if via.multiple:
        clause = filter_clause(dialect, via, Filter(via.key, "eq", record_id))
    else:
        clause = field_expr(dialect, via) == record_id
    stmt = (select(records).where(scoped(conn, app, entity, actor), clause)
            .order_by(records.c.updated_at.desc(), records.c.id.desc()).limit(limit))
    return [record_from_row(r) for r in conn.execute(stmt)]


def search_titles(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor | None, q: str,
                  limit: int = 20) -> list[tuple[int, str]]:
    stmt = select(records.c.id, records.c.title).where(scoped(conn, app, entity, actor))
    q = (q or "").strip()[:200]
    if q:
        clause = _search_clause(q)
        if (wanted_id := parse_int(q)) is not None:
            clause = or_(clause, records.c.id == wanted_id)
        stmt = stmt.where(clause)
    stmt = stmt.order_by(records.c.title, records.c.id).limit(limit)
    return [(r.id, r.title) for r in conn.execute(stmt)]


def titles_for(conn: Connection, app_key: str, ids: Iterable[int]) -> dict[int, str]:
    ids = {int(i) for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isdigit())}
    if not ids:
        return {}
    # by primary key only, the app checked here: with `app_key = ..` in SQL, a planner
    # without statistics may walk an app_key index over every record of the app
    rows = conn.execute(select(records.c.id, records.c.title, records.c.app_key)
                        .where(records.c.id.in_(sorted(ids))))
    return {r.id: r.title for r in rows if r.app_key == app_key}


def count_estimate(conn: Connection, app: AppDef, entity: EntityDef, cap: int = 10_000) -> tuple[int, bool]:
    """Count up to `cap` rows; (n, True) means "at least n"."""
    sub = select(records.c.id).where(live(app.key, entity.key)).limit(cap + 1).subquery()
    n = conn.execute(select(func.count()).select_from(sub)).scalar_one()
    return min(n, cap), n > cap
