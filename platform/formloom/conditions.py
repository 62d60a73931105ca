"""Conditions: JSON Logic, checked before use and evaluated defensively.

The same rule runs in the browser (live show/hide) and here, where it decides,
so only the operators both sides understand are allowed (docs/documents.md).
`json_logic.apply` handles `if ?: and or some all none` (and map/filter/reduce)
itself, whatever operations table it is given, so the whitelist is enforced by
walking the rule before it is applied, not by the table alone.
"""
from __future__ import annotations

import difflib
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Collection, Iterator, Mapping

from json_logic.apply import apply
from json_logic.builtins import BUILTINS, to_bool

from formloom.frozen import thaw

#: `?:` is JSON Logic's name for the ternary (docs/documents.md writes it `?`).
CONTROL_OPERATORS = frozenset({"and", "or", "if", "?:", "some", "all", "none"})
_TABLE_OPERATORS = frozenset({
    "==", "!=", "===", "!==", "<", "<=", ">", ">=", "!", "!!", "+", "-", "*", "/", "%",
    "min", "max", "in", "cat", "substr", "var", "missing", "missing_some", "merge",
})
ALLOWED_OPERATORS: frozenset[str] = CONTROL_OPERATORS | _TABLE_OPERATORS
OPERATIONS = {name: BUILTINS[name] for name in _TABLE_OPERATORS}

#: Variables the engine supplies for every record, whatever its fields.
SPECIAL_VARIABLES = frozenset({"$stage", "$terminal", "$owner", "$now", "$today"})

MAX_DEPTH = 32
#: some/all/none inside some/all/none multiply work; two levels cover real rules.
MAX_QUANTIFIER_DEPTH = 2
_QUANTIFIERS = frozenset({"some", "all", "none"})
_NAMING_OPERATORS = frozenset({"missing", "missing_some"})


class ConditionError(ValueError):
    """A condition could not be evaluated (refused shape or operator, or a runtime error)."""


def variables(logic: Any) -> set[str]:
    """Field keys a rule reads, so callers can check them and know what it depends on."""
    found: set[str] = set()
    _collect_variables(logic, found)
    return found


def _collect_variables(logic: Any, found: set[str], depth: int = 1) -> None:
    if depth > MAX_DEPTH:   # refused by check_logic anyway; stop before Python's recursion limit
        return
    if isinstance(logic, (list, tuple)):
        for item in logic:
            _collect_variables(item, found, depth + 1)
        return
    if not isinstance(logic, Mapping) or len(logic) != 1:
        return
    op, args = next(iter(logic.items()))
    args = _as_args(args)
    if op == "var" and args and isinstance(args[0], str):
        if args[0]:
            found.add(args[0].split(".")[0])
        args = args[1:]
    elif op in _QUANTIFIERS:
        args = args[:1]   # the body reads the current item, not the record
    elif op in _NAMING_OPERATORS:
        found.update(_named_keys(op, args))
    for arg in args:
        _collect_variables(arg, found, depth + 1)


def _named_keys(op: str, args: list) -> set[str]:
    """`missing` and `missing_some` name fields as plain strings rather than through `var`."""
    names = args[1] if op == "missing_some" and len(args) > 1 else args
    if op == "missing" and len(args) == 1 and isinstance(args[0], (list, tuple)):
        names = args[0]
    if not isinstance(names, (list, tuple)):
        return set()
    return {n.split(".")[0] for n in names if isinstance(n, str) and n}


def _as_args(args: Any) -> list:
    return list(args) if isinstance(args, (list, tuple)) else [args]


def check_logic(logic: Any, known_vars: Collection[str]) -> Iterator[str]:
    """Every problem with a rule, as a sentence its author can act on."""
    yield from _structure_problems(logic)
    known = set(known_vars) | SPECIAL_VARIABLES
    for name in sorted(variables(logic) - known):
        yield _unknown_variable(name, known)


def _unknown_variable(name: str, known: Collection[str]) -> str:
    sentence = f"refers to {name!r}, which is not a field here"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"{sentence} (did you mean {close[0]!r}?)" if close else sentence


def _structure_problems(logic: Any, depth: int = 1, quantifiers: int = 0) -> Iterator[str]:
    if not isinstance(logic, (list, tuple, Mapping)):
        if logic is not None and not isinstance(logic, (str, int, float, bool)):
            yield f"contains a {type(logic).__name__} value, which is not JSON"
        return
    if depth > MAX_DEPTH:
        yield f"is nested more than {MAX_DEPTH} levels deep; split it into simpler rules"
        return
    if isinstance(logic, Mapping):
        yield from _operation_problems(logic, depth, quantifiers)
        return
    for item in logic:
        yield from _structure_problems(item, depth + 1, quantifiers)


def _operation_problems(logic: Mapping, depth: int, quantifiers: int) -> Iterator[str]:
    if len(logic) != 1:
        keys = ", ".join(repr(k) for k in logic) or "none"
        yield f"has an object with {len(logic)} keys ({keys}); a rule object has exactly one key, the operator"
        return
    op, args = next(iter(logic.items()))
    if op not in ALLOWED_OPERATORS:
        allowed = " ".join(sorted(ALLOWED_OPERATORS))
        yield f"uses the operator {op!r}, which is not allowed (allowed: {allowed})"
        return
    if op == "var" and not _is_field_name(args):
        yield "names a field with something other than its key; write the key as plain text, e.g. {\"var\": \"amount\"}"
    if op in _QUANTIFIERS:
        quantifiers += 1
        if quantifiers > MAX_QUANTIFIER_DEPTH:
            yield f"nests some/all/none more than {MAX_QUANTIFIER_DEPTH} deep"
            return
    for arg in _as_args(args):
        yield from _structure_problems(arg, depth + 1, quantifiers)


def _is_field_name(args: Any) -> bool:
    """A key written out (or "", the current item inside some/all/none), not computed."""
    args = _as_args(args)
    return not args or isinstance(args[0], str) or args[0] is None


#: id -> (rule, its first structure problem or None, the rule thawed), for frozen rules (the
#: model's): they cannot change, so a rule evaluated for every record of a batch is checked
#: and thawed once (JSON Logic's `apply` does not modify the rule it is given). The rule is
#: kept with its entry so its id cannot be reused while the entry lives.
_CHECKED: dict[int, tuple[Any, str | None, Any]] = {}
_CHECKED_MAX = 4096


def _checked(logic: Any) -> tuple[str | None, Any]:
    frozen = isinstance(logic, (MappingProxyType, tuple))
    if frozen:
        hit = _CHECKED.get(id(logic))
        if hit is not None and hit[0] is logic:
            return hit[1], hit[2]
    problem = next(_structure_problems(logic), None)
    thawed = thaw(logic) if problem is None else None
    if frozen:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[id(logic)] = (logic, problem, thawed)
    return problem, thawed


def evaluate(logic: Any, data: Mapping, *, plain: bool = False) -> Any:
    """The rule's value for `data`; raises ConditionError instead of anything else.
    `plain=True`: `data` already went through `plain_data` (one conversion for many rules)."""
    problem, rule = _checked(logic)
    if problem is not None:
        raise ConditionError(f"This condition {problem}")
    try:
        return apply(rule, data if plain else _plain(data), OPERATIONS)
    except Exception as exc:  # the library raises TypeError, ZeroDivisionError, ReferenceError...
        raise ConditionError(f"This condition could not be evaluated: {exc or type(exc).__name__}") from exc


def truthy(logic: Any, data: Mapping, *, plain: bool = False) -> bool:
    """JSON Logic truthiness of the rule; a rule that cannot be evaluated counts as false."""
    try:
        return to_bool(evaluate(logic, data, plain=plain))
    except ConditionError:
        return False


def plain_data(data: Mapping) -> dict:
    """`data` as rules see it, for evaluating several rules over the same values (plain=True)."""
    return _plain(data)


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """Record data as the browser sees it: JSON values only (dates as ISO text, decimals as numbers)."""
    if type(value) in _PLAIN_TYPES:           # most values; isinstance(value, Mapping) is slow to say no
        return value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
