"""The meta-schema pass: loading the schemas, and turning jsonschema's errors into plain sentences.

The schemas are served from a local `referencing` registry, so nothing is ever
fetched over the network. Those generated from the registries (formloom.meta_schemas)
are built from them, the committed files being their reviewed copy.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from .problems import Problem, json_path, sorted_problems
from .wording import cap, did_you_mean, json_kind, show


SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"
_COLLECTION_NOUNS = {
    "entities": "entity", "fields": "field", "columns": "column", "stages": "stage",
    "rules": "rule", "actions": "action", "options": "option", "conditions": "gate condition",
    "related": "related-record requirement", "sections": "section",
}
_JSON_TYPE_NAMES = {
    "string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "array": "a list", "object": "an object ({...})", "null": "null",
}


def _contents(path: Path) -> dict:
    """A schema as the registries give it (generated files), else as written in the file."""
    from formloom import meta_schemas
    build = meta_schemas.GENERATED.get(path.name)
    return build() if build is not None else json.loads(path.read_text(encoding="utf-8"))


@cache
def _registry(signature: tuple) -> Registry:
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*.schema.json")):
        contents = _contents(path)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)     # no retrieve: nothing is ever fetched


def schema_validator(kind: str) -> Draft202012Validator:
    """The validator for "app", "entity", "field" or "workflow" documents.

    Schemas generated from the registries are assembled here, so a field type,
    trigger or action registered by an extension is known at once; the cache
    is keyed by what the registries hold, so registering one starts afresh."""
    from formloom import meta_schemas
    return _validator(kind, meta_schemas.signature())


@cache
def _validator(kind: str, signature: tuple) -> Draft202012Validator:
    return Draft202012Validator(_contents(SCHEMAS_DIR / f"{kind}.schema.json"), registry=_registry(signature))


def check_schema(doc: Any, kind: str, source: str) -> list[Problem]:
    """Every way `doc` breaks the meta-schema of its kind, in plain sentences."""
    problems: list[Problem] = []
    for error in schema_validator(kind).iter_errors(doc):
        problems.extend(_schema_problems(error, doc, kind, source))
    return sorted_problems(problems)


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
                yield Problem(source, here, f"{cap(owner)} is missing the required key {key!r}.")
    elif validator in ("additionalProperties", "unevaluatedProperties"):
        owner = _describe(doc, parts, kind)
        allowed = sorted(schema.get("properties", {}))
        type_const = schema.get("properties", {}).get("type", {}).get("const")
        for key in value:
            if key in allowed:
                continue
            if type_const is not None:
                sentence = f"{cap(owner)} has the key {key!r}, which a {_noun(parts, kind)} of type {type_const!r} cannot have"
            else:
                sentence = f"{cap(owner)} has an unknown key {key!r}"
            yield Problem(source, json_path(*parts, key),
                          f"{sentence}{did_you_mean(key, allowed)} (allowed here: {', '.join(allowed)}).")
    elif validator == "enum":
        choices = ", ".join(c if isinstance(c, str) else json.dumps(c) for c in error.validator_value)
        if parts and parts[-1] == "type":
            noun = _noun(parts[:-1], kind)
            yield Problem(source, here, f"{show(value)} is not a known {noun} type"
                                        f"{did_you_mean(value, error.validator_value)} (choose one of: {choices}).")
        else:
            yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} is {show(value)}, "
                                        f"which is not one of the allowed values ({choices}).")
    elif validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in expected)
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} must be {wanted}, not {json_kind(value)}.")
    elif validator == "pattern" or (validator == "propertyNames" and isinstance(value, str)):
        yield Problem(source, here, _pattern_sentence(doc, parts, kind, value, error, hint))
    elif validator in ("minItems", "maxItems"):
        n = error.validator_value
        word = "at least" if validator == "minItems" else "at most"
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} must have {word} {n} "
                                    f"{'entry' if n == 1 else 'entries'}.")
    elif validator == "uniqueItems":
        repeated = [show(v) for v, n in Counter(json.dumps(v, sort_keys=True) for v in value).items() if n > 1]
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} lists the same value more than once"
                                    f" ({', '.join(repeated)}).")
    elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most",
                "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}[validator]
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} must be {word} "
                                    f"{error.validator_value} (it is {show(value)}).")
    elif validator == "minLength":
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} must not be empty."
                      if error.validator_value == 1 else
                      f"{cap(_describe(doc, parts, kind))} must have at least {error.validator_value} characters.")
    elif validator == "maxLength":
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} is longer than "
                                    f"{error.validator_value} characters.")
    elif validator == "minProperties":
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} needs at least one language "
                                    "(for example {\"en\": \"...\"}).")
    elif hint:
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))} is {show(value)}, which {hint}.")
    else:
        yield Problem(source, here, f"{cap(_describe(doc, parts, kind))}: {error.message}.")


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
        return f"{cap(_describe(doc, parts, kind))} is {show(value)}, which {hint}."
    return f"{cap(_describe(doc, parts, kind))} is {show(value)}, which does not have the expected form."


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
