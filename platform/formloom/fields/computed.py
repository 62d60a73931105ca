"""Computed field types: formula and auto_number.

Nobody types these values: `clean` refuses any incoming value. Formula values
are computed by the record layer (`record_data.clean_record_data`) with
`formloom.formulas`; auto numbers are assigned by the store from a database
sequence, formatted with `format_auto_number`.
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..definitions.model import FieldDef
from ..i18n import translate
from .base import CleanContext, FieldType, register
from .numbers import money_display
from .settings import UNIQUE, Setting

DEFAULT_AUTO_NUMBER_FORMAT = "{seq:4}"
_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|seq)(?::([0-9]{1,2}))?\}")


def format_auto_number(fmt: str | None, seq: int, now: datetime) -> str:
    """"OPP-{YYYY}-{seq:4}", 7, 2026-03-01 -> "OPP-2026-0007". {seq:N} pads to N digits
    (longer numbers are never cut); unknown braces are kept as written."""

    def token(match: re.Match) -> str:
        name, width = match.group(1), match.group(2)
        if name == "seq":
            return str(seq).zfill(int(width)) if width else str(seq)
        if width:
            return match.group(0)
        return {"YYYY": f"{now.year:04d}", "YY": f"{now.year % 100:02d}",
                "MM": f"{now.month:02d}", "DD": f"{now.day:02d}"}[name]

    return _TOKEN.sub(token, fmt or DEFAULT_AUTO_NUMBER_FORMAT)


def formula_json_value(value: Any) -> Any:
    """A formula result as a JSON value: Decimal -> int or float; other results unchanged."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class _ComputedType(FieldType):
    computed = True
    column_allowed = False

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        self.fail(ctx, "computed", "This field is computed and cannot be set.")

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return None    # computed fields are never in a form; the detail page shows them

    def json_schema(self, f: FieldDef) -> dict:
        """The schema of the value as the API returns it (never accepted as input)."""
        return {"readOnly": True}


@register
class FormulaType(_ComputedType):
    name = "formula"
    order = 160
    label = {"en": "Formula", "zh": "公式"}
    help = {"en": "A value computed from other fields.", "zh": "由其他字段计算出的值。"}
    settings = (Setting("formula", {"$ref": "field.schema.json#/$defs/formula"}, {"en": "Formula", "zh": "公式"},
                        {"en": "The expression, such as amount * probability / 100 or IF(amount > 100000, \"A\", \"B\").",
                         "zh": "计算表达式，例如 amount * probability / 100 或 IF(amount > 100000, \"A\", \"B\")。"},
                        required=True),
                Setting("currency", {"type": "string", "pattern": "^[A-Z]{3}$",
                                     "x-message": "must be a three-letter currency code in capitals, such as CNY or USD"},
                        {"en": "Show as money in", "zh": "按金额显示，货币"},
                        {"en": "Empty: the result shows as a plain number. A currency code such as CNY shows a "
                               "numeric result as money, as money fields are shown (for a sum of amounts).",
                         "zh": "留空：结果显示为普通数字。填写 CNY 等货币代码时，数值结果按金额字段的方式显示（适用于金额合计）。"}),)
    summable = True
    sql_kind = "number"     # formulas are mostly scores and totals that lists and gates compare
    operators = ("eq", "ne", "lt", "lte", "gt", "gte", "is_empty")

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": ["number", "string", "boolean", "null"], "readOnly": True}

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return translate(lang, "Yes") if value else translate(lang, "No")
        if f.currency and isinstance(value, (int, float, Decimal)) and math.isfinite(value):
            return money_display(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), f.currency)
        if isinstance(value, float):
            return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
        return str(value)

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        return value


@register
class AutoNumberType(_ComputedType):
    name = "auto_number"
    order = 170
    label = {"en": "Auto number", "zh": "自动编号"}
    help = {"en": "A number the system assigns to each new record.", "zh": "系统为每条新记录分配的编号。"}
    settings = (UNIQUE,
                Setting("format", {"type": "string", "minLength": 1, "maxLength": 100}, {"en": "Format", "zh": "格式"},
                        {"en": "Such as OPP-{YYYY}-{seq:4}; parts: {YYYY} {YY} {MM} {DD} {seq:N}.",
                         "zh": "例如 OPP-{YYYY}-{seq:4}；可用部分：{YYYY} {YY} {MM} {DD} {seq:N}。"},
                        default=DEFAULT_AUTO_NUMBER_FORMAT))
    sql_kind = "text"
    operators = ("eq", "ne", "in", "contains", "is_empty")

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "string", "readOnly": True}
