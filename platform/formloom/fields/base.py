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
from ..registry import Registry, RegistryError
from .settings import COMMON_SETTINGS, Setting


@dataclass(frozen=True)
class FieldProblem:
    """A value a field refused. `message` is already in the user's language."""

    field: str          # field key ("lines" for a whole subtable)
    path: str           # JSON pointer into the record data: "/amount", "/lines/2/qty"
    code: str           # stable machine code: "required", "too_long", "invalid_email", ...
    message: str


class FieldValueError(ValueError):
    """Raised by `FieldType.clean` for one bad value; the record layer turns it into a FieldProblem."""

    def __init__(self, code: str, message: str, path_suffix: str = "", params: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path_suffix = path_suffix   # e.g. "/2/qty" for a subtable cell
        self.params = dict(params or {})   # the message's placeholders (for document wording)

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
        super().__init__(first.code, first.message, first.path_suffix, first.params)
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
    """Base class. Subclasses set `name`, `label`, `help` and `settings`, and override what differs."""

    name: ClassVar[str] = ""
    #: what people call the type, and one sentence about it, in every language
    label: ClassVar[Mapping[str, str]] = {}
    help: ClassVar[Mapping[str, str]] = {}
    #: the document keys this type takes besides the common ones (fields/settings.py), in document order
    settings: ClassVar[tuple[Setting, ...]] = ()
    #: compiled values that are not document settings (money always has 2 decimal places)
    fixed_settings: ClassVar[Mapping[str, Any]] = {}
    #: where the type comes in lists of types (the meta-schema's enum, the designer's palette)
    order: ClassVar[int] = 1000
    #: False when the type cannot be a subtable column
    column_allowed: ClassVar[bool] = True
    #: True when values add up to a meaningful total (a kanban column's sum)
    summable: ClassVar[bool] = False
    #: True when installing indexes the field even without `indexed` (lists filter and sort on it)
    indexed_by_default: ClassVar[bool] = False
    #: how the value is compared in SQL: "text", "number", "date", "datetime", "bool", "json"
    sql_kind: ClassVar[str] = "text"
    #: filter operators a list or the API offers for this type
    operators: ClassVar[tuple[str, ...]] = ("eq", "ne", "in", "is_empty")
    #: True when people cannot type the value (formula, auto_number)
    computed: ClassVar[bool] = False
    #: the form widget: a template under web/templates/fields/, included by records/_field.html
    #: with `f`, `field` (the WTForms field), `fv` (the FieldView) and `attrs` (aria attributes)
    widget_template: ClassVar[str] = "fields/input.html"
    #: True when the form checks the value on the server as soon as focus leaves the widget
    validates_live: ClassVar[bool] = True
    #: True when the store keeps the value up to date from other records (rollup): a write of the
    #: record keeps what is stored, and a new record starts with `initial_value`
    maintained: ClassVar[bool] = False
    #: True when values are lists of stored files ({id, name, size, type}; see store/files.py)
    holds_files: ClassVar[bool] = False
    #: whether global search may index the value (plain text: store/search_index.py)
    searchable: ClassVar[bool] = False

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
        raise FieldValueError(code, translate(lang, msgid, **params), path_suffix, params)

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        """Turn an incoming JSON value (API) or form value into the stored JSON value.
        Raise FieldValueError with a translated message when it is not acceptable.
        Never called with an empty value: emptiness and `required` are the record layer's."""
        raise NotImplementedError

    def default_value(self, f: FieldDef) -> Any:
        return f.default

    def initial_value(self, f: FieldDef) -> Any:
        """What a maintained value is before the store first computes it (a new record)."""
        return None

    def value_problem(self, f: FieldDef, value: Any) -> str | None:
        """None when `clean` accepts `value` for `f`, else a sentence fragment for document
        checks ("is 'c', which is not one of its options (a, b)"). Used for defaults and the
        values rules set: the same check a posted value gets, without database lookups."""
        from .document_wording import refusal_phrase
        if self.computed:
            return "cannot be set: the field is computed"
        if self.is_empty(value):
            return None        # no value: what `required` decides, never the type
        try:
            self.clean(f, value, CleanContext(lang="en"))
        except FieldValueError as error:
            return refusal_phrase(self, f, value, error)
        return None

    # -- the type as a document author sees it ----------------------------------------
    def all_settings(self) -> tuple[Setting, ...]:
        return COMMON_SETTINGS + self.settings

    def document_schema(self) -> dict:
        """The JSON Schema of a field document of this type (field.schema.json's `type_<name>`)."""
        settings = self.all_settings()
        return {
            "type": "object",
            "required": [s.name for s in settings if s.required],
            "properties": {s.name: ({"const": self.name} if s.name == "type" else s.schema) for s in settings},
            "additionalProperties": False,
        }

    def compiled_defaults(self) -> dict[str, Any]:
        """What compiling fills in for the settings a document leaves out."""
        return {**{s.name: s.default for s in self.settings if s.has_default}, **self.fixed_settings}

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

    def chosen_options(self, f: FieldDef, value: Any) -> tuple[str, ...]:
        """The option values a value chooses (choice types), so retired options can be told apart."""
        return ()

    def offer_held(self, f: FieldDef, bound: Any, stored: Any, lang: str, marked: Any = None) -> None:
        """Offer on an edit form the retired options the stored value still holds (choice types);
        `marked(label)` says in the reader's language that an option is retired."""

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


FIELD_TYPES: Registry[FieldType] = Registry("field type")


def register(cls: type[FieldType]) -> type[FieldType]:
    if not cls.name:
        raise RegistryError(f"{cls.__name__} has no name")
    FIELD_TYPES.add(cls())
    ordered = sorted(FIELD_TYPES.items(), key=lambda item: item[1].order)   # stable: ties keep registration order
    FIELD_TYPES.clear()
    FIELD_TYPES.update(ordered)
    return cls


def unregister(name: str) -> None:
    """Remove a type (tests that register one of their own clean up with this)."""
    FIELD_TYPES.remove(name)


def has_flag(type_name: Any, flag: str) -> bool:
    """True when `type_name` is a registered type whose `flag` ("computed", "summable", ...) is set."""
    ftype = FIELD_TYPES.get(type_name) if isinstance(type_name, str) else None
    return bool(ftype is not None and getattr(ftype, flag))


def field_type(name: str) -> FieldType:
    return FIELD_TYPES[name]


def iter_field_types() -> Iterator[FieldType]:
    return iter(FIELD_TYPES.values())


def type_names() -> Mapping[str, FieldType]:
    return FIELD_TYPES
