"""Formula fields: a small spreadsheet-like language, parsed, never executed.

The source is parsed with `ast` in 'eval' mode and every node is checked against
a whitelist; evaluation walks that checked tree itself, so nothing the author
writes ever reaches eval/compile/exec. Arithmetic is Decimal (money is stored as
decimal text); a result that cannot be computed (division by zero, overflow,
text where a number belongs) is None, like an empty cell, and never an exception.
"""
from __future__ import annotations

import ast
import decimal
import graphlib
import operator
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Collection, Mapping, Sequence

MAX_SOURCE_LENGTH = 2000
MAX_STRING_LENGTH = 1000
MAX_DEPTH = 50
MAX_POWER = 10
#: Results (and intermediate values) beyond this are treated as "cannot compute".
MAX_MAGNITUDE = Decimal("1e18")
#: A text result longer than this cannot be computed (formula fields feeding each other could double it).
MAX_TEXT_RESULT = 10_000

Value = Decimal | int | str | bool | None

#: Function name -> (fewest, most) arguments; None = any number.
FUNCTION_ARITY: Mapping[str, tuple[int, int | None]] = {
    "round": (1, 2), "abs": (1, 1), "min": (1, None), "max": (1, None),
    "if_empty": (2, 2), "sum": (1, None), "len": (1, 1), "concat": (1, None),
    "upper": (1, 1), "lower": (1, 1), "days_between": (2, 2), "today": (0, 0),
}
#: Functions whose arguments may be a subtable column, written `table.column`.
COLUMN_FUNCTIONS = frozenset({"sum", "len"})

_CONTEXT = decimal.Context(prec=28, Emax=999_999, Emin=-999_999,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class FormulaError(ValueError):
    """A formula that cannot be accepted, with a sentence saying why."""


class _Undefined(Exception):
    """Internal: this value cannot be computed; the formula's result is None."""


# --- parsing -----------------------------------------------------------------

@dataclass(frozen=True)
class Formula:
    source: str
    variables: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any], today: date | None = None) -> Value:
        """The formula's value over a record's values; None when it cannot be computed."""
        scope = _Scope(values, today or date.today())
        try:
            with decimal.localcontext(_CONTEXT):
                return _result(scope.eval(self.tree))
        except (_Undefined, ArithmeticError, ValueError, TypeError):
            return None


def parse(source: str) -> Formula:
    """Check a formula and return it ready to evaluate; raises FormulaError."""
    if not isinstance(source, str):
        raise FormulaError("is not text")
    if len(source) > MAX_SOURCE_LENGTH:
        raise FormulaError(f"is {len(source)} characters long; formulas may have at most {MAX_SOURCE_LENGTH}")
    if not source.strip():
        raise FormulaError("is empty")
    tree = _parse_python(source)
    if _depth(tree) > MAX_DEPTH:
        raise FormulaError(f"is nested more than {MAX_DEPTH} levels deep; split it into simpler formulas")
    names: set[str] = set()
    _check(tree.body, names)
    return Formula(source, frozenset(names), tree.body)


def _parse_python(source: str) -> ast.Expression:
    """Python's parser, with its style warnings (e.g. "1if x else 2") silenced so that
    acceptance never depends on the process's warning filters."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f"at column {exc.offset}" if exc.offset else "near the end"
        if exc.lineno and exc.lineno > 1:
            where += f" of line {exc.lineno}"
        raise FormulaError(f"has a syntax error {where}") from None
    except (ValueError, MemoryError, RecursionError):
        raise FormulaError("cannot be read (it contains unusual characters or is nested too deeply)") from None


def _depth(tree: ast.AST) -> int:
    """Nesting depth without recursion, so that a hostile formula cannot exhaust the stack."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


_BIN_OPS: Mapping[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
                                ast.Mod: "%", ast.Pow: "**"}
_COMPARE_OPS: Mapping[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def _check(node: ast.AST, names: set[str]) -> None:
    """Refuse anything outside the grammar; collect the field keys it reads."""
    checker = _CHECKS.get(type(node))
    if checker is None:
        raise FormulaError(_refusal(node))
    checker(node, names)


def _refusal(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"uses attribute access ({node.attr!r}), which formulas do not allow"
    if isinstance(node, ast.Subscript):
        return "uses indexing (square brackets), which formulas do not allow"
    if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "defines a function or a loop, which formulas do not allow"
    if isinstance(node, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.FloorDiv, ast.MatMult)):
        return "uses an operator formulas do not have (use + - * / % and comparisons)"
    return f"uses syntax formulas do not allow ({type(node).__name__})"


def _check_constant(node: ast.Constant, names: set[str]) -> None:
    value = node.value
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise FormulaError(f"has a text of {len(value)} characters; at most {MAX_STRING_LENGTH} are allowed")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        if not _in_range(_decimal_of_literal(value)):
            raise FormulaError(f"uses a number larger than {MAX_MAGNITUDE:,.0f}, which formulas cannot compute with")
    else:
        raise FormulaError(f"uses the value {_short(node)}, which formulas do not allow")


def _decimal_of_literal(value: int | float) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 30 else text[:27] + "..."


def _check_name(node: ast.Name, names: set[str]) -> None:
    if node.id.startswith("_"):
        raise FormulaError(f"uses the name {node.id!r}; names starting with '_' are not allowed")
    names.add(node.id)


def _check_binop(node: ast.BinOp, names: set[str]) -> None:
    if type(node.op) not in _BIN_OPS:
        raise FormulaError(_refusal(node.op))
    if isinstance(node.op, ast.Pow) and not _small_exponent(node.right):
        raise FormulaError(f"raises to a power that is not a whole number from 0 to {MAX_POWER} written out")
    _check(node.left, names)
    _check(node.right, names)


def _small_exponent(node: ast.AST) -> bool:
    value = getattr(node, "value", None) if isinstance(node, ast.Constant) else None
    return type(value) is int and 0 <= value <= MAX_POWER


def _check_unary(node: ast.UnaryOp, names: set[str]) -> None:
    if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        raise FormulaError("uses the operator '~', which formulas do not allow")
    _check(node.operand, names)


def _check_children(node: ast.AST, names: set[str]) -> None:
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.boolop, ast.cmpop)):
            _check(child, names)


def _check_compare(node: ast.Compare, names: set[str]) -> None:
    for op in node.ops:
        if type(op) not in _COMPARE_OPS:
            raise FormulaError("uses 'in' or 'is', which formulas do not allow (use == and !=)")
    _check_children(node, names)


def _check_call(node: ast.Call, names: set[str]) -> None:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in FUNCTION_ARITY:
        called = name or ast.unparse(node.func)[:30]
        allowed = ", ".join(FUNCTION_ARITY)
        raise FormulaError(f"calls {called!r}, which is not an allowed function (allowed: {allowed})")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise FormulaError(f"passes named or unpacked arguments to {name!r}; write the values in order")
    fewest, most = FUNCTION_ARITY[name]
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        raise FormulaError(f"calls {name!r} with {len(node.args)} values; it takes {_arity_text(fewest, most)}")
    for arg in node.args:
        if name in COLUMN_FUNCTIONS and isinstance(arg, ast.Attribute):
            _check_column(arg, names)
        else:
            _check(arg, names)


def _arity_text(fewest: int, most: int | None) -> str:
    if most is None:
        return f"at least {fewest}"
    return f"{fewest}" if fewest == most else f"{fewest} or {most}"


def _check_column(node: ast.Attribute, names: set[str]) -> None:
    if not isinstance(node.value, ast.Name) or node.attr.startswith("_"):
        raise FormulaError(f"uses attribute access ({node.attr!r}), which formulas do not allow")
    _check_name(node.value, names)


_CHECKS: Mapping[type, Callable[[Any, set[str]], None]] = {
    ast.Constant: _check_constant, ast.Name: _check_name, ast.BinOp: _check_binop,
    ast.UnaryOp: _check_unary, ast.BoolOp: _check_children, ast.Compare: _check_compare,
    ast.IfExp: _check_children, ast.Call: _check_call,
}


# --- evaluation --------------------------------------------------------------

def _is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not value)


def _in_range(number: Decimal) -> bool:
    return number.is_finite() and abs(number) <= MAX_MAGNITUDE


def _number(value: Any) -> Decimal:
    """A value as a Decimal for arithmetic; empty is 0, text that is not a number cannot compute."""
    if _is_empty(value):
        return Decimal(0)
    number = _number_or_none(value)
    if number is None:
        raise _Undefined
    return number


def _number_or_none(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= 100:
        try:
            number = Decimal(value.strip())
        except decimal.InvalidOperation:
            return None
    else:
        return None
    if not _in_range(number):
        raise _Undefined
    return number


def _checked(number: Decimal) -> Decimal:
    if not _in_range(number):
        raise _Undefined
    return number


def _text(value: Any) -> str:
    if _is_empty(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return format(_number(value), "f")
    if isinstance(value, str):
        return value
    raise _Undefined


def _truth(value: Any) -> bool:
    if isinstance(value, (str, list, tuple)) or value is None:
        return bool(value)
    if isinstance(value, (bool, int, float, Decimal)):
        return bool(value)
    return True


def _arith(symbol: str, left: Any, right: Any) -> Decimal:
    a, b = _number(left), _number(right)
    if symbol in "/%" and b == 0:
        raise _Undefined
    result = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "%": operator.mod, "**": operator.pow}[symbol](a, b)
    return _checked(result)


def _compare(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    """Numbers (and numeric text, like money) compare as numbers; everything else as text."""
    a, b = _comparable_number(left), _comparable_number(right)
    if a is not None and b is not None:
        return op(a, b)
    if _is_empty(left) and b is not None:
        return op(Decimal(0), b)
    if _is_empty(right) and a is not None:
        return op(a, Decimal(0))
    return op(_text(left), _text(right))


def _comparable_number(value: Any) -> Decimal | None:
    return None if _is_empty(value) else _number_or_none(value)


def _result(value: Any) -> Value:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = _checked(_number(value))
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else value
    if isinstance(value, str) and len(value) > MAX_TEXT_RESULT:
        return None
    if isinstance(value, (list, tuple, Mapping)):
        return None
    return value


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and 8 <= len(value) <= 40:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return datetime.fromisoformat(value).date()
    raise _Undefined


def _column(rows: Any, column: str) -> list[Any]:
    if _is_empty(rows):
        return []
    if not isinstance(rows, (list, tuple)):
        raise _Undefined
    return [row.get(column) for row in rows if isinstance(row, Mapping)]


class _Scope:
    """One evaluation: the record's values and the day it runs on."""

    def __init__(self, values: Mapping[str, Any], today: date) -> None:
        self.values = values
        self.today = today

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            value = node.value
            return _decimal_of_literal(value) if type(value) in (int, float) else value
        if isinstance(node, ast.Name):
            return self.values.get(node.id)
        if isinstance(node, ast.BinOp):
            return _arith(_BIN_OPS[type(node.op)], self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BoolOp):
            return self.boolean(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if _truth(self.eval(node.test)) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise _Undefined  # unreachable after parse()

    def unary(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not _truth(value)
        return -_number(value) if isinstance(node.op, ast.USub) else _number(value)

    def boolean(self, node: ast.BoolOp) -> Any:
        want = isinstance(node.op, ast.Or)
        value = None
        for operand in node.values:
            value = self.eval(operand)
            if _truth(value) == want:
                return value
        return value

    def compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node)
            if not _compare(_COMPARE_OPS[type(op)], left, right):
                return False
            left = right
        return True

    def call(self, node: ast.Call) -> Any:
        name = node.func.id
        if name == "if_empty":
            return self.if_empty(node.args)
        args = [self.argument(arg) for arg in node.args]
        return _FUNCTIONS[name](self, *args)

    def argument(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Attribute):
            return _column(self.values.get(node.value.id), node.attr)
        return self.eval(node)

    def if_empty(self, args: Sequence[ast.AST]) -> Any:
        """The first value, or the second when the first is empty or cannot be computed."""
        try:
            value = self.eval(args[0])
        except (_Undefined, ArithmeticError):
            value = None
        return self.eval(args[1]) if _is_empty(value) else value


def _fn_round(scope: _Scope, value: Any, places: Any = 0) -> Decimal:
    digits = _number(places)
    if digits != digits.to_integral_value() or not 0 <= digits <= 10:
        raise _Undefined
    return _number(value).quantize(Decimal(1).scaleb(-int(digits)), rounding=decimal.ROUND_HALF_UP)


def _flatten(values: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, (list, tuple)) else [value])
    return flat


def _fn_sum(scope: _Scope, *values: Any) -> Decimal:
    total = Decimal(0)
    for value in _flatten(values):
        total = _checked(total + _number(value))
    return total


def _fn_len(scope: _Scope, value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return sum(1 for item in value if not _is_empty(item))
    return len(_text(value))


def _extreme(pick: Callable[..., Decimal]) -> Callable[..., Decimal | None]:
    def chosen(scope: _Scope, *values: Any) -> Decimal | None:
        numbers = [_number(v) for v in _flatten(values) if not _is_empty(v)]
        return pick(numbers) if numbers else None
    return chosen


def _fn_concat(scope: _Scope, *values: Any) -> str:
    text = "".join(_text(v) for v in values)
    if len(text) > MAX_TEXT_RESULT:
        raise _Undefined
    return text


def _fn_days_between(scope: _Scope, start: Any, end: Any) -> int:
    return (_as_date(end) - _as_date(start)).days


_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "round": _fn_round,
    "abs": lambda scope, value: abs(_number(value)),
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": _fn_sum,
    "len": _fn_len,
    "concat": _fn_concat,
    "upper": lambda scope, value: _text(value).upper(),
    "lower": lambda scope, value: _text(value).lower(),
    "days_between": _fn_days_between,
    "today": lambda scope: scope.today.isoformat(),
}


# --- dependencies between formula fields -------------------------------------

def find_cycles(deps: Mapping[str, Collection[str]]) -> list[list[str]]:
    """Formula fields that depend on themselves, each as a path ending where it starts."""
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, str] = {}   # "active" while on the current path, "done" after

    def visit(key: str, path: list[str]) -> None:
        state[key] = "active"
        path.append(key)
        for target in sorted(t for t in deps[key] if t in deps):
            if state.get(target) == "active":
                cycle = path[path.index(target):] + [target]
                canonical = _rotation_key(cycle[:-1])
                if canonical not in seen:
                    seen.add(canonical)
                    cycles.append(cycle)
            elif target not in state:
                visit(target, path)
        path.pop()
        state[key] = "done"

    for key in sorted(deps):
        if key not in state:
            visit(key, [])
    return cycles


def _rotation_key(loop: list[str]) -> tuple[str, ...]:
    start = loop.index(min(loop))
    return tuple(loop[start:] + loop[:start])


def evaluation_order(deps: Mapping[str, Collection[str]]) -> list[str]:
    """Formula fields ordered so each comes after the formula fields it reads."""
    graph = {key: sorted(t for t in deps[key] if t in deps) for key in sorted(deps)}
    return list(graphlib.TopologicalSorter(graph).static_order())
