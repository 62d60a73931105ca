"""The condition builder: JSON Logic shown and edited as rows (field, operator, value)
in all/any groups, for any designer page that stores a condition.

Interface (docs/designer.md, "The condition builder"):

- `builder_fields(entity_doc, lang)` -> the `BuilderField`s a condition may test
  (a page may add its own, e.g. a workflow's stage, as `BuilderField`s too);
- `to_builder(logic, fields)` -> a `Group` tree, or None when the builder cannot
  represent the rule (it is then shown read-only as JSON, editable as JSON);
- `from_form(form, prefix, fields, gettext=...)` -> (logic, problems): what the
  macro `condition_builder` (templates/designer/_condition_builder.html) posted
  under `prefix`, with every problem located at the input it concerns;
- `view(prefix, fields, logic, form=None)` -> what the macro renders.

Operators come from `OPERATORS`, a registry whose entries write only operators
conditions.py allows, so the builder never writes a rule the engine refuses. The
design layer names no field type: a field's value kind is read from its type's
`sql_kind`, its options and whether it links to records.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable, Mapping

from ..conditions import ALLOWED_OPERATORS, check_logic
from ..registry import Registry

#: value kinds: how a value is typed in a row and which operators apply
KINDS = ("text", "number", "date", "datetime", "bool", "choice", "choices", "id", "ids", "other")
#: groups inside the top group: one level (all of: ..., any of: ...)
MAX_NESTING = 1
ROOT = "root"


def _english(msgid: str, **params: Any) -> str:
    return msgid % params if params else msgid


@dataclass(frozen=True)
class BuilderField:
    """Something a condition can test: a field key (or a special variable), its label in the
    reader's language, its value kind, and (value, label) options for the kinds that have them."""

    key: str
    label: str
    kind: str
    options: tuple[tuple[Any, str], ...] = ()
    picker: str = ""        # what an id names: an entity key, or "$user" (the web layer offers people)


@dataclass(frozen=True)
class Operator:
    """One operator of the builder: the JSON Logic it writes (`logic`), the value kinds it is offered
    for, and how many values it takes ("none", "one", "many"). `reversed`: the value comes first
    (`{"in": [value, {"var": key}]}`, "contains")."""

    name: str
    logic: str
    label: Mapping[str, str]
    kinds: frozenset[str]
    arity: str = "one"
    reversed: bool = False

    def build(self, key: str, value: Any) -> dict:
        var = {"var": key}
        if self.arity == "none":
            return {self.logic: var}
        return {self.logic: [value, var] if self.reversed else [var, value]}

    def match(self, logic: Any) -> tuple[str, Any] | None:
        """(field key, value) when `logic` is exactly what `build` writes, else None."""
        if not isinstance(logic, Mapping) or len(logic) != 1 or self.logic not in logic:
            return None
        args = logic[self.logic]
        if self.arity == "none":
            key = _var_key(args[0] if isinstance(args, list) and len(args) == 1 else args)
            return (key, None) if key is not None else None
        if not isinstance(args, list) or len(args) != 2:
            return None
        var, value = (args[1], args[0]) if self.reversed else (args[0], args[1])
        key = _var_key(var)
        if key is None or isinstance(value, Mapping):
            return None
        if self.arity == "many" and not (isinstance(value, list) and all(_scalar(v) for v in value)):
            return None
        if self.arity == "one" and not _scalar(value):
            return None
        return key, value

    def text(self, lang: str) -> str:
        return self.label.get(lang) or self.label["en"]


OPERATORS: Registry[Operator] = Registry("condition operator")


def register_operator(op: Operator) -> Operator:
    """Add an operator to the builder; it may write only an operator the engine allows."""
    if op.logic not in ALLOWED_OPERATORS:
        raise ValueError(f"{op.logic!r} is not an operator conditions.py allows")
    if not op.kinds <= set(KINDS):
        raise ValueError(f"unknown value kinds {sorted(op.kinds - set(KINDS))}")
    return OPERATORS.add(op)


_ALL = frozenset(KINDS)
_ORDERED = frozenset({"number", "date", "datetime"})
_EQUALS = frozenset({"text", "number", "date", "datetime", "bool", "choice", "id"})
for _op in (
    Operator("eq", "==", {"en": "is", "zh": "等于"}, _EQUALS),
    Operator("ne", "!=", {"en": "is not", "zh": "不等于"}, _EQUALS - {"bool"}),
    Operator("in", "in", {"en": "is one of", "zh": "是其中之一"}, frozenset({"text", "choice", "id"}), "many"),
    Operator("contains", "in", {"en": "contains", "zh": "包含"}, frozenset({"text", "choices", "ids"}),
             reversed=True),
    Operator("gt", ">", {"en": "is more than", "zh": "大于"}, _ORDERED),
    Operator("gte", ">=", {"en": "is at least", "zh": "大于等于"}, _ORDERED),
    Operator("lt", "<", {"en": "is less than", "zh": "小于"}, _ORDERED),
    Operator("lte", "<=", {"en": "is at most", "zh": "小于等于"}, _ORDERED),
    Operator("empty", "!", {"en": "is empty", "zh": "为空"}, _ALL, "none"),
    Operator("filled", "!!", {"en": "is filled in", "zh": "不为空"}, _ALL, "none"),
):
    register_operator(_op)

_MODES = {"all": "and", "any": "or"}
_MODE_OF = {v: k for k, v in _MODES.items()}


def operators_for(kind: str) -> list[Operator]:
    return [op for op in OPERATORS.values() if kind in op.kinds]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _var_key(var: Any) -> str | None:
    if not isinstance(var, Mapping) or len(var) != 1 or "var" not in var:
        return None
    arg = var["var"]
    if isinstance(arg, list) and len(arg) == 1:
        arg = arg[0]
    return arg if isinstance(arg, str) and arg else None


# -- the fields a condition tests ---------------------------------------------------------------------

def kind_of(field_doc: Mapping[str, Any]) -> str:
    """The value kind of a field document, read from its type (never from the type's name)."""
    from ..fields import FIELD_TYPES
    ftype = FIELD_TYPES.get(field_doc.get("type", ""))
    if ftype is None:
        return "other"
    takes_options = any(s.name == "options" for s in ftype.all_settings())
    if takes_options:
        return "choices" if ftype.sql_kind == "json" else "choice"
    if hasattr(ftype, "picker"):
        return "ids" if field_doc.get("multiple") else "id"
    return {"number": "number", "date": "date", "datetime": "datetime", "bool": "bool",
            "text": "text"}.get(ftype.sql_kind, "other")


def _label_text(label: Any, lang: str, fallback: str) -> str:
    if isinstance(label, Mapping):
        return label.get(lang) or label.get("en") or next(iter(label.values()), fallback)
    return str(label) if label else fallback


def builder_fields(entity_doc: Mapping[str, Any], lang: str, *, exclude: Iterable[str] = ()) -> list[BuilderField]:
    """The fields of an entity document a condition can test, in the entity's order."""
    skip = set(exclude)
    out = []
    for f in entity_doc.get("fields", []):
        key = f.get("key")
        if not key or key in skip:
            continue
        options = []
        for option in f.get("options") or []:
            if isinstance(option, Mapping):
                options.append((option.get("value"), _label_text(option.get("label"), lang, str(option.get("value")))))
            else:
                options.append((option, str(option)))
        out.append(BuilderField(key, _label_text(f.get("label"), lang, key), kind_of(f), tuple(options), _picker(f)))
    return out


def _picker(field_doc: Mapping[str, Any]) -> str:
    """What the ids of a linking field name, as its type says (a draft's field may not compile yet)."""
    from ..definitions.compile import compile_field
    from ..fields import FIELD_TYPES
    ftype = FIELD_TYPES.get(field_doc.get("type", ""))
    if ftype is None or not hasattr(ftype, "picker"):
        return ""
    try:
        return str(ftype.picker(compile_field(field_doc)) or "")
    except Exception:           # an incomplete draft field: no picker, ids are typed
        return ""


def with_options(fields: Iterable[BuilderField], picker: str, options: Iterable[tuple[Any, str]]) -> list[BuilderField]:
    """`fields` with `options` offered for those whose ids name `picker` (e.g. the app's people for "$user")."""
    options = tuple(options)
    return [dataclasses.replace(f, options=options) if f.picker == picker and not f.options else f for f in fields]


def stage_field(workflow_doc: Mapping[str, Any] | None, lang: str, label: str) -> list[BuilderField]:
    """The record's stage (`$stage`) as a field to test, when the entity has a workflow."""
    if not workflow_doc:
        return []
    options = tuple((s.get("key"), _label_text(s.get("label"), lang, str(s.get("key"))))
                    for s in workflow_doc.get("stages", []) if s.get("key"))
    return [BuilderField("$stage", label, "choice", options)]


# -- logic <-> rows -------------------------------------------------------------------------------------

@dataclass
class Row:
    """One test. `value` is typed (a number, a list for "many") when read from logic, and the text
    as posted when read back from a refused form."""

    id: str
    field: str = ""
    op: str = ""
    value: Any = None


@dataclass
class Group:
    id: str
    mode: str = "all"
    items: list = field(default_factory=list)      # Row | Group


def to_builder(logic: Any, fields: Iterable[BuilderField]) -> Group | None:
    """The rule as rows, or None when the builder cannot show it exactly."""
    known = {f.key: f for f in fields}
    if logic is None or logic == {}:
        return Group(ROOT)
    counter = iter(range(1, 10_000))
    if isinstance(logic, Mapping) and len(logic) == 1 and next(iter(logic)) in _MODE_OF:
        return _group(logic, ROOT, known, counter, 0)
    row = _row(logic, str(next(counter)), known)
    return Group(ROOT, "all", [row]) if row else None


def _group(logic: Mapping, gid: str, known: dict, counter, depth: int) -> Group | None:
    op, items = next(iter(logic.items()))
    if not isinstance(items, list):
        return None
    group = Group(gid, _MODE_OF[op])
    for item in items:
        item_id = f"{next(counter)}" if gid == ROOT else f"{gid}.{next(counter)}"
        if isinstance(item, Mapping) and len(item) == 1 and next(iter(item)) in _MODE_OF:
            if depth >= MAX_NESTING:
                return None
            sub = _group(item, item_id, known, counter, depth + 1)
        else:
            sub = _row(item, item_id, known)
        if sub is None:
            return None
        group.items.append(sub)
    return group


def _row(logic: Any, rid: str, known: dict) -> Row | None:
    for op in OPERATORS.values():
        found = op.match(logic)
        if found is None:
            continue
        key, value = found
        f = known.get(key)
        if f is not None and f.kind in op.kinds:
            return Row(rid, key, op.name, value)
    return None


def to_logic(group: Group) -> Any:
    """The JSON Logic a tree of typed rows writes: None for no rows, a bare test for one row."""
    if group.id == ROOT and len(group.items) == 1 and group.mode == "all" and isinstance(group.items[0], Row):
        return _row_logic(group.items[0])
    if not group.items:
        return None
    parts = [to_logic_item(item) for item in group.items]
    return {_MODES[group.mode]: parts}


def to_logic_item(item: Any) -> Any:
    if isinstance(item, Row):
        return _row_logic(item)
    return {_MODES[item.mode]: [to_logic_item(i) for i in item.items]}


def _row_logic(row: Row) -> dict:
    return OPERATORS[row.op].build(row.field, row.value)


# -- the posted form --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuilderProblem:
    """A problem with what was posted: `where` is the name of the input it concerns."""

    where: str
    message: str


def _getlist(form: Any, name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    value = form.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _posted_tree(form: Any, prefix: str) -> Group:
    """The rows as posted (values as text), in the order the page listed them."""
    root = Group(ROOT, form.get(f"{prefix}-mode") if form.get(f"{prefix}-mode") in _MODES else "all")
    groups: dict[str, Group] = {}
    for item_id in _getlist(form, f"{prefix}-item"):
        if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,6})?", item_id):
            continue
        parent = groups.get(item_id.split(".")[0]) if "." in item_id else root
        if parent is None:
            continue
        base = f"{prefix}-{item_id}"
        if form.get(f"{base}-kind") == "group" and "." not in item_id:
            mode = form.get(f"{base}-mode")
            groups[item_id] = Group(item_id, mode if mode in _MODES else "all")
            parent.items.append(groups[item_id])
        else:
            parent.items.append(Row(item_id, str(form.get(f"{base}-field") or ""), str(form.get(f"{base}-op") or ""),
                                    [v for v in _getlist(form, f"{base}-value")]))
    return root


def from_form(form: Any, prefix: str, fields: Iterable[BuilderField],
              gettext: Callable[..., str] = _english) -> tuple[Any, list[BuilderProblem]]:
    """The condition the builder named `prefix` posted, as JSON Logic (None: no condition), and
    its problems, each located at an input and worded by `gettext` (flask_babel's in the web layer).
    Rows without a field are ignored (a blank row added and left); empty groups vanish."""
    fields = list(fields)
    if form.get(f"{prefix}-source") == "json":
        return _from_json(str(form.get(f"{prefix}-json") or ""), prefix, fields, gettext)
    known = {f.key: f for f in fields}
    problems: list[BuilderProblem] = []
    tree = _typed(_posted_tree(form, prefix), known, prefix, problems, gettext)
    if problems:
        return None, problems
    return to_logic(tree), []


def _from_json(text: str, prefix: str, fields: list[BuilderField], gettext) -> tuple[Any, list[BuilderProblem]]:
    where = f"{prefix}-json"
    if not text.strip():
        return None, []
    try:
        logic = json.loads(text)
    except ValueError as error:
        return None, [BuilderProblem(where, gettext("This is not valid JSON (line %(line)s, column %(column)s).",
                                                      line=getattr(error, "lineno", 1),
                                                      column=getattr(error, "colno", 1)))]
    found = list(check_logic(logic, [f.key for f in fields]))
    if found:
        return logic, [BuilderProblem(where, gettext("This condition %(problem)s.", problem=p)) for p in found]
    return logic, []


def _typed(group: Group, known: dict, prefix: str, problems: list, gettext) -> Group:
    out = Group(group.id, group.mode)
    for item in group.items:
        if isinstance(item, Group):
            sub = _typed(item, known, prefix, problems, gettext)
            if sub.items:
                out.items.append(sub)
            continue
        if not item.field:
            continue
        row = _typed_row(item, known, f"{prefix}-{item.id}", problems, gettext)
        if row is not None:
            out.items.append(row)
    return out


def _typed_row(row: Row, known: dict, base: str, problems: list, gettext) -> Row | None:
    f = known.get(row.field)
    if f is None:
        problems.append(BuilderProblem(f"{base}-field", gettext("Choose a field from the list.")))
        return None
    op = OPERATORS.get(row.op)
    if op is None or f.kind not in op.kinds:
        problems.append(BuilderProblem(f"{base}-op", gettext("Choose an operator this field offers.")))
        return None
    if op.arity == "none":
        return Row(row.id, f.key, op.name, None)
    texts = [t.strip() for t in (row.value or []) if t.strip()]
    if op.arity == "many" and f.kind not in ("choice",):
        texts = [part.strip() for t in texts for part in re.split(r"[,，]", t) if part.strip()]
    if not texts:
        problems.append(BuilderProblem(f"{base}-value", gettext("Enter a value to compare with.")))
        return None
    try:
        values = [parse_value(f, t) for t in texts]
    except ValueError as refused:
        problems.append(BuilderProblem(f"{base}-value", gettext(str(refused))))
        return None
    return Row(row.id, f.key, op.name, values if op.arity == "many" else values[0])


def parse_value(f: BuilderField, text: str) -> Any:
    """A value typed into a row, as the field stores it; ValueError carries a msgid."""
    kind = f.kind
    if kind == "number":
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            raise ValueError("Enter a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("Enter a number.")
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD.") from None
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError("Choose yes or no.")
        return text == "true"
    if kind in ("id", "ids"):
        if f.options and text not in {_option_text(v) for v, _label in f.options}:
            raise ValueError("Choose one of the listed options.")
        if not re.fullmatch(r"#?[1-9][0-9]{0,15}", text):
            raise ValueError("Enter a record id (a positive whole number).")
        return int(text.lstrip("#"))
    if kind in ("choice", "choices"):
        for value, _label in f.options:
            if text == _option_text(value):
                return value
        raise ValueError("Choose one of the listed options.")
    return text


def _option_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def shown_json(logic: Any) -> str:
    """JSON as the page shows it: on one line when short, indented when not (the script agrees)."""
    line = json.dumps(logic, ensure_ascii=False, separators=(",", ":"))
    return line if len(line) <= 72 else json.dumps(logic, ensure_ascii=False, indent=1)


# -- what the macro shows ---------------------------------------------------------------------------

def _shown_values(row: Row) -> list[str]:
    """A row's value(s) as the inputs show them."""
    value = row.value
    values = value if isinstance(value, list) else ([] if value is None else [value])
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def view(prefix: str, fields: Iterable[BuilderField], logic: Any, lang: str = "en", form: Any = None) -> dict:
    """What `condition_builder` renders: the rows (from `form` when a refused post is shown again),
    whether they can be shown as rows at all, the JSON, and per-kind operator choices."""
    fields = list(fields)
    json_text = "" if logic is None else shown_json(logic)
    if form is not None and form.get(f"{prefix}-source") == "json":
        tree, json_text = None, str(form.get(f"{prefix}-json") or "")
    elif form is not None:
        tree = _posted_tree(form, prefix)
    else:
        tree = to_builder(logic, fields)
    rows = [] if tree is None else list(_flatten(tree))
    for row in rows:
        if isinstance(row, Row):
            row.value = _shown_values(row)
    return {
        "prefix": prefix,
        "representable": tree is not None,
        "root": tree or Group(ROOT),
        "json": json_text,
        "fields": fields,
        "by_key": {f.key: f for f in fields},
        "operators": {kind: [(op.name, op.text(lang), op.arity) for op in operators_for(kind)] for kind in KINDS},
        "operator_kinds": {op.name: sorted(op.kinds) for op in OPERATORS.values()},
        "arity": {op.name: op.arity for op in OPERATORS.values()},
        "option_text": _option_text,
        "operator_table": {op.name: {"logic": op.logic, "arity": op.arity, "reversed": op.reversed,
                                     "kinds": sorted(op.kinds), "text": op.text(lang)} for op in OPERATORS.values()},
        "field_table": {f.key: f.kind for f in fields},
        "plain_kinds": sorted({f.kind for f in fields if not f.options} | {"text"}),
        "next_id": _next_id(rows),
    }


def _flatten(group: Group):
    for item in group.items:
        yield item
        if isinstance(item, Group):
            yield from _flatten(item)


def _next_id(items: list) -> int:
    ids = [int(part) for item in items for part in item.id.split(".") if re.fullmatch(r"[0-9]{1,6}", part)]
    return max(ids, default=0) + 1


def form_items(prefix: str, fields: Iterable[BuilderField], logic: Any) -> list[tuple[str, str]]:
    """The (name, value) pairs a browser posts for the builder showing `logic` unchanged: what
    tests and scripts send, and what the macro's inputs mean, written down once."""
    tree = to_builder(logic, list(fields))
    if tree is None:
        return [(f"{prefix}-source", "json"), (f"{prefix}-json", json.dumps(logic, ensure_ascii=False))]
    out = [(f"{prefix}-mode", tree.mode)]
    for item in _flatten(tree):
        out.append((f"{prefix}-item", item.id))
        base = f"{prefix}-{item.id}"
        if isinstance(item, Group):
            out += [(f"{base}-kind", "group"), (f"{base}-mode", item.mode)]
            continue
        out += [(f"{base}-field", item.field), (f"{base}-op", item.op)]
        out += [(f"{base}-value", v) for v in _shown_values(item)]
    return out
