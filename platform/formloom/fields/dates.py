"""Date and datetime field types.

date: strictly "YYYY-MM-DD" and a real calendar day (2024-02-30 is refused).
datetime: ISO 8601 with an offset ("Z" or "+08:00"); a time without one is
refused, because nobody can tell which moment it means. Stored in UTC as
"2026-11-23T09:00:00Z" (whole seconds). The browser form is the one place where
a local time is accepted: <input type="datetime-local"> posts no offset, so the
form field attaches the form's timezone (`meta.timezone`) before cleaning.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..definitions.model import FieldDef
from .base import CleanContext, FieldType, register
from .formfields import RawStringField, TypedInput, field_kwargs, string_field
from .settings import DEFAULT, UNIQUE, Setting

DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?")
DATE_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "is_empty")


def parse_date(value: Any) -> date | None:
    """A strict ISO calendar date, or None."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime in UTC from ISO 8601 text with an offset, or None (naive included)."""
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value)
    if not match or not match["offset"]:
        return None
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}{match['offset'].upper()}")
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def is_naive_datetime(value: Any) -> bool:
    match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    return bool(match and not match["offset"])


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _zone(name: str | None) -> ZoneInfo | timezone:
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


@register
class DateType(FieldType):
    name = "date"
    order = 60
    label = {"en": "Date", "zh": "日期"}
    help = {"en": "A calendar day, written YYYY-MM-DD.", "zh": "日历上的一天，写作 YYYY-MM-DD。"}
    settings = (DEFAULT, UNIQUE,
                Setting("min", {"$ref": "#/$defs/iso_date"}, {"en": "Earliest date", "zh": "最早日期"},
                        {"en": "The earliest day allowed.", "zh": "允许的最早日期。"}),
                Setting("max", {"$ref": "#/$defs/iso_date"}, {"en": "Latest date", "zh": "最晚日期"},
                        {"en": "The latest day allowed.", "zh": "允许的最晚日期。"}))
    indexed_by_default = True
    phrases = {
        "invalid_date": "is {value}, which is not a date written YYYY-MM-DD",
        "too_early": "is {value}, before the field's min of {min}",
        "too_late": "is {value}, after the field's max of {max}",
    }
    sql_kind = "date"
    operators = DATE_OPERATORS

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not isinstance(raw, str) or not _DATE.fullmatch(raw):
            self.fail(ctx, "invalid_date", "Enter a date as YYYY-MM-DD.")
        if parse_date(raw) is None:
            self.fail(ctx, "invalid_date", "%(value)s is not a date in the calendar.", value=raw)
        if f.min is not None and raw < str(f.min):
            self.fail(ctx, "too_early", "Enter a date on or after %(min)s.", min=f.min)
        if f.max is not None and raw > str(f.max):
            self.fail(ctx, "too_late", "Enter a date on or before %(max)s.", max=f.max)
        return raw

    def json_schema(self, f: FieldDef) -> dict:
        schema: dict = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
        # formatMinimum/formatMaximum (as in ajv-formats) are enforced by record_schema.record_validator.
        if f.min is not None:
            schema["formatMinimum"] = str(f.min)
        if f.max is not None:
            schema["formatMaximum"] = str(f.max)
        return schema

    def form_field(self, f: FieldDef, lang: str) -> Any:
        extra = {k: str(v) for k, v in (("min", f.min), ("max", f.max)) if v is not None}
        return string_field(self, f, lang, "date", **extra)


class LocalDateTimeField(RawStringField):
    """A datetime-local input: a posted value without an offset is taken as a local
    time in `meta.timezone` and handed on with that offset; one with an offset is kept."""

    def process_formdata(self, valuelist: list) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, str) and is_naive_datetime(self.data):
            zone = _zone(getattr(self.meta, "timezone", None))
            try:
                local = datetime.fromisoformat(self.data.replace(" ", "T").replace("t", "T"))
                self.data = local.replace(tzinfo=zone).isoformat()
            except (ValueError, OverflowError):
                pass   # clean refuses it

    def _value(self) -> str:
        moment = parse_datetime(self.data)
        if moment is None:
            return self.data if isinstance(self.data, str) else ""
        local = moment.astimezone(_zone(getattr(self.meta, "timezone", None)))
        return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


@register
class DateTimeType(FieldType):
    name = "datetime"
    order = 70
    label = {"en": "Date and time", "zh": "日期时间"}
    help = {"en": "A moment, stored in UTC and shown in each reader's time zone.", "zh": "某一时刻，以 UTC 保存，按读者时区显示。"}
    settings = (DEFAULT, UNIQUE)
    indexed_by_default = True
    phrases = {
        "timezone_required": "is {value}, which is not a date and time with a UTC offset "
                             "(e.g. 2026-11-23T09:00:00+08:00)",
        "invalid_datetime": "is {value}, which is not a date and time with a UTC offset "
                            "(e.g. 2026-11-23T09:00:00+08:00)",
    }
    sql_kind = "datetime"
    operators = DATE_OPERATORS

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if is_naive_datetime(raw):
            self.fail(ctx, "timezone_required",
                      "Add a timezone offset such as +08:00 or Z: a time without a timezone is ambiguous.")
        if not isinstance(raw, str) or not _DATETIME.fullmatch(raw):
            self.fail(ctx, "invalid_datetime", "Enter a date and time such as 2026-11-23T09:00:00+08:00.")
        moment = parse_datetime(raw)
        if moment is None:
            self.fail(ctx, "invalid_datetime", "%(value)s is not a valid date and time.", value=raw)
        return utc_text(moment)

    def default_value(self, f: FieldDef) -> Any:
        """`"default": "now"`: the moment the form is opened or the record created."""
        if f.default == "now":
            return utc_text(datetime.now(timezone.utc).replace(second=0, microsecond=0))
        return f.default

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": "string", "format": "date-time"}

    def form_field(self, f: FieldDef, lang: str) -> Any:
        return LocalDateTimeField(widget=TypedInput("datetime-local"), **field_kwargs(self, f, lang))

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        moment = parse_datetime(value)
        if moment is None:
            return "" if value is None else str(value)
        return moment.strftime("%Y-%m-%dT%H:%MZ")
