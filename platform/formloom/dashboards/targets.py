"""Targets: what each person should reach on a number card, month by month.

A manager enters them for the people who report to them (an app admin for every
member); a card then shows attainment: its number over the sum of the targets of
the people whose numbers it counts (the viewer's own, their team's, the one
person the page narrows to, or everyone) for the months of the period. Targets
are kept per month so that a quarter's or a year's is the sum of its months';
a period that is not whole months (the last 30 days) has none.

Only cards whose number adds up across people and months take targets: a count
or a sum over records, with a date the period applies to.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Iterable

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from ..store.tables import dashboard_targets
from .model import DashboardDef, WidgetDef
from .periods import Period

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_VALUE = 1e15


def takes_targets(widget: WidgetDef) -> bool:
    return (widget.type == "number" and widget.source == "records" and bool(widget.date)
            and bool(widget.measures) and widget.measures[0].agg in ("count", "sum"))


def target_widgets(dashboard: DashboardDef) -> list[WidgetDef]:
    return [w for w in dashboard.widgets if takes_targets(w)]


def months_of(period: Period) -> list[str] | None:
    """The months a period is made of, or None when it is not whole months."""
    if not period.bounded or period.start.day != 1 or period.end.day != 1:
        return None
    out, day = [], period.start
    while day < period.end:
        out.append(f"{day.year:04d}-{day.month:02d}")
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def target_for(conn: Connection, app_key: str, dashboard_key: str, widget_key: str, months: list[str],
               people: Iterable[int] | None) -> float | None:
    """The sum of the targets of `people` (None: everyone) in `months`; None when none is set."""
    where = [dashboard_targets.c.app_key == app_key, dashboard_targets.c.dashboard_key == dashboard_key,
             dashboard_targets.c.widget_key == widget_key, dashboard_targets.c.month.in_(months)]
    if people is not None:
        where.append(dashboard_targets.c.user_id.in_(sorted(people)))
    total, found = conn.execute(select(func.sum(dashboard_targets.c.value), func.count())
                                .where(and_(*where))).one()
    return float(total) if found else None


def month_targets(conn: Connection, app_key: str, dashboard_key: str, month: str) -> dict[tuple[str, int], float]:
    """(widget key, user id) -> target, for one month of one dashboard."""
    rows = conn.execute(select(dashboard_targets.c.widget_key, dashboard_targets.c.user_id, dashboard_targets.c.value)
                        .where(dashboard_targets.c.app_key == app_key,
                               dashboard_targets.c.dashboard_key == dashboard_key,
                               dashboard_targets.c.month == month))
    return {(r.widget_key, r.user_id): r.value for r in rows}


def set_target(conn: Connection, app_key: str, dashboard_key: str, widget_key: str, user_id: int, month: str,
               value: float | None, by: int | None, now: datetime) -> None:
    """Store (or, with None, remove) one person's target for one month."""
    key = (dashboard_targets.c.app_key == app_key, dashboard_targets.c.dashboard_key == dashboard_key,
           dashboard_targets.c.widget_key == widget_key, dashboard_targets.c.user_id == user_id,
           dashboard_targets.c.month == month)
    if value is None:
        conn.execute(delete(dashboard_targets).where(*key))
        return
    changed = conn.execute(update(dashboard_targets).where(*key)
                           .values(value=value, updated_by=by, updated_at=now)).rowcount
    if not changed:
        conn.execute(insert(dashboard_targets).values(app_key=app_key, dashboard_key=dashboard_key,
                                                      widget_key=widget_key, user_id=user_id, month=month,
                                                      value=value, updated_by=by, updated_at=now))
