"""Reading records: filtered, sorted, searched, paged lists, related lists and
title look-ups, each restricted in SQL by the caller's scope.

Pages are fetched with LIMIT n+1 instead of counting, so a list stays fast at
millions of rows; a total is counted only up to a bound and estimated from the
database's statistics above it (`count_total`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

import json
import math
import re
import time

from sqlalchemy import (BigInteger, ColumnElement, Connection, String, and_, any_, bindparam, cast, exists, false, func,
                        literal, literal_column, null, or_, select, text, union_all)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..definitions.model import AppDef, EntityDef, FieldDef
from ..errors import FormloomError
from ..i18n import N_, translate
from ..fields import field_type
from ..ids import MAX_ID, parse_int
from .access import Reader, read_check, scope_clause
from .expressions import field_expr, index_name, live, raw_value
from .faster_way import FasterWay
from .records import Record, find_record, record_from_row
from .slots import ALL_SLOTS, entity_mapping
from .tables import records, users

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
    owner_name: str | None = None    # `owner=` given as a name or email (or "me"), resolved in SQL
    lang: str | None = None          # the language of error messages


@dataclass(frozen=True)
class TitleIs:
    """A reference filter value given as what people see: the referenced record's title."""
    text: str


@dataclass(frozen=True)
class UserIs:
    """A user filter value given as a name or an email address ("me": the person asking)."""
    text: str


EXACT_COUNT_LIMIT = 1000


@dataclass(frozen=True)
class Total:
    """How many records a list has: `kind` is "exact", "about" (an estimate from the
    database's statistics) or "more" (more than `count`, no estimate available)."""
    count: int
    kind: str


@dataclass
class Page:
    items: list[Record]
    has_more: bool
    offset: int
    limit: int
    total: Total | None = None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None

    @property
    def prev_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None


SYSTEM_SORTS = {"updated_at": records.c.updated_at, "created_at": records.c.created_at,
                "title": records.c.title, "id": records.c.id, "stage": records.c.stage}


def parse_list_args(entity: EntityDef, args: Mapping[str, Any], visible: Iterable[FieldDef],
                    getlist: Callable[[str], list[str]] | None = None, lang: str | None = None) -> ListQuery:
    """Turn query-string arguments into a ListQuery. Filters look like `amount__gte=100`
    or `source=expo`; only visible fields can be filtered or sorted (no probing). Values
    may be what people see: an option's label in any language, a referenced record's
    title, a user's name or email. Problems are QueryErrors in `lang`."""
    visible_by_key = {f.key: f for f in visible}
    filters = []
    for name in args:
        if name in ("q", "sort", "limit", "offset", "cols", "owner", "stage", "page", "version", "partial"):
            continue
        key, _, op = name.partition("__")
        op = op or "eq"
        f = visible_by_key.get(key)
        if f is None:
            raise QueryError(translate(lang, "Cannot filter on %(field)s: there is no such field here.",
                                       field=repr(key[:60])))
        if op not in field_type(f.type).field_operators(f):
            allowed = ", ".join(field_type(f.type).field_operators(f))
            raise QueryError(translate(lang, "Cannot use %(op)s on %(field)s. Allowed: %(allowed)s.",
                                       op=repr(op[:30]), field=_name(f, lang), allowed=allowed))
        values = getlist(name) if getlist else [args[name]]
        for raw in values:
            if raw in ("", None) and op != "is_empty":
                continue
            filters.append(Filter(key, op, coerce_filter_value(f, op, raw, lang)))
    sort = args.get("sort") or None
    if sort:
        key = sort.lstrip("-")
        if key not in SYSTEM_SORTS and key not in visible_by_key:
            raise QueryError(translate(lang, "Cannot sort by %(field)s: there is no such field here.",
                                       field=repr(key[:60])))
    limit = _int_arg(args.get("limit"), DEFAULT_LIMIT, "limit", lang)
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(translate(lang, "limit must be between 1 and %(max)s.", max=MAX_LIMIT))
    offset = _int_arg(args.get("offset"), 0, "offset", lang)
    if offset < 0 or offset > 10_000_000:
        raise QueryError(translate(lang, "offset must be between 0 and 10000000."))
    owner = _clean_text(args.get("owner") or "", lang)
    owner_id = owner_name = None
    if owner.isascii() and owner.isdigit():
        owner_id = _int_arg(owner, None, "owner", lang)
    elif owner:
        owner_name = owner
    return ListQuery(filters=tuple(filters), sort=sort, q=(args.get("q") or "").strip()[:200] or None,
                     limit=limit, offset=offset, owner_id=owner_id, owner_name=owner_name,
                     stage=_clean_text(args.get("stage") or "", lang) or None, lang=lang)


def _name(f: FieldDef, lang: str | None) -> str:
    return f.label.get(lang) if f.label else f.key


def _clean_text(raw: Any, lang: str | None) -> str:
    text = str(raw).strip()[:200]
    if "\x00" in text:
        raise QueryError(translate(lang, "Filter values cannot contain NUL characters."))
    return text


def _int_arg(raw: Any, default: int | None, name: str, lang: str | None = None) -> int | None:
    if raw in (None, ""):
        return default
    value = parse_int(raw, low=-MAX_ID, high=MAX_ID, signed=True)   # beyond: no column holds it
    if value is None:
        raise QueryError(translate(lang, "%(name)s must be a whole number.", name=name))
    return value


def coerce_filter_value(f: FieldDef, op: str, raw: Any, lang: str | None = None) -> Any:
    if op == "is_empty":
        return str(raw).lower() in ("1", "true", "yes", "")
    if op == "in":
        parts = raw if isinstance(raw, list) else str(raw).split(",")
        return [_scalar(f, p, lang) for p in parts if str(p).strip() != ""]
    if op == "contains":
        if f.options:            # a multiselect: contains one option, named by value or label
            return _option_value(f, _clean_text(raw, lang), lang)
        return _clean_text(raw, lang)
    return _scalar(f, raw, lang)


def _option_value(f: FieldDef, text: str, lang: str | None) -> str:
    """The option named by its value or by its label in any language (case-insensitive)."""
    if any(o.value == text for o in f.options):
        return text
    folded = text.casefold()
    for o in f.options:
        if o.value.casefold() == folded or any(t.casefold() == folded for t in o.label.texts.values()):
            return o.value
    shown = ", ".join(o.label.get(lang) or o.value for o in f.options[:20])
    raise QueryError(translate(lang, "%(value)s is not an option of %(field)s. Choose one of: %(options)s.",
                               value=repr(text[:50]), field=_name(f, lang), options=shown))


KIND_HINTS = {"number": N_("Enter a number."), "date": N_("Enter a date as YYYY-MM-DD."),
              "datetime": N_("Enter a date and time such as 2026-11-02T09:30."), "bool": N_("Enter yes or no.")}


def _scalar(f: FieldDef, raw: Any, lang: str | None = None) -> Any:
    kind = field_type(f.type).field_sql_kind(f)
    text = _clean_text(raw, lang)
    if f.options:
        return _option_value(f, text, lang)
    if f.type == "reference":
        return link_id(text) or TitleIs(text)
    if f.type == "user":
        return link_id(text) or UserIs(text)
    try:
        if kind == "number":
            value = Decimal(text)
            number = float(value) if value.is_finite() else math.inf
            if not math.isfinite(number):      # 1e999 is a finite Decimal but no float
                raise InvalidOperation
            return number
        if kind == "date":
            return date.fromisoformat(text).isoformat()
        if kind == "datetime":
            return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
        if kind == "bool":
            if text.lower() in ("true", "1", "yes", translate(lang, "Yes").lower()):
                return True
            if text.lower() in ("false", "0", "no", translate(lang, "No").lower()):
                return False
            raise ValueError
    except (ValueError, InvalidOperation):
        raise QueryError(translate(lang, "%(value)s is not a valid value for %(field)s.", value=repr(text[:50]),
                                   field=_name(f, lang)) + " " + translate(lang, KIND_HINTS[kind])) from None
    return text[:500]


def link_id(text: str) -> int | None:
    text = text.lstrip("#")
    return parse_int(text)


def _bool_literal(dialect: str, value: bool):
    if dialect == "postgresql":
        return "true" if value else "false"
    return 1 if value else 0


#: operators whose clause compares `field_expr`, which a typed slot holds exactly (store/slots.py)
SLOT_OPS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in"})


def filter_clause(dialect: str, f: FieldDef, flt: Filter, slot: str | None = None) -> ColumnElement[bool]:
    """`slot`: the typed slot column holding the field, read instead of its JSON expression
    (same answer; no document parsed per row, but no expression index either)."""
    kind = field_type(f.type).field_sql_kind(f)
    expr = records.c[slot] if slot is not None and flt.op in SLOT_OPS else field_expr(dialect, f)
    value = flt.value
    if kind == "json":   # multiselect / multi reference: stored as a JSON list
        return _json_list_clause(dialect, f, flt)
    if flt.op in SLOT_OPS:
        value = _compared_value(dialect, kind, flt)
        if flt.op == "in" and not value:
            return false()
        return _comparison(expr, flt.op, value)
    if flt.op == "contains":
        return func.lower(raw_value(dialect, f.key)).contains(value.lower(), autoescape=True)
    if flt.op == "is_empty":
        empty = or_(raw_value(dialect, f.key).is_(None), raw_value(dialect, f.key) == "")
        return empty if value else ~empty
    raise QueryError(f"Unknown operator {flt.op!r}.")


def _compared_value(dialect: str, kind: str, flt: Filter) -> Any:
    """The value a comparison (SLOT_OPS) sends to the database for `flt`."""
    value = flt.value
    if kind == "bool" and flt.op in ("eq", "ne"):
        return _bool_literal(dialect, value)
    if kind == "number" and dialect == "postgresql":
        # compare as NUMERIC, like the index expression: a float parameter would make
        # PostgreSQL cast the column to double precision, and no index would match
        return [_numeric(v) for v in value] if isinstance(value, list) else _numeric(value)
    return value


def _comparison(expr: ColumnElement, op: str, value: Any) -> ColumnElement[bool]:
    """`expr op value` for the comparison operators (SLOT_OPS); `value` may be a bind parameter."""
    if op == "eq":
        return expr == value
    if op == "ne":
        return or_(expr != value, expr.is_(None))
    if op == "lt":
        return expr < value
    if op == "lte":
        return expr <= value
    if op == "gt":
        return expr > value
    if op == "gte":
        return expr >= value
    return expr.in_(value)


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


def scoped(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None, action: str = "read"):
    return and_(live(app.key, entity.key), scope_clause(conn, actor, app, entity, action))


#: what a record is made of: not the typed slot columns, copies of fields its document holds
LIST_COLUMNS = tuple(c for c in records.c if c.name not in ALL_SLOTS)


def list_records(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None, query: ListQuery,
                 with_total: bool = False) -> Page:
    """One page of records; with `with_total`, also how many match (see `count_total`)."""
    dialect = conn.dialect.name
    prepared = _prepared_list(conn, app, entity, actor, query)
    where = None
    mapping = None
    if prepared is not None:
        page_stmt = prepared.page
        if dialect == "sqlite" and query.filters:
            mapping = entity_mapping(conn, app.key, entity.key)
            page_stmt = prepared.page_reading_slots(conn, app, entity, query, mapping)
        rows = conn.execute(page_stmt, prepared.params).all()
    else:
        where = where_clauses(conn, app, entity, actor, query)
        stmt = (select(*LIST_COLUMNS).where(*where)
                .order_by(*_order(dialect, entity, query.sort, _never_null(entity, query.filters)))
                .limit(query.limit + 1).offset(query.offset))
        rows = conn.execute(stmt).all()
    page = Page(list_records_of(rows[:query.limit]), len(rows) > query.limit, query.offset, query.limit)
    if with_total:
        if not page.has_more and (page.items or not query.offset):   # the last page: all before it plus it
            page.total = Total(query.offset + len(page.items), "exact")
        else:
            if mapping is None and dialect == "postgresql" and query.filters:
                mapping = entity_mapping(conn, app.key, entity.key)        # read once for both ways of counting
            slots = count_slots(conn, app, entity, query, mapping)
            narrowed, at_least = _narrowed(app, entity, actor, query), query.offset + len(page.items)
            if prepared is not None and dialect == "sqlite":     # PostgreSQL's estimate reads the clauses
                counted = (prepared.count(dialect, entity, query, slots), prepared.params)

                def count(first_try=None) -> Total:
                    return count_total(conn, app, entity, None, narrowed=narrowed, at_least=at_least,
                                       counted=counted, first_try=first_try)
                if mapping:     # through the covering index or as usual: whichever has lately been faster
                    covering = partial(prepared.covering_count, conn, app, entity, query, mapping, slots)
                    page.total = COUNT_WAYS.run((prepared.shape, "count way", tuple(sorted(slots.items()))),
                                                (partial(count, covering), count))
                else:
                    page.total = count()
            elif prepared is not None and dialect == "postgresql" and prepared.explainable(query):
                every = count_slots(conn, app, entity, query, mapping, keep_driving=False)
                other = every if every and every != slots else None
                page.total = count_total(
                    conn, app, entity, None, narrowed=narrowed, at_least=at_least,
                    counted=(prepared.count(dialect, entity, query, slots), prepared.params),
                    other_counted=(prepared.count(dialect, entity, query, other), prepared.params) if other else None,
                    explained=_both_plans(prepared, conn, entity, other))
            else:
                where = where if where is not None else where_clauses(conn, app, entity, actor, query)
                every = count_slots(conn, app, entity, query, mapping, keep_driving=False) if dialect == "postgresql" else {}
                page.total = count_total(conn, app, entity, where, narrowed=narrowed, at_least=at_least,
                                         count_where=_with_slots(dialect, entity, query, where, slots) if slots else None,
                                         other_count_where=(_with_slots(dialect, entity, query, where, every)
                                                            if every and every != slots else None))
    return page


_RECORD_FIELDS = tuple(f.name for f in fields(Record))
assert _RECORD_FIELDS == tuple(c.name for c in LIST_COLUMNS), "LIST_COLUMNS must list Record's fields in order"


def list_records_of(rows: Iterable[Any]) -> list[Record]:
    """`record_from_row` for rows of LIST_COLUMNS, at a fifth of its cost: a list builds fifty
    records per page, and a frozen dataclass's __init__ sets each of its fifteen fields through
    object.__setattr__, a row's attributes are looked up by name, and each document is copied.
    Here the values are taken by position and the fields set in one update of the instance's
    dict (what __init__ would leave there); the document is the row's own, freshly decoded."""
    new, out = object.__new__, []
    for (ident, app_key, entity_key, data, title, stage, stage_entered_at, owner_id, created_by, updated_by,
         created_at, updated_at, version, definition_version_id, deleted_at) in rows:
        record = new(Record)
        record.__dict__.update(
            id=ident, app_key=app_key, entity_key=entity_key, data=data if data else {}, title=title, stage=stage,
            stage_entered_at=_aware(stage_entered_at), owner_id=owner_id, created_by=created_by,
            updated_by=updated_by, created_at=_aware(created_at), updated_at=_aware(updated_at), version=version,
            definition_version_id=definition_version_id, deleted_at=_aware(deleted_at))
        out.append(record)
    return out


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC (as store/records.py reads them)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class _PreparedList:
    """A list's statements built once per shape, and this request's values for them."""
    page: Any
    params: dict
    shape: tuple
    clauses: Callable[[str, EntityDef, Mapping[str, str]], list]
    build_page: Callable[[Mapping[str, str]], Any]
    kinds: tuple

    def count(self, dialect: str, entity: EntityDef, query: ListQuery, slots: Mapping[str, str]):
        """The bounded count (count_total's) over the same clauses, filters on `slots` reading them."""
        key = (self.shape, "count", tuple(sorted(slots.items())))
        found = _LISTS.get(key)
        if found is None or found[0] is not entity:
            bounded = (select(records.c.id).where(*self.clauses(dialect, entity, slots))
                       .limit(bindparam("count_limit")).subquery())
            found = _remember(key, (entity, select(func.count()).select_from(bounded)))
        return found[1]

    def explainable(self, query: ListQuery) -> bool:
        """Whether `planned` can ask: not for an expanding parameter (an `in` filter's list),
        whose SQL is only written when the statement runs."""
        return not any(kind == "param" and flt.op == "in" for flt, kind in zip(query.filters, self.kinds))

    def planned(self, conn: Connection, entity: EntityDef, ways: Sequence[Mapping[str, str]]) -> list[dict]:
        """`_planned` (PostgreSQL's estimate and cost) of the list's conditions written each of
        `ways` (filters on a way's slots reading them), in one EXPLAIN written once per shape.
        Compiling the EXPLAINs for every request cost about as much as PostgreSQL takes to plan
        them, and each was a round trip of its own; the ways are asked as the branches of one
        UNION ALL, whose plan gives each branch's rows and cost as its own EXPLAIN would."""
        key = (self.shape, "explain", tuple(tuple(sorted(slots.items())) for slots in ways))
        found = _LISTS.get(key)
        if found is None or found[0] is not entity:
            branches = [select(records.c.id).where(*self.clauses(conn.dialect.name, entity, slots)) for slots in ways]
            compiled = (branches[0] if len(branches) == 1 else union_all(*branches)).compile(dialect=conn.dialect)
            binds = {name: (value, compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
                     for name, value in compiled.params.items()}
            found = _remember(key, (entity, "EXPLAIN (FORMAT JSON) " + compiled.string, binds))
        _entity, sql, binds = found
        params = {}
        for name, (default, processor) in binds.items():        # this request's values, as SQLAlchemy binds them
            value = self.params.get(name, default)
            params[name] = processor(value) if processor is not None else value
        plan = conn.exec_driver_sql(sql, params).scalar_one()
        if len(ways) == 1:
            return [_plan_of(plan)]
        try:
            node = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
            parts = node["Plans"] if node["Node Type"] == "Append" else []
        except (LookupError, TypeError, ValueError):
            parts = []
        if len(parts) != len(ways):         # a branch the planner folded away: ask each on its own
            return [self.planned(conn, entity, [slots])[0] for slots in ways]
        return [_plan_of([{"Plan": part}]) for part in parts]

    def page_reading_slots(self, conn: Connection, app: AppDef, entity: EntityDef, query: ListQuery,
                           mapping: Mapping[str, str]):
        """The page's statement (SQLite) with the filters whose index the plan does not walk
        reading their slot columns (store/slots.py) instead of parsing each walked row's document.

        SQLite walks one index and tests every other condition on each row it reaches; on a
        JSON field that parses the row's document. A slot holds the same value as a column,
        but has no index, so giving up an expression could change the plan. SQLite's own plan
        decides: the filters whose expression index `EXPLAIN QUERY PLAN` names keep it, and the
        statement with slots is used only if its plan is the same list of steps. The check is
        kept per (shape, slots), and made again after PLAN_RECHECK_S: new statistics
        (ANALYZE) can change the plan."""
        if any(kind == "param" and flt.op == "in" for flt, kind in zip(query.filters, self.kinds)):
            return self.page          # an expanding parameter: its SQL is only written when run
        candidates = {flt.field: mapping[flt.field] for flt, kind in zip(query.filters, self.kinds)
                      if kind == "param" and flt.field in mapping and flt.op in SLOT_OPS}
        if not candidates:
            return self.page
        key = (self.shape, "page slots", tuple(sorted(candidates.items())))
        found = _LISTS.get(key)
        now = time.monotonic()
        if found is None or found[0] is not entity or now - found[2] > PLAN_RECHECK_S:
            found = _remember(key, (entity, self._checked_page(conn, app, entity, candidates), now))
        return found[1] if found[1] is not None else self.page

    def covering_count(self, conn: Connection, app: AppDef, entity: EntityDef, query: ListQuery,
                       mapping: Mapping[str, str], slots: Mapping[str, str], count_limit: int) -> int | None:
        """The bounded count (SQLite) read from the entity's covering index, or None where it
        is not worth trying or ran out of its steps (then the caller counts as before).

        The usual count walks the driving filter's expression index and reads a table row per
        match for the other filters (about 1 µs each); the entity's covering index
        (dashboards/storage.py) holds the slots, so walking it reads no table row (about 0.1 µs
        an entry) but walks entries that do not match. SQLite does not choose that index by
        itself, so it is named (`INDEXED BY`) where its statistics (ANALYZE's sqlite_stat1) say
        the whole index is at most COVER_RATIO times the rows the driving value matches on
        average, and the walk gets the steps of COVER_RATIO entries per row the usual count would
        read (the driving value's average rows, at most COUNTED_ROWS_PER_BOUND per counted row: it
        stops at the bound). So a rare value of a common field (statistics are averages), which
        walks the whole index, costs at most about what the usual count of an average value
        would, before the usual count runs. Same clauses, slots for every filter: same answer.
        A table row is 1 µs only when the page cache has to read it again; warm, it is about
        0.25 µs and the usual count is the cheaper. So once both have run, the one that has
        lately been faster is used (list_records, COUNT_WAYS)."""
        if not query.filters or any(kind != "param" or flt.op == "in" for flt, kind in zip(query.filters, self.kinds)):
            return None         # a fixed clause, or an expanding parameter (its SQL is only written when run)
        every = {flt.field: mapping.get(flt.field) for flt in query.filters}
        if None in every.values():
            return None
        key = (self.shape, "covering count", tuple(sorted(every.items())), tuple(sorted(slots.items())))
        found = _LISTS.get(key)
        now = time.monotonic()
        if found is None or found[0] is not entity or now - found[2] > PLAN_RECHECK_S:
            try:
                checked = self._covering_plan(conn, app, entity, query, every, slots)
            except (SQLAlchemyError, LookupError, TypeError, ValueError):   # a plan that cannot be asked: count as before
                checked = None
            found = _remember(key, (entity, checked, now))
        if found[1] is None:
            return None
        sql, binds, fixed, per_value = found[1]
        values = {**fixed, **self.params, "count_limit": count_limit}
        args = tuple(processor(values[name]) if processor is not None else values[name] for name, processor in binds)
        # the usual count reads at most the driving value's rows, and stops at the bound
        budget = STEPS_PER_ENTRY * COVER_RATIO * min(per_value, COUNTED_ROWS_PER_BOUND * count_limit)
        return _within_steps(conn, lambda: conn.exec_driver_sql(sql, args).scalar_one(), budget)

    def _covering_plan(self, conn: Connection, app: AppDef, entity: EntityDef, query: ListQuery,
                       every: Mapping[str, str], slots: Mapping[str, str]) -> tuple[str, tuple, dict, int] | None:
        """(SQL naming the covering index, its parameters' names and bind processors, the values
        of its fixed parameters, the driving value's average rows) when the statistics make it worth trying and
        SQLite's plan walks that index alone; None otherwise."""
        from ..dashboards.storage import index_name as covering_index
        covering = covering_index(app.key, entity.key)
        usual = _sqlite_plan(conn, self.count("sqlite", entity, query, slots), self.params)
        driving = next((m for m in map(_SEARCH_STEP.match, usual) if m), None)
        equal = driving.group(2).count("=?") if driving else 0
        stats = _stat1(conn, [covering, driving.group(1)] if driving else [])
        if not equal or covering not in stats or driving.group(1) not in stats:
            return None
        entries, per_value = stats[covering][0], stats[driving.group(1)][min(equal, len(stats[driving.group(1)]) - 1)]
        if entries > COVER_RATIO * per_value:
            return None
        bounded = (select(records.c.id).where(*self.clauses("sqlite", entity, every))
                   .limit(bindparam("count_limit")).subquery())
        compiled = select(func.count()).select_from(bounded).compile(dialect=conn.dialect)
        sql = re.sub(r"\bFROM records\b", f"FROM records INDEXED BY {covering}", compiled.string, count=1)
        binds = tuple((name, compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
                      for name in compiled.positiontup)
        fixed = {name: value for name, value in compiled.params.items() if name not in self.params}  # OFFSET 0
        values = {**fixed, **self.params, "count_limit": EXACT_COUNT_LIMIT + 1}
        args = tuple(p(values[n]) if p is not None else values[n] for n, p in binds)
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)]
        if not any(_COVERING_STEP.fullmatch(step) and _COVERING_STEP.fullmatch(step).group(1) == covering
                   for step in plan):
            return None
        # SQLite reads a table row only for a column the index lacks (the partial index's own
        # condition is known to hold), so every column the clauses compare must be in it
        held = {row[2] for row in conn.exec_driver_sql(f"PRAGMA index_info({covering})")}
        read = set(every.values()) | ({"owner_id"} if query.owner_id is not None else set()) | (
            {"stage"} if query.stage else set())
        if not read <= held:
            return None
        return sql, binds, fixed, per_value

    def _checked_page(self, conn: Connection, app: AppDef, entity: EntityDef, candidates: Mapping[str, str]):
        try:
            return self._page_if_same_plan(conn, app, entity, candidates)
        except (SQLAlchemyError, TypeError, ValueError):    # a plan that cannot be asked: the page as it was
            return None

    def _page_if_same_plan(self, conn: Connection, app: AppDef, entity: EntityDef, candidates: Mapping[str, str]):
        plan = _sqlite_plan(conn, self.page, self.params)
        walked = {name for step in plan for name in _INDEX_IN_STEP.findall(step)}
        slots = {key: slot for key, slot in candidates.items() if index_name(app.key, entity.key, key) not in walked}
        if not slots:
            return None
        with_slots = self.build_page(slots)
        return with_slots if _sqlite_plan(conn, with_slots, self.params) == plan else None


#: SQLite's bounded counts: through the covering index or as usual, timed per list shape
#: (store/faster_way.py: which is cheaper turns on the page cache, which no statistic shows).
COUNT_WAYS = FasterWay()
#: How long a page's plan check is trusted (seconds): statistics change with ANALYZE.
PLAN_RECHECK_S = 600.0
#: A count walks the covering index when it has at most this many entries per row the
#: driving value matches on average: a table row read costs ~10-13 index entries walked.
COVER_RATIO = 8
#: SQLite virtual-machine steps per covering-index entry a count walks (4 measured; 5 for slack)
STEPS_PER_ENTRY = 5
#: The usual count stops at its bound; with other filters it reads up to this many rows per row counted.
COUNTED_ROWS_PER_BOUND = 2
_COVERING_STEP = re.compile(r"(?:SCAN|SEARCH) records USING (?:COVERING )?INDEX (\S+)(?: \(.*\))?")
_SEARCH_STEP = re.compile(r"SEARCH records USING (?:COVERING )?INDEX (\S+) \((.*)\)")


def _stat1(conn: Connection, names: list[str]) -> dict[str, list[int]]:
    """ANALYZE's numbers for the indexes `names` (sqlite_stat1): the rows the index holds, then
    the average rows per distinct value of its first 1, 2, ... columns."""
    if not names:
        return {}
    try:
        rows = conn.execute(select(literal_column("idx"), literal_column("stat")).select_from(text("sqlite_stat1"))
                            .where(literal_column("idx").in_(names))).all()
    except SQLAlchemyError:     # no ANALYZE yet: the statistics table does not exist
        return {}
    out = {}
    for name, stat in rows:
        numbers = [int(n) for n in (stat or "").split() if n.isdigit()]
        if len(numbers) >= 2 and numbers[0] > 0:
            out[name] = numbers
    return out


def _within_steps(conn: Connection, run: Callable[[], Any], budget: int, chunk: int = 1_000) -> Any:
    """`run()` on SQLite with at most `budget` virtual-machine steps (counted `chunk` at a
    time); None when they run out."""
    raw = conn.connection.dbapi_connection
    steps = {"n": 0}
    chunk = max(1, min(chunk, budget))

    def spent() -> int:
        steps["n"] += chunk
        return 1 if steps["n"] > budget else 0

    raw.set_progress_handler(spent, chunk)
    try:
        return run()
    except OperationalError as exc:
        if "interrupt" in str(exc.orig).lower():
            return None
        raise
    finally:
        raw.set_progress_handler(None, 0)
_INDEX_IN_STEP = re.compile(r"USING (?:COVERING )?INDEX (\S+)")


def _sqlite_plan(conn: Connection, stmt: Any, params: Mapping[str, Any]) -> list[str]:
    """The steps of SQLite's plan for `stmt` with `params` (EXPLAIN QUERY PLAN through the
    driver's cursor: SQLAlchemy has no construct for it), each step's text in order."""
    compiled = stmt.compile(dialect=conn.dialect)
    values = compiled.construct_params(params)
    args = []
    for name in compiled.positiontup:
        processor = compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        args.append(processor(values[name]) if processor is not None else values[name])
    return [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", tuple(args))]


#: Prebuilt list statements per (dialect, app, entity, filter shape, sort, owner/stage asked):
#: building a select with its JSON expressions and its cache key costs more than SQLite takes
#: to run it. Only for a reader who sees every record of the entity (the scope is then no
#: clause at all, so nothing in a statement depends on who reads); values are bind parameters.
#: An entry remembers the EntityDef it was built from: a new app version is a new EntityDef.
_LISTS: dict[tuple, tuple] = {}
LIST_CACHE_SIZE = 2_000


def _remember(key: tuple, value: tuple) -> tuple:
    if len(_LISTS) >= LIST_CACHE_SIZE:
        _LISTS.clear()
    _LISTS[key] = value
    return value


def _bindable(entity: EntityDef, flt: Filter) -> str | None:
    """How a filter enters a prebuilt statement: "param" (its value bound), "fixed" (its value
    decides the clause: is_empty, or an empty "is one of"), or None (not prebuilt: named
    values, JSON lists, text search)."""
    f = entity.field(flt.field)
    if f is None or _named_values(flt.value) or field_type(f.type).field_sql_kind(f) == "json":
        return None
    if flt.op == "is_empty" or (flt.op == "in" and not flt.value):
        return "fixed"
    return "param" if flt.op in SLOT_OPS else None


def _sample(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _bound(expr: ColumnElement, name: str, value: Any, expanding: bool):
    """A bind parameter typed as `expr == value` would type the value (on PostgreSQL a text
    expression from a JSON document keeps its JSONB type; a literal compared with it is text)."""
    typed = (expr == _sample(value)).right.type
    return bindparam(name, type_=typed, expanding=expanding)


def _prepared_list(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None,
                   query: ListQuery) -> _PreparedList | None:
    """The list's prebuilt statements with this request's values, or None where the statement
    must be built per request: a narrower scope (a clause that names the reader, their team or
    conditions), text search, and filters whose clauses carry their values (names, JSON lists)."""
    if query.q or query.owner_name or actor is None or not actor.sees_every(app, entity):
        return None
    dialect = conn.dialect.name
    kinds = [_bindable(entity, flt) for flt in query.filters]
    if None in kinds:
        return None
    params: dict[str, Any] = {"limit": query.limit + 1, "offset": query.offset, "count_limit": EXACT_COUNT_LIMIT + 1}
    for i, (flt, kind) in enumerate(zip(query.filters, kinds)):
        if kind == "param":
            f = entity.field(flt.field)
            params[f"f{i}"] = _compared_value(dialect, field_type(f.type).field_sql_kind(f), flt)
    # the value's Python type is part of the shape: it decides the bound parameter's SQL type
    filters = tuple((flt.field, flt.op, (tuple(flt.value) if isinstance(flt.value, list) else flt.value)
                     if kind == "fixed" else type(_sample(params[f"f{i}"])))
                    for i, (flt, kind) in enumerate(zip(query.filters, kinds)))
    shape = (dialect, app.key, entity.key, filters, query.sort, query.owner_id is not None, bool(query.stage))
    if query.owner_id is not None:
        params["owner_id"] = query.owner_id
    if query.stage:
        params["stage"] = _stage_key(app, entity, query.stage, query.lang)

    def clauses(dialect: str, entity: EntityDef, slots: Mapping[str, str]) -> list:
        out = [live(app.key, entity.key)]
        for i, (flt, kind) in enumerate(zip(query.filters, kinds)):
            f = entity.field(flt.field)
            if kind == "fixed":
                out.append(filter_clause(dialect, f, flt, slots.get(flt.field)))
                continue
            slot = slots.get(flt.field)
            expr = records.c[slot] if slot is not None else field_expr(dialect, f)
            out.append(_comparison(expr, flt.op, _bound(expr, f"f{i}", params[f"f{i}"], flt.op == "in")))
        if query.owner_id is not None:
            out.append(records.c.owner_id == bindparam("owner_id"))
        if query.stage:
            out.append(records.c.stage == bindparam("stage"))
        return out

    def build_page(slots: Mapping[str, str]):
        return (select(*LIST_COLUMNS).where(*clauses(dialect, entity, slots))
                .order_by(*_order(dialect, entity, query.sort, _never_null(entity, query.filters)))
                .limit(bindparam("limit")).offset(bindparam("offset")))

    found = _LISTS.get(shape)
    if found is None or found[0] is not entity:
        found = _remember(shape, (entity, build_page({})))
    return _PreparedList(found[1], params, shape, clauses, build_page, tuple(kinds))


def _with_slots(dialect: str, entity: EntityDef, query: ListQuery, where: list, slots: Mapping[str, str]) -> list:
    """`where` (as where_clauses wrote it: the scope, then one clause per filter) with the
    filters on `slots` comparing their slot columns."""
    out = list(where)
    for i, flt in enumerate(query.filters, start=1):
        if flt.field in slots:
            out[i] = filter_clause(dialect, entity.field(flt.field), flt, slots[flt.field])
    return out


def count_slots(conn: Connection, app: AppDef, entity: EntityDef, query: ListQuery,
                mapping: Mapping[str, str] | None = None, keep_driving: bool = True) -> dict[str, str]:
    """The filtered fields a total reads from their typed slot columns (store/slots.py).

    SQLite walks one index per table and tests every other condition on each row it
    reaches; a condition on a JSON field parses that row's document. The filter that
    drives the count (the first equality on an indexed field, or else the first filter on
    one) keeps its JSON expression, so the plan keeps its expression index; the others
    read their slots, which hold the same values as columns but have no index (the plan
    gives up only indexes it would have walked instead of the driving one, which SQLite
    without value statistics seldom prefers). Counting 1,000 of 10,000 records by
    a select with a money range took 1.5 ms parsing documents, 0.6 ms reading slots.

    `keep_driving=False`: every filter that has a slot reads it, the driving one too. That is
    PostgreSQL's other way of counting (`count_total`), where the planner may walk another
    index than the driving filter's and parse every walked row's document for it: on the
    benchmark's list of 10,000 records it walked a boolean field's index for 6,500 rows (5.6 ms),
    where with slots only it read the covering index alone (1.6 ms)."""
    if len(query.filters) < (2 if keep_driving else 1):
        return {}
    mapping = entity_mapping(conn, app.key, entity.key) if mapping is None else mapping
    if not mapping:
        return {}
    indexed = [flt for flt in query.filters if _has_index(entity.field(flt.field))]
    driving = next((flt.field for flt in indexed if flt.op in ("eq", "in")), indexed[0].field if indexed else None)
    if not keep_driving:
        driving = None
    return {flt.field: mapping[flt.field] for flt in query.filters
            if flt.field != driving and flt.field in mapping and flt.op in SLOT_OPS and not _named_values(flt.value)}


def _has_index(f: FieldDef | None) -> bool:
    """Whether install gives the field an expression index (store/install.py `fields_to_index`)."""
    return f is not None and (f.indexed or (field_type(f.type).indexed_by_default and not f.multiple))


def where_clauses(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None, query: ListQuery) -> list:
    """The WHERE of a list (scope, filters with titles and names resolved in SQL, search,
    owner, stage); boards count and sum their columns with the same clauses."""
    dialect = conn.dialect.name
    where = [scoped(conn, app, entity, actor)]
    for flt in query.filters:
        f = entity.field(flt.field)
        if f is None:
            raise QueryError(translate(query.lang, "Cannot filter on %(field)s: there is no such field here.",
                                       field=repr(flt.field[:60])))
        if _named_values(flt.value):
            where.append(_link_clause(conn, app, actor, f, flt))
        else:
            where.append(filter_clause(dialect, f, flt))
    if query.q:
        where.append(_search_clause(query.q))
    if query.owner_id is not None:
        where.append(records.c.owner_id == query.owner_id)
    if query.owner_name:
        where.append(records.c.owner_id.in_(_users_named([query.owner_name], actor)))
    if query.stage:
        where.append(records.c.stage == _stage_key(app, entity, query.stage, query.lang))
    return where


def _named_values(value: Any) -> list:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, (TitleIs, UserIs))]


def _link_clause(conn: Connection, app: AppDef, actor: Reader | None, f: FieldDef, flt: Filter) -> ColumnElement[bool]:
    """A reference or user filter with values given as titles or names: matched in SQL
    (titles among the records of the target entity the actor may read)."""
    values = flt.value if isinstance(flt.value, list) else [flt.value]
    ids = [v for v in values if isinstance(v, int)]
    names = [v.text for v in values if isinstance(v, (TitleIs, UserIs))]
    expr = field_expr(conn.dialect.name, f)
    if f.type == "user":
        named = _users_named(names, actor)
    else:
        target = app.entity(f.entity)
        if target is None:
            return false()
        named = (select(records.c.id).where(scoped(conn, app, target, actor),
                                            func.lower(records.c.title).in_([n.lower() for n in names])))
    hit = or_(expr.in_(named), expr.in_(ids)) if ids else expr.in_(named)
    return or_(~hit, expr.is_(None)) if flt.op == "ne" else hit


def _users_named(names: list[str], actor: Reader | None):
    """Ids of the users called `names` (name or email, case-insensitive; "me" is the actor)."""
    from .tables import users
    folded = [n.casefold() for n in names]
    me = [actor.id] if actor is not None and "me" in folded else []
    return (select(users.c.id).where(or_(func.lower(users.c.name).in_(folded), func.lower(users.c.email).in_(folded),
                                         users.c.id.in_(me))))


def _stage_key(app: AppDef, entity: EntityDef, wanted: str, lang: str | None) -> str:
    """A stage named by its key or its label in any language."""
    workflow = app.workflow_for(entity.key)
    stages = workflow.stages if workflow else ()
    folded = wanted.casefold()
    for stage in stages:
        if stage.key == wanted or stage.key.casefold() == folded or any(
                t.casefold() == folded for t in stage.label.texts.values()):
            return stage.key
    names = ", ".join(stage.label.get(lang) or stage.key for stage in stages) or "-"
    raise QueryError(translate(lang, "%(value)s is not a stage here. Choose one of: %(stages)s.",
                               value=repr(wanted[:50]), stages=names))


def _narrowed(app: AppDef, entity: EntityDef, actor: Reader | None, query: ListQuery) -> bool:
    """Whether the list is less than every live record of the entity."""
    return bool(query.filters or query.q or query.owner_id is not None or query.stage
                or actor is None or not actor.sees_every(app, entity))


def count_total(conn: Connection, app: AppDef, entity: EntityDef, where: list | None, narrowed: bool = True,
                exact_up_to: int = EXACT_COUNT_LIMIT, at_least: int = 0, count_where: list | None = None,
                counted: tuple[Any, dict] | None = None, first_try: Callable[[int], int | None] | None = None,
                other_count_where: list | None = None, other_counted: tuple[Any, dict] | None = None,
                explained: tuple[Callable[[], dict], Callable[[], dict]] | None = None) -> Total:
    """How many records match, without counting a million rows: an exact count when at
    most `exact_up_to` match (a count that stops after exact_up_to + 1 rows), otherwise
    the planner's estimate (PostgreSQL) or the entity's size from ANALYZE statistics
    (SQLite, when nothing narrows the list), never below what is known to exist;
    "more" when there is no estimate. The count itself is bounded in work too: PostgreSQL
    skips it when the planner expects far more than the bound, and on SQLite it gives up
    after a fixed number of steps (sparse matches in a big table), answering "more than
    `at_least`" (what the caller already knows exists). `count_where`: the same conditions
    written for counting (`count_slots`); the planner's estimate reads `where`. `counted`: instead,
    a prebuilt count (statement, parameters, `count_limit` among them) on SQLite, where `where`
    is None. `first_try`: a cheaper way to the same bounded count, given its bound and run first (None:
    count as usual). `other_count_where`: on PostgreSQL, a second way to write the same count
    (`count_slots(keep_driving=False)`); the one the planner costs lower is counted.
    `other_counted` and `explained`: on PostgreSQL with `counted`, the other way prebuilt, and
    the plans of `where` and of the other way, asked by prebuilt statements (`_PreparedList`)."""
    postgres = conn.dialect.name == "postgresql"
    if postgres and explained is None:
        explained = (lambda: _planned(conn, select(records.c.id).where(*where)),
                     lambda: _planned(conn, select(records.c.id).where(*other_count_where)))
    planned = explained[0]() if postgres else {}
    estimate = planned.get("rows")
    if estimate is not None and estimate > 10 * exact_up_to:
        return Total(_round_estimate(estimate), "about")
    n = first_try(exact_up_to + 1) if first_try is not None else None
    if n is None:
        other = other_counted if counted is not None else other_count_where
        # the same walk's cost, as the estimate's plan gave it
        use_other = postgres and other is not None and explained[1]().get("cost", math.inf) < planned.get("cost", math.inf)
        if counted is not None:
            way = other if use_other else counted
            n = _bounded_count(conn, way[0], {**way[1], "count_limit": exact_up_to + 1})
        else:
            way = other if use_other else (count_where or where)
            bounded = select(records.c.id).where(*way).limit(exact_up_to + 1).subquery()
            n = _bounded_count(conn, select(func.count()).select_from(bounded))
    if n is None:
        return Total(at_least, "more")
    if n <= exact_up_to:
        return Total(n, "exact")
    if not postgres:
        estimate = None if narrowed else _sqlite_entity_rows(conn, app, entity)
    if estimate is None or estimate <= exact_up_to:
        return Total(exact_up_to, "more")
    return Total(_round_estimate(estimate), "about")


#: SQLite virtual-machine steps a total may take (roughly 50,000 rows with a JSON filter)
COUNT_STEP_BUDGET = 500_000


def _bounded_count(conn: Connection, stmt, params: dict | None = None) -> int | None:
    """The count, or None when SQLite ran out of its step budget."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, params).scalar_one()
    return _within_steps(conn, lambda: conn.execute(stmt, params).scalar_one(), COUNT_STEP_BUDGET, 10_000)


def _planned(conn: Connection, stmt) -> dict:
    """PostgreSQL's expected `rows` and total `cost` for `stmt` (EXPLAIN, not run); {} when the
    plan does not say."""
    # render_postcompile: an `in` filter's list is an expanding parameter, which only the
    # driver-level execution would spell out; EXPLAIN is sent as text
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    return _plan_of(conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar_one())


def _both_plans(prepared: _PreparedList, conn: Connection, entity: EntityDef,
                other: Mapping[str, str] | None) -> tuple[Callable[[], dict], Callable[[], dict]]:
    """count_total's `explained` for a prebuilt list: the plan of its conditions and of the other
    way to count (`other`'s slots), asked together the first time either is wanted."""
    ways = [{}] + ([other] if other else [])
    plans: list[dict] = []

    def plan(i: int) -> dict:
        if not plans:
            plans.extend(prepared.planned(conn, entity, ways))
        return plans[i]
    return partial(plan, 0), partial(plan, len(ways) - 1)


def _plan_of(plan: Any) -> dict:
    """`_planned`'s answer from what EXPLAIN (FORMAT JSON) returned."""
    try:
        node = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
        return {"rows": int(node["Plan Rows"]), "cost": float(node["Total Cost"])}
    except (LookupError, TypeError, ValueError):
        return {}


def _sqlite_entity_rows(conn: Connection, app: AppDef, entity: EntityDef) -> int | None:
    """Live rows of the entity as ANALYZE counted them: the size of one of its partial
    (live records only) field indexes, which sqlite_stat1 records as the first number."""
    from .expressions import index_name
    names = [index_name(app.key, entity.key, f.key) for f in entity.fields]
    try:
        rows = conn.execute(select(literal_column("stat")).select_from(text("sqlite_stat1"))
                            .where(literal_column("idx").in_(names))).scalars().all()
    except Exception:           # no ANALYZE yet: the statistics table does not exist
        return None
    sizes = [int(stat.split()[0]) for stat in rows if stat and stat.split()[0].isdigit()]
    return max(sizes) if sizes else None


def _round_estimate(n: int) -> int:
    """Two significant figures: an estimate should not look exact."""
    if n < 100:
        return n
    digits = len(str(n)) - 2
    return round(n, -digits)


def _order(dialect: str, entity: EntityDef, sort: str | None, never_null: set[str] = frozenset()) -> list:
    """ORDER BY for a sort; missing values (stored as NULL: forms and the API store blanks
    as null) last in both directions on both databases. Where a filter already rules out
    missing values there is no NULLS LAST, so PostgreSQL can walk the field's (ascending)
    expression index backwards for a descending sort."""
    if not sort:
        return [records.c.updated_at.desc(), records.c.id.desc()]
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = SYSTEM_SORTS.get(key)
    if column is None:
        column = field_expr(dialect, entity.field(key))
    ordered = column.desc() if descending else column.asc()
    if key not in never_null:     # SQLite (3.30+) walks an index for NULLS LAST too
        ordered = ordered.nulls_last()
    return [ordered, records.c.id.desc() if descending else records.c.id.asc()]


def related_records(conn: Connection, app: AppDef, actor: Reader | None, entity: EntityDef, via: FieldDef,
                    record_id: int, limit: int = 20) -> list[Record]:
    """Records of `entity` whose reference field `via` points at `record_id`."""
    dialect = conn.dialect.name
    if not via.multiple and actor is not None and actor.sees_every(app, entity):
        return [record_from_row(r) for r in conn.execute(_related_statement(dialect, app.key, entity.key, via, limit),
                                                          {"record_id": record_id})]
    if via.multiple:
        clause = filter_clause(dialect, via, Filter(via.key, "eq", record_id))
    else:
        clause = field_expr(dialect, via) == record_id
    stmt = (select(records).where(scoped(conn, app, entity, actor), clause)
            .order_by(records.c.updated_at.desc(), records.c.id.desc()).limit(limit))
    return [record_from_row(r) for r in conn.execute(stmt)]


def related_lists(conn: Connection, app: AppDef, actor: Reader | None,
                  lists: Iterable[tuple[EntityDef, FieldDef]], record_id: int, limit: int = 20) -> list[list[Record]]:
    """`related_records` of each (entity, field) in `lists`, in their order. The lists a reader
    sees whole through a single reference are read together in one statement (a record page
    has several, and every statement costs more in the driver than in the database); any other
    list is read by `related_records`, so a scoped reader's lists keep their policy clause."""
    lists = list(lists)
    dialect = conn.dialect.name
    whole = [n for n, (entity, via) in enumerate(lists)
             if not via.multiple and actor is not None and actor.sees_every(app, entity)]
    found: dict[int, list[Record]] = {n: [] for n in whole}
    if len(whole) == 1:
        entity, via = lists[whole[0]]
        found[whole[0]] = related_records(conn, app, actor, entity, via, record_id, limit)
    elif whole:
        stmt = _related_union(dialect, app.key, tuple((lists[n][0].key, lists[n][1]) for n in whole), limit)
        for row in conn.execute(stmt, {"record_id": record_id}):
            found[whole[row.list_no]].append(record_from_row(row))
    return [found[n] if n in found else related_records(conn, app, actor, entity, via, record_id, limit)
            for n, (entity, via) in enumerate(lists)]


def record_and_related_lists(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None,
                             lists: Iterable[tuple[EntityDef, FieldDef]], record_id: int,
                             limit: int = 20) -> tuple[Record | None, list[list[Record]]]:
    """The live record `record_id` of `entity` (None: there is none; the policy is the caller's
    to ask) and `related_lists(lists)`: the record rides in the UNION ALL of the lists the
    reader sees whole (numbered -1, first), one statement for the record page's record and
    related lists instead of two. Without such a list, both are read as before."""
    lists = list(lists)
    whole = [n for n, (rel, via) in enumerate(lists)
             if not via.multiple and actor is not None and actor.sees_every(app, rel)]
    if not whole:
        return find_record(conn, app, entity, record_id), related_lists(conn, app, actor, lists, record_id, limit)
    stmt = _related_union(conn.dialect.name, app.key, tuple((lists[n][0].key, lists[n][1]) for n in whole), limit,
                          record_of=entity.key)
    record, found = None, {n: [] for n in whole}
    for row in conn.execute(stmt, {"record_id": record_id}):
        if row.list_no < 0:
            record = record_from_row(row)
        else:
            found[whole[row.list_no]].append(record_from_row(row))
    return record, [found[n] if n in found else related_records(conn, app, actor, rel, via, record_id, limit)
                    for n, (rel, via) in enumerate(lists)]


def _related_union(dialect: str, app_key: str, lists: tuple[tuple[str, FieldDef], ...], limit: int,
                   record_of: str | None = None):
    """The prebuilt statements of several related lists as one UNION ALL, each row numbered by
    its list (`list_no`) and ordered by list, then as each list is. Each list is a subquery,
    as SQLite allows no ORDER BY or LIMIT on a member of a compound select. `record_of`: an
    entity whose live record `:record_id` comes first, numbered -1."""
    key = ("union", dialect, app_key, tuple((entity_key, via.key, via.type) for entity_key, via in lists), limit,
           record_of)
    found = _RELATED.get(key)
    if found is None:
        parts = []
        if record_of is not None:
            parts.append(select(literal_column("-1").label("list_no"), *records.c)
                         .where(records.c.id == bindparam("record_id"), live(app_key, record_of)))
        for n, (entity_key, via) in enumerate(lists):
            sub = _related_statement(dialect, app_key, entity_key, via, limit).subquery()
            parts.append(select(literal_column(str(n)).label("list_no"), *sub.c))
        union = union_all(*parts).subquery()
        found = select(union).order_by(union.c.list_no, union.c.updated_at.desc(), union.c.id.desc())
        if len(_RELATED) >= RELATED_CACHE_SIZE:
            _RELATED.clear()
        _RELATED[key] = found
    return found


#: Prebuilt related-list statements, per (dialect, app, entity, field, its type, limit): a record
#: page asks for each of its related lists, and building a statement costs more than running it.
_RELATED: dict[tuple, Any] = {}
RELATED_CACHE_SIZE = 1_000


def _related_statement(dialect: str, app_key: str, entity_key: str, via: FieldDef, limit: int):
    """Every live record of the entity pointing at `:record_id` through `via` (a single reference),
    for a reader who sees every record of the entity: nothing in it depends on who reads."""
    key = (dialect, app_key, entity_key, via.key, via.type, limit)
    found = _RELATED.get(key)
    if found is None:
        found = (select(records).where(live(app_key, entity_key), field_expr(dialect, via) == bindparam("record_id"))
                 .order_by(records.c.updated_at.desc(), records.c.id.desc()).limit(limit))
        if len(_RELATED) >= RELATED_CACHE_SIZE:
            _RELATED.clear()
        _RELATED[key] = found
    return found


def search_titles(conn: Connection, app: AppDef, entity: EntityDef, actor: Reader | None, q: str,
                  limit: int = 20, where: Iterable[ColumnElement[bool]] = ()) -> list[tuple[int, str]]:
    """Records whose title contains `q` (or whose id is `q`), within the actor's scope and `where`."""
    stmt = select(records.c.id, records.c.title).where(scoped(conn, app, entity, actor), *where)
    q = (q or "").strip()[:200]
    if q:
        clause = _search_clause(q)
        if (wanted_id := parse_int(q)) is not None:
            clause = or_(clause, records.c.id == wanted_id)
        stmt = stmt.where(clause)
    stmt = stmt.order_by(records.c.title, records.c.id).limit(limit)
    return [(r.id, r.title) for r in conn.execute(stmt)]


def titles_for(conn: Connection, app: AppDef, entity: EntityDef | None, actor: Reader | None,
               ids: Iterable[int]) -> dict[int, str]:
    """Titles of the records among `ids` that are records of `entity` the actor may read
    (the policy decides, as for the record itself); any other id gets no title, so a title
    never leaks across data scopes, apps or entities."""
    if entity is None:
        return {}
    return _readable_titles(conn, app, actor, ids, only=entity.key)


def titles_in_app(conn: Connection, app: AppDef, actor: Reader | None, ids: Iterable[int]) -> dict[int, str]:
    """Like titles_for, for ids of any entity of the app (a run log, a reminder list):
    each record is judged by the policy for its own entity."""
    return _readable_titles(conn, app, actor, ids, only=None)


def _readable_titles(conn: Connection, app: AppDef, actor: Reader | None, ids: Iterable[int],
                     only: str | None) -> dict[int, str]:
    ids = {n for n in (_as_id(i) for i in ids) if n is not None}
    entities = [app.entity(only)] if only is not None else list(app.entities)
    may_read = read_check(conn, actor, app)
    readable = {e.key: e for e in entities if e is not None and may_read(e, None)}
    if not ids or not readable:
        return {}
    # by primary key only, app and entity checked here: with `app_key = ..` in SQL, a planner
    # without statistics may walk an app_key index over every record of the app
    # whole rows: the policy may look at a record's values and stage, not only its owner;
    # unless the reader sees every record of these entities (no row to judge, no JSON to read)
    every = actor is not None and all(actor.sees_every(app, e) for e in readable.values())
    rows = conn.execute(*_titles_query(conn.dialect.name, every, sorted(ids)))
    return {r.id: r.title for r in rows if r.app_key == app.key and r.entity_key in readable
            and (every or may_read(readable[r.entity_key], r))}


def titles_by_entity(conn: Connection, app: AppDef, actor: Reader | None,
                     wanted: Mapping[str, Iterable[int]]) -> dict[tuple[str, int], str]:
    """`titles_for` for several target entities in one query (a record page references
    records of several entities): (entity key, id) -> title, only for an id that is a record
    of that entity the actor may read."""
    return titles_and_names(conn, app, actor, wanted)[0]


def titles_and_names(conn: Connection, app: AppDef, actor: Reader | None, wanted: Mapping[str, Iterable[int]],
                     user_ids: Iterable[int] = ()) -> tuple[dict[tuple[str, int], str], dict[int, str] | None]:
    """`titles_by_entity`, and the names of `user_ids` (name, else email, as auth.users.user_names
    gives them) read in the same statement when the titles need no row judged by the policy
    (the reader sees every record of those entities): a record page wants both, and a statement
    costs more than the rows it reads. The names are None when they were not read (the caller
    reads them itself)."""
    asked = {key: {n for n in (_as_id(i) for i in ids) if n is not None} for key, ids in wanted.items()}
    asked = {key: ids for key, ids in asked.items() if ids}
    may_read = read_check(conn, actor, app)
    readable = {key: e for key in asked if (e := app.entity(key)) is not None and may_read(e, None)}
    ids = sorted({i for key in readable for i in asked[key]})
    if not ids:
        return {}, None
    every = actor is not None and all(actor.sees_every(app, e) for e in readable.values())
    people = sorted({i for i in user_ids if i is not None})
    dialect = conn.dialect.name
    if every and people and dialect in _TITLES_AND_NAMES:
        titles, names = {}, {}
        encode = json.dumps if dialect == "sqlite" else list
        for ident, app_key, entity_key, title in conn.execute(_TITLES_AND_NAMES[dialect],
                                                               {"ids": encode(ids), "user_ids": encode(people)}).all():
            if app_key is None:                 # a user's row: (id, -, name, email)
                names[ident] = entity_key or title
            elif app_key == app.key and entity_key in readable and ident in asked[entity_key]:
                titles[(entity_key, ident)] = title
        return titles, names
    if every:       # by position: a row's attributes are looked up by name, ~1 µs each
        return {(entity_key, ident): title
                for ident, app_key, entity_key, title in conn.execute(*_titles_query(dialect, True, ids)).all()
                if app_key == app.key and entity_key in readable and ident in asked[entity_key]}, None
    rows = conn.execute(*_titles_query(dialect, False, ids))
    return {(r.entity_key, r.id): r.title for r in rows
            if r.app_key == app.key and r.entity_key in readable and r.id in asked[r.entity_key]
            and may_read(readable[r.entity_key], r)}, None


#: Built once (every page with references asks): titles only, or whole rows for the policy to judge.
#: The ids travel as one value (a JSON array on SQLite, an array on PostgreSQL): an expanding IN
#: is written out again by SQLAlchemy on every execution, one placeholder per id, and its SQL
#: text differs with the number of ids, so neither side could keep it prepared.
_TITLE_COLUMNS = (records.c.id, records.c.app_key, records.c.entity_key, records.c.title)
_IDS_IN = {
    # a rowid search per value (EXPLAIN QUERY PLAN: SEARCH records USING INTEGER PRIMARY KEY)
    "sqlite": records.c.id.in_(select(func.json_each(bindparam("ids", type_=String)).table_valued("value").c.value)),
    "postgresql": records.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
}
_TITLE_STATEMENTS = {
    (dialect, every): select(*_TITLE_COLUMNS).where(clause) if every else select(records).where(clause)
    for dialect, clause in _IDS_IN.items() for every in (True, False)}
#: the titles with the names of some users: a user's row has no app key (records.app_key is never null)
_TITLES_AND_NAMES = {
    dialect: union_all(_TITLE_STATEMENTS[(dialect, True)],
                       select(users.c.id, null(), users.c.name, users.c.email).where(clause))
    for dialect, clause in {
        "sqlite": users.c.id.in_(select(func.json_each(bindparam("user_ids", type_=String)).table_valued("value").c.value)),
        "postgresql": users.c.id == any_(bindparam("user_ids", type_=ARRAY(BigInteger))),
    }.items()}
_TITLES = select(*_TITLE_COLUMNS).where(records.c.id.in_(bindparam("ids", expanding=True)))
_TITLE_ROWS = select(records).where(records.c.id.in_(bindparam("ids", expanding=True)))


def _titles_query(dialect: str, every: bool, ids: list[int]) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters reading the rows of `ids` (titles only when `every`):
    ids as one value where the dialect has a way to take them, else an expanding IN."""
    found = _TITLE_STATEMENTS.get((dialect, every))
    if found is None:
        return (_TITLES if every else _TITLE_ROWS), {"ids": ids}
    return found, {"ids": json.dumps(ids) if dialect == "sqlite" else ids}


def _as_id(value: Any) -> int | None:
    return parse_int(value) if isinstance(value, (str, int)) else None


def count_estimate(conn: Connection, app: AppDef, entity: EntityDef, cap: int = 10_000) -> tuple[int, bool]:
    """Count up to `cap` rows; (n, True) means "at least n"."""
    sub = select(records.c.id).where(live(app.key, entity.key)).limit(cap + 1).subquery()
    n = conn.execute(select(func.count()).select_from(sub)).scalar_one()
    return min(n, cap), n > cap
