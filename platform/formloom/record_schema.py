"""The JSON Schema (draft 2020-12) of a record's `data` object, for the API.

Built from the same field types as the forms, so the two agree (a property test
holds them equal). Each writable field's value schema comes from
`FieldType.json_schema`; a field that is not always required also accepts an
empty value (null, "" or []). Only unconditional `required` is listed in
`required`: visible_if, required_if and stage requirements depend on other
values and are decided by the server (`record_data.clean_record_data`), as are
reference/user existence and text patterns that RE2 and ECMA-262 read
differently.

Two things JSON Schema cannot say portably are written the way ajv-formats
says them and enforced by `record_validator`: `formatMinimum`/`formatMaximum`
on dates and decimal-string amounts. `record_validator` also reads numbers the
way JSON does: finite only, and `multipleOf` exact in decimal (0.07 is a
multiple of 0.01, whatever binary floats say).
"""
from __future__ import annotations

import decimal
import math
from decimal import Decimal
from typing import Any, Iterator

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from .definitions.model import EntityDef
from .fields.base import always_required, property_schema
from .fields.dates import parse_date, parse_datetime
from .fields.numbers import is_json_number, is_multiple
from .fields.text import is_web_url, normalized_email

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def record_json_schema(entity: EntityDef, lang: str = "en", for_update: bool = False) -> dict:
    """Schema of `data` for creating (or, with for_update, patching) a record of `entity`."""
    properties: dict[str, dict] = {}
    required: list[str] = []
    for f in entity.fields:
        if f.is_computed or f.archived:
            continue
        if for_update:                  # a record may keep a retired option it holds (the server decides)
            f = f.with_all_options_offered()
        needed = always_required(f)
        schema = {"title": f.label.get(lang), **property_schema(f, needed)}
        if f.help is not None:
            schema["description"] = f.help.get(lang)
        properties[f.key] = schema
        if needed and not for_update:
            required.append(f.key)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": entity.label.get(lang),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


# -- the validator ------------------------------------------------------------------

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date")
def _is_date(value: Any) -> bool:
    return not isinstance(value, str) or parse_date(value) is not None


@FORMAT_CHECKER.checks("date-time")
def _is_datetime(value: Any) -> bool:
    return not isinstance(value, str) or parse_datetime(value) is not None


@FORMAT_CHECKER.checks("email")
def _is_email(value: Any) -> bool:
    return not isinstance(value, str) or normalized_email(value) is not None


@FORMAT_CHECKER.checks("iri")       # how the OpenAPI document says "uri": international host names too
@FORMAT_CHECKER.checks("uri")
def _is_web_url(value: Any) -> bool:
    return not isinstance(value, str) or is_web_url(value)


@FORMAT_CHECKER.checks("decimal")
def _is_decimal(value: Any) -> bool:
    return not isinstance(value, str) or _decimal(value) is not None


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except decimal.InvalidOperation:
        return None
    return number if number.is_finite() else None


def _comparable(fmt: str | None, value: Any) -> Any:
    if fmt == "decimal":
        return _decimal(value) if isinstance(value, str) else None
    return value if isinstance(value, str) else None     # ISO dates compare as text


def _format_bound(below: bool) -> Any:
    def check(validator: Any, bound: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
        value, limit = _comparable(schema.get("format"), instance), _comparable(schema.get("format"), bound)
        if value is None or limit is None:
            return
        if (value < limit) if below else (value > limit):
            yield ValidationError(f"{instance!r} is {'less' if below else 'more'} than {bound!r}")
    return check


def _multiple_of(validator: Any, step: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "number") and not is_multiple(instance, step):
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


def _finite_number(checker: Any, instance: Any) -> bool:
    return is_json_number(instance) and not (isinstance(instance, float) and not math.isfinite(instance))


def _finite_integer(checker: Any, instance: Any) -> bool:
    return _finite_number(checker, instance) and (isinstance(instance, int) or instance.is_integer())


RecordValidator = validators.extend(
    Draft202012Validator,
    validators={"multipleOf": _multiple_of, "formatMinimum": _format_bound(True),
                "formatMaximum": _format_bound(False)},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _finite_number, "integer": _finite_integer}),
)


def record_validator(entity: EntityDef, lang: str = "en", for_update: bool = False) -> Any:
    """A jsonschema validator for `data`, with formloom's formats and number rules."""
    return RecordValidator(record_json_schema(entity, lang, for_update), format_checker=FORMAT_CHECKER)


def field_validator(schema: dict) -> Any:
    """The same rules for any (sub)schema, e.g. one property's."""
    return RecordValidator(schema, format_checker=FORMAT_CHECKER)


__all__ = ["FORMAT_CHECKER", "RecordValidator", "field_validator", "record_json_schema",
           "record_validator"]
