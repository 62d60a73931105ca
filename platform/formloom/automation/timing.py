"""Pure time arithmetic for reminders: local wall-clock times in an app's timezone
turned into UTC instants (with the DST rules below), ISO durations, business days
and cron occurrences. No database here.

DST, decided once for every trigger:
- a local time that does not exist (the spring-forward gap, e.g. 02:30 in New York
  on the second Sunday of March) is shifted forward by the length of the gap
  (02:30 -> 03:30 EDT), which is what `zoneinfo` does for fold=0;
- a local time that happens twice (the fall-back hour) means its first occurrence
  (fold=0), so a reminder at 01:30 on that day fires once.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

import isodate

UTC = timezone.utc


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta | isodate.Duration:
    """An ISO 8601 duration; months and years stay calendar-aware (isodate.Duration)."""
    return isodate.parse_duration(text)


def split_duration(text: str | None) -> tuple[int, int, int, timedelta]:
    """(years, months, days, rest) of a duration, so days can count as calendar or business
    days and the rest (hours, minutes) is added as time."""
    if not text:
        return 0, 0, 0, timedelta(0)
    d = parse_duration(text)
    if isinstance(d, isodate.Duration):
        years, months, td = int(d.years), int(d.months), d.tdelta
    else:
        years, months, td = 0, 0, d
    days = td.days if td >= timedelta(0) else -((-td).days)
    rest = td - timedelta(days=days)
    return years, months, days, rest


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError("unreachable")


def add_business_days(day: date, days: int, working_days: Iterable[int], holidays: Iterable[str]) -> date:
    """Move `days` working days from `day` (negative = back); 0 moves a non-working day forward."""
    work = frozenset(working_days) or frozenset({1, 2, 3, 4, 5})
    off = frozenset(holidays)

    def is_working(d: date) -> bool:
        return d.isoweekday() in work and d.isoformat() not in off

    step = 1 if days >= 0 else -1
    remaining = abs(days)
    current = day
    if remaining == 0:
        for _ in range(3700):
            if is_working(current):
                return current
            current += timedelta(days=1)
        return day
    guard = 0
    while remaining:
        current += timedelta(days=step)
        guard += 1
        if guard > 3700 * max(1, abs(days)):
            break
        if is_working(current):
            remaining -= 1
    return current


def localize(naive: datetime, tz_name: str) -> datetime:
    """The UTC instant of a local wall-clock time (gap: shifted forward; overlap: first)."""
    tz = zone(tz_name)
    aware = naive.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC)


def is_nonexistent(naive: datetime, tz_name: str) -> bool:
    tz = zone(tz_name)
    back = naive.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back != naive


def local_now(tz_name: str, now: datetime) -> datetime:
    return now.astimezone(zone(tz_name))


def parse_at(text: str | None) -> time | None:
    if not text:
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_stored_datetime(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def date_trigger_due(value: str, *, is_date: bool, offset: str | None, at: str | None, business_days: bool,
                     tz_name: str, working_days: Iterable[int] = (1, 2, 3, 4, 5),
                     holidays: Iterable[str] = ()) -> datetime:
    """When a date_field trigger is due, in UTC.

    A date-only value is a plain calendar date in the app's timezone. The offset's
    years/months/days move the local date (working days only when `business_days`),
    its hours and minutes are added after; `at` sets the local time of day (default
    00:00 for dates, the value's own local time for datetimes)."""
    years, months, days, rest = split_duration(offset)
    if is_date:
        local_day = date.fromisoformat(value[:10])
        clock = time(0, 0)
    else:
        local = parse_stored_datetime(value).astimezone(zone(tz_name))
        local_day, clock = local.date(), local.time().replace(tzinfo=None)
    if years or months:
        local_day = add_months(local_day, years * 12 + months)
    if business_days:
        local_day = add_business_days(local_day, days, working_days, holidays)
    else:
        local_day += timedelta(days=days)
    at_time = parse_at(at)
    if at_time is not None:
        clock = at_time
    naive = datetime.combine(local_day, clock)
    if rest:
        # hours/minutes are elapsed time, added to the instant
        return localize(naive, tz_name) + rest
    return localize(naive, tz_name)


def add_duration(instant: datetime, text: str) -> datetime:
    """`instant` + an ISO duration; calendar parts (Y/M/D) in UTC, which is exact for time parts."""
    return instant + parse_duration(text)


def cron_occurrences(expr: str, tz_name: str, after: datetime) -> Iterator[datetime]:
    """UTC instants of a cron expression read in local time, strictly after `after`.

    Iterating naive local times and localizing each one makes DST explicit: a time in
    the gap is shifted forward, a time in the repeated hour happens once (its first)."""
    from croniter import croniter

    start = after.astimezone(zone(tz_name)).replace(tzinfo=None) - timedelta(hours=3)
    it = croniter(expr, start)
    seen: set[datetime] = set()
    for _ in range(100_000):
        naive = it.get_next(datetime)
        instant = localize(naive, tz_name)
        if instant <= after or instant in seen:
            continue
        seen.add(instant)
        yield instant


def valid_cron(expr: str) -> bool:
    from croniter import croniter

    return croniter.is_valid(expr)
