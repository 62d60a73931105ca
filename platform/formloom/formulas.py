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
from functools import cached_property, lru_cache
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

_CONTEXT = decimal.Context(prec=28, Emax=999_999, Emin=-999_999,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class FormulaError(ValueError):
    """A formula that cannot be accepted, with a sentence saying why; `column` (1-based), when
    known, is where in the source the problem is."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


class _Undefined(Exception):
    """Internal: this value cannot be computed; the formula's result is None."""


# --- parsing -----------------------------------------------------------------

@dataclass(frozen=True)
class Formula:
    source: str
    variables: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)

    @cached_property
    def _compiled(self) -> Callable[["_Scope"], Any]:
        """The tree as nested closures, built once: a formula runs for every record written."""
        return _compile(self.tree)

    def evaluate(self, values: Mapping[str, Any], today: date | None = None) -> Value:
        """The formula's value over a record's values; None when it cannot be computed."""
        scope = _Scope(values, today or date.today())
        try:
            with decimal.localcontext(_CONTEXT):
                return _result(self._compiled(scope))
        except (_Undefined, ArithmeticError, ValueError, TypeError):
            return None


def parse(source: str) -> Formula:
    """Check a formula and return it ready to evaluate; raises FormulaError.

    Two spellings are accepted: today's (`x if cond else y`, `and`, `concat(a, b)`) and the
    spreadsheet one business users write (`IF(cond, x, y)`, `AND(...)`, `a & b`, `<>`, `=`).
    Both become the same checked tree, evaluated by `_Scope` below; a source that is not
    valid in the first is read as the second (formula_excel.py)."""
    if not isinstance(source, str):
        raise FormulaError("is not text")
    if len(source) > MAX_SOURCE_LENGTH:
        raise FormulaError(f"is {len(source)} characters long; formulas may have at most {MAX_SOURCE_LENGTH}")
    if not source.strip():
        raise FormulaError("is empty")
    python = None
    try:
        python = _parse_python(source)
        return _checked_formula(source, python.body)
    except FormulaError as first:
        if python is not None and _has_keywords(python):
            raise                  # round(x, n=2): named arguments, not a comparison
        from .formula_excel import looks_like_excel, parse_excel
        try:
            tree = parse_excel(source)
        except FormulaError as second:
            raise (second if looks_like_excel(source) else first) from None
        try:
            return _checked_formula(source, tree)
        except FormulaError as second:
            raise (second if looks_like_excel(source) else first) from None


def _has_keywords(tree: ast.AST) -> bool:
    """A call of one of today's functions with `name=value`: Python's reading (named arguments) wins."""
    return any(isinstance(node, ast.Call) and node.keywords and isinstance(node.func, ast.Name)
               and node.func.id in FUNCTION_ARITY for node in ast.walk(tree))


def _checked_formula(source: str, tree: ast.expr) -> Formula:
    if _depth(tree) > MAX_DEPTH:
        raise FormulaError(f"is nested more than {MAX_DEPTH} levels deep; split it into simpler formulas")
    names: set[str] = set()
    _check(tree, names)
    return Formula(source, frozenset(names), tree)


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
        raise FormulaError(f"has a syntax error {where}", exc.offset if exc.lineno == 1 else None) from None
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


@lru_cache(maxsize=4096, typed=True)      # typed: 1 and 1.0 are different literals
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


_NEG_MAGNITUDE = -MAX_MAGNITUDE


def _in_range(number: Decimal) -> bool:
    return number.is_finite() and _NEG_MAGNITUDE <= number <= MAX_MAGNITUDE


def _number(value: Any) -> Decimal:
    """A value as a Decimal for arithmetic; empty is 0, text that is not a number cannot compute."""
    kind = type(value)
    if kind is Decimal or kind is int:      # most operands: no emptiness or text checks to make
        number = value if kind is Decimal else Decimal(value)
        if not _in_range(number):
            raise _Undefined
        return number
    if _is_empty(value):
        return Decimal(0)
    number = _number_or_none(value)
    if number is None:
        raise _Undefined
    return number


def _number_or_none(value: Any) -> Decimal | None:
    if type(value) is Decimal:          # the common case (formulas over formulas, literals): no conversion
        if not _in_range(value):
            raise _Undefined
        return value
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


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "%": operator.mod, "**": operator.pow}


def _arith(symbol: str, left: Any, right: Any) -> Decimal:
    a, b = _number(left), _number(right)
    if symbol in "/%" and b == 0:
        raise _Undefined
    return _checked(_ARITH[symbol](a, b))


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
        step = _EVAL.get(type(node))           # one look-up per node, not a chain of isinstance
        if step is None:
            raise _Undefined  # unreachable after parse()
        return step(self, node)

    def constant(self, node: ast.Constant) -> Any:
        value = node.value
        return _decimal_of_literal(value) if type(value) in (int, float) else value

    def name(self, node: ast.Name) -> Any:
        return self.values.get(node.id)

    def binop(self, node: ast.BinOp) -> Any:
        return _arith(_BIN_OPS[type(node.op)], self.eval(node.left), self.eval(node.right))

    def ifexp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if _truth(self.eval(node.test)) else self.eval(node.orelse)

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


def _compile(node: ast.AST) -> Callable[[_Scope], Any]:
    """A closure computing `node` exactly as `_Scope.eval` would (the same helpers, in the same
    order); node kinds other than the arithmetic and comparison ones defer to `_Scope`."""
    kind = type(node)
    if kind is ast.Constant:
        value = node.value
        if type(value) in (int, float):
            value = _decimal_of_literal(value)
        return lambda scope: value
    if kind is ast.Name:
        key = node.id
        return lambda scope: scope.values.get(key)
    if kind is ast.BinOp:
        symbol, left, right = _BIN_OPS[type(node.op)], _compile(node.left), _compile(node.right)
        return lambda scope: _arith(symbol, left(scope), right(scope))
    if kind is ast.IfExp:
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda scope: body(scope) if _truth(test(scope)) else orelse(scope)
    if kind is ast.Compare:
        first = _compile(node.left)
        steps = [(_COMPARE_OPS[type(op)], _compile(right)) for op, right in zip(node.ops, node.comparators)]

        def compare(scope: _Scope) -> bool:
            left = first(scope)
            for op, right_of in steps:
                right = right_of(scope)
                if not _compare(op, left, right):
                    return False
                left = right
            return True
        return compare
    return lambda scope: scope.eval(node)


_EVAL: Mapping[type, Callable[[_Scope, Any], Any]] = {
    ast.Constant: _Scope.constant, ast.Name: _Scope.name, ast.BinOp: _Scope.binop, ast.UnaryOp: _Scope.unary,
    ast.BoolOp: _Scope.boolean, ast.Compare: _Scope.compare, ast.IfExp: _Scope.ifexp, ast.Call: _Scope.call,
}


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


def _fn_text(scope: _Scope, value: Any, pattern: Any) -> str:
    """TEXT(value, format) for the formats people use: 0, 0.00, #,##0.00, 0% and dates (yyyy-mm-dd...)."""
    pattern = _text(pattern)
    if not 0 < len(pattern) <= 40:
        raise _Undefined
    if any(part in pattern.lower() for part in ("yy", "mm", "dd")):
        day = _as_date(value)
        out = pattern
        for token, text in (("yyyy", f"{day.year:04d}"), ("YYYY", f"{day.year:04d}"), ("yy", f"{day.year % 100:02d}"),
                            ("YY", f"{day.year % 100:02d}"), ("mm", f"{day.month:02d}"), ("MM", f"{day.month:02d}"),
                            ("dd", f"{day.day:02d}"), ("DD", f"{day.day:02d}")):
            out = out.replace(token, text)
        return out
    if not set(pattern) <= set("0#,.%"):
        raise _Undefined
    number = _number(value)
    percent = pattern.endswith("%")
    if percent:
        number, pattern = number * 100, pattern[:-1]
    places = len(pattern.split(".", 1)[1]) if "." in pattern else 0
    number = number.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
    text = format(number, f"{',' if ',' in pattern else ''}.{places}f")
    return text + ("%" if percent else "")


def _fn_datedif(scope: _Scope, start: Any, end: Any, unit: Any = "D") -> int:
    """Whole days, months or years from `start` to `end` (Excel's DATEDIF; "D", "M" or "Y")."""
    first, last = _as_date(start), _as_date(end)
    if last < first:
        raise _Undefined
    unit = _text(unit).upper()
    if unit == "D":
        return (last - first).days
    months = (last.year - first.year) * 12 + last.month - first.month - (last.day < first.day)
    if unit == "M":
        return months
    if unit == "Y":
        return months // 12
    raise _Undefined


@dataclass(frozen=True)
class FunctionDef:
    """A formula function: how today's syntax (`name`) and the spreadsheet syntax (`excel`) call it,
    how many values it takes, a one-line help in every language and an example. The palette, the
    docs and the checker all read this table. `impl` None: the function is syntax (IF, AND, OR,
    NOT), turned into the tree's own nodes when read."""

    name: str
    excel: str
    fewest: int
    most: int | None
    help: Mapping[str, str]
    example: str
    impl: Callable[..., Any] | None = None
    columns: bool = False            # takes a subtable column, written table.column

    def signature(self) -> str:
        return f"{self.excel}({', '.join(['…'] * min(self.fewest or (1 if self.most else 0), 3))})"


FUNCTIONS: dict[str, FunctionDef] = {}


def register_function(fn: FunctionDef) -> FunctionDef:
    if fn.name in FUNCTIONS or any(f.excel == fn.excel for f in FUNCTIONS.values()):
        raise ValueError(f"duplicate formula function {fn.name!r}")
    FUNCTIONS[fn.name] = fn
    return fn


def _h(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


for _fn in (
    FunctionDef("if", "IF", 2, 3, _h("The second value when the condition holds, else the third.",
                                     "条件成立时取第二个值，否则取第三个值。"), 'IF(amount > 100000, "A", "B")'),
    FunctionDef("and", "AND", 1, None, _h("True when every condition holds.", "所有条件都成立时为真。"),
                'AND(amount > 0, status = "open")'),
    FunctionDef("or", "OR", 1, None, _h("True when any condition holds.", "任一条件成立时为真。"),
                'OR(priority = "high", amount > 50000)'),
    FunctionDef("not", "NOT", 1, 1, _h("True when the condition does not hold.", "条件不成立时为真。"),
                "NOT(done)"),
    FunctionDef("sum", "SUM", 1, None, _h("The total of the values, or of a subtable column.",
                                          "各值之和，或子表某列之和。"), "SUM(lines.amount)", _fn_sum, True),
    FunctionDef("round", "ROUND", 1, 2, _h("The number rounded to the given decimal places (half up).",
                                           "按指定小数位四舍五入。"), "ROUND(amount * 0.13, 2)", _fn_round),
    FunctionDef("abs", "ABS", 1, 1, _h("The number without its sign.", "数字的绝对值。"), "ABS(balance)",
                lambda scope, value: abs(_number(value))),
    FunctionDef("min", "MIN", 1, None, _h("The smallest of the values.", "各值中最小的。"), "MIN(budget, 5000)",
                _extreme(min)),
    FunctionDef("max", "MAX", 1, None, _h("The largest of the values.", "各值中最大的。"), "MAX(score, 0)",
                _extreme(max)),
    FunctionDef("len", "LEN", 1, 1, _h("The number of characters, or of filled rows of a subtable column.",
                                       "字符数，或子表某列已填的行数。"), "LEN(name)", _fn_len, True),
    FunctionDef("concat", "CONCATENATE", 1, None, _h("The texts joined; a & b does the same.",
                                                     "把文本连接起来；a & b 效果相同。"),
                'CONCATENATE(code, " - ", name)', _fn_concat),
    FunctionDef("upper", "UPPER", 1, 1, _h("The text in capitals.", "文本转为大写。"), "UPPER(code)",
                lambda scope, value: _text(value).upper()),
    FunctionDef("lower", "LOWER", 1, 1, _h("The text in small letters.", "文本转为小写。"), "LOWER(email)",
                lambda scope, value: _text(value).lower()),
    FunctionDef("text", "TEXT", 2, 2, _h("A number or date as text in a format: 0.00, #,##0, 0%, yyyy-mm-dd.",
                                         "按格式把数字或日期转为文本：0.00、#,##0、0%、yyyy-mm-dd。"),
                'TEXT(amount, "#,##0.00")', _fn_text),
    FunctionDef("today", "TODAY", 0, 0, _h("Today's date.", "今天的日期。"), "TODAY()",
                lambda scope: scope.today.isoformat()),
    FunctionDef("datedif", "DATEDIF", 2, 3, _h('Whole days ("D"), months ("M") or years ("Y") between two dates.',
                                               '两个日期之间的整天数（"D"）、月数（"M"）或年数（"Y"）。'),
                'DATEDIF(start_date, TODAY(), "D")', _fn_datedif),
    FunctionDef("days_between", "DAYS_BETWEEN", 2, 2, _h("Days from the first date to the second.",
                                                         "从第一个日期到第二个日期的天数。"),
                "DAYS_BETWEEN(created, due)", _fn_days_between),
    FunctionDef("if_empty", "IF_EMPTY", 2, 2, _h("The first value, or the second when the first is empty.",
                                                 "第一个值；为空时取第二个值。"), "IF_EMPTY(discount, 0)"),
):
    register_function(_fn)
#: today's functions keep their order (messages list them); the spreadsheet-only ones follow
_ORDER = ("if", "and", "or", "not", "round", "abs", "min", "max", "if_empty", "sum", "len", "concat", "upper",
          "lower", "days_between", "today", "text", "datedif")
FUNCTIONS = {name: FUNCTIONS[name] for name in _ORDER} | FUNCTIONS

#: Function name -> (fewest, most) arguments, for the functions today's syntax calls by name.
FUNCTION_ARITY: Mapping[str, tuple[int, int | None]] = {
    f.name: (f.fewest, f.most) for f in FUNCTIONS.values() if f.impl is not None or f.name == "if_empty"}
#: Functions whose arguments may be a subtable column, written `table.column`.
COLUMN_FUNCTIONS = frozenset(f.name for f in FUNCTIONS.values() if f.columns)
_FUNCTIONS: Mapping[str, Callable[..., Any]] = {f.name: f.impl for f in FUNCTIONS.values() if f.impl is not None}


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
