"""Numeric field types: number, money, percent, rating.

JSON numbers must be finite (NaN, Infinity and overflowing literals such as
1e309 are refused), booleans are not numbers, and magnitudes stay within
±1e15 (±1e13 for money) so they survive float storage and SQL casts exactly.
Decimal places are counted on the number as written (`repr` of a float), so
0.07 has two places, not seventeen.
"""
from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal
from typing import Any

from ..definitions.model import FieldDef
from .base import CleanContext, FieldType, register
from .formfields import string_field
from .settings import DEFAULT, MAX_NUMBER, MIN_NUMBER, PRECISION, UNIQUE, Setting

NUMBER_LIMIT = 10**15
MONEY_LIMIT = 10**13
NUMBER_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "is_empty")
MONEY_PATTERN = "^-?[0-9]+(?:\\.[0-9]{1,2})?$"
_MONEY = re.compile(MONEY_PATTERN)
_WIDE = decimal.Context(prec=80, traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero])
CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€"}


def is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_decimal(value: int | float | str | Decimal) -> Decimal:
    """A number as written: floats through `repr`, so 0.07 is Decimal('0.07')."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def has_places(value: int | float | Decimal, places: int) -> bool:
    """True when `value` (finite) has at most `places` decimal places."""
    return isinstance(value, int) or is_multiple(value, Decimal(1).scaleb(-places))


def is_multiple(value: int | float | Decimal, step: int | float | Decimal) -> bool:
    """Exact decimal `multipleOf`: is `value`, as written, a whole multiple of `step`?"""
    try:
        with decimal.localcontext(_WIDE):
            return as_decimal(value) % as_decimal(step) == 0
    except (decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero):
        return False


def number_from_text(text: Any) -> Any:
    """Form text as a JSON number: "12" -> 12, "12.5" -> 12.5, "3.0" -> 3; text that is
    not a finite number is returned unchanged for `clean` to refuse."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if stripped == "":
        return None
    if re.fullmatch(r"[+-]?[0-9]{1,40}", stripped):
        return int(stripped)
    if not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", stripped):
        return text
    number = Decimal(stripped)
    if abs(number) > 10 * NUMBER_LIMIT:
        return float(number)          # far out of range (or inf): refused by clean, never a huge int
    if number == number.to_integral_value():
        return int(number)
    return float(number)


@register
class NumberType(FieldType):
    name = "number"
    order = 30
    label = {"en": "Number", "zh": "数字"}
    help = {"en": "A number, whole or with a set number of decimal places.", "zh": "数字，整数或固定位数的小数。"}
    settings = (DEFAULT, UNIQUE, MIN_NUMBER, MAX_NUMBER, PRECISION)
    summable = True
    indexed_by_default = True
    phrases = {
        "invalid_type": "must be a number, not {kind}",
        "not_finite": "must be a finite number",
        "too_small": "is {value}, below the field's min of {min}",
        "too_large": "is {value}, above the field's max of {max}",
        "out_of_range": "is {value}, outside the field's range of {min} to {max}",
        "not_integer": "must be a whole number (the field has precision 0), not {value}",
        "too_many_decimals": "is {value}, which has more than the field's {places} decimal places",
    }
    sql_kind = "number"
    operators = NUMBER_OPERATORS
    default_min: int | None = None
    default_max: int | None = None

    def precision(self, f: FieldDef) -> int:
        return f.precision if f.precision is not None else 0

    def bounds(self, f: FieldDef) -> tuple[int | float, int | float]:
        low = f.min if f.min is not None else self.default_min
        high = f.max if f.max is not None else self.default_max
        low = -NUMBER_LIMIT if low is None else max(low, -NUMBER_LIMIT)
        high = NUMBER_LIMIT if high is None else min(high, NUMBER_LIMIT)
        return low, high

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not is_json_number(raw):
            self.fail(ctx, "invalid_type", "Enter a number.")
        if isinstance(raw, float) and not math.isfinite(raw):
            self.fail(ctx, "not_finite", "Enter a finite number.")
        low, high = self.bounds(f)
        if raw < low or raw > high:
            self.out_of_range(f, ctx, low, high)
        places = self.precision(f)
        if places == 0:
            if isinstance(raw, float) and not raw.is_integer():
                self.fail(ctx, "not_integer", "Enter a whole number.")
            return int(raw)
        if not has_places(raw, places):
            self.fail(ctx, "too_many_decimals", "Use at most %(places)s decimal places.", places=places)
        return raw

    def out_of_range(self, f: FieldDef, ctx: CleanContext, low: Any, high: Any) -> None:
        explicit_low = f.min is not None or self.default_min is not None
        explicit_high = f.max is not None or self.default_max is not None
        if explicit_low and not explicit_high:
            self.fail(ctx, "too_small", "Enter a number of at least %(min)s.", min=_show(low))
        if explicit_high and not explicit_low:
            self.fail(ctx, "too_large", "Enter a number of at most %(max)s.", max=_show(high))
        self.fail(ctx, "out_of_range", "Enter a number between %(min)s and %(max)s.", min=_show(low), max=_show(high))

    def json_schema(self, f: FieldDef) -> dict:
        low, high = self.bounds(f)
        places = self.precision(f)
        if places == 0:
            return {"type": "integer", "minimum": low, "maximum": high}
        return {"type": "number", "minimum": low, "maximum": high, "multipleOf": float(Decimal(1).scaleb(-places))}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        places = self.precision(f)
        step = "1" if places == 0 else format(Decimal(1).scaleb(-places), "f")
        return string_field(self, f, lang, "text", inputmode="decimal" if places else "numeric", **{"data-step": step})

    def form_value(self, f: FieldDef, stored: Any) -> Any:
        return None if stored is None else _show(stored)

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return number_from_text(data)

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if self.is_empty(value) or not is_json_number(value):
            return "" if value is None else str(value)
        places = self.precision(f)
        return f"{as_decimal(value):,.{places}f}"

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        return value


def _show(number: Any) -> str:
    """Bounds and values in messages and inputs: 1e15 -> 1000000000000000, 2.50 -> 2.5."""
    if isinstance(number, float):
        if number.is_integer() and abs(number) <= 10 * NUMBER_LIMIT:
            return str(int(number))
        return format(as_decimal(number), "f")
    return str(number)


@register
class PercentType(NumberType):
    name = "percent"
    order = 50
    label = {"en": "Percent", "zh": "百分比"}
    help = {"en": "A share from 0 to 100 unless the field sets its own range.", "zh": "0 到 100 之间的比例，字段可另设范围。"}
    settings = (DEFAULT, UNIQUE, MIN_NUMBER.but(default=0), MAX_NUMBER.but(default=100), PRECISION)
    indexed_by_default = False
    default_min = 0
    default_max = 100

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        text = super().display(f, value, lang)
        return f"{text}%" if text else text


@register
class RatingType(FieldType):
    name = "rating"
    order = 180
    label = {"en": "Rating", "zh": "评分"}
    help = {"en": "A whole number from 0 to the scale (5 stars, or 100).", "zh": "0 到满分之间的整数（5 星或 100 分）。"}
    settings = (DEFAULT, Setting("scale", {"enum": [5, 100]}, {"en": "Scale", "zh": "满分"},
                                 {"en": "5 for stars, 100 for a score.", "zh": "5 表示星级，100 表示分数。"}, default=5))
    phrases = {"invalid_rating": "must be a whole number from 0 to {max}"}
    sql_kind = "number"
    operators = NUMBER_OPERATORS

    def scale(self, f: FieldDef) -> int:
        return f.scale or 5

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        scale = self.scale(f)
        if (not is_json_number(raw) or (isinstance(raw, float) and not raw.is_integer())
                or not 0 <= raw <= scale):
            self.fail(ctx, "invalid_rating", "Enter a whole number from 0 to %(max)s.", max=scale)
        return int(raw)

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "integer", "minimum": 0, "maximum": self.scale(f)}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return string_field(self, f, lang, "number", min=0, max=self.scale(f), step=1)

    def form_value(self, f: FieldDef, stored: Any) -> Any:
        return None if stored is None else str(stored)

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return number_from_text(data)

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if not is_json_number(value):
            return ""
        scale = self.scale(f)
        if scale == 5 and 0 <= value <= 5:
            return "★" * int(value) + "☆" * (5 - int(value))
        return f"{value}/{scale}"

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        return value


@register
class MoneyType(FieldType):
    """Stored as a decimal string with exactly two places ("1234.50"). Input may be that
    string or a JSON number; more than two decimal places is refused, never rounded."""

    name = "money"
    order = 40
    label = {"en": "Money", "zh": "金额"}
    help = {"en": "An amount with two decimal places in one currency.", "zh": "以一种货币计、保留两位小数的金额。"}
    settings = (DEFAULT, UNIQUE, MIN_NUMBER, MAX_NUMBER,
                Setting("currency", {"type": "string", "pattern": "^[A-Z]{3}$",
                                     "x-message": "must be a three-letter currency code in capitals, such as CNY or USD"},
                        {"en": "Currency", "zh": "货币"},
                        {"en": "An ISO 4217 code such as CNY or USD.", "zh": "ISO 4217 货币代码，例如 CNY 或 USD。"},
                        default="CNY"))
    fixed_settings = {"precision": 2}
    summable = True
    indexed_by_default = True
    phrases = {
        "invalid_amount": "is {value}, which is not an amount (a number, or text such as \"1234.50\"; "
                          "at most 2 decimal places)",
        "too_small": "is {value}, below the field's min of {min}",
        "too_large": "is {value}, above the field's max of {max}",
    }
    sql_kind = "number"
    operators = NUMBER_OPERATORS

    def currency(self, f: FieldDef) -> str:
        return f.currency or "CNY"

    def bounds(self, f: FieldDef) -> tuple[Decimal, Decimal]:
        low = Decimal(-MONEY_LIMIT) if f.min is None else max(as_decimal(f.min), Decimal(-MONEY_LIMIT))
        high = Decimal(MONEY_LIMIT) if f.max is None else min(as_decimal(f.max), Decimal(MONEY_LIMIT))
        return low, high

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        amount = self.parse(raw)
        if amount is None:
            self.fail(ctx, "invalid_amount", "Enter an amount such as 1234.50 (at most 2 decimal places).")
        low, high = self.bounds(f)
        if amount < low:
            self.fail(ctx, "too_small", "Enter an amount of at least %(min)s.", min=_money_text(low))
        if amount > high:
            self.fail(ctx, "too_large", "Enter an amount of at most %(max)s.", max=_money_text(high))
        return _money_text(amount)

    @staticmethod
    def parse(raw: Any) -> Decimal | None:
        """The amount as a Decimal, or None when it is not a finite amount with <= 2 places."""
        if isinstance(raw, str):
            if not _MONEY.fullmatch(raw) or len(raw) > 40:
                return None
            return Decimal(raw)
        if is_json_number(raw):
            if isinstance(raw, float) and not math.isfinite(raw):
                return None
            amount = as_decimal(raw)
            if abs(amount) > MONEY_LIMIT:
                return amount            # the range check refuses it with a clear message
            return amount if has_places(raw, 2) else None
        return None

    def json_schema(self, f: FieldDef) -> dict:
        low, high = self.bounds(f)
        return {"anyOf": [
            {"type": "string", "pattern": MONEY_PATTERN, "maxLength": 40, "format": "decimal",
             "formatMinimum": _money_text(low), "formatMaximum": _money_text(high)},
            {"type": "number", "minimum": _schema_number(low), "maximum": _schema_number(high), "multipleOf": 0.01},
        ]}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return string_field(self, f, lang, "text", inputmode="decimal", **{"data-currency": self.currency(f)})

    def from_form(self, f: FieldDef, data: Any) -> Any:
        if data is None or data == "":
            return None
        return data

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        amount = self.parse(value) if value is not None else None
        if amount is None:
            return "" if value is None else str(value)
        return money_display(amount, self.currency(f))

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        amount = self.parse(value) if value is not None else None
        return amount if amount is not None else value

    def sort_value(self, f: FieldDef, value: Any) -> Any:
        return self.parse(value) if value is not None else None


def money_display(amount: Decimal, code: str) -> str:
    """1234.5, "CNY" -> "¥1,234.50": how every page shows an amount, stored or computed."""
    symbol = CURRENCY_SYMBOLS.get(code)
    text = f"{abs(amount):,.2f}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"


def _money_text(amount: Decimal) -> str:
    amount = amount.quantize(Decimal("0.01"))
    if amount == 0:
        amount = abs(amount)    # "-0.00" -> "0.00"
    return format(amount, "f")


def _schema_number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)
