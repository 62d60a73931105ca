"""What every field type must know, and the registry that holds them.

One field type is one small class that knows everything about its type: how a
value is cleaned and validated, which WTForms field renders it, its JSON
Schema, how it is stored, indexed, shown and exported. Built-in types register
through `register`, exactly as an extension would; a duplicate name fails at
import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Mapping, NoReturn, Sequence

from ..definitions.model import FieldDef
from ..i18n import translate


class RegistryError(Exception):
    """Two field types claimed the same name."""


@dataclass(frozen=True)
class FieldProblem:
    """A value a field refused. `message` is already in the user's language."""

    field: str          # field key ("lines" for a whole subtable)
    path: str           # JSON pointer into the record data: "/amount", "/lines/2/qty"
    code: str           # stable machine code: "required", "too_long", "invalid_email", ...
    message: str


class FieldValueError(ValueError):
    """Raised by `FieldType.clean` for one bad value; the record layer turns it into a FieldProblem."""

    def __init__(self, code: str, message: str, path_suffix: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path_suffix = path_suffix   # e.g. "/2/qty" for a subtable cell

    def all(self) -> tuple["FieldValueError", ...]:
        """Every problem this error stands for (one, except for FieldValuesError)."""
        return (self,)


class FieldValuesError(FieldValueError):
    """Several problems inside one value (the rows of a subtable), all collected.

    `errors` holds one FieldValueError per problem, each with its own path_suffix
    ("/2/qty"); the record layer turns each into a FieldProblem and the form shows
    each message. The error's own code/message are the first problem's."""

    def __init__(self, errors: Sequence[FieldValueError]):
        if not errors:
            raise ValueError("FieldValuesError needs at least one error")
        first = errors[0]
        super().__init__(first.code, first.message, first.path_suffix)
        self.errors = tuple(errors)

    def all(self) -> tuple[FieldValueError, ...]:
        return self.errors


@dataclass
class CleanContext:
    """What cleaning may need beyond the value: the user's language and lookups
    into the database (reference targets exist, user ids exist). The record layer
    fills it; field types never import the store."""

    lang: str = "en"
    timezone: str = "UTC"
    reference_exists: Any = None     # callable(entity_key, record_id) -> bool
    user_exists: Any = None          # callable(user_id) -> bool
    extras: dict = field(default_factory=dict)


class FieldType:
    """Base class. Subclasses set `name` and override what differs."""

    name: ClassVar[str] = ""
    #: how the value is compared in SQL: "text", "number", "date", "datetime", "bool", "json"
    sql_kind: ClassVar[str] = "text"
    #: filter operators a list or the API offers for this type
    operators: ClassVar[tuple[str, ...]] = ("eq", "ne", "in", "is_empty")
    #: True when people cannot type the value (formula, auto_number)
    computed: ClassVar[bool] = False

    # -- values -----------------------------------------------------------------
    def is_empty(self, value: Any) -> bool:
        """None, "" and [] are empty for every type (forms post "" for a blank input)."""
        return value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0)

    def empty_value(self, f: FieldDef) -> Any:
        """What is stored for an empty value (None; checkbox stores False)."""
        return None

    def fail(self, ctx: CleanContext | str, code: str, msgid: str, path_suffix: str = "", **params: Any) -> NoReturn:
        """Raise FieldValueError with `msgid` translated into the context's language."""
        lang = ctx if isinstance(ctx, str) else ctx.lang
        raise FieldValueError(code, translate(lang, msgid, **params), path_suffix)

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        """Turn an incoming JSON value (API) or form value into the stored JSON value.
        Raise FieldValueError with a translated message when it is not acceptable.
        Never called with an empty value: emptiness and `required` are the record layer's."""
        raise NotImplementedError

    def default_value(self, f: FieldDef) -> Any:
        return f.default

    # -- representations ----------------------------------------------------------
    def json_schema(self, f: FieldDef) -> dict:
        """JSON Schema (2020-12) of one non-empty value of this field, for the API."""
        raise NotImplementedError

    def form_field(self, f: FieldDef, lang: str) -> Any:
        """An unbound WTForms field whose validation agrees with `clean`."""
        raise NotImplementedError

    def form_value(self, f: FieldDef, stored: Any) -> Any:
        """The stored value as the form field's `data` (for edit forms)."""
        return stored

    def from_form(self, f: FieldDef, data: Any) -> Any:
        """The form field's `data` as the incoming JSON-ish value `clean` expects
        ("" -> None; text that does not parse is passed on for `clean` to refuse)."""
        if data is None or data == "":
            return None
        return data

    def field_sql_kind(self, f: FieldDef) -> str:
        """`sql_kind` for this field (a multiple reference is "json", not "number")."""
        return self.sql_kind

    def field_operators(self, f: FieldDef) -> tuple[str, ...]:
        return self.operators

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        """Plain text for lists and detail pages (templates escape it)."""
        if self.is_empty(value):
            return ""
        return str(value)

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        """A cell value for CSV/Excel exports (the exporter guards formula injection)."""
        return self.display(f, value, lang)

    def sort_value(self, f: FieldDef, value: Any) -> Any:
        return value


#: The JSON values that mean "no value" for every field type (see FieldType.is_empty).
EMPTY_JSON_VALUES: tuple = (None, "", [])


def always_required(f: FieldDef) -> bool:
    """Required whatever the other values are: `required` without a `visible_if`.
    (required_if, visible_if and stage requirements are decided by the record layer.)"""
    return bool(f.required) and f.visible_if is None


def property_schema(f: FieldDef, required: bool) -> dict:
    """The JSON Schema of a field's value in a record (or a subtable row).

    Not required: an empty value (null, "" or []) or a valid value. Required: a
    valid, non-empty value (strings at least 1 character, lists at least 1 item,
    a checkbox ticked)."""
    ftype = FIELD_TYPES[f.type]
    schema = ftype.json_schema(f)
    if not required:
        return {"anyOf": [{"enum": list(EMPTY_JSON_VALUES)}, schema]}
    return _non_empty(f, schema)


def _non_empty(f: FieldDef, schema: dict) -> dict:
    if f.type == "checkbox":
        return {**schema, "const": True}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_non_empty(f, s) for s in schema["anyOf"]]}
    if schema.get("type") == "string":
        return {**schema, "minLength": max(1, schema.get("minLength", 0))}
    if schema.get("type") == "array":
        return {**schema, "minItems": max(1, schema.get("minItems", 0))}
    return schema


FIELD_TYPES: dict[str, FieldType] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    if not cls.name:
        raise RegistryError(f"{cls.__name__} has no name")
    if cls.name in FIELD_TYPES:
        raise RegistryError(f"duplicate field type {cls.name!r}")
    FIELD_TYPES[cls.name] = cls()
    return cls


def field_type(name: str) -> FieldType:
    return FIELD_TYPES[name]


def iter_field_types() -> Iterator[FieldType]:
    return iter(FIELD_TYPES.values())


def type_names() -> Mapping[str, FieldType]:
    return FIELD_TYPES
