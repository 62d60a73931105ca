"""WTForms form classes built from an entity's definition.

`build_form_class` makes one class per (entity, language, field selection) with
`type(...)`; each field comes from its field type's `form_field`, whose
validator runs the same `FieldType.clean` the API uses, so the browser and the
API accept and refuse the same values with the same message. Computed fields
(formula, auto_number) are not in the form.

The base class is plain `wtforms.Form`, so forms work without a request (tests,
CLI); the web layer protects posts with Flask-WTF's CSRFProtect. Record-level
rules (visible_if, required_if, stage requirements, formulas, unknown keys) are
decided by `record_data.clean_record_data` over `form_to_data(form, entity)`.
"""
from __future__ import annotations

from typing import Any, ClassVar, Collection, Mapping

from wtforms import Form

from .definitions.model import EntityDef
from .fields import FIELD_TYPES, CleanContext

#: Attributes of a form that a field key must not shadow; such a field is kept under "<key>_"
#: (its HTML name is still the key).
_FORM_NAMES = frozenset(dir(Form)) | {"clean_context", "entity", "lang", "readonly_keys", "field_names"}


class RecordForm(Form):
    """Base of every generated record form. `context` carries the language and the
    reference/user lookups its validators pass to `FieldType.clean`."""

    entity: ClassVar[EntityDef]
    lang: ClassVar[str] = "en"
    readonly_keys: ClassVar[frozenset[str]] = frozenset()
    #: field key -> attribute name (the same, unless the key collides with a Form attribute)
    field_names: ClassVar[Mapping[str, str]] = {}

    def __init__(self, formdata: Any = None, obj: Any = None, prefix: str = "", data: Any = None,
                 meta: Any = None, *, context: CleanContext | None = None, **kwargs: Any):
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, data=data, meta=meta, **kwargs)
        self.clean_context = context if context is not None else CleanContext(lang=self.lang)

    @classmethod
    def for_record(cls, stored: Mapping[str, Any], formdata: Any = None,
                   context: CleanContext | None = None) -> "RecordForm":
        """A form for editing a stored record: its values shown as the inputs expect them."""
        data = {}
        for key, attr in cls.field_names.items():
            f = cls.entity.field(key)
            data[attr] = FIELD_TYPES[f.type].form_value(f, stored.get(key))
        return cls(formdata, data=data, context=context)

    def field_for(self, key: str) -> Any:
        """The bound form field of a field key."""
        return self[self.field_names[key]]


_FORM_CLASSES: dict[tuple, tuple[EntityDef, type]] = {}
_FORM_CLASS_LIMIT = 512


def build_form_class(entity: EntityDef, lang: str, only: Collection[str] | None = None,
                     readonly: Collection[str] = (), *, timezone: str = "UTC") -> type[RecordForm]:
    """A form class for `entity` in `lang`. `only` limits the fields (in entity order);
    `readonly` fields are rendered disabled, not validated and not read back by
    `form_to_data`. `timezone` is where datetime-local inputs are read and shown.

    Classes are cached: the compiled model is immutable, so the same arguments always
    build the same class, and building one costs more than rendering it."""
    key = (id(entity), lang, None if only is None else tuple(sorted(only)), tuple(sorted(readonly)), timezone)
    cached = _FORM_CLASSES.get(key)
    if cached is not None and cached[0] is entity:
        return cached[1]
    form_class = _build_form_class(entity, lang, only, readonly, timezone)
    if len(_FORM_CLASSES) >= _FORM_CLASS_LIMIT:
        _FORM_CLASSES.clear()
    _FORM_CLASSES[key] = (entity, form_class)   # holding the entity keeps its id from being reused
    return form_class


def _build_form_class(entity: EntityDef, lang: str, only: Collection[str] | None,
                      readonly: Collection[str], timezone: str) -> type[RecordForm]:
    attrs: dict[str, Any] = {}
    names: dict[str, str] = {}
    readonly_keys = set()
    for f in entity.fields:
        if f.is_computed or f.archived or (only is not None and f.key not in only):
            continue
        unbound = FIELD_TYPES[f.type].form_field(f, lang)
        if unbound is None:
            continue
        unbound.kwargs["name"] = f.key
        if f.key in readonly:
            unbound.kwargs["validators"] = []
            unbound.kwargs["render_kw"] = {**(unbound.kwargs.get("render_kw") or {}), "disabled": True}
            readonly_keys.add(f.key)
        attr = f.key if f.key not in _FORM_NAMES else f"{f.key}_"
        names[f.key] = attr
        attrs[attr] = unbound
    meta = type("Meta", (), {"timezone": timezone, "lang": lang, "bind_field": _bind_field})
    attrs.update(Meta=meta, entity=entity, lang=lang, readonly_keys=frozenset(readonly_keys), field_names=names)
    return type(f"{entity.class_name}Form", (RecordForm,), attrs)


def _bind_field(meta: Any, form: Any, unbound_field: Any, options: dict) -> Any:
    """Bind with the field key as the HTML name, even when the attribute had to differ."""
    name = unbound_field.kwargs.get("name") or options["name"]
    return unbound_field.bind(form=form, **{**options, "name": name})


def form_to_data(form: RecordForm, entity: EntityDef) -> dict:
    """The posted values as the incoming JSON-ish dict `clean_record_data` expects:
    numbers as numbers, ids as ints, subtable rows parsed from JSON, empty inputs as
    None (an unticked checkbox as False). Readonly fields are left out."""
    data: dict[str, Any] = {}
    for key, attr in form.field_names.items():
        if key in form.readonly_keys:
            continue
        f = entity.field(key)
        ftype = FIELD_TYPES[f.type]
        value = ftype.from_form(f, form[attr].data)
        data[key] = ftype.empty_value(f) if ftype.is_empty(value) else value
    return data
