"""Dates and times as people read them, in their language and a timezone: the pure
functions under web/datetimes.py (pages) and automation messages (notifications and
mail are read by people too). '20 Nov 2026, 13:30 UTC+8' / '2026年11月20日 13:30 UTC+8'."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from .fields.dates import parse_date, parse_datetime

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_day(day: date, lang: str) -> str:
    """'20 Nov 2026' / '2026年11月20日'."""
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def zone_label(moment: datetime) -> str:
    """'UTC', 'UTC+8', 'UTC-3:30': the offset in force at that moment (abbreviations such
    as CST mean different zones to different readers)."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def format_moment(moment: datetime, lang: str, zone: ZoneInfo | timezone, *, show_zone: bool = False) -> str:
    """'20 Nov 2026, 13:30' / '2026年11月20日 13:30', in `zone`, optionally with ' UTC+8'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(zone)
    return format_local(local, lang, zone_label(local) if show_zone else None)


def format_local(local: datetime, lang: str, label: str | None = None) -> str:
    """`format_moment` of a moment already in the reader's zone, with ' ' + `label` (its
    `zone_label`) when given: a page that also writes the zone's title converts once."""
    clock = f"{local.hour:02d}:{local.minute:02d}"
    text = f"{format_day(local.date(), lang)} {clock}" if lang == "zh" else f"{format_day(local.date(), lang)}, {clock}"
    return f"{text} {label}" if label is not None else text


def zone_title(moment: datetime, zone: ZoneInfo | timezone) -> str:
    """The hover text: the zone's name and offset ('Asia/Shanghai, UTC+8')."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    name = getattr(zone, "key", None) or "UTC"
    label = zone_label(moment.astimezone(zone))
    return name if name == label else f"{name}, {label}"


def format_value(kind: str, value: Any, lang: str, zone: ZoneInfo | timezone, *, show_zone: bool = False) -> str | None:
    """A stored date ('2026-11-20') or datetime ('2026-11-20T05:30:00Z') value as text;
    None when the value is not one (the caller shows it as it is)."""
    if kind == "date":
        day = parse_date(value)
        return format_day(day, lang) if day is not None else None
    moment = parse_datetime(value)
    if moment is None:
        return None
    return format_moment(moment, lang, zone, show_zone=show_zone)
