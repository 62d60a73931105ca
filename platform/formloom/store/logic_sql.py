"""A small part of JSON Logic as SQL: the conditions a permission may carry
(`"read_if"`), so the policy can answer for one record in Python and for a
list in the database with the same rule.

Only what both sides compute identically is accepted: a field, `$stage` or
`$owner` compared with a constant by `==`, `!=` or `in` (a list of constants),
combined with `and`, `or` and `!`. Every leaf is two-valued in SQL (a missing
value makes `==`/`in` false and `!=` true, as in JSON Logic), so `!` never meets
SQL's NULL. `problems` says, in a sentence, what a document may not use here;
the definitions layer reports it and `clause` refuses the same things.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from sqlalchemy import ColumnElement, and_, false, not_, or_

from ..definitions.model import EntityDef
from ..fields import FIELD_TYPES
from .expressions import raw_value
from .tables import records

COMPARISONS = ("==", "!=", "in")
COMBINATIONS = ("and", "or", "!")
RECORD_VARIABLES = {"$stage": records.c.stage, "$owner": records.c.owner_id}


class LogicSqlError(ValueError):
    """The condition uses something that cannot be answered in the database."""


def problems(logic: Any, fields: Mapping[str, Mapping]) -> Iterator[str]:
    """Sentences (to follow "This condition ...") for each part SQL cannot answer;
    `fields` maps field keys to their raw field documents (a dict with "type")."""
    if not isinstance(logic, Mapping) or len(logic) != 1:
        yield "must be one operation such as {\"==\": [{\"var\": \"field\"}, \"value\"]}"
        return
    (op, args), = logic.items()
    if op in ("and", "or"):
        if not isinstance(args, list) or not args:
            yield f"needs a list of conditions after {op!r}"
            return
        for part in args:
            yield from problems(part, fields)
    elif op == "!":
        inner = args[0] if isinstance(args, list) and len(args) == 1 else args
        yield from problems(inner, fields)
    elif op in COMPARISONS:
        yield from _comparison_problems(op, args, fields)
    else:
        yield (f"uses {op!r}, which a permission cannot use; use ==, !=, in, and, or, ! "
               "comparing a field or $stage with fixed values")


def _comparison_problems(op: str, args: Any, fields: Mapping[str, Mapping]) -> Iterator[str]:
    try:
        name, constant = _split(op, args)
    except LogicSqlError as exc:
        yield str(exc)
        return
    if name.startswith("$"):
        if name not in RECORD_VARIABLES:
            yield f"uses {name!r}; a permission can only use {', '.join(RECORD_VARIABLES)} and fields"
    elif name not in fields:
        yield f"uses {name!r}, which is not a field of this entity"
    elif _is_list_field(fields[name]):
        yield f"compares {name!r}, which holds a list of values; a permission can only compare single values"


def _is_list_field(doc: Mapping) -> bool:
    ftype = FIELD_TYPES.get(doc.get("type"))
    return ftype is None or ftype.sql_kind == "json" or bool(doc.get("multiple"))


def _split(op: str, args: Any) -> tuple[str, Any]:
    """(variable name, constant) of a comparison, whichever side the variable is on."""
    if not isinstance(args, list) or len(args) != 2:
        raise LogicSqlError(f"needs exactly two values after {op!r}")
    left, right = args
    if op != "in" and _is_var(right) and not _is_var(left):
        left, right = right, left
    if not _is_var(left):
        raise LogicSqlError(f"must compare a field, such as {{\"var\": \"status\"}}, after {op!r}")
    constants = right if op == "in" else [right]
    if op == "in" and not isinstance(right, list):
        raise LogicSqlError("needs a list of fixed values after 'in', such as [\"a\", \"b\"]")
    if any(isinstance(c, (dict, list)) or c is None for c in constants):
        raise LogicSqlError(f"must compare with fixed values (text, numbers, true or false) after {op!r}")
    var = left["var"]
    return (var[0] if isinstance(var, list) else var), right


def _is_var(value: Any) -> bool:
    if not isinstance(value, Mapping) or set(value) != {"var"}:
        return False
    var = value["var"]
    return isinstance(var, str) or (isinstance(var, list) and len(var) == 1 and isinstance(var[0], str))


def clause(dialect: str, entity: EntityDef, logic: Any) -> ColumnElement[bool]:
    """The condition as a SQL clause over the records table (never NULL)."""
    (op, args), = logic.items()
    if op in ("and", "or"):
        parts = [clause(dialect, entity, part) for part in args]
        return and_(*parts) if op == "and" else or_(*parts)
    if op == "!":
        inner = args[0] if isinstance(args, list) and len(args) == 1 else args
        return not_(clause(dialect, entity, inner))
    if op not in COMPARISONS:
        raise LogicSqlError(f"uses {op!r}, which a permission cannot use")
    name, constant = _split(op, args)
    values = list(constant) if op == "in" else [constant]
    if name in RECORD_VARIABLES:
        column = RECORD_VARIABLES[name]
        raw = column
    else:
        from .query import Filter, coerce_filter_value, filter_clause
        f = entity.field(name)
        if f is None:
            raise LogicSqlError(f"uses {name!r}, which is not a field of this entity")
        values = [coerce_filter_value(f, "eq", _text(v)) for v in values]
        raw = raw_value(dialect, f.key)
        column = None
    if not values:
        hit = false()
    elif column is not None:
        hit = and_(column.is_not(None), or_(*[column == v for v in values]))
    else:
        hit = and_(raw.is_not(None), or_(*[filter_clause(dialect, f, Filter(f.key, "eq", v)) for v in values]))
    return not_(hit) if op == "!=" else hit


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
