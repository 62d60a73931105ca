"""Choice field types: select, multiselect, checkbox.

Values are option values (stable), never labels; labels are shown in the
reader's language. WTForms' own choice check is switched off (validate_choice
=False) so the refusal message is ours and the same as the API's.
"""
from __future__ import annotations

from typing import Any

from wtforms import BooleanField, SelectField, SelectMultipleField

try:                                   # WTForms >= 3.2 (tuples are deprecated there)
    from wtforms.fields.choices import SelectChoice
except ImportError:                    # pragma: no cover - older WTForms
    SelectChoice = None

from ..definitions.model import FieldDef
from ..i18n import translate
from .base import CleanContext, FieldType, register
from .formfields import field_kwargs
from .widgets import FastCheckbox, FastSelect
from .settings import DEFAULT, OPTIONS, Setting


def _choices(f: FieldDef, lang: str, blank: bool = False) -> list:
    pairs = [("", "")] if blank else []
    pairs += [(o.value, o.label.get(lang) or o.value) for o in f.offered_options]
    if SelectChoice is None:
        return pairs
    return [SelectChoice(value, label) for value, label in pairs]


class _Choosing:
    """What select and multiselect share about retired options: a record keeps (and its edit
    form offers) a retired option it already holds; nothing else may choose one."""

    def offer_held(self, f: FieldDef, bound: Any, stored: Any, lang: str, marked: Any = None) -> None:
        held = [v for v in self.chosen_options(f, stored) if v in f.retired_values]
        if not held:
            return
        extra = [(v, (marked or str)(_label(f, v, lang))) for v in held]
        if SelectChoice is not None:
            extra = [SelectChoice(v, text) for v, text in extra]
        bound.choices = list(bound.choices) + extra


def _label(f: FieldDef, value: Any, lang: str) -> str:
    option = f.option(value) if isinstance(value, str) else None
    return (option.label.get(lang) or option.value) if option else str(value)


@register
class SelectType(_Choosing, FieldType):
    name = "select"
    order = 80
    label = {"en": "Choice", "zh": "单选"}
    help = {"en": "One value from a list of options.", "zh": "从选项列表中选一个值。"}
    settings = (DEFAULT, OPTIONS)
    indexed_by_default = True
    phrases = {"invalid_choice": "is {value}, which is not one of its options ({options})"}
    sql_kind = "text"
    operators = ("eq", "ne", "in", "is_empty")

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not isinstance(raw, str):
            self.fail(ctx, "invalid_choice", "Choose one of the listed options.")
        if raw not in f.option_values:
            self.fail(ctx, "invalid_choice", "%(value)s is not one of the options.", value=raw)
        return raw

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "string", "enum": [o.value for o in f.offered_options]}

    def chosen_options(self, f: FieldDef, value: Any) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else ()

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return SelectField(choices=_choices(f, lang, blank=True), validate_choice=False, widget=FastSelect(),
                           **field_kwargs(self, f, lang))

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        return "" if self.is_empty(value) else _label(f, value, lang)


@register
class MultiselectType(_Choosing, FieldType):
    """A list of distinct option values, in the order given; min/max count the choices."""

    name = "multiselect"
    order = 90
    validates_live = False          # leaving one box of the group says nothing of the whole
    label = {"en": "Multiple choice", "zh": "多选"}
    help = {"en": "Several distinct values from a list of options.", "zh": "从选项列表中选多个不同的值。"}
    settings = (DEFAULT, OPTIONS,
                Setting("min", {"type": "integer", "minimum": 0}, {"en": "Fewest choices", "zh": "最少选择数"},
                        {"en": "The fewest options a value may list.", "zh": "至少要选的选项数。"}),
                Setting("max", {"type": "integer", "minimum": 0}, {"en": "Most choices", "zh": "最多选择数"},
                        {"en": "The most options a value may list.", "zh": "最多可选的选项数。"}))
    phrases = {
        "invalid_choice": lambda fill: (f"lists {fill['value']}, which is not one of its options ({fill['options']})"
                                        if isinstance(fill["whole"], list) else
                                        f"must be a list of option values, not {fill['kind']}"),
        "duplicate_choice": "lists the same option ({value}) more than once",
        "too_few_choices": "lists fewer than the field's min of {min} options",
        "too_many_choices": "lists more than the field's max of {max} options",
    }
    sql_kind = "json"
    operators = ("contains", "is_empty")

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            self.fail(ctx, "invalid_choice", "Choose options from the list.")
        seen: set[str] = set()
        for value in raw:
            if value not in f.option_values:
                self.fail(ctx, "invalid_choice", "%(value)s is not one of the options.", value=value)
            if value in seen:
                self.fail(ctx, "duplicate_choice", "%(value)s is chosen more than once.", value=value)
            seen.add(value)
        low, high = self.counts(f)
        if low is not None and len(raw) < low:
            self.fail(ctx, "too_few_choices", "Choose at least %(min)s options.", min=low)
        if high is not None and len(raw) > high:
            self.fail(ctx, "too_many_choices", "Choose at most %(max)s options.", max=high)
        return list(raw)

    @staticmethod
    def counts(f: FieldDef) -> tuple[int | None, int | None]:
        low = int(f.min) if f.min is not None else None
        high = int(f.max) if f.max is not None else None
        return low, high

    def json_schema(self, f: FieldDef) -> dict:
        schema: dict = {"type": "array", "items": {"type": "string", "enum": [o.value for o in f.offered_options]},
                        "uniqueItems": True}
        low, high = self.counts(f)
        if low is not None:
            schema["minItems"] = low
        if high is not None:
            schema["maxItems"] = high
        return schema

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return SelectMultipleField(choices=_choices(f, lang), validate_choice=False, widget=FastSelect(multiple=True),
                                   **field_kwargs(self, f, lang))

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return list(data) if data else []

    def chosen_options(self, f: FieldDef, value: Any) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if not isinstance(value, list):
            return "" if value is None else str(value)
        return ", ".join(_label(f, v, lang) for v in value)


@register
class CheckboxType(FieldType):
    """JSON true/false only (the text "true" is refused). Unticked is false; a required
    checkbox must be ticked (false counts as empty)."""

    name = "checkbox"
    order = 100
    widget_template = "fields/checkbox.html"
    validates_live = False          # ticking cannot make a value invalid
    label = {"en": "Checkbox", "zh": "复选框"}
    help = {"en": "Yes or no.", "zh": "是或否。"}
    settings = (DEFAULT,)
    indexed_by_default = True
    phrases = {"invalid_type": "must be true or false, not {kind}"}
    sql_kind = "bool"
    operators = ("eq", "is_empty")

    def is_empty(self, value: Any) -> bool:
        return value is None or value is False or value == "" or value == []

    def empty_value(self, f: FieldDef) -> Any:
        return False

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not isinstance(raw, bool):
            self.fail(ctx, "invalid_type", "Use true or false.")
        return raw

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "boolean"}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return BooleanField(widget=FastCheckbox(), **field_kwargs(self, f, lang))

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return bool(data)

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if value is None:
            return ""
        return translate(lang, "Yes") if value is True else translate(lang, "No")
