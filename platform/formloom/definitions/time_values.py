"""Checking the time values documents hold: cron schedules, ISO 8601 durations and time-zone names."""
from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any, Mapping

import isodate


#: (lowest, highest) per cron field: minute, hour, day of month, month, day of week
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
CRON_NAMES = ({}, {}, {},
              {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
              {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())})


def cron_problem(line: str) -> str | None:
    """None when `line` is a five-field cron expression ("m h dom mon dow"), else why not."""
    parts = line.split()
    if len(parts) != 5:
        return f"has {len(parts)} parts; a schedule has 5: minute hour day-of-month month day-of-week (e.g. '0 9 * * 1')"
    names = ("minute", "hour", "day of month", "month", "day of week")
    for part, (low, high), aliases, name in zip(parts, CRON_RANGES, CRON_NAMES, names):
        for item in part.split(","):
            body, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) >= 1):
                return f"has an invalid step {step!r} in the {name}"
            if body == "*":
                continue
            bounds = body.split("-")
            if len(bounds) > 2 or not all(_cron_value(b, aliases, low, high) for b in bounds):
                return f"has {item!r} in the {name}, which must be * or values from {low} to {high}"
    return None


def _cron_value(text: str, aliases: Mapping[str, int], low: int, high: int) -> bool:
    if text.lower() in aliases:
        return True
    return text.isdigit() and low <= int(text) <= high


def duration_problem(text: Any, *, negative_ok: bool = False) -> str | None:
    """None when `text` is a usable ISO 8601 duration, else why not."""
    if not isinstance(text, str):
        return "is not text"
    body = text[1:] if text.startswith("-") else text
    try:
        parsed = isodate.parse_duration(body)
    except (isodate.ISO8601Error, ValueError, OverflowError):
        return "is not an ISO 8601 duration (write it like PT48H, P3D, P1DT12H or -P3D)"
    if text.startswith("-") and not negative_ok:
        return "is negative; only an offset may be negative"
    zero = (parsed == timedelta(0)) if isinstance(parsed, timedelta) else (
        parsed.years == 0 and parsed.months == 0 and parsed.tdelta == timedelta(0))
    if zero and not negative_ok:
        return "is zero; give a length of time"
    return None


def valid_zone(name: str) -> bool:
    if name.startswith(("/", ".")) or ".." in name or "\\" in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
