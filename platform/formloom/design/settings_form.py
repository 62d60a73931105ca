"""A field type's settings form, generated from the type's `settings` (fields/settings.py).

The controls come from the same `Setting`s the meta-schema is built from: each
setting's JSON Schema picks its widget, its label and help are the setting's
own, and `parse_settings` turns what the form posts back into a field document
that the validator then checks. The designer names no field type and no
setting: a type registered by an extension gets its form with no change here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..definitions.schema_check import KEY_PATTERN
from ..fields.base import FieldType
from ..fields.settings import COMMON_SETTINGS, Setting
from ..i18n import translate
from .condition_builder import BuilderField, BuilderProblem, from_form as condition_from_form

#: $ref targets of field.schema.json -> the widget that edits such a value
_REF_WIDGETS = {"label": "label", "options": "options", "logic": "condition", "formula": "formula", "key_list": "keys",
                "key": "key", "role_list": "roles",
                "duration": "text", "iso_date": "date"}
_KEY = re.compile(KEY_PATTERN)
LANGS = ("en", "zh")
_COMMON = frozenset(s.name for s in COMMON_SETTINGS) - {"required"}
#: empty option rows offered below the options a field has
SPARE_OPTION_ROWS = 3
_EMPTY_OPTION = {"value": "", "en": "", "zh": "", "color": "", "retired": False}


def widget_for(setting: Setting) -> str:
    """Which control edits the setting: read from its JSON Schema, never from its name."""
    schema = setting.schema
    if schema is None:
        return "fixed"
    if schema is True or schema == {}:
        return "value"
    if not isinstance(schema, dict):
        return "json"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _REF_WIDGETS.get(ref.rsplit("/", 1)[-1], "json")
    if "enum" in schema:
        return "enum"
    return {"boolean": "boolean", "integer": "integer", "number": "number",
            "string": "text"}.get(schema.get("type"), "json")


@dataclass(frozen=True)
class Control:
    """One control of a settings form, ready for the template."""

    name: str
    widget: str
    label: str
    help: str
    required: bool
    value: Any = None              # what the control shows (text, bool, {"en","zh"}, option rows)
    choices: tuple = ()            # (value, text) for "enum"
    readonly: bool = False
    error: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)   # min/max/maxlength/pattern from the schema
    common: bool = False           # a key every field may have (shown under "More settings" unless required)

    @property
    def input_name(self) -> str:
        return f"s-{self.name}"


@dataclass(frozen=True)
class PostedCondition:
    """A condition a refused post carried: the builder shows the rows again as typed, with
    each problem by the input it concerns."""

    form: Any
    problems: tuple[BuilderProblem, ...] = ()


def _text(mapping: Mapping[str, str], lang: str) -> str:
    return mapping.get(lang) or mapping.get("en") or next(iter(mapping.values()), "")


def _attrs(schema: Any) -> dict:
    if not isinstance(schema, dict):
        return {}
    out = {}
    for key, attr in (("minimum", "min"), ("maximum", "max"), ("maxLength", "maxlength")):
        if key in schema:
            out[attr] = schema[key]
    return out


def _shown(widget: str, value: Any) -> Any:
    """A document value as its control shows it."""
    if widget == "label":
        if value is None:
            return {lang: "" for lang in LANGS}
        if isinstance(value, str):
            return {"en": value, "zh": ""}
        return {lang: value.get(lang, "") for lang in LANGS}
    if widget == "options":
        rows = []
        for option in value or []:
            if isinstance(option, str):
                rows.append({"value": option, "en": "", "zh": "", "color": "", "retired": False})
            else:
                label = option.get("label")
                label = {"en": label} if isinstance(label, str) else (label or {})
                rows.append({"value": option.get("value", ""), "en": label.get("en", ""), "zh": label.get("zh", ""),
                             "color": option.get("color", ""), "retired": option.get("retired") is True})
        return rows + [dict(_EMPTY_OPTION) for _ in range(SPARE_OPTION_ROWS)]
    if widget == "boolean":
        return bool(value)
    if widget == "condition":
        return value                      # the builder shows the logic itself
    if value is None:
        return ""
    if widget == "keys":
        return ", ".join(value)
    if widget == "json":
        return json.dumps(value, ensure_ascii=False, indent=1)
    if widget == "value":
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                return value                   # plain text stays plain
        return json.dumps(value, ensure_ascii=False)
    return str(value) if not isinstance(value, bool) else json.dumps(value)


def controls_for(ftype: FieldType, field_doc: Mapping[str, Any] | None, lang: str, *, editing: bool,
                 errors: Mapping[str, str] | None = None, raw: Mapping[str, Any] | None = None,
                 roles: tuple[str, ...] = (), role_text: Callable[[str], str] = str) -> list[Control]:
    """The settings form of `ftype`, showing `field_doc` (a new field: None). `raw` holds values a
    refused post carried, shown again as typed; `roles` are the app's, offered by role pickers."""
    doc = dict(field_doc or {})
    errors = errors or {}
    out = []
    for setting in ftype.all_settings():
        widget = widget_for(setting)
        value = raw[setting.name] if raw is not None and setting.name in raw else _shown(widget, doc.get(setting.name))
        if setting.name == "type":
            value = ftype.name
        choices = ()
        if widget == "enum":
            choices = tuple((json.dumps(v) if not isinstance(v, str) else v, str(v)) for v in setting.schema["enum"])
            current = doc.get(setting.name)
            value = "" if current is None else (json.dumps(current) if not isinstance(current, str) else current)
        elif widget == "roles":
            chosen = [r for r in doc.get(setting.name) or [] if isinstance(r, str)]
            choices = tuple((r, role_text(r)) for r in dict.fromkeys([*roles, *chosen]))
            value = chosen
        out.append(Control(setting.name, widget, _text(setting.label, lang), _text(setting.help, lang),
                           setting.required, value, choices,
                           readonly=widget == "fixed" or (editing and setting.name == "key"),
                           error=errors.get(setting.name), attrs=_attrs(setting.schema),
                           common=setting.name in _COMMON and not setting.required))
    return out


def missing_required(ftype: FieldType, doc: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(s.name for s in ftype.all_settings() if s.required and s.name not in doc)


def _label_value(get: Callable[[str], str], name: str) -> dict | None:
    texts = {lang: get(f"{name}-{lang}").strip() for lang in LANGS}
    texts = {k: v for k, v in texts.items() if v}
    return texts or None


def suggested_key(label: Any) -> str | None:
    """A key made from an English label ("Lost reason" -> "lost_reason"), when one can be."""
    text = label.get("en") if isinstance(label, dict) else label
    if not isinstance(text, str):
        return None
    key = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:63]
    return key if _KEY.match(key or "") else None


def parse_settings(ftype: FieldType, form: Any, lang: str, *, key: str | None = None,
                   condition_fields: list[BuilderField] | None = None,
                   gettext: Callable[..., str] | None = None) -> tuple[dict, dict[str, str], dict]:
    """What a settings form posted, as a field document of `ftype`.

    Returns (document, errors by setting name, raw values to show again). `form` is a
    MultiDict (request.form); `key` is the existing field's key (a key never changes).
    Conditions come from the condition builder over `condition_fields`, its problems worded
    by `gettext` (default: the i18n catalogue)."""
    def get(name: str) -> str:
        return str(form.get(f"s-{name}", "") or "")

    def condition(name: str) -> Any:
        logic, problems = condition_from_form(form, f"s-{name}", condition_fields or [],
                                              gettext or (lambda msgid, **p: translate(lang, msgid, **p)))
        if problems:
            raise _Refused(" ".join(p.message for p in problems), PostedCondition(form, tuple(problems)))
        return logic

    doc: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    for setting in ftype.all_settings():
        name, widget = setting.name, widget_for(setting)
        try:
            value = condition(name) if widget == "condition" else _parse_one(setting, widget, name, get, form, lang)
        except _Refused as refused:
            errors[name] = refused.message
            raw[name] = refused.shown
            continue
        if value is not None:
            doc[name] = value
    doc["type"] = ftype.name
    if key is not None:
        doc["key"] = key
    elif "key" not in doc and "key" not in errors:
        suggested = suggested_key(doc.get("label"))
        if suggested:
            doc["key"] = suggested
        else:
            errors["key"] = translate(lang, "Give the field a key: lower-case letters, digits and _, "
                                            "starting with a letter.")
    ordered = {s.name: doc[s.name] for s in ftype.all_settings() if s.name in doc}
    return ordered, errors, raw


class _Refused(Exception):
    def __init__(self, message: str, shown: Any):
        super().__init__(message)
        self.message = message
        self.shown = shown


def _parse_one(setting: Setting, widget: str, name: str, get: Callable[[str], str], form: Any, lang: str) -> Any:
    if widget == "fixed":
        return None
    if widget == "label":
        return _label_value(get, name)
    if widget == "boolean":
        return True if get(name) else None
    if widget == "options":
        return _parse_options(name, form, lang)
    if widget == "roles":
        getlist = getattr(form, "getlist", lambda k: [form.get(k)] if form.get(k) is not None else [])
        return list(dict.fromkeys(r for r in (str(v).strip() for v in getlist(f"s-{name}")) if r)) or None
    text = get(name).strip()
    if text == "":
        return None
    if widget == "integer":
        if not re.fullmatch(r"-?\d+", text):
            raise _Refused(translate(lang, "Enter a whole number."), text)
        return int(text)
    if widget == "number":
        try:
            number = float(text)
        except ValueError:
            raise _Refused(translate(lang, "Enter a number."), text) from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if widget == "keys":
        return [part for part in re.split(r"[\s,，]+", text) if part]
    if widget == "enum":
        for choice in setting.schema["enum"]:
            if text == (choice if isinstance(choice, str) else json.dumps(choice)):
                return choice
        raise _Refused(translate(lang, "Choose one of the listed values."), text)
    if widget == "json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise _Refused(translate(lang, "This is not valid JSON (line %(line)s, column %(column)s).",
                                     line=getattr(error, "lineno", 1), column=getattr(error, "colno", 1)),
                           text) from None
    if widget == "value":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text                     # text, key, date


def _parse_options(name: str, form: Any, lang: str) -> list | None:
    getlist = getattr(form, "getlist", lambda k: [form.get(k)] if form.get(k) is not None else [])
    columns = {part: getlist(f"s-{name}-{part}") for part in ("value", "en", "zh", "color")}
    count = max((len(v) for v in columns.values()), default=0)
    retired = {str(v).strip() for v in getlist(f"s-{name}-retired")}
    options, rows = [], []
    missing = False
    for i in range(count):
        row = {part: (str(columns[part][i]).strip() if i < len(columns[part]) else "") for part in columns}
        row["retired"] = bool(row["value"]) and row["value"] in retired
        rows.append(row)
        if not any(row[part] for part in columns):
            continue
        if not row["value"]:
            missing = True
            continue
        label = {k: row[k] for k in LANGS if row[k]}
        if not label and not row["color"] and not row["retired"]:
            options.append(row["value"])
        else:
            options.append({"value": row["value"], **({"label": label} if label else {}),
                            **({"color": row["color"]} if row["color"] else {}),
                            **({"retired": True} if row["retired"] else {})})
    if missing:
        raise _Refused(translate(lang, "Every option needs a value (the stable code stored in records)."),
                       rows + [dict(_EMPTY_OPTION)])
    return options or None


def problems_by_setting(problems: list, field_path: str, missing: tuple[str, ...] = ()) -> dict[str, str]:
    """Problems located at or under `field_path` ("$.entities[1].fields[3]"), by the setting they
    concern ("" for the field as a whole), joined when a setting has several. A problem about the
    field as a whole that names one of the `missing` settings (a required one left out) goes to it."""
    out: dict[str, str] = {}
    for problem in problems:
        path = problem.json_path
        if path != field_path and not path.startswith(field_path + ".") and not path.startswith(field_path + "["):
            continue
        rest = path[len(field_path):]
        match = re.match(r"^\.([A-Za-z_][A-Za-z0-9_]*)", rest)
        name = match.group(1) if match else next((m for m in missing if f"'{m}'" in problem.message), "")
        out[name] = f"{out[name]} {problem.message}".strip() if name in out else problem.message
    return out
