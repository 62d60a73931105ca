"""Formulas as business users write them in a spreadsheet: `=IF(amount > 100000, "A", "B")`,
`AND(...)`, `a & b`, `<>`, `=`, `^`, TRUE/FALSE, function names in any case, full-width
commas and brackets. Read by a small hand-written parser into the same `ast` tree that
formulas.py checks and evaluates; nothing here runs anything.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .formulas import FUNCTIONS, MAX_DEPTH, FormulaError

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<string>"(?:[^"]|"")*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[^\W\d]\w*(?:\.[^\W\d]\w*)?)
  | (?P<op><>|<=|>=|==|!=|[-+*/^&%=<>(),;])
""", re.X)
_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "，": ",", "；": ";", "＜": "<", "＞": ">", "＝": "=",
                             "“": '"', "”": '"', "＆": "&", "＋": "+", "－": "-", "＊": "*", "／": "/"})
_COMPARE = {"=": ast.Eq, "==": ast.Eq, "<>": ast.NotEq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE,
            ">": ast.Gt, ">=": ast.GtE}
_ADD = {"+": ast.Add, "-": ast.Sub}
_MUL = {"*": ast.Mult, "/": ast.Div, "%": ast.Mod}
_BY_NAME = {**{f.name.upper(): f for f in FUNCTIONS.values()}, **{f.excel.upper(): f for f in FUNCTIONS.values()}}
#: signs that a formula was written the spreadsheet way (so its errors are reported that way)
_EXCELISH = re.compile(r'^\s*=|&|<>|\^|(?<![=!<>])=(?!=)|\b(?:TRUE|FALSE)\b|\b[A-Z][A-Z_]*\s*[(（]')


def looks_like_excel(source: str) -> bool:
    return bool(_EXCELISH.search(source.translate(_FULL_WIDTH)))


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    column: int          # 1-based, in the source as typed


def _tokens(source: str) -> list[_Tok]:
    text = source.translate(_FULL_WIDTH)
    out, pos = [], 0
    if text.lstrip().startswith("="):
        pos = text.index("=") + 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FormulaError(f"has a character formulas do not use ({text[pos]!r}) at column {pos + 1}", pos + 1)
        if match.lastgroup != "space":
            out.append(_Tok(match.lastgroup, match.group(), pos + 1))
        pos = match.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


def parse_excel(source: str) -> ast.expr:
    """The formula's tree; raises FormulaError with the column of the problem."""
    parser = _Parser(_tokens(source))
    tree = parser.expression()
    if parser.peek.kind != "end":
        parser.fail(f"has something unexpected at column {parser.peek.column} ({parser.peek.text!r})")
    return ast.fix_missing_locations(tree)


class _Parser:
    """Precedence, lowest first: comparisons, &, + -, * / %, ^, unary -, then values."""

    def __init__(self, tokens: list[_Tok]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    @property
    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, column: int | None = None):
        raise FormulaError(message, column or self.peek.column)

    def expect(self, text: str) -> None:
        tok = self.peek
        if tok.text not in (text, ";" if text == "," else text):
            found = "the end" if tok.kind == "end" else repr(tok.text)
            self.fail(f"has a syntax error at column {tok.column}: expected {text!r}, found {found}")
        self.take()

    def expression(self) -> ast.expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"is nested more than {MAX_DEPTH} levels deep; split it into simpler formulas")
        try:
            return self.comparison()
        finally:
            self.depth -= 1

    def comparison(self) -> ast.expr:
        left = self.concatenation()
        while self.peek.text in _COMPARE:
            op = _COMPARE[self.take().text]()
            left = ast.Compare(left=left, ops=[op], comparators=[self.concatenation()])
        return left

    def concatenation(self) -> ast.expr:
        parts = [self.additive()]
        while self.peek.text == "&":
            self.take()
            parts.append(self.additive())
        if len(parts) == 1:
            return parts[0]
        return ast.Call(func=ast.Name(id="concat", ctx=ast.Load()), args=parts, keywords=[])

    def additive(self) -> ast.expr:
        return self.left_to_right(_ADD, self.multiplicative)

    def multiplicative(self) -> ast.expr:
        return self.left_to_right(_MUL, self.power)

    def power(self) -> ast.expr:
        return self.left_to_right({"^": ast.Pow}, self.unary)

    def left_to_right(self, ops: dict, operand) -> ast.expr:
        left = operand()
        while self.peek.text in ops:
            op = ops[self.take().text]()
            left = ast.BinOp(left=left, op=op, right=operand())
        return left

    def unary(self) -> ast.expr:
        if self.peek.text in ("-", "+"):
            op = ast.USub() if self.take().text == "-" else ast.UAdd()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"is nested more than {MAX_DEPTH} levels deep; split it into simpler formulas")
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if isinstance(op, ast.USub) and isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
                return ast.Constant(-operand.value)
            return ast.UnaryOp(op=op, operand=operand)
        return self.value()

    def value(self) -> ast.expr:
        tok = self.take()
        if tok.kind == "number":
            number = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            if isinstance(number, float) and number != number or number in (float("inf"), float("-inf")):
                self.fail(f"uses a number too large at column {tok.column}", tok.column)
            return ast.Constant(number)
        if tok.kind == "string":
            return ast.Constant(_string(tok.text))
        if tok.kind == "name":
            if self.peek.text == "(":
                return self.call(tok)
            if tok.text.upper() in ("TRUE", "FALSE") and "." not in tok.text:
                return ast.Constant(tok.text.upper() == "TRUE")
            if "." in tok.text:
                table, column = tok.text.split(".", 1)
                return ast.Attribute(value=ast.Name(id=table, ctx=ast.Load()), attr=column, ctx=ast.Load())
            return ast.Name(id=tok.text, ctx=ast.Load())
        if tok.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        found = "the end" if tok.kind == "end" else repr(tok.text)
        self.fail(f"has a syntax error at column {tok.column}: expected a value, found {found}", tok.column)

    def call(self, name: _Tok) -> ast.expr:
        self.take()                                    # "("
        args: list[ast.expr] = []
        if self.peek.text != ")":
            args.append(self.expression())
            while self.peek.text in (",", ";"):
                self.take()
                args.append(self.expression())
        self.expect(")")
        fn = _BY_NAME.get(name.text.upper())
        if fn is None:
            allowed = ", ".join(f.excel for f in FUNCTIONS.values())
            self.fail(f"calls {name.text!r} at column {name.column}, which is not a formula function "
                      f"(functions: {allowed})", name.column)
        if len(args) < fn.fewest or (fn.most is not None and len(args) > fn.most):
            most = "or more" if fn.most is None else (f"to {fn.most}" if fn.most != fn.fewest else "")
            self.fail(f"calls {fn.excel} at column {name.column} with {len(args)} values; it takes "
                      f"{fn.fewest} {most}".rstrip(), name.column)
        return _syntax(fn.name, args)


def _syntax(name: str, args: list[ast.expr]) -> ast.expr:
    """IF, AND, OR and NOT as the tree's own nodes; other functions as calls by today's name."""
    if name == "if":
        return ast.IfExp(test=args[0], body=args[1], orelse=args[2] if len(args) > 2 else ast.Constant(False))
    if name in ("and", "or"):
        joined = args[0] if len(args) == 1 else ast.BoolOp(op=ast.And() if name == "and" else ast.Or(), values=args)
        return ast.UnaryOp(op=ast.Not(), operand=ast.UnaryOp(op=ast.Not(), operand=joined))   # TRUE or FALSE
    if name == "not":
        return ast.UnaryOp(op=ast.Not(), operand=args[0])
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])


def _string(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return re.sub(r"\\(.)", r"\1", token[1:-1])
