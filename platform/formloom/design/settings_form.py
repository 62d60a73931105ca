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
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from ..definitions.schema_check import KEY_PATTERN
from ..fields.base import FieldType
from ..fields.settings import COMMON_SETTINGS, Setting
from ..i18n import translate
from .condition_builder import (BuilderField, BuilderProblem, builder_fields, from_form as condition_from_form,
                                with_options)

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
    """Which control edits the setting: read from its JSON Schema and what it picks, never from its name."""
    if setting.parts:
        return "group"
    if setting.picks:
        return "pick"
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
    refresh: bool = False          # other controls offer what this one chooses: changing it reloads the form
    fields: Any = None             # a condition about another entity: the fields its builder offers
    note: str = ""                 # why a picker offers nothing yet ("choose the related entity first")
    was_false: bool = False        # a checkbox whose document says false (not just unset): kept false

    @property
    def input_name(self) -> str:
        return f"s-{self.name}"

    def but(self, **changes: Any) -> "Control":
        return replace(self, **changes)


@dataclass(frozen=True)
class Catalog:
    """What the pickers of a settings form offer: the draft's entities and their fields, so an
    admin chooses an entity or field by its label instead of typing its key."""

    here: str                                                # the entity the field belongs to
    entities: tuple[tuple[str, str], ...] = ()               # (key, label) of every entity
    fields: Callable[[str], tuple[tuple[str, str, str, str], ...]] = lambda key: ()
    #                                      entity key -> (key, label, type, referenced entity or "")
    condition_fields: Callable[[str], list[BuilderField]] = lambda key: []

    def entity_named(self, key: Any) -> bool:
        return isinstance(key, str) and any(k == key for k, _ in self.entities)


def catalog_of(app_doc: Mapping[str, Any], entity_key: str, lang: str,
               people: Callable[[], list] | None = None) -> Catalog:
    """The catalog of an app document (the designer's draft) for a field of `entity_key`;
    `people` lists the app's members for conditions on user fields (read only when needed)."""
    by_key = {e["key"]: e for e in app_doc.get("entities", []) if isinstance(e, Mapping) and e.get("key")}

    def label(doc: Mapping[str, Any]) -> str:
        label = doc.get("label")
        text = (label.get(lang) or label.get("en") or "") if isinstance(label, Mapping) else (label or "")
        return f"{text} ({doc['key']})" if text and text != doc["key"] else doc["key"]

    def fields(key: str) -> tuple:
        return tuple((f["key"], label(f), f.get("type", ""), f.get("entity", "") if f.get("type") == "reference" else "")
                     for f in by_key.get(key, {}).get("fields", []) if isinstance(f, Mapping) and f.get("key"))

    def condition_fields(key: str) -> list[BuilderField]:
        found = builder_fields(by_key.get(key, {}), lang)
        if people is not None and any(f.picker == "$user" for f in found):
            found = with_options(found, "$user", people())
        return found

    return Catalog(entity_key, tuple((k, label(e)) for k, e in by_key.items()), fields, condition_fields)


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


def _about(setting: Setting, doc: Mapping[str, Any], catalog: Catalog) -> str | None:
    """The entity a field pick or a condition of `setting` is about: the one its sibling `of`
    names (when that names an entity of the app), else the field's own entity."""
    if setting.of is None:
        return catalog.here
    named = doc.get(setting.of)
    return named if catalog.entity_named(named) else None


def _pick_choices(setting: Setting, doc: Mapping[str, Any], catalog: Catalog) -> tuple[tuple[str, str], ...]:
    if setting.picks == "entity":
        return catalog.entities
    about = _about(setting, doc, catalog)
    if about is None:
        return ()
    return tuple((key, label) for key, label, kind, target in catalog.fields(about)
                 if (not setting.types or kind in setting.types)
                 and (not setting.refers_here or target == catalog.here))


def _pick_note(setting: Setting, doc: Mapping[str, Any], catalog: Catalog, lang: str,
               settings: Mapping[str, Setting]) -> str:
    if setting.picks != "field" or setting.of is None or _about(setting, doc, catalog) is not None:
        return ""
    sibling = settings.get(setting.of)
    return translate(lang, "Choose %(setting)s first.", setting=_text(sibling.label, lang) if sibling else setting.of)


def _control(setting: Setting, widget: str, value: Any, lang: str, **more: Any) -> Control:
    return Control(setting.name, widget, _text(setting.label, lang), _text(setting.help, lang), setting.required,
                   value, attrs=_attrs(setting.schema), **more)


def _group_parts(setting: Setting, value: Any, doc: Mapping[str, Any], catalog: Catalog, lang: str,
                 settings: Mapping[str, Setting]) -> tuple[Control, ...]:
    """One control per key of an object setting, named `<setting>-<key>`; a part that picks a
    field reads its entity from the enclosing document (a window "measured on" the related entity)."""
    value = value if isinstance(value, Mapping) else {}
    parts = []
    for part in setting.parts:
        name = f"{setting.name}-{part.name}"
        shown = value.get(part.name)
        if part.picks:
            parts.append(_control(part, "pick", "" if shown is None else str(shown), lang,
                                  choices=_with_current(_pick_choices(part, doc, catalog), shown),
                                  note=_pick_note(part, doc, catalog, lang, settings)).but(name=name))
        else:
            parts.append(_control(part, widget_for(part), "" if shown is None else str(shown), lang).but(name=name))
    return tuple(parts)


def _with_current(choices: tuple[tuple[str, str], ...], current: Any) -> tuple[tuple[str, str], ...]:
    """The choices, with a value the document has that is not among them kept (shown by its key),
    so opening and saving a form never drops what an admin wrote."""
    if isinstance(current, str) and current and all(value != current for value, _ in choices):
        return (*choices, (current, current))
    return choices


def controls_for(ftype: FieldType, field_doc: Mapping[str, Any] | None, lang: str, *, editing: bool,
                 errors: Mapping[str, str] | None = None, raw: Mapping[str, Any] | None = None,
                 roles: tuple[str, ...] = (), role_text: Callable[[str], str] = str,
                 catalog: Catalog | None = None) -> list[Control]:
    """The settings form of `ftype`, showing `field_doc` (a new field: None). `raw` holds values a
    refused post carried, shown again as typed; `roles` are the app's, offered by role pickers;
    `catalog` is what entity and field pickers offer (without it they are typed keys)."""
    doc = dict(field_doc or {})
    errors = errors or {}
    settings = {s.name: s for s in ftype.all_settings()}
    depended_on = {s.of for s in settings.values() for s in (s, *s.parts) if s.of}
    out = []
    for setting in ftype.all_settings():
        widget = widget_for(setting)
        if catalog is None and widget in ("pick", "group"):
            widget = "key" if widget == "pick" else "json"
        value = raw[setting.name] if raw is not None and setting.name in raw else _shown(widget, doc.get(setting.name))
        if setting.name == "type":
            value = ftype.name
        extra: dict[str, Any] = {}
        if widget == "pick":
            extra = {"choices": _with_current(_pick_choices(setting, doc, catalog), doc.get(setting.name)),
                     "refresh": setting.name in depended_on, "note": _pick_note(setting, doc, catalog, lang, settings)}
        elif widget == "boolean" and doc.get(setting.name) is False:
            extra = {"was_false": True}
        elif widget == "group":
            value = _group_parts(setting, doc.get(setting.name), doc, catalog, lang, settings)
        elif widget == "condition" and setting.of is not None and catalog is not None:
            about = _about(setting, doc, catalog)
            extra = {"fields": catalog.condition_fields(about) if about else [],
                     "note": _pick_note(setting.but(picks="field"), doc, catalog, lang, settings)}
        choices = extra.pop("choices", ())
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
                           common=setting.name in _COMMON and not setting.required, **extra))
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
                   gettext: Callable[..., str] | None = None,
                   catalog: Catalog | None = None) -> tuple[dict, dict[str, str], dict]:
    """What a settings form posted, as a field document of `ftype`.

    Returns (document, errors by setting name, raw values to show again). `form` is a
    MultiDict (request.form); `key` is the existing field's key (a key never changes).
    Conditions come from the condition builder over `condition_fields`, its problems worded
    by `gettext` (default: the i18n catalogue)."""
    def get(name: str) -> str:
        return str(form.get(f"s-{name}", "") or "")

    def condition(setting: Setting) -> Any:
        name, fields = setting.name, condition_fields or []
        if setting.of is not None and catalog is not None:
            about = get(setting.of).strip()
            fields = catalog.condition_fields(about) if catalog.entity_named(about) else []
        logic, problems = condition_from_form(form, f"s-{name}", fields,
                                              gettext or (lambda msgid, **p: translate(lang, msgid, **p)))
        if problems:
            raise _Refused(" ".join(p.message for p in problems), PostedCondition(form, tuple(problems)))
        return logic

    doc: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    for setting in ftype.all_settings():
        name, widget = setting.name, widget_for(setting)
        if catalog is None and widget in ("pick", "group"):
            widget = "key" if widget == "pick" else "json"
        try:
            if widget == "condition":
                value = condition(setting)
            elif widget == "group":
                value = _parse_group(setting, get, form, lang)
            else:
                value = _parse_one(setting, widget, name, get, form, lang)
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
        if get(name):
            return True
        return False if get(f"{name}-was") == "false" else None      # an explicit false is not dropped
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


def _parse_group(setting: Setting, get: Callable[[str], str], form: Any, lang: str) -> dict | None:
    """An object setting from its parts' controls: nothing when every part is empty (the setting is
    left out); a part left empty beside filled ones is left out too, for the validator to name."""
    out = {}
    for part in setting.parts:
        name = f"{setting.name}-{part.name}"
        widget = "key" if part.picks else widget_for(part)
        value = _parse_one(part, widget, name, get, form, lang)
        if value is not None:
            out[part.name] = value
    return out or None


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
