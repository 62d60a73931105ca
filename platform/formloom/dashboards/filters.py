"""Widget and measure filters: the part of JSON Logic a dashboard can answer in SQL.

Equality (`==`, `!=`, `in`) on fields, `$stage` and `$owner` is exactly the
subset permissions use, so it is checked and compiled by store.logic_sql (one
meaning for both). Dashboards add what numbers need: `<`, `<=`, `>`, `>=`
between a number or date and a fixed value or `{"var": "$today"}` (the app's
local date), and the history variables ($from_stage, $to_stage, ...). Every
leaf is two-valued: a missing value makes a comparison false, never NULL, so
`!` means "not" as in JSON Logic. Anything else is refused with a sentence.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, literal, not_, or_

from ..definitions.model import EntityDef
from ..store import logic_sql
from ..store.tables import UtcDateTime
from .related import RELATED_VARIABLES, STAGE_VARIABLES
from .variables import RECORD_VARIABLES, expression, variable_kind

ORDERED = ("<", "<=", ">", ">=")
TODAY = "$today"
_HISTORY_ONLY = {k for k, (_kind, sources) in RECORD_VARIABLES.items() if sources == ("history",)}
#: variables compiled here rather than by store.logic_sql (which knows $stage and $owner)
_OWN_SQL = {"$created", "$updated", "$stage_entered", *RELATED_VARIABLES, *STAGE_VARIABLES}


def filter_problems(logic: Any, fields: Mapping[str, Mapping], source: str) -> Iterator[str]:
    """Sentences (following "This filter ...") for each part a dashboard cannot answer."""
    if not isinstance(logic, Mapping) or len(logic) != 1:
        yield "must be one operation such as {\"==\": [{\"var\": \"field\"}, \"value\"]}"
        return
    (op, args), = logic.items()
    if op in ("and", "or"):
        if not isinstance(args, list) or not args:
            yield f"needs a list of conditions after {op!r}"
            return
        for part in args:
            yield from filter_problems(part, fields, source)
    elif op == "!":
        yield from filter_problems(args[0] if isinstance(args, list) and len(args) == 1 else args, fields, source)
    elif op in ORDERED:
        yield from _ordered_problems(op, args, fields, source)
    elif op in logic_sql.COMPARISONS:
        name = _var_name(args)
        if name is not None and name in RECORD_VARIABLES and name not in logic_sql.RECORD_VARIABLES:
            if variable_kind(fields, name, source) is None:
                yield f"uses {name!r}, which only widgets over the stage history have"
            elif not _constants_ok(op, args):
                yield f"must compare {name!r} with fixed values after {op!r}"
            return
        for sentence in logic_sql.problems(logic, fields):
            yield sentence.replace("a permission", "a dashboard filter")
    else:
        yield (f"uses {op!r}, which a dashboard filter cannot use; use ==, !=, in, <, <=, >, >=, and, or, ! "
               "comparing a field or $stage with fixed values")


def _var_name(args: Any) -> str | None:
    if isinstance(args, list) and args and isinstance(args[0], Mapping) and set(args[0]) == {"var"}:
        var = args[0]["var"]
        return var if isinstance(var, str) else None
    return None


def _constants_ok(op: str, args: Any) -> bool:
    if not isinstance(args, list) or len(args) != 2:
        return False
    right = args[1]
    values = right if op == "in" else [right]
    return isinstance(values, list) and all(isinstance(v, (str, int, float, bool)) for v in values)


def _ordered_problems(op: str, args: Any, fields: Mapping[str, Mapping], source: str) -> Iterator[str]:
    name = _var_name(args)
    if name is None or not isinstance(args, list) or len(args) != 2:
        yield f"must compare a field with one value after {op!r}, such as {{\"{op}\": [{{\"var\": \"amount\"}}, 100]}}"
        return
    kind = variable_kind(fields, name, source)
    if kind is None:
        yield f"uses {name!r}, which is not a field of this entity" + (
            " (or a variable of this widget's source)" if name.startswith("$") else "")
        return
    if kind not in ("number", "date", "datetime", "timestamp"):
        yield f"compares {name!r} with {op!r}; only numbers and dates can be compared that way"
        return
    right = args[1]
    if kind == "number":
        if isinstance(right, bool) or not isinstance(right, (int, float)):
            yield f"must compare the number {name!r} with a number after {op!r}"
    elif not (right == {"var": TODAY} or (isinstance(right, str) and _is_iso_date(right))):
        yield f"must compare the date {name!r} with a date (YYYY-MM-DD) or {{\"var\": \"$today\"}} after {op!r}"


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def compile_filter(dialect: str, entity: EntityDef, logic: Any, today: date, zone: ZoneInfo,
                   slots: Mapping[str, str] | None = None) -> ColumnElement[bool]:
    """The filter as a SQL clause (never NULL); `slots` as in variables.expression."""
    (op, args), = logic.items()
    if op in ("and", "or"):
        parts = [compile_filter(dialect, entity, p, today, zone, slots) for p in args]
        return and_(*parts) if op == "and" else or_(*parts)
    if op == "!":
        inner = args[0] if isinstance(args, list) and len(args) == 1 else args
        return not_(compile_filter(dialect, entity, inner, today, zone, slots))
    name = _var_name(args)
    if op in ORDERED:
        return _ordered(dialect, entity, op, name, args[1], today, zone, slots)
    if name in _HISTORY_ONLY or name in _OWN_SQL:
        column = expression(dialect, entity, name)
        values = list(args[1]) if op == "in" else [args[1]]
        hit = and_(column.is_not(None), or_(*[column == v for v in values])) if values else false()
        return not_(hit) if op == "!=" else hit
    return logic_sql.clause(dialect, entity, logic)


def _ordered(dialect: str, entity: EntityDef, op: str, name: str, right: Any, today: date,
             zone: ZoneInfo, slots: Mapping[str, str] | None = None) -> ColumnElement[bool]:
    column = expression(dialect, entity, name, slots)
    kind = RECORD_VARIABLES[name][0] if name in RECORD_VARIABLES else \
        variable_kind({f.key: f for f in entity.fields}, name, "records")
    if kind == "number":
        compare = {"<": column < right, "<=": column <= right, ">": column > right, ">=": column >= right}[op]
        return and_(column.is_not(None), compare)
    day = today if right == {"var": TODAY} else date.fromisoformat(right)
    if op in ("<=", ">"):                 # a date means the whole local day
        day += timedelta(days=1)
    bound = day_bound(kind, day, zone)
    return and_(column.is_not(None), column < bound if op in ("<", "<=") else column >= bound)


def day_bound(kind: str, day: date, zone: ZoneInfo) -> Any:
    """The value a column of `kind` has at the start of local day `day`, for comparing."""
    if kind == "date":
        return day.isoformat()
    moment = datetime.combine(day, time(0), zone).astimezone(timezone.utc)
    if kind == "datetime":         # stored as UTC "YYYY-MM-DDTHH:MM:SSZ"
        return moment.replace(tzinfo=None).isoformat() + "Z"
    return literal(moment, UtcDateTime)
