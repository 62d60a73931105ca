"""Periods and date buckets, in the app's timezone.

A period is a range of local calendar days [start, end). Buckets (day, week,
month, quarter, year) are computed here in Python, where the timezone database
lives, and handed to SQL as boundaries: a timestamp column is compared with the
UTC instants of local midnights, a date field with ISO dates. One mechanism
answers on SQLite (which has no timezones) and PostgreSQL alike, exactly at
bucket edges and across daylight-saving changes, for every kind of aggregate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

PERIODS = ("this_month", "last_month", "this_quarter", "last_quarter", "this_year", "last_year",
           "last_30_days", "custom", "all")
BUCKETS = ("day", "week", "month", "quarter", "year")
MAX_BUCKETS = 400
#: how far back "all" reaches when a chart needs buckets (it has no start of its own)
ALL_YEARS = 5


class PeriodError(ValueError):
    """The period asked for cannot be used (unknown name, bad or reversed custom dates)."""


@dataclass(frozen=True)
class Period:
    key: str
    start: date | None           # first local day (None: open, for "all")
    end: date | None             # first local day after the period
    zone: ZoneInfo

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.end is not None

    def previous(self) -> "Period | None":
        """The period of the same kind just before this one (calendar-aware for months/quarters/years)."""
        if not self.bounded:
            return None
        if self.key in ("this_month", "last_month"):
            start = _add_months(self.start, -1)
        elif self.key in ("this_quarter", "last_quarter"):
            start = _add_months(self.start, -3)
        elif self.key in ("this_year", "last_year"):
            start = self.start.replace(year=self.start.year - 1)
        else:
            start = self.start - (self.end - self.start)
        return Period("previous", start, self.start, self.zone)

    def instant(self, day: date) -> datetime:
        """Local midnight of `day` as a UTC instant."""
        return datetime.combine(day, time(0), self.zone).astimezone(timezone.utc)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def resolve_period(key: str | None, today: date, zone: ZoneInfo, start: str | None = None,
                   end: str | None = None) -> Period:
    """The period called `key` as seen on local day `today`; custom takes ISO dates, `end` inclusive."""
    key = key or "this_month"
    month = today.replace(day=1)
    quarter = _quarter_start(today)
    year = date(today.year, 1, 1)
    if key == "this_month":
        return Period(key, month, _add_months(month, 1), zone)
    if key == "last_month":
        return Period(key, _add_months(month, -1), month, zone)
    if key == "this_quarter":
        return Period(key, quarter, _add_months(quarter, 3), zone)
    if key == "last_quarter":
        return Period(key, _add_months(quarter, -3), quarter, zone)
    if key == "this_year":
        return Period(key, year, year.replace(year=year.year + 1), zone)
    if key == "last_year":
        return Period(key, year.replace(year=year.year - 1), year, zone)
    if key == "last_30_days":
        return Period(key, today - timedelta(days=29), today + timedelta(days=1), zone)
    if key == "all":
        return Period(key, None, None, zone)
    if key == "custom":
        try:
            first = date.fromisoformat(start or "")
            last = date.fromisoformat(end or "")
        except ValueError:
            raise PeriodError("custom dates") from None
        if last < first:
            raise PeriodError("reversed")
        return Period(key, first, last + timedelta(days=1), zone)
    raise PeriodError("unknown")


def bucket_start(day: date, unit: str) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())          # ISO weeks start on Monday
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return _quarter_start(day)
    if unit == "year":
        return date(day.year, 1, 1)
    raise PeriodError(f"unknown bucket {unit!r}")


def next_bucket(day: date, unit: str) -> date:
    if unit == "day":
        return day + timedelta(days=1)
    if unit == "week":
        return day + timedelta(days=7)
    if unit == "month":
        return _add_months(day, 1)
    if unit == "quarter":
        return _add_months(day, 3)
    return date(day.year + 1, 1, 1)


def buckets(period: Period, unit: str, today: date) -> list[date]:
    """The start days of every bucket touching the period (at most MAX_BUCKETS, the latest kept)."""
    start = period.start or date(today.year - ALL_YEARS + 1, 1, 1)
    end = period.end or (today + timedelta(days=1))
    out: list[date] = []
    day = bucket_start(start, unit)
    while day < end:
        out.append(day)
        day = next_bucket(day, unit)
    return out[-MAX_BUCKETS:]


def bucket_label(day: date, unit: str) -> str:
    if unit == "year":
        return f"{day.year}"
    if unit == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()
