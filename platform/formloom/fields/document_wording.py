"""How a refused value reads in a document check ("The default of field 'tier' is 'c', which ...").

The check itself is always the field type's `clean`, so a document's default,
the value a rule sets and a posted value are judged alike. Only the wording
differs: people filling a form read the translated message ("Choose one of the
listed options."), document authors read a fragment naming the setting that
refused it. A type words its own codes in `phrases` (a format string, or a
function of the fill-ins); a code without a phrase falls back to the form
message, so a new type needs no phrases at all.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Union

from ..definitions.model import FieldDef
from ..definitions.wording import json_kind, show

Phrase = Union[str, Callable[[Mapping[str, Any]], str]]


def phrases_of(ftype: Any) -> dict[str, Phrase]:
    """The type's phrases, its own over its base classes'."""
    merged: dict[str, Phrase] = {}
    for cls in reversed(type(ftype).__mro__):
        merged.update(cls.__dict__.get("phrases", {}))
    return merged


def refusal_phrase(ftype: Any, f: FieldDef, value: Any, error: Any) -> str:
    """The fragment for `error` (a FieldValueError from `ftype.clean(f, value)`)."""
    phrase = phrases_of(ftype).get(error.code)
    if phrase is None:
        return f"is {show(value)}, which the field refuses: {error.message.rstrip('.')}"
    fill = {**error.params,
            "value": show(error.params.get("value", value)), "whole": value, "kind": json_kind(value),
            "options": ", ".join(f.option_values), "field": f, "message": error.message}
    return phrase(fill) if callable(phrase) else phrase.format(**fill)


def document_value_problem(field_doc: Mapping, value: Any) -> str | None:
    """`FieldType.value_problem` for a field *document* (a default, or a value a rule sets)."""
    from ..definitions.compile import compile_field
    from .base import FIELD_TYPES
    f = compile_field(field_doc)
    return FIELD_TYPES[f.type].value_problem(f, value)
