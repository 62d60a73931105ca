"""A stage gate's form, generated from the gate requirement kinds' registry.

Every registered kind (workflow.gates.GATE_REQUIREMENTS) gets a section whose
shape comes from the kind's JSON Schema: a key list becomes checkboxes (over
the entity's fields or the app's roles, as the kind's `picks` says, else a
text input), a list of objects becomes rows with one control per property
(labels in en/zh, JSON Logic with the condition builder when the page says
which fields it tests, numbers, choices), anything else a JSON editor. `parse_gate` turns what the form posts back into the
gate document the validator then checks. A kind registered by an extension
appears here with no change to the designer.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..i18n import translate
from ..workflow.gates import GATE_REQUIREMENTS, RequirementKind
from . import condition_builder as cb
from .settings_form import LANGS, _text

#: (row of a list-of-objects kind) -> the fields a condition in it tests, or None for a JSON editor
LogicFields = Callable[[Mapping[str, Any]], "list[cb.BuilderField] | None"]
#: (row of a list-of-objects kind) -> property -> (value, text) pairs its picker offers; the choices
#: may depend on the row's other values (the fields a related entity links through)
RowChoices = Callable[[Mapping[str, Any]], Mapping[str, tuple]]

#: empty rows offered below the items a list-of-objects kind has
SPARE_ROWS = 1
_REF_WIDGETS = {"label": "label", "logic": "json", "key": "text", "key_list": "keys", "duration": "text"}


def widget_of(schema: Any) -> str:
    """The control for a value with `schema`: read from the schema, never from a kind's name."""
    if not isinstance(schema, dict):
        return "json"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _REF_WIDGETS.get(ref.rsplit("/", 1)[-1], "json")
    if "enum" in schema:
        return "enum"
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict) \
            and schema["items"].get("type") == "object" and schema["items"].get("properties"):
        return "rows"
    return {"integer": "integer", "number": "number", "boolean": "boolean", "string": "text"}.get(
        schema.get("type"), "json")


@dataclass
class Part:
    """One property of a row (or the kind's whole value)."""

    name: str
    widget: str
    label: str
    help: str = ""
    required: bool = False
    value: Any = ""
    choices: tuple = ()
    error: str | None = None
    fields: list = field(default_factory=list)      # logic: what the condition builder offers
    problems: tuple = ()                            # logic: the builder's problems, each by its row


@dataclass
class Section:
    """One requirement kind of the gate form."""

    name: str
    widget: str                        # keys | rows | json | ...
    label: str
    help: str
    value: Any = None                  # keys: list of ticked keys; json: text
    choices: tuple = ()                # keys: (key, text) to tick
    rows: list[list[Part]] = field(default_factory=list)
    error: str | None = None

    @property
    def input_name(self) -> str:
        return f"g-{self.name}"


def _setting_text(kind: RequirementKind, name: str, lang: str) -> tuple[str, str, bool]:
    for s in kind.settings:
        if s.name == name:
            return _text(s.label, lang), _text(s.help, lang), s.required
    return name, "", False


def _shown(widget: str, value: Any) -> Any:
    if widget == "label":
        if isinstance(value, str):
            return {"en": value, "zh": ""}
        return {code: (value or {}).get(code, "") for code in LANGS}
    if value is None:
        return ""
    if widget == "json":
        return json.dumps(value, ensure_ascii=False, indent=1)
    if widget == "keys":
        return ", ".join(value) if isinstance(value, list) else str(value)
    return str(value)


def _is_logic(schema: Any) -> bool:
    return isinstance(schema, dict) and str(schema.get("$ref", "")).endswith("/logic")


def _row(kind: RequirementKind, item: Mapping[str, Any], lang: str, errors: Mapping[str, str], i: int,
         row_choices: RowChoices | None, logic_fields: LogicFields | None,
         builder_problems: Mapping[str, tuple]) -> list[Part]:
    props = kind.schema["items"]["properties"]
    required = set(kind.schema["items"].get("required") or ())
    choices = row_choices({**dict.fromkeys(props), **item}) if row_choices else {}
    parts = []
    for name, schema in props.items():
        widget = widget_of(schema)
        label, help_text, setting_required = _setting_text(kind, name, lang)
        options: tuple = ()
        if widget == "enum":
            names = schema.get("x-labels") or {}          # how each value reads, by language
            options = tuple((str(v), _text(names[v], lang) if v in names else str(v)) for v in schema["enum"])
        error = errors.get(f"{kind.name}-{i}-{name}")
        value = item.get(name)
        if widget == "text" and name in choices:
            widget, options = "pick", tuple(choices[name])
            if value and all(v != value for v, _ in options):
                options += ((value, value),)            # kept, so a save does not drop it unseen
            elif not value and len(options) == 1 and any(v for k, v in item.items() if k != name):
                value = options[0][0]                   # the only way the row's entity links here
        offered = logic_fields({**dict.fromkeys(props), **item}) if logic_fields and _is_logic(schema) else None
        if offered is not None:       # the condition builder, over the fields the row's condition tests
            parts.append(Part(name, "logic", label, help_text, name in required or setting_required, value, (),
                              error, offered, tuple(builder_problems.get(f"{kind.name}-{i}-{name}", ()))))
            continue
        shown = value if error and isinstance(value, str) else _shown(widget, value)   # as typed, when refused
        parts.append(Part(name, widget, label, help_text, name in required or setting_required, shown, options,
                          error))
    return parts


def gate_sections(gate: Mapping[str, Any] | None, lang: str, *, fields: tuple, roles: tuple,
                  row_choices: RowChoices | None = None, errors: Mapping[str, str] | None = None,
                  logic_fields: LogicFields | None = None,
                  builder_problems: Mapping[str, tuple] | None = None) -> list[Section]:
    """The form of a gate, one section per registered requirement kind. `fields` and `roles` are
    (key, text) pairs the checkboxes offer, `row_choices` what a row's pickers offer; `logic_fields`
    says what a row's condition tests (its conditions get the condition builder, with
    `builder_problems` shown by the builder's rows), else conditions are JSON."""
    gate = dict(gate or {})
    errors = errors or {}
    lists = {"fields": fields, "roles": roles}
    out = []
    for kind in GATE_REQUIREMENTS.values():
        widget = widget_of(kind.schema)
        value = gate.get(kind.name)
        section = Section(kind.name, widget, _text(kind.label, lang) or kind.name, _text(kind.help, lang),
                          error=errors.get(kind.name))
        if widget == "keys" and getattr(kind, "picks", "") in lists:
            section.choices = lists[kind.picks]
            known = {k for k, _ in section.choices}
            section.choices += tuple((k, k) for k in (value or []) if k not in known)
            section.value = list(value or [])
        elif widget == "rows":
            items = list(value) if isinstance(value, list) else []
            section.rows = [_row(kind, item if isinstance(item, dict) else {}, lang, errors, i, row_choices,
                                 logic_fields, builder_problems or {})
                            for i, item in enumerate(items + [{}] * SPARE_ROWS)]
        else:
            section.widget = "keys" if widget == "keys" else "json"
            refused = section.error and isinstance(value, str)
            section.value = value if refused else _shown(section.widget, value)
        out.append(section)
    return out


class _Refused(Exception):
    pass


def _parse_value(widget: str, schema: Any, text: str, lang: str) -> Any:
    if widget == "json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise _Refused(translate(lang, "This is not valid JSON: %(error)s", error=str(error))) from None
    if widget in ("integer", "number"):
        if widget == "integer" and not re.fullmatch(r"-?\d+", text):
            raise _Refused(translate(lang, "Enter a whole number."))
        try:
            number = int(text) if widget == "integer" else float(text)
        except ValueError:
            raise _Refused(translate(lang, "Enter a number.")) from None
        if "minimum" in schema and number < schema["minimum"]:
            raise _Refused(translate(lang, "Enter a number of at least %(min)s.", min=schema["minimum"]))
        return number
    if widget == "boolean":
        return True
    if widget == "keys":
        return [p for p in re.split(r"[\s,，]+", text) if p]
    if widget == "enum":
        for choice in schema["enum"]:
            if text == str(choice):
                return choice
        raise _Refused(translate(lang, "Choose one of the listed values."))
    return text


@dataclass
class PostedGate:
    """What the gate form posted: the gate document (empty rows dropped), and, to show a refused
    post again row for row, where each kept item was posted and the problems by control (rows
    numbered as posted, so each message stays beside what was typed)."""

    doc: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)                 # control -> message
    builder_problems: dict = field(default_factory=dict)       # logic control -> condition builder problems
    rows: dict = field(default_factory=dict)                   # kind -> posted row of each item of doc[kind]

    def shown(self) -> dict:
        """The gate with each list kind's items back at the rows they were posted in."""
        out = dict(self.doc)
        for name, positions in self.rows.items():
            spread: list = [{} for _ in range(max(positions) + 1)] if positions else []
            for item, row in zip(self.doc.get(name) or [], positions):
                spread[row] = item
            out[name] = spread
        return out

    def as_posted(self, errors: Mapping[str, str]) -> dict[str, str]:
        """Errors by control of the document (`kind-item-property`, e.g. the validator's) renumbered
        to the rows as posted."""
        out = {}
        for key, message in errors.items():
            match = re.fullmatch(r"([a-z_][a-z0-9_]*)-(\d+)-(.+)", key)
            positions = self.rows.get(match.group(1)) if match else None
            if positions and int(match.group(2)) < len(positions):
                key = f"{match.group(1)}-{positions[int(match.group(2))]}-{match.group(3)}"
            out[key] = message
        return out


def parse_gate(form: Any, lang: str, logic_fields: LogicFields | None = None,
               gettext: Callable[..., str] | None = None) -> tuple[dict, dict[str, str]]:
    """`read_gate`'s document and errors."""
    posted = read_gate(form, lang, logic_fields, gettext)
    return posted.doc, posted.errors


def read_gate(form: Any, lang: str, logic_fields: LogicFields | None = None,
              gettext: Callable[..., str] | None = None) -> PostedGate:
    """What the gate form posted, as a gate document, and errors by control (`kind` or
    `kind-row-property`); a refused value stays in the document as the text typed, to show it
    again. Empty rows are dropped; a kind left empty is left out. A condition for which
    `logic_fields` offers fields is read from its condition builder (worded by `gettext`)."""
    posted = PostedGate()
    for kind in GATE_REQUIREMENTS.values():
        name, widget = f"g-{kind.name}", widget_of(kind.schema)
        if widget == "keys":
            picked = [k.strip() for k in form.getlist(name) for k in re.split(r"[\s,，]+", k) if k.strip()]
            if picked:
                posted.doc[kind.name] = list(dict.fromkeys(picked))
        elif widget == "rows":
            items = _parse_rows(kind, form, lang, posted, logic_fields, gettext)
            if items:
                posted.doc[kind.name] = items
        else:
            text = str(form.get(name, "") or "").strip()
            if text:
                try:
                    posted.doc[kind.name] = _parse_value("json", None, text, lang)
                except _Refused as refused:
                    posted.errors[kind.name] = str(refused)
                    posted.doc[kind.name] = text
    return posted


#: rows read at most from one post
MAX_ROWS = 50


def _parse_rows(kind: RequirementKind, form: Any, lang: str, posted: PostedGate,
                logic_fields: LogicFields | None, gettext: Callable[..., str] | None) -> list:
    props = kind.schema["items"]["properties"]
    count = str(form.get(f"g-{kind.name}-rows", "0") or "0")
    items, rows = [], []
    for i in range(min(int(count), MAX_ROWS) if count.isdigit() else 0):
        item: dict[str, Any] = {}
        for prop, schema in props.items():
            widget = widget_of(schema)
            base = f"g-{kind.name}-{i}-{prop}"
            control = f"{kind.name}-{i}-{prop}"
            if widget == "label":
                texts = {code: str(form.get(f"{base}-{code}", "") or "").strip() for code in LANGS}
                texts = {k: v for k, v in texts.items() if v}
                if texts:
                    item[prop] = texts
                continue
            offered = None
            if logic_fields is not None and _is_logic(schema):
                offered = logic_fields({k: str(form.get(f"g-{kind.name}-{i}-{k}", "") or "") for k in props})
            if offered is not None:
                logic, problems = cb.from_form(form, base, offered, **({"gettext": gettext} if gettext else {}))
                if problems:
                    posted.errors[control] = " ".join(p.message for p in problems)
                    posted.builder_problems[control] = tuple(problems)
                    item[prop] = None          # shown again from the post
                elif logic is not None:
                    item[prop] = logic
                continue
            text = str(form.get(base, "") or "").strip()
            if not text:
                continue
            try:
                item[prop] = _parse_value(widget, schema, text, lang)
            except _Refused as refused:
                posted.errors[control] = str(refused)
                item[prop] = text
        if item:
            _first_missing(kind, i, item, lang, posted.errors)
            items.append(item)
            rows.append(i)
    if rows:
        posted.rows[kind.name] = rows
    return items


def _first_missing(kind: RequirementKind, i: int, item: Mapping[str, Any], lang: str, errors: dict) -> None:
    """A row gets one problem, that of its first setting in order: a setting it needs and lacks
    says so by that setting in the admin's language ("choose the entity first"), instead of the
    validator's sentences about every consequence of the gap; later problems wait their turn."""
    props = kind.schema["items"]["properties"]
    required = set(kind.schema["items"].get("required") or ())
    first = True
    for prop, schema in props.items():
        control = f"{kind.name}-{i}-{prop}"
        if not first:
            errors.pop(control, None)
        elif control in errors:
            first = False
        elif prop in required and prop not in item:
            label = _setting_text(kind, prop, lang)[0]
            picked = "enum" in schema or str(schema.get("$ref", "")).endswith("/key")
            errors[control] = _missing_pick(lang, label) if picked else _missing_text(lang, label)
            first = False


def _missing_pick(lang: str, label: str) -> str:
    return translate(lang, "Choose %(setting)s first: this row needs it.", setting=label)


def _missing_text(lang: str, label: str) -> str:
    return translate(lang, "Fill in %(setting)s first: this row needs it.", setting=label)
