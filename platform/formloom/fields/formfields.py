"""WTForms pieces shared by the field types.

Every form field a field type builds carries `CleanedBy`, a validator that runs
the type's own `clean` on the field's data, so the browser form and the API
refuse exactly the same values with the same message.
"""
from __future__ import annotations

from typing import Any

from wtforms import StringField, TextAreaField
from wtforms.validators import StopValidation

from ..definitions.model import FieldDef
from ..i18n import translate
from .base import CleanContext, FieldType, FieldValueError, always_required
from .widgets import FastInput, FastTextArea


def form_context(form: Any, lang: str) -> CleanContext:
    ctx = getattr(form, "clean_context", None)
    return ctx if ctx is not None else CleanContext(lang=lang)


class CleanedBy:
    """Validate a form field with `FieldType.clean`; the cleaned value lands in `field.cleaned`."""

    def __init__(self, ftype: FieldType, f: FieldDef, lang: str):
        self.ftype, self.f, self.lang = ftype, f, lang
        self.required = always_required(f)
        self.field_flags = {"required": True} if self.required else {}

    def __call__(self, form: Any, field: Any) -> None:
        ctx = form_context(form, self.lang)
        value = self.ftype.from_form(self.f, field.data)
        field.cleaned = self.ftype.empty_value(self.f)
        if self.ftype.is_empty(value):
            if self.required:
                raise StopValidation(translate(ctx.lang, "This field is required."))
            raise StopValidation()
        try:
            field.cleaned = self.ftype.clean(self.f, value, ctx)
        except FieldValueError as error:
            field.errors.extend(e.message for e in error.all())
            raise StopValidation() from None


def field_kwargs(ftype: FieldType, f: FieldDef, lang: str, **render_kw: Any) -> dict:
    """label, description, validators and render_kw common to every form field."""
    if f.placeholder is not None:
        render_kw.setdefault("placeholder", f.placeholder.get(lang))
    return {
        "label": f.label.get(lang),
        "description": f.help.get(lang) if f.help is not None else "",
        "validators": [CleanedBy(ftype, f, lang)],
        "render_kw": render_kw,
    }


class TypedInput(FastInput):
    """An <input> of any type (email, tel, url, date, datetime-local...)."""


class RawStringField(StringField):
    """A StringField whose data is exactly the posted text (no stripping, no conversion)."""


def string_field(ftype: FieldType, f: FieldDef, lang: str, input_type: str = "text", **render_kw: Any) -> RawStringField:
    return RawStringField(widget=TypedInput(input_type), **field_kwargs(ftype, f, lang, **render_kw))


def textarea_field(ftype: FieldType, f: FieldDef, lang: str, **render_kw: Any) -> TextAreaField:
    return TextAreaField(widget=FastTextArea(), **field_kwargs(ftype, f, lang, **render_kw))
