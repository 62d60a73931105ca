"""Validating documents: first against the meta-schemas, then for meaning.

Every check reports all it finds as `Problem`s with a JSON path and a sentence
a non-programmer can act on. The schema pass is jsonschema's (its raw messages
are translated in `_schema_problems`); the meaning checks are small generators
listed in `CROSS_CHECKS`. A meaning check reads the document defensively only
in the sense that, when the schema pass already found problems, a check that
trips over the broken shape is stopped quietly: the schema problem is the one
to fix first.
"""
from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import isodate
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from formloom import conditions, formulas, patterns, templating

from .load import load_document
from .model import EMPTY, RESERVED_FIELD_KEYS
from .problems import DocumentError, Problem, json_path, sorted_problems

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"

NUMERIC_TYPES = frozenset({"number", "money", "percent"})
TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "url"})
COMPUTED_TYPES = frozenset({"formula", "auto_number"})
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 10000}
AUTO_NUMBER_TOKEN = re.compile(r"\{([^{}]*)\}")
AUTO_NUMBER_TOKENS = re.compile(r"^(YYYY|YY|MM|DD|seq:[1-9][0-9]?|seq)$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PHONE = re.compile(r"^[0-9 +\-()]+$")
#: (lowest, highest) per cron field: minute, hour, day of month, month, day of week
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
CRON_NAMES = ({}, {}, {},
              {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
              {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())})

_COLLECTION_NOUNS = {
    "entities": "entity", "fields": "field", "columns": "column", "stages": "stage",
    "rules": "rule", "actions": "action", "options": "option", "conditions": "gate condition",
    "related": "related-record requirement",
}
_JSON_TYPE_NAMES = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "array": "a list", "object": "an object ({...})", "null": "null",
}


# --- the meta-schemas ----------------------------------------------------------

@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)     # no retrieve: nothing is ever fetched


@cache
def schema_validator(kind: str) -> Draft202012Validator:
    """The validator for "app", "entity", "field" or "workflow" documents."""
    schema = json.loads((SCHEMAS_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=_registry())


def check_schema(doc: Any, kind: str, source: str) -> list[Problem]:
    """Every way `doc` breaks the meta-schema of its kind, in plain sentences."""
    problems: list[Problem] = []
    for error in schema_validator(kind).iter_errors(doc):
        problems.extend(_schema_problems(error, doc, kind, source))
    return sorted_problems(problems)


# --- translating jsonschema's errors ------------------------------------------------

def _schema_problems(error: ValidationError, doc: Any, kind: str, source: str) -> Iterator[Problem]:
    parts = tuple(error.absolute_path)
    here = json_path(*parts)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value = error.instance
    hint = schema.get("x-message")
    validator = error.validator

    if validator == "required":
        owner = _describe(doc, parts, kind)
        for key in error.validator_value:
            if isinstance(value, Mapping) and key not in value:
                yield Problem(source, here, f"{_cap(owner)} is missing the required key {key!r}.")
    elif validator in ("additionalProperties", "unevaluatedProperties"):
        owner = _describe(doc, parts, kind)
        allowed = sorted(schema.get("properties", {}))
        type_const = schema.get("properties", {}).get("type", {}).get("const")
        for key in value:
            if key in allowed:
                continue
            if type_const is not None:
                sentence = f"{_cap(owner)} has the key {key!r}, which a {_noun(parts, kind)} of type {type_const!r} cannot have"
            else:
                sentence = f"{_cap(owner)} has an unknown key {key!r}"
            yield Problem(source, json_path(*parts, key),
                          f"{sentence}{_did_you_mean(key, allowed)} (allowed here: {', '.join(allowed)}).")
    elif validator == "enum":
        choices = ", ".join(c if isinstance(c, str) else json.dumps(c) for c in error.validator_value)
        if parts and parts[-1] == "type":
            noun = _noun(parts[:-1], kind)
            yield Problem(source, here, f"{_show(value)} is not a known {noun} type"
                                        f"{_did_you_mean(value, error.validator_value)} (choose one of: {choices}).")
        else:
            yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} is {_show(value)}, "
                                        f"which is not one of the allowed values ({choices}).")
    elif validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in expected)
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} must be {wanted}, not {_json_kind(value)}.")
    elif validator == "pattern" or (validator == "propertyNames" and isinstance(value, str)):
        yield Problem(source, here, _pattern_sentence(doc, parts, kind, value, error, hint))
    elif validator in ("minItems", "maxItems"):
        n = error.validator_value
        word = "at least" if validator == "minItems" else "at most"
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} must have {word} {n} "
                                    f"{'entry' if n == 1 else 'entries'}.")
    elif validator == "uniqueItems":
        repeated = [_show(v) for v, n in Counter(json.dumps(v, sort_keys=True) for v in value).items() if n > 1]
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} lists the same value more than once"
                                    f" ({', '.join(repeated)}).")
    elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most",
                "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}[validator]
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} must be {word} "
                                    f"{error.validator_value} (it is {_show(value)}).")
    elif validator == "minLength":
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} must not be empty."
                      if error.validator_value == 1 else
                      f"{_cap(_describe(doc, parts, kind))} must have at least {error.validator_value} characters.")
    elif validator == "maxLength":
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} is longer than "
                                    f"{error.validator_value} characters.")
    elif validator == "minProperties":
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} needs at least one language "
                                    "(for example {\"en\": \"...\"}).")
    elif hint:
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))} is {_show(value)}, which {hint}.")
    else:
        yield Problem(source, here, f"{_cap(_describe(doc, parts, kind))}: {error.message}.")


def _pattern_sentence(doc: Any, parts: tuple, kind: str, value: Any, error: ValidationError,
                      hint: str | None) -> str:
    is_key = error.validator_value == KEY_PATTERN or error.validator == "propertyNames"
    if is_key and isinstance(value, str):
        if value[:1] in ("$", "_"):
            return (f"{value!r} cannot be used as a key: keys starting with '$' or '_' "
                    "are reserved for the engine.")
        suggestion = re.sub(r"[^a-z0-9_]+", "_", value.lower()).strip("_")
        tip = f" (for example {suggestion!r})" if re.match(KEY_PATTERN, suggestion) else ""
        return (f"{value!r} is not a valid key: a key uses lowercase letters, digits and underscores, "
                f"starts with a letter and has at most 63 characters{tip}.")
    if hint:
        return f"{_cap(_describe(doc, parts, kind))} is {_show(value)}, which {hint}."
    return f"{_cap(_describe(doc, parts, kind))} is {_show(value)}, which does not have the expected form."


def _node(doc: Any, parts: Sequence) -> Any:
    for part in parts:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _noun(parts: Sequence, kind: str) -> str:
    """"field" for $.entities[0].fields[2], "trigger" for ...rules[0].trigger, and so on."""
    if not parts:
        return kind
    if isinstance(parts[-1], int) and len(parts) > 1:
        return _COLLECTION_NOUNS.get(parts[-2], "item")
    return str(parts[-1])


def _describe(doc: Any, parts: Sequence, kind: str) -> str:
    """A short name for what is at `parts`: "field 'amount'", "the 'max_length' of field 'name'"."""
    if not parts:
        return f"the {kind}"
    last = parts[-1]
    if isinstance(last, int) and len(parts) > 1 and parts[-2] in _COLLECTION_NOUNS:
        noun = _COLLECTION_NOUNS[parts[-2]]
        node = _node(doc, parts)
        key = node.get("key") if isinstance(node, Mapping) else None
        if isinstance(key, str) and noun not in ("action", "gate condition", "related-record requirement"):
            return f"{noun} {key!r}"
        if isinstance(node, str) and noun == "option":
            return f"option {node!r}"
        return f"{noun} {last + 1} of {_describe(doc, parts[:-2], kind)}"
    if isinstance(last, int):
        return f"item {last + 1} of {_describe(doc, parts[:-1], kind)}"
    return f"the {last!r} of {_describe(doc, parts[:-1], kind)}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return "null"


def _did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- what one meaning check looks at --------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """One document under check, with the documents it refers to."""

    kind: str                                     # "app" or "workflow"
    doc: dict
    source: str
    app: dict | None = None                       # workflow: the app it belongs to, when known
    workflows: Mapping[str, dict] = field(default_factory=lambda: EMPTY)   # app: workflows by key

    def problem(self, *parts: str | int, message: str) -> Problem:
        return Problem(self.source, json_path(*parts), message)


Check = Callable[[Subject], Iterator[Problem]]


def for_kind(kind: str) -> Callable[[Check], Check]:
    def mark(check: Check) -> Check:
        check.kind = kind        # type: ignore[attr-defined]
        return check
    return mark


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _dicts(value: Any) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in _items(value) if isinstance(v, dict)]


def _entities(app: dict | None) -> list[tuple[int, dict]]:
    return _dicts(app.get("entities")) if isinstance(app, dict) else []


def _entity(app: dict | None, key: Any) -> dict | None:
    return next((e for _, e in _entities(app) if e.get("key") == key), None)


def _fields(entity: dict | None) -> dict[str, dict]:
    if not isinstance(entity, dict):
        return {}
    return {f["key"]: f for _, f in _dicts(entity.get("fields")) if isinstance(f.get("key"), str)}


def _label_texts(label: Any) -> list[tuple[tuple, str]]:
    """(path suffix, text) for each language of a label."""
    if isinstance(label, str):
        return [((), label)]
    if isinstance(label, dict):
        return [((lang,), text) for lang, text in label.items() if isinstance(text, str)]
    return []


def _entity_keys(app: dict | None) -> list[str]:
    return [e["key"] for _, e in _entities(app) if isinstance(e.get("key"), str)]


def _roles(app: dict | None) -> list[str]:
    return [r for _, r in _items(app.get("roles"))] if isinstance(app, dict) else []


def _unknown(what: str, name: Any, known: Iterable[str]) -> str:
    return f"{what} {name!r}{_did_you_mean(name, sorted(known))}"


def _workflow_fields(s: Subject) -> dict[str, dict] | None:
    """The fields of the workflow's entity, or None when the app or the entity is unknown."""
    entity = _entity(s.app, s.doc.get("entity"))
    return None if entity is None else _fields(entity)


def _logic_problems(s: Subject, logic: Any, known: Iterable[str], path: tuple, what: str) -> Iterator[Problem]:
    for sentence in conditions.check_logic(logic, set(known) | conditions.SPECIAL_VARIABLES):
        yield s.problem(*path, message=f"{_cap(what)} {sentence}.")


def _duration(text: Any, *, negative_ok: bool = False) -> str | None:
    """None when `text` is a usable ISO 8601 duration, else why not."""
    if not isinstance(text, str):
        return "is not text"
    body = text[1:] if text.startswith("-") else text
    try:
        parsed = isodate.parse_duration(body)
    except (isodate.ISO8601Error, ValueError, OverflowError):
        return "is not an ISO 8601 duration (write it like PT48H, P3D, P1DT12H or -P3D)"
    if text.startswith("-") and not negative_ok:
        return "is negative; only an offset may be negative"
    zero = (parsed == timedelta(0)) if isinstance(parsed, timedelta) else (
        parsed.years == 0 and parsed.months == 0 and parsed.tdelta == timedelta(0))
    if zero and not negative_ok:
        return "is zero; give a length of time"
    return None


# --- meaning checks: the app ---------------------------------------------------------------

def _duplicates(items: list[tuple[int, Any]], key_of: Callable[[Any], Any]) -> Iterator[tuple[int, Any, int]]:
    """(index, key, index of first occurrence) for each repeated key."""
    first: dict[Any, int] = {}
    for i, item in items:
        key = key_of(item)
        if not isinstance(key, str):
            continue
        if key in first:
            yield i, key, first[key]
        else:
            first[key] = i


def _case_clashes(items: list[tuple[int, Any]], key_of: Callable[[Any], Any]) -> Iterator[tuple[int, str, str]]:
    seen: dict[str, str] = {}
    for i, item in items:
        key = key_of(item)
        if not isinstance(key, str):
            continue
        folded = key.casefold()
        if folded in seen and seen[folded] != key:
            yield i, key, seen[folded]
        seen.setdefault(folded, key)


def _key(item: Any) -> Any:
    return item.get("key") if isinstance(item, dict) else None


def _option_value(option: Any) -> Any:
    return option.get("value") if isinstance(option, dict) else option


@for_kind("app")
def unique_keys(s: Subject) -> Iterator[Problem]:
    """Entities, fields (and subtable columns) and options are named once each."""
    entities = _dicts(s.doc.get("entities"))
    for i, key, first in _duplicates(entities, _key):
        yield s.problem("entities", i, "key", message=f"Entity key {key!r} is used twice (entities {first + 1} and {i + 1}).")
    for ei, entity in entities:
        yield from _unique_fields(s, entity.get("fields"), ("entities", ei, "fields"),
                                  f"entity {entity.get('key')!r}")


def _unique_fields(s: Subject, fields: Any, path: tuple, owner: str) -> Iterator[Problem]:
    items = _dicts(fields)
    for i, key, first in _duplicates(items, _key):
        yield s.problem(*path, i, "key", message=f"Field key {key!r} is used twice in {owner} "
                                                 f"(fields {first + 1} and {i + 1}); each field needs its own key.")
    for i, key, other in _case_clashes(items, _key):
        yield s.problem(*path, i, "key", message=f"Field keys {other!r} and {key!r} in {owner} differ only in "
                                                 "upper/lower case; use clearly different keys.")
    for i, f in items:
        options = _items(f.get("options"))
        for j, value, first in _duplicates(options, _option_value):
            yield s.problem(*path, i, "options", j, message=f"Field {f.get('key')!r} lists the option {value!r} "
                                                            f"twice (options {first + 1} and {j + 1}).")
        if f.get("type") == "subtable":
            yield from _unique_fields(s, f.get("columns"), (*path, i, "columns"), f"subtable {f.get('key')!r}")


@for_kind("app")
def reserved_keys(s: Subject) -> Iterator[Problem]:
    """Field keys do not take names the engine uses for record columns."""
    for ei, entity in _entities(s.doc):
        for fi, f in _dicts(entity.get("fields")):
            if f.get("key") in RESERVED_FIELD_KEYS:
                yield s.problem("entities", ei, "fields", fi, "key",
                                message=f"{f['key']!r} is a reserved name and cannot be a field key "
                                        f"(reserved: {', '.join(sorted(RESERVED_FIELD_KEYS))}); "
                                        f"choose another key, such as '{entity.get('key')}_{f['key']}', and keep the label you want.")


@for_kind("app")
def roles_declared(s: Subject) -> Iterator[Problem]:
    """Every role named anywhere in the app is one of its declared roles."""
    roles = _roles(s.doc)
    admin = s.doc.get("admin_role", "admin")
    if isinstance(admin, str) and roles and admin not in roles:
        yield s.problem("admin_role" if "admin_role" in s.doc else "roles",
                        message=f"The admin role {admin!r} must be one of the app's roles ({', '.join(map(str, roles))}).")
    for ei, entity in _entities(s.doc):
        permissions = entity.get("permissions")
        for role in permissions if isinstance(permissions, dict) else ():
            if role not in roles:
                yield s.problem("entities", ei, "permissions", role,
                                message=f"Entity {entity.get('key')!r} gives permissions to "
                                        f"{_unknown('the role', role, roles)}, which is not one of the app's roles.")
        for fi, f in _dicts(entity.get("fields")):
            for which in ("hidden_for", "readonly_for"):
                for ri, role in _items(f.get(which)):
                    if role not in roles:
                        yield s.problem("entities", ei, "fields", fi, which, ri,
                                        message=f"Field {f.get('key')!r} names {_unknown('the role', role, roles)} in "
                                                f"{which!r}, which is not one of the app's roles.")


@for_kind("app")
def entity_references(s: Subject) -> Iterator[Problem]:
    """Title fields, list columns, reference targets and workflows all exist."""
    entity_keys = _entity_keys(s.doc)
    for ei, entity in _entities(s.doc):
        name = entity.get("key")
        fields = _fields(entity)
        title = entity.get("title")
        if isinstance(title, str):
            if title not in fields:
                yield s.problem("entities", ei, "title",
                                message=f"The title field {title!r} is not a field of entity {name!r}"
                                        f"{_did_you_mean(title, fields)}.")
            elif fields[title].get("type") in ("subtable", "checkbox"):
                yield s.problem("entities", ei, "title",
                                message=f"The title field {title!r} of entity {name!r} is a {fields[title]['type']}; "
                                        "choose a field with a short text value, such as a name.")
        for ci, column in _items(entity.get("list_columns")):
            if column not in fields:
                yield s.problem("entities", ei, "list_columns", ci,
                                message=f"The list column {column!r} is not a field of entity {name!r}"
                                        f"{_did_you_mean(column, fields)}.")
        workflow = entity.get("workflow")
        if isinstance(workflow, str) and workflow not in s.workflows:
            yield s.problem("entities", ei, "workflow",
                            message=f"Entity {name!r} uses the workflow {workflow!r}, but no workflow document with "
                                    f"that key was found (it is looked for as workflows/{workflow}.json next to "
                                    "app.json, then in the project's workflows folder).")
        for path, f in _all_fields(entity, ("entities", ei)):
            if f.get("type") == "reference" and isinstance(f.get("entity"), str) and f["entity"] not in entity_keys:
                yield s.problem(*path, "entity",
                                message=f"Field {f.get('key')!r} refers to "
                                        f"{_unknown('the entity', f['entity'], entity_keys)}, which this app does not have.")


def _all_fields(entity: dict, path: tuple) -> Iterator[tuple[tuple, dict]]:
    """(path, field) for every field of an entity, subtable columns included."""
    for fi, f in _dicts(entity.get("fields")):
        yield (*path, "fields", fi), f
        if f.get("type") == "subtable":
            for ci, column in _dicts(f.get("columns")):
                yield (*path, "fields", fi, "columns", ci), column


@for_kind("app")
def field_settings(s: Subject) -> Iterator[Problem]:
    """min <= max, valid dates and defaults, usable patterns and number formats."""
    for ei, entity in _entities(s.doc):
        for path, f in _all_fields(entity, ("entities", ei)):
            yield from _field_setting_problems(s, f, path)


def _field_setting_problems(s: Subject, f: dict, path: tuple) -> Iterator[Problem]:
    key, kind = f.get("key"), f.get("type")
    low, high = f.get("min"), f.get("max")
    if kind == "percent":
        low, high = (0 if low is None else low), (100 if high is None else high)
    if kind == "date":
        for which in ("min", "max"):
            if isinstance(f.get(which), str) and _iso_date(f[which]) is None:
                yield s.problem(*path, which, message=f"Field {key!r} has {which} {f[which]!r}, which is not a real "
                                                      "date (write it YYYY-MM-DD).")
        low, high = _iso_date(low), _iso_date(high)
    if _comparable(low, high) and low > high:
        yield s.problem(*path, "min", message=f"Field {key!r} has min {_plain(low)} greater than max {_plain(high)}.")
    rows_low, rows_high = f.get("min_rows"), f.get("max_rows")
    if _comparable(rows_low, rows_high) and rows_low > rows_high:
        yield s.problem(*path, "min_rows", message=f"Subtable {key!r} has min_rows {rows_low} greater than "
                                                   f"max_rows {rows_high}.")
    if kind == "multiselect" and isinstance(high, int) and isinstance(f.get("options"), list) \
            and high > len(f["options"]):
        yield s.problem(*path, "max", message=f"Field {key!r} allows choosing up to {high} options but has only "
                                              f"{len(f['options'])}.")
    if isinstance(f.get("pattern"), str) and (why := patterns.check_pattern(f["pattern"])):
        yield s.problem(*path, "pattern", message=f"The pattern of field {key!r} {why}.")
    if kind == "auto_number" and isinstance(f.get("format"), str):
        yield from _auto_number_problems(s, f, path)
    if "default" in f and f["default"] is not None:
        if (why := value_problem(f, f["default"])) is not None:
            yield s.problem(*path, "default", message=f"The default of field {key!r} {why}.")


def _auto_number_problems(s: Subject, f: dict, path: tuple) -> Iterator[Problem]:
    tokens = AUTO_NUMBER_TOKEN.findall(f["format"])
    for token in tokens:
        if not AUTO_NUMBER_TOKENS.match(token):
            yield s.problem(*path, "format", message=f"The number format of field {f.get('key')!r} uses "
                                                     f"{{{token}}}, which is not a known part (use {{YYYY}} {{YY}} "
                                                     "{MM} {DD} and {seq:N}).")
    if not any(t.startswith("seq") for t in tokens):
        yield s.problem(*path, "format", message=f"The number format of field {f.get('key')!r} has no {{seq:N}} part, "
                                                 "so two records could get the same number; add one, e.g. {seq:4}.")


def _iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or not ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _comparable(low: Any, high: Any) -> bool:
    numbers = (int, float)
    if isinstance(low, bool) or isinstance(high, bool):
        return False
    return (isinstance(low, numbers) and isinstance(high, numbers)) or (
        isinstance(low, date) and isinstance(high, date))


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def value_problem(f: Mapping, value: Any) -> str | None:
    """None when `value` is acceptable for field `f` (a field document), else a sentence fragment.

    Used for defaults and for the values rules set; it checks the shape a stored
    value has, not database lookups (whether a referenced record exists)."""
    kind = f.get("type")
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            return f"must be text, not {_json_kind(value)}"
        limit = f.get("max_length", DEFAULT_MAX_LENGTH.get(kind))
        if isinstance(limit, int) and len(value) > limit:
            return f"is longer than the field's max_length of {limit}"
        if kind == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            return f"is {value!r}, which is not an email address"
        if kind == "url" and not re.match(r"^https?://\S+$", value):
            return f"is {value!r}, which is not an http(s) address"
        if kind == "phone" and not (PHONE.match(value) and 5 <= sum(c.isdigit() for c in value) <= 20):
            return f"is {value!r}, which is not a phone number (5 to 20 digits, spaces and + - ( ) allowed)"
        return None
    if kind in NUMERIC_TYPES:
        number = _number(value, allow_text=kind == "money")
        if number is None:
            return f"must be a number, not {_json_kind(value)}"
        if kind in ("number", "percent") and f.get("precision", 0) == 0 and number != number.to_integral_value():
            return f"must be a whole number (the field has precision 0), not {value}"
        low = f.get("min", 0 if kind == "percent" else None)
        high = f.get("max", 100 if kind == "percent" else None)
        if isinstance(low, (int, float)) and number < Decimal(str(low)):
            return f"is {value}, below the field's min of {low}"
        if isinstance(high, (int, float)) and number > Decimal(str(high)):
            return f"is {value}, above the field's max of {high}"
        return None
    if kind == "date":
        day = _iso_date(value)
        if day is None:
            return f"is {_show(value)}, which is not a date written YYYY-MM-DD"
        low, high = _iso_date(f.get("min")), _iso_date(f.get("max"))
        if (low and day < low) or (high and day > high):
            return f"is {value!r}, outside the field's date range"
        return None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            return f"is {_show(value)}, which is not a date and time with a UTC offset (e.g. 2026-11-23T09:00:00+08:00)"
        return None
    if kind == "select":
        values = [_option_value(o) for _, o in _items(f.get("options"))]
        if value not in values:
            return f"is {_show(value)}, which is not one of its options ({', '.join(map(str, values))})"
        return None
    if kind == "multiselect":
        values = [_option_value(o) for _, o in _items(f.get("options"))]
        if not isinstance(value, list):
            return f"must be a list of option values, not {_json_kind(value)}"
        wrong = [v for v in value if v not in values]
        if wrong:
            return f"lists {_show(wrong[0])}, which is not one of its options ({', '.join(map(str, values))})"
        if len(set(map(str, value))) != len(value):
            return "lists the same option more than once"
        return None
    if kind == "checkbox":
        return None if isinstance(value, bool) else f"must be true or false, not {_json_kind(value)}"
    if kind in ("reference", "user"):
        def is_id(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v > 0
        if f.get("multiple"):
            ok = isinstance(value, list) and all(is_id(v) for v in value)
            return None if ok else "must be a list of record ids (whole numbers)"
        return None if is_id(value) else "must be a record id (a whole number)"
    if kind == "rating":
        scale = f.get("scale", 5)
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= scale
        return None if ok else f"must be a whole number from 0 to {scale}"
    if kind in COMPUTED_TYPES:
        return "cannot be set: the field is computed"
    if kind == "subtable":
        return None if isinstance(value, list) and all(isinstance(v, dict) for v in value) else \
            "must be a list of rows"
    return None


def _number(value: Any, allow_text: bool) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if allow_text and isinstance(value, str) and re.match(r"^-?\d+(\.\d+)?$", value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


@for_kind("app")
def field_conditions(s: Subject) -> Iterator[Problem]:
    """visible_if and required_if use allowed operators and this entity's fields."""
    for ei, entity in _entities(s.doc):
        known = list(_fields(entity))
        for path, f in _all_fields(entity, ("entities", ei)):
            for which in ("visible_if", "required_if"):
                if which in f:
                    yield from _logic_problems(s, f[which], known, (*path, which),
                                               f"the condition {which!r} of field {f.get('key')!r}")


@for_kind("app")
def formulas_resolve(s: Subject) -> Iterator[Problem]:
    """Formulas parse, name only this entity's fields, and do not depend on themselves."""
    for ei, entity in _entities(s.doc):
        fields = _fields(entity)
        deps: dict[str, set[str]] = {}
        for fi, f in _dicts(entity.get("fields")):
            if f.get("type") != "formula" or not isinstance(f.get("formula"), str):
                continue
            path = ("entities", ei, "fields", fi, "formula")
            parsed, found = _formula_problems(s, f["formula"], fields, path, f"The formula of field {f.get('key')!r}")
            yield from found
            if parsed is not None and isinstance(f.get("key"), str):
                deps[f["key"]] = {v for v in parsed.variables if fields.get(v, {}).get("type") == "formula"}
        for cycle in formulas.find_cycles(deps):
            fi = next(i for i, f in _dicts(entity.get("fields")) if f.get("key") == cycle[0])
            yield s.problem("entities", ei, "fields", fi, "formula",
                            message=f"Formula fields depend on each other in a circle ({' -> '.join(cycle)}), "
                                    "so none of them can be computed.")


def _formula_problems(s: Subject, source: str, fields: Mapping[str, dict], path: tuple,
                      what: str) -> tuple[formulas.Formula | None, list[Problem]]:
    try:
        parsed = formulas.parse(source)
    except formulas.FormulaError as exc:
        return None, [s.problem(*path, message=f"{what} {exc}.")]
    found = []
    for name in sorted(parsed.variables - set(fields)):
        found.append(s.problem(*path, message=f"{what} uses {name!r}, which is not a field of this entity"
                                              f"{_did_you_mean(name, fields)}."))
    for table, column in _formula_columns(parsed):
        f = fields.get(table)
        if f is None:
            continue
        if f.get("type") != "subtable":
            found.append(s.problem(*path, message=f"{what} uses {table}.{column}, but {table!r} is not a subtable."))
        elif column not in _fields({"fields": f.get("columns")}):
            found.append(s.problem(*path, message=f"{what} uses {table}.{column}, but subtable {table!r} has no "
                                                  f"column {column!r}."))
    return parsed, found


def _formula_columns(parsed: formulas.Formula) -> Iterator[tuple[str, str]]:
    import ast
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            yield node.value.id, node.attr


@for_kind("app")
def app_calendar(s: Subject) -> Iterator[Problem]:
    """The timezone is a real IANA zone and holidays are real dates."""
    zone = s.doc.get("timezone")
    if isinstance(zone, str) and not _valid_zone(zone):
        yield s.problem("timezone", message=f"{zone!r} is not a known time zone; use an IANA name such as "
                                            "'Asia/Shanghai' or 'Europe/Berlin'.")
    for hi, day in _items(s.doc.get("holidays")):
        if isinstance(day, str) and ISO_DATE.match(day) and _iso_date(day) is None:
            yield s.problem("holidays", hi, message=f"The holiday {day!r} is not a real date.")


def _valid_zone(name: str) -> bool:
    if name.startswith(("/", ".")) or ".." in name or "\\" in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# --- meaning checks: workflows ----------------------------------------------------------

def _stages(doc: dict) -> list[tuple[int, dict]]:
    return _dicts(doc.get("stages"))


def _rules(doc: dict) -> list[tuple[int, dict]]:
    return _dicts(doc.get("rules"))


def _stage_keys(doc: dict) -> list[str]:
    return [st["key"] for _, st in _stages(doc) if isinstance(st.get("key"), str)]


@for_kind("workflow")
def workflow_unique_keys(s: Subject) -> Iterator[Problem]:
    """Stages and rules are named once each."""
    for i, key, first in _duplicates(_stages(s.doc), _key):
        yield s.problem("stages", i, "key", message=f"Stage key {key!r} is used twice (stages {first + 1} and {i + 1}).")
    for i, key, first in _duplicates(_rules(s.doc), _key):
        yield s.problem("rules", i, "key", message=f"Rule key {key!r} is used twice (rules {first + 1} and {i + 1}).")


@for_kind("workflow")
def workflow_entity(s: Subject) -> Iterator[Problem]:
    """The workflow's entity exists in its app and names this workflow."""
    if s.app is None:
        return
    name, key = s.doc.get("entity"), s.doc.get("key")
    entity = _entity(s.app, name)
    if entity is None:
        yield s.problem("entity", message=f"The workflow is for {_unknown('the entity', name, _entity_keys(s.app))}, "
                                          f"which app {s.app.get('key')!r} does not have.")
    elif entity.get("workflow") != key:
        yield s.problem("entity", message=f"Entity {name!r} does not name this workflow ({key!r}) in its 'workflow' "
                                          "key, so the workflow would never be used.")


@for_kind("workflow")
def stage_references(s: Subject) -> Iterator[Problem]:
    """Stages, fields and roles named by stages, gates, reopen_roles and the kanban exist."""
    stage_keys = _stage_keys(s.doc)
    fields = _workflow_fields(s)
    roles = _roles(s.app) if s.app is not None else None
    entity = s.doc.get("entity")
    for si, stage in _stages(s.doc):
        for fi, source_stage in _items(stage.get("from")):
            if source_stage != "*" and source_stage not in stage_keys:
                yield s.problem("stages", si, "from", fi,
                                message=f"Stage {stage.get('key')!r} can be reached from "
                                        f"{_unknown('the stage', source_stage, stage_keys)}, which this workflow does not have.")
            if source_stage == "*" and len(stage["from"]) > 1:
                yield s.problem("stages", si, "from", fi,
                                message=f"Stage {stage.get('key')!r} lists \"*\" (any stage) together with other "
                                        "stages; use either \"*\" alone or a list of stage keys.")
        gate = stage.get("gate") if isinstance(stage.get("gate"), dict) else {}
        lists = [(("stages", si, which), stage.get(which), f"lists the field {{name}} in {which!r}")
                 for which in ("required", "readonly", "hidden")]
        lists.append((("stages", si, "gate", "require"), gate.get("require"), "requires the field {name}"))
        if fields is not None:
            for path, keys, verb in lists:
                for ki, name in _items(keys):
                    if name not in fields:
                        yield s.problem(*path, ki, message=f"Stage {stage.get('key')!r} {verb.format(name=repr(name))}, "
                                                           f"which entity {entity!r} does not have{_did_you_mean(name, fields)}.")
        if roles is not None:
            for ri, role in _items(gate.get("roles")):
                if role not in roles:
                    yield s.problem("stages", si, "gate", "roles", ri,
                                    message=f"The gate of stage {stage.get('key')!r} names "
                                            f"{_unknown('the role', role, roles)}, which is not one of the app's roles.")
        if "rot_after" in stage and (why := _duration(stage["rot_after"])):
            yield s.problem("stages", si, "rot_after", message=f"The rot_after of stage {stage.get('key')!r} "
                                                               f"({_show(stage['rot_after'])}) {why}.")
    if roles is not None:
        for ri, role in _items(s.doc.get("reopen_roles")):
            if role not in roles:
                yield s.problem("reopen_roles", ri, message=f"reopen_roles names {_unknown('the role', role, roles)}, "
                                                            "which is not one of the app's roles.")
    kanban = s.doc.get("kanban") if isinstance(s.doc.get("kanban"), dict) else {}
    if fields is not None:
        total = kanban.get("sum")
        if isinstance(total, str):
            if total not in fields:
                yield s.problem("kanban", "sum", message=f"The kanban sums {_unknown('the field', total, fields)}, "
                                                         f"which entity {entity!r} does not have.")
            elif fields[total].get("type") not in NUMERIC_TYPES | {"formula"}:
                yield s.problem("kanban", "sum", message=f"The kanban sums the field {total!r}, which is a "
                                                         f"{fields[total].get('type')} field, not a number.")
        for ci, name in _items(kanban.get("card_fields")):
            if name not in fields:
                yield s.problem("kanban", "card_fields", ci,
                                message=f"The kanban card shows {_unknown('the field', name, fields)}, "
                                        f"which entity {entity!r} does not have.")


@for_kind("workflow")
def gate_conditions(s: Subject) -> Iterator[Problem]:
    """Gate conditions use known fields; related-record requirements point back at this entity."""
    fields = _workflow_fields(s)
    for si, stage in _stages(s.doc):
        gate = stage.get("gate") if isinstance(stage.get("gate"), dict) else {}
        for ci, condition in _dicts(gate.get("conditions")):
            if fields is not None and "rule" in condition:
                yield from _logic_problems(s, condition["rule"], fields, ("stages", si, "gate", "conditions", ci, "rule"),
                                           f"condition {ci + 1} of the gate of stage {stage.get('key')!r}")
        for ri, related in _dicts(gate.get("related")):
            path = ("stages", si, "gate", "related", ri)
            what = f"related-record requirement {ri + 1} of the gate of stage {stage.get('key')!r}"
            yield from _via_problems(s, related, path, what)
            other = _entity(s.app, related.get("entity"))
            if other is not None and "where" in related:
                yield from _logic_problems(s, related["where"], _fields(other), (*path, "where"),
                                           f"the 'where' of {what}")


def _via_problems(s: Subject, item: dict, path: tuple, what: str) -> Iterator[Problem]:
    """`entity` exists and `via` is its reference field pointing at the workflow's entity."""
    if s.app is None:
        return
    name, via, home = item.get("entity"), item.get("via"), s.doc.get("entity")
    other = _entity(s.app, name)
    if other is None:
        yield s.problem(*path, "entity", message=f"{_cap(what)} names {_unknown('the entity', name, _entity_keys(s.app))}, "
                                                 "which this app does not have.")
        return
    fields = _fields(other)
    target = fields.get(via)
    if target is None:
        yield s.problem(*path, "via", message=f"{_cap(what)} links through {_unknown('the field', via, fields)}, "
                                              f"which entity {name!r} does not have.")
    elif target.get("type") != "reference" or target.get("entity") != home:
        yield s.problem(*path, "via", message=f"{_cap(what)} links through {name}.{via}, which must be a reference "
                                              f"field pointing at {home!r}.")


@for_kind("workflow")
def rule_triggers(s: Subject) -> Iterator[Problem]:
    """Triggers name stages and fields that exist, with valid durations, times and cron lines."""
    stage_keys = _stage_keys(s.doc)
    fields = _workflow_fields(s)
    for ri, rule in _rules(s.doc):
        trigger = rule.get("trigger")
        if not isinstance(trigger, dict):
            continue
        path = ("rules", ri, "trigger")
        what = f"the trigger of rule {rule.get('key')!r}"
        kind = trigger.get("type")
        if "stage" in trigger and trigger["stage"] not in stage_keys:
            yield s.problem(*path, "stage", message=f"{_cap(what)} names {_unknown('the stage', trigger['stage'], stage_keys)}, "
                                                    "which this workflow does not have.")
        for fi, name in _items(trigger.get("from")):
            if name not in stage_keys:
                yield s.problem(*path, "from", fi, message=f"{_cap(what)} names {_unknown('the stage', name, stage_keys)}, "
                                                           "which this workflow does not have.")
        for which in ("after", "for"):
            if which in trigger and (why := _duration(trigger[which])):
                yield s.problem(*path, which, message=f"The {which!r} of {what} ({_show(trigger[which])}) {why}.")
        if "offset" in trigger and (why := _duration(trigger["offset"], negative_ok=True)):
            yield s.problem(*path, "offset", message=f"The offset of {what} ({_show(trigger['offset'])}) {why}.")
        if isinstance(trigger.get("cron"), str) and (why := cron_problem(trigger["cron"])):
            yield s.problem(*path, "cron", message=f"The schedule of {what} ({trigger['cron']!r}) {why}.")
        if kind == "no_related":
            yield from _via_problems(s, trigger, path, what)
        if fields is None:
            continue
        named = [((path, "field"), trigger["field"])] if "field" in trigger else []
        named += [((path, "fields", fi), name) for fi, name in _items(trigger.get("fields"))]
        for (base, *rest), name in named:
            if name not in fields:
                yield s.problem(*base, *rest, message=f"{_cap(what)} watches {_unknown('the field', name, fields)}, "
                                                      f"which entity {s.doc.get('entity')!r} does not have.")
        if kind == "date_field" and trigger.get("field") in fields:
            field_type = fields[trigger["field"]].get("type")
            if field_type not in ("date", "datetime"):
                yield s.problem(*path, "field", message=f"{_cap(what)} counts from the field {trigger['field']!r}, "
                                                        f"which is a {field_type} field; it must be a date or datetime field.")


def cron_problem(line: str) -> str | None:
    """None when `line` is a five-field cron expression ("m h dom mon dow"), else why not."""
    parts = line.split()
    if len(parts) != 5:
        return f"has {len(parts)} parts; a schedule has 5: minute hour day-of-month month day-of-week (e.g. '0 9 * * 1')"
    names = ("minute", "hour", "day of month", "month", "day of week")
    for part, (low, high), aliases, name in zip(parts, CRON_RANGES, CRON_NAMES, names):
        for item in part.split(","):
            body, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) >= 1):
                return f"has an invalid step {step!r} in the {name}"
            if body == "*":
                continue
            bounds = body.split("-")
            if len(bounds) > 2 or not all(_cron_value(b, aliases, low, high) for b in bounds):
                return f"has {item!r} in the {name}, which must be * or values from {low} to {high}"
    return None


def _cron_value(text: str, aliases: Mapping[str, int], low: int, high: int) -> bool:
    if text.lower() in aliases:
        return True
    return text.isdigit() and low <= int(text) <= high


@for_kind("workflow")
def rule_actions(s: Subject) -> Iterator[Problem]:
    """Actions name stages, fields, entities, roles and recipients that exist; templates compile."""
    stage_keys = _stage_keys(s.doc)
    fields = _workflow_fields(s)
    roles = _roles(s.app) if s.app is not None else None
    for ri, rule in _rules(s.doc):
        rule_path = ("rules", ri)
        rule_name = f"rule {rule.get('key')!r}"
        if isinstance(rule.get("repeat"), dict) and "every" in rule["repeat"] \
                and (why := _duration(rule["repeat"]["every"])):
            yield s.problem(*rule_path, "repeat", "every",
                            message=f"The repeat interval of {rule_name} ({_show(rule['repeat']['every'])}) {why}.")
        for ai, action in _dicts(rule.get("actions")):
            path = (*rule_path, "actions", ai)
            what = f"action {ai + 1} of {rule_name}"
            yield from _action_problems(s, action, path, what, stage_keys, fields, roles)


def _action_problems(s: Subject, action: dict, path: tuple, what: str, stage_keys: list[str],
                     fields: dict[str, dict] | None, roles: list[str] | None) -> Iterator[Problem]:
    kind = action.get("type")
    for which in ("subject", "message"):
        for suffix, text in _label_texts(action.get(which)):
            if (why := templating.check_template(text)) is not None:
                yield s.problem(*path, which, *suffix, message=f"The {which} of {what} {why}")
    for ti, recipient in _items(action.get("to")):
        if not isinstance(recipient, str):
            continue
        prefix, _, name = recipient.partition(":")
        if prefix == "role" and roles is not None and name not in roles:
            yield s.problem(*path, "to", ti, message=f"{_cap(what)} notifies {_unknown('the role', name, roles)}, "
                                                     "which is not one of the app's roles.")
        if prefix == "field" and fields is not None:
            if name not in fields:
                yield s.problem(*path, "to", ti, message=f"{_cap(what)} notifies the people in "
                                                         f"{_unknown('the field', name, fields)}, which the entity does not have.")
            elif fields[name].get("type") != "user":
                yield s.problem(*path, "to", ti, message=f"{_cap(what)} notifies the people in the field {name!r}, "
                                                         f"which is a {fields[name].get('type')} field, not a user field.")
    if kind == "move_stage" and "stage" in action and action["stage"] not in stage_keys:
        yield s.problem(*path, "stage", message=f"{_cap(what)} moves records to "
                                                f"{_unknown('the stage', action['stage'], stage_keys)}, which this workflow does not have.")
    if kind == "assign" and roles is not None and "role" in action and action["role"] not in roles:
        yield s.problem(*path, "role", message=f"{_cap(what)} assigns among {_unknown('the role', action['role'], roles)}, "
                                               "which is not one of the app's roles.")
    if "due_in" in action and (why := _duration(action["due_in"])):
        yield s.problem(*path, "due_in", message=f"The due_in of {what} ({_show(action['due_in'])}) {why}.")
    if kind == "set_field":
        yield from _set_field_problems(s, action, path, what, fields)
    if kind == "create_record":
        yield from _create_record_problems(s, action, path, what)


def _set_field_problems(s: Subject, action: dict, path: tuple, what: str,
                        fields: dict[str, dict] | None) -> Iterator[Problem]:
    if "value" in action and "formula" in action:
        yield s.problem(*path, message=f"{_cap(what)} has both a value and a formula; give only one.")
    if fields is None:
        return
    name = action.get("field")
    target = fields.get(name)
    if target is None:
        yield s.problem(*path, "field", message=f"{_cap(what)} sets {_unknown('the field', name, fields)}, "
                                                "which the entity does not have.")
        return
    if target.get("type") in COMPUTED_TYPES:
        yield s.problem(*path, "field", message=f"{_cap(what)} sets the field {name!r}, which is computed and cannot be set.")
    elif action.get("value") is not None and (why := value_problem(target, action["value"])):
        yield s.problem(*path, "value", message=f"The value that {what} sets {why}.")
    if isinstance(action.get("formula"), str):
        _, found = _formula_problems(s, action["formula"], fields, (*path, "formula"), f"The formula of {what}")
        yield from found


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _create_record_problems(s: Subject, action: dict, path: tuple, what: str) -> Iterator[Problem]:
    values = action.get("values") if isinstance(action.get("values"), dict) else {}
    for name, value in values.items():
        if _is_template(value) and (why := templating.check_template(value)) is not None:
            yield s.problem(*path, "values", name, message=f"The value of {name!r} in {what} {why}")
    if s.app is None:
        return
    target = _entity(s.app, action.get("entity"))
    if target is None:
        yield s.problem(*path, "entity", message=f"{_cap(what)} creates a record of "
                                                 f"{_unknown('the entity', action.get('entity'), _entity_keys(s.app))}, "
                                                 "which this app does not have.")
        return
    fields = _fields(target)
    for name, value in values.items():
        f = fields.get(name)
        if f is None:
            yield s.problem(*path, "values", name, message=f"{_cap(what)} fills {_unknown('the field', name, fields)}, "
                                                           f"which entity {target.get('key')!r} does not have.")
        elif f.get("type") in COMPUTED_TYPES:
            yield s.problem(*path, "values", name, message=f"{_cap(what)} fills the field {name!r}, which is computed.")
        elif value is not None and not _is_template(value) and (why := value_problem(f, value)):
            yield s.problem(*path, "values", name, message=f"The value that {what} gives {name!r} {why}.")
    for name, f in fields.items():
        if f.get("required") is True and name not in values and f.get("default") is None \
                and f.get("type") not in COMPUTED_TYPES:
            yield s.problem(*path, "values", message=f"{_cap(what)} creates a {target.get('key')!r} record without its "
                                                     f"required field {name!r}; add it to 'values'.")


@for_kind("workflow")
def rule_conditions(s: Subject) -> Iterator[Problem]:
    """Rule conditions use allowed operators and the entity's fields."""
    fields = _workflow_fields(s)
    if fields is None:
        for ri, rule in _rules(s.doc):
            if "condition" in rule:     # the operators can be checked without the app
                for sentence in conditions.check_logic(rule["condition"], ()):
                    if not sentence.startswith("refers to"):
                        yield s.problem("rules", ri, "condition",
                                        message=f"The condition of rule {rule.get('key')!r} {sentence}.")
        return
    for ri, rule in _rules(s.doc):
        if "condition" in rule:
            yield from _logic_problems(s, rule["condition"], fields, ("rules", ri, "condition"),
                                       f"the condition of rule {rule.get('key')!r}")


CROSS_CHECKS: tuple[Check, ...] = (
    # app documents
    unique_keys, reserved_keys, roles_declared, entity_references, field_settings,
    field_conditions, formulas_resolve, app_calendar,
    # workflow documents
    workflow_unique_keys, workflow_entity, stage_references, gate_conditions, rule_triggers,
    rule_actions, rule_conditions,
)


def check_meaning(subject: Subject, schema_ok: bool) -> list[Problem]:
    """Run every cross check for the subject's kind and collect what they find."""
    found: list[Problem] = []
    for check in CROSS_CHECKS:
        if getattr(check, "kind", None) != subject.kind:
            continue
        try:
            found.extend(check(subject))
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            if schema_ok:
                raise           # a valid document must never trip a check: that is a bug here
            # the shape is already reported by the schema pass; this check cannot say more
    return found


# --- entry points ------------------------------------------------------------------

def validate_app(app_doc: dict, workflow_docs: Mapping[str, dict], source: str) -> list[Problem]:
    """Schema and meaning problems of one app document. `workflow_docs` maps workflow key ->
    document and is only used to see that the workflows the entities name exist."""
    problems = check_schema(app_doc, "app", source)
    if isinstance(app_doc, dict):
        subject = Subject("app", app_doc, source, workflows=workflow_docs)
        problems += check_meaning(subject, schema_ok=not problems)
    return sorted_problems(problems)


def validate_workflow(workflow_doc: dict, app_doc: dict | None, source: str) -> list[Problem]:
    """Schema and meaning problems of one workflow document, checked against its app when given
    (without the app only what the workflow says about itself can be checked)."""
    problems = check_schema(workflow_doc, "workflow", source)
    if isinstance(workflow_doc, dict):
        app_ok = app_doc is None or schema_validator("app").is_valid(app_doc)
        subject = Subject("workflow", workflow_doc, source, app=app_doc)
        problems += check_meaning(subject, schema_ok=not problems and app_ok)
    return sorted_problems(problems)


@dataclass
class _Loaded:
    source: str
    doc: dict
    path: Path


def validate_paths(paths: Sequence[Path | str], search_dirs: Sequence[Path] | None = None) -> list[Problem]:
    """What `formloom validate PATH...` reports: every problem of every document given.

    Paths are app documents (app.json, or a template folder holding one) and
    workflow documents. Each app's workflows are taken from the command line
    when given there, else looked for as `<key>.json` in the app folder's
    `workflows/` and then in each of `search_dirs` (default: the project's
    workflows folder). A workflow given on the command line is checked against
    the app given with it that has its entity."""
    if search_dirs is None:
        from formloom import resources
        search_dirs = [resources.workflows_dir()]
    problems: list[Problem] = []
    apps: list[_Loaded] = []
    given_workflows: list[_Loaded] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if not (path / "app.json").is_file():
                problems.append(Problem(str(path), "$", "This folder has no app.json; give an app.json file, an app "
                                                        "template folder holding one, or a workflow file."))
                continue
            path = path / "app.json"
        try:
            doc = load_document(path)
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        kind = _kind_of(doc, path)
        if kind is None:
            problems.append(Problem(str(path), "$", "This is neither an app document (it would have 'entities') nor "
                                                    "a workflow document (it would have 'entity' and 'stages')."))
        else:
            (apps if kind == "app" else given_workflows).append(_Loaded(str(path), doc, path))

    given_by_key = {w.doc.get("key"): w for w in given_workflows if isinstance(w.doc.get("key"), str)}
    checked: set[str] = set()
    for app in apps:
        found: dict[str, _Loaded] = {}
        broken: dict[str, dict] = {}
        for _, entity in _entities(app.doc):
            key = entity.get("workflow")
            if not isinstance(key, str) or key in found or key in broken:
                continue
            if key in given_by_key:
                found[key] = given_by_key[key]
                continue
            candidates = [app.path.parent / "workflows" / f"{key}.json", *(Path(d) / f"{key}.json" for d in search_dirs)]
            location = next((c for c in candidates if c.is_file()), None)
            if location is None:
                continue
            try:
                loaded = _Loaded(str(location), load_document(location), location)
            except DocumentError as exc:
                problems.extend(exc.problems)
                broken[key] = {}          # exists, but unreadable: reported above, not as missing
                continue
            if loaded.doc.get("key") != key:
                problems.append(Problem(loaded.source, json_path("key"),
                                        f"The file is named {key}.json but its key is {_show(loaded.doc.get('key'))}; "
                                        "a workflow file is named after its key."))
                broken[key] = {}
                continue
            found[key] = loaded
        problems += validate_app(app.doc, {**broken, **{k: w.doc for k, w in found.items()}}, app.source)
        for workflow in found.values():
            if workflow.source not in checked:
                checked.add(workflow.source)
                problems += validate_workflow(workflow.doc, app.doc, workflow.source)

    for workflow in given_workflows:
        if workflow.source in checked:
            continue
        checked.add(workflow.source)
        owners = [a for a in apps if _entity(a.doc, workflow.doc.get("entity")) is not None]
        if apps and not owners:
            problems.append(Problem(workflow.source, json_path("entity"),
                                    f"None of the apps given has the entity {_show(workflow.doc.get('entity'))} "
                                    "this workflow is for."))
        problems += validate_workflow(workflow.doc, owners[0].doc if owners else None, workflow.source)
    return sorted_problems(problems)


def _kind_of(doc: dict, path: Path) -> str | None:
    if "entities" in doc:
        return "app"
    if "stages" in doc or "entity" in doc:
        return "workflow"
    if path.name == "app.json":
        return "app"
    return None
