"""Rule message templates: sandboxed Jinja over {record, app, entity, rule, link}.

Only rule messages and subjects (and create_record values) are templates;
labels are data and never pass through here. The Jinja sandbox stops attribute
escapes (`''.__class__`), but not work: `'a' * 10**9`, `range` loops or
`center(10**9)` would still stall a worker. So a template is also checked
against a small grammar (output, if, for over data, filters from a list, no
calls, no `**` or `%`) before it is compiled, and its output is capped. Work that
prints nothing (a loop in a loop over a long text) is bounded too: every loop
step spends from a per-render budget of MAX_STEPS, and a render that runs out
stops with a TemplateError.
Autoescape is off: these are plain-text messages, escaped when shown as HTML.
"""
from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Iterator, Mapping

from jinja2 import ChainableUndefined, Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from formloom.frozen import thaw

MAX_OUTPUT_LENGTH = 10_000
MAX_SOURCE_LENGTH = 10_000
MAX_LOOP_DEPTH = 2
#: Loop iterations one render may take, all loops together (a loop over 100 subtable rows
#: of 50 cells is 5,100 steps; a loop in a loop over a 10,000-character text would be 10**8).
MAX_STEPS = 50_000
STEP_FILTER = "_formloom_step"        # wraps every loop's iterable; not a name templates can use

#: Filters that do bounded work on bounded input (no widths, repeats or replacements to blow up).
ALLOWED_FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "filesizeformat", "first", "float", "int",
    "join", "last", "length", "list", "lower", "max", "min", "reverse", "round", "sort",
    "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "wordcount",
})

_EXPRESSIONS = (nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Filter,
                nodes.Test, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not,
                nodes.CondExpr, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
                nodes.FloorDiv, nodes.Neg, nodes.Pos, nodes.List, nodes.Tuple, nodes.Keyword)
_STATEMENTS = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.For)


class TemplateError(ValueError):
    """A message template that cannot be used or could not be rendered."""


class _MessageEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` refusing to repeat text or lists (the one operator left that could)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator != "*" or isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            raise SecurityError(f"the operator {operator!r} is not allowed here")
        return super().call_binop(context, operator, left, right)


class _Budget:
    def __init__(self, steps: int):
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TemplateError(f"stopped after {MAX_STEPS} loop steps; loop over less data "
                                f"(for example |truncate or |first)")


_BUDGET: ContextVar[_Budget | None] = ContextVar("formloom_template_budget", default=None)


def _counted(iterable: Any) -> Iterator[Any]:
    """The loop's items, each one step of the render's budget."""
    budget = _BUDGET.get()
    for item in iterable:
        if budget is not None:
            budget.spend()
        yield item


_ENV = _MessageEnvironment(autoescape=False, undefined=ChainableUndefined)
_ENV.filters[STEP_FILTER] = _counted


def check_template(source: str) -> str | None:
    """None when the template is usable, else a sentence saying what to change."""
    try:
        _compile(source)
    except TemplateError as exc:
        return str(exc)
    return None


def render(source: str, context: Mapping[str, Any], *, thawed: bool = False) -> str:
    """The message text; undefined values print as nothing, anything refused raises TemplateError.
    `thawed`: the caller already made `context` plain (several messages of one firing share
    one: the sandbox is immutable, so no template can change it for the next)."""
    template = _compile(source)
    plain = context if thawed else thaw(context)
    fast = _lookup_render(_lookups(source), plain)
    if fast is not None:
        return fast
    token = _BUDGET.set(_Budget(MAX_STEPS))
    try:
        return _capped(template.generate(plain))
    except Exception as exc:  # sandbox refusals, undefined arithmetic, filters given odd data, the budget
        raise TemplateError(f"could not be rendered: {exc}") from exc
    finally:
        _BUDGET.reset(token)


_MISSING = object()


def lookup_paths(source: Any) -> frozenset[tuple[str, ...]] | None:
    """The `name.key...` paths a lookup-only template prints (see `_lookups`), or None when
    it is anything else or unusable. Callers skip building context nobody reads."""
    try:
        _compile(source)
    except TemplateError:
        return None
    parts = _lookups(source)
    return None if parts is None else frozenset(p for p in parts if type(p) is tuple)


@lru_cache(maxsize=256)
def _lookups(source: str) -> tuple | None:
    """Text and `{{ name.key.key }}` lookups, in order, when that is all the template is
    (most rule messages: "Proposal waiting: {{ record.name }}"); else None. Such a template
    needs no Jinja at render time, which was about a third of a reminder's cost. Called only
    after `_compile` accepted the source, so the grammar check still applies."""
    parts: list = []
    for output in _ENV.parse(source).body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
                continue
            path: list[str] = []
            while isinstance(node, nodes.Getattr):
                path.append(node.attr)
                node = node.node
            if not isinstance(node, nodes.Name) or any(hasattr(dict, attr) for attr in path):
                return None            # a dict method's name would be Jinja's attribute, not the key
            parts.append((node.name, *reversed(path)))
    return tuple(parts)


def _lookup_render(parts: tuple | None, context: Mapping[str, Any]) -> str | None:
    """What Jinja would print for `parts` over plain `context`, or None to let Jinja decide
    (a name the context lacks may be a Jinja global; attributes of anything but a dict)."""
    if parts is None:
        return None
    out: list[str] = []
    for part in parts:
        if type(part) is str:
            out.append(part)
            continue
        value = context.get(part[0], _MISSING)
        if value is _MISSING:
            return None
        for key in part[1:]:
            if type(value) is not dict:
                return None
            value = value.get(key, _MISSING)
            if value is _MISSING:
                break                  # undefined, and so is anything after it: prints nothing
        if value is not _MISSING:
            out.append(str(value))
    return "".join(out)[:MAX_OUTPUT_LENGTH]


def _capped(chunks: Iterator[str]) -> str:
    """Stop generating once the cap is reached, so a long loop ends early."""
    parts: list[str] = []
    length = 0
    for chunk in chunks:
        parts.append(chunk)
        length += len(chunk)
        if length >= MAX_OUTPUT_LENGTH:
            break
    return "".join(parts)[:MAX_OUTPUT_LENGTH]


def _compile(source: str) -> Template:
    if not isinstance(source, str):
        raise TemplateError("is not text")
    return _compile_text(source)


@lru_cache(maxsize=256)
def _compile_text(source: str) -> Template:
    if len(source) > MAX_SOURCE_LENGTH:
        raise TemplateError(f"is {len(source)} characters long; templates may have at most {MAX_SOURCE_LENGTH}")
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"has a syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateError("is nested too deeply") from None
    problem = next(_problems(tree, 0), None)
    if problem:
        raise TemplateError(problem)
    for loop in tree.find_all(nodes.For):      # every loop step is counted (see _counted)
        loop.iter = nodes.Filter(loop.iter, STEP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
    return _ENV.from_string(tree)


def _problems(node: nodes.Node, loops: int) -> Iterator[str]:
    if not isinstance(node, _STATEMENTS + _EXPRESSIONS):
        yield _refusal(node)
        return
    if isinstance(node, (nodes.Getattr)) and node.attr.startswith("_"):
        yield f"uses the attribute {node.attr!r}; names starting with '_' are not allowed"
        return
    if isinstance(node, (nodes.Filter, nodes.Test)) and (node.dyn_args or node.dyn_kwargs):
        yield "passes unpacked arguments (* or **) to a filter"
        return
    if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
        yield f"uses the filter {node.name!r}, which is not allowed (allowed: {', '.join(sorted(ALLOWED_FILTERS))})"
        return
    if isinstance(node, nodes.For):
        loops += 1
        if node.recursive or loops > MAX_LOOP_DEPTH:
            yield f"nests loops more than {MAX_LOOP_DEPTH} deep or loops recursively"
            return
    for child in node.iter_child_nodes():
        yield from _problems(child, loops)


def _refusal(node: nodes.Node) -> str:
    if isinstance(node, nodes.Call):
        return "calls a function; message templates may use filters such as |upper but no calls"
    if isinstance(node, (nodes.Pow, nodes.Mod)):
        return "uses ** or %, which message templates do not allow"
    return f"uses '{type(node).__name__}', which message templates do not allow (use {{{{ }}}}, if and for)"
