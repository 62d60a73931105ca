"""Whether a value (a default, or what a rule sets) fits the field it is meant for."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from .document_parts import indexed, option_value
from .wording import json_kind, show


NUMERIC_TYPES = frozenset({"number", "money", "percent"})
TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "url"})
COMPUTED_TYPES = frozenset({"formula", "auto_number"})
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 10000}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PHONE = re.compile(r"^[0-9 +\-()]+$")


def value_problem(f: Mapping, value: Any) -> str | None:
    """None when `value` is acceptable for field `f` (a field document), else a sentence fragment.

    Used for defaults and for the values rules set; it checks the shape a stored
    value has, not database lookups (whether a referenced record exists)."""
    kind = f.get("type")
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            return f"must be text, not {json_kind(value)}"
        limit = f.get("max_length", DEFAULT_MAX_LENGTH.get(kind))
        if isinstance(limit, int) and len(value) > limit:
            return f"is longer than the field's max_length of {limit}"
        if kind == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            return f"is {value!r}, which is not an email address"
        if kind == "url" and not re.match(r"^https?://\S+$", value):
            return f"is {value!r}, which is not an http(s) address"
        if kind == "phone" and not (PHONE.match(value) and 5 <= sum(c.isdigit() for c in value) <= 20):
            return f"is {value!r}, which is not a phone number (5 to 20 digits, spaces and + - ( ) allowed)"
        return None
    if kind in NUMERIC_TYPES:
        number = _number(value, allow_text=kind == "money")
        if number is None:
            return f"must be a number, not {json_kind(value)}"
        if kind in ("number", "percent") and f.get("precision", 0) == 0 and number != number.to_integral_value():
            return f"must be a whole number (the field has precision 0), not {value}"
        low = f.get("min", 0 if kind == "percent" else None)
        high = f.get("max", 100 if kind == "percent" else None)
        if isinstance(low, (int, float)) and number < Decimal(str(low)):
            return f"is {value}, below the field's min of {low}"
        if isinstance(high, (int, float)) and number > Decimal(str(high)):
            return f"is {value}, above the field's max of {high}"
        return None
    if kind == "date":
        day = iso_date(value)
        if day is None:
            return f"is {show(value)}, which is not a date written YYYY-MM-DD"
        low, high = iso_date(f.get("min")), iso_date(f.get("max"))
        if (low and day < low) or (high and day > high):
            return f"is {value!r}, outside the field's date range"
        return None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            return f"is {show(value)}, which is not a date and time with a UTC offset (e.g. 2026-11-23T09:00:00+08:00)"
        return None
    if kind == "select":
        values = [option_value(o) for _, o in indexed(f.get("options"))]
        if value not in values:
            return f"is {show(value)}, which is not one of its options ({', '.join(map(str, values))})"
        return None
    if kind == "multiselect":
        values = [option_value(o) for _, o in indexed(f.get("options"))]
        if not isinstance(value, list):
            return f"must be a list of option values, not {json_kind(value)}"
        wrong = [v for v in value if v not in values]
        if wrong:
            return f"lists {show(wrong[0])}, which is not one of its options ({', '.join(map(str, values))})"
        if len(set(map(str, value))) != len(value):
            return "lists the same option more than once"
        return None
    if kind == "checkbox":
        return None if isinstance(value, bool) else f"must be true or false, not {json_kind(value)}"
    if kind in ("reference", "user"):
        def is_id(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v > 0
        if f.get("multiple"):
            ok = isinstance(value, list) and all(is_id(v) for v in value)
            return None if ok else "must be a list of record ids (whole numbers)"
        return None if is_id(value) else "must be a record id (a whole number)"
    if kind == "rating":
        scale = f.get("scale", 5)
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= scale
        return None if ok else f"must be a whole number from 0 to {scale}"
    if kind in COMPUTED_TYPES:
        return "cannot be set: the field is computed"
    if kind == "subtable":
        return None if isinstance(value, list) and all(isinstance(v, dict) for v in value) else \
            "must be a list of rows"
    return None


def _number(value: Any, allow_text: bool) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if allow_text and isinstance(value, str) and re.match(r"^-?\d+(\.\d+)?$", value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or not ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
