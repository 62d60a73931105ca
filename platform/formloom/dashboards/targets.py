"""Targets: what each person, or each team, should reach on a number card, month by month.

A manager enters them for the people who report to them and for their team as a
whole (an app admin for every member and every team); a card then shows
attainment: its number over the target of the people whose numbers it counts
(the viewer's own, their team's, the one person the page narrows to, or
everyone) for the months of the period. A team is a manager and everyone
reporting to them; where a team's target is set for a month and the card counts
the whole team, it stands for the sum of its members' own targets (a team target
is not the sum of its people's: managers often ask more of the team than they
share out). Targets are kept per month so that a quarter's or a year's is the
sum of its months'; a period that is not whole months (the last 30 days) has none.

Only cards whose number adds up across people and months take targets: a count
or a sum over records, with a date the period applies to.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Callable, Iterable

from sqlalchemy import Connection, and_, delete, insert, select, update

from ..store.tables import dashboard_targets, dashboard_team_targets
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
               people: Iterable[int] | None, team_of: Callable[[int], Iterable[int]] | None = None) -> float | None:
    """The target of `people` (None: everyone) over `months`; None when none is set. Month by
    month, each team whose target is set and whose members (`team_of(manager)`, the manager
    included) are all counted gives its target, the biggest teams first; everyone counted and in
    no such team gives their own."""
    counted = None if people is None else frozenset(people)
    own = _rows(conn, dashboard_targets, dashboard_targets.c.user_id, app_key, dashboard_key, widget_key, months, counted)
    teams = _rows(conn, dashboard_team_targets, dashboard_team_targets.c.manager_id, app_key, dashboard_key,
                  widget_key, months, counted) if team_of is not None else []
    members = {m: frozenset(team_of(m)) | {m} for m in {r[0] for r in teams}} if team_of is not None else {}
    total, found = 0.0, False
    for month in months:
        covered: set[int] = set()
        mine = sorted(((members[m], value) for m, at, value in teams if at == month), key=lambda t: -len(t[0]))
        for team, value in mine:
            if (counted is None or team <= counted) and not (team & covered):
                total, found = total + value, True
                covered |= team
        for uid, at, value in own:
            if at == month and uid not in covered:
                total, found = total + value, True
    return total if found else None


def _rows(conn: Connection, table, who, app_key: str, dashboard_key: str, widget_key: str, months: list[str],
          counted: frozenset[int] | None) -> list[tuple[int, str, float]]:
    where = [table.c.app_key == app_key, table.c.dashboard_key == dashboard_key, table.c.widget_key == widget_key,
             table.c.month.in_(months)]
    if counted is not None:
        where.append(who.in_(sorted(counted)))
    return [(r[0], r[1], float(r[2])) for r in conn.execute(select(who, table.c.month, table.c.value).where(and_(*where)))]


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


def month_team_targets(conn: Connection, app_key: str, dashboard_key: str, month: str) -> dict[tuple[str, int], float]:
    """(widget key, manager id) -> the team's target, for one month of one dashboard."""
    t = dashboard_team_targets
    rows = conn.execute(select(t.c.widget_key, t.c.manager_id, t.c.value)
                        .where(t.c.app_key == app_key, t.c.dashboard_key == dashboard_key, t.c.month == month))
    return {(r.widget_key, r.manager_id): r.value for r in rows}


def set_team_target(conn: Connection, app_key: str, dashboard_key: str, widget_key: str, manager_id: int, month: str,
                    value: float | None, by: int | None, now: datetime) -> None:
    """Store (or, with None, remove) the target of `manager_id`'s team for one month."""
    t = dashboard_team_targets
    key = (t.c.app_key == app_key, t.c.dashboard_key == dashboard_key, t.c.widget_key == widget_key,
           t.c.manager_id == manager_id, t.c.month == month)
    if value is None:
        conn.execute(delete(t).where(*key))
        return
    if not conn.execute(update(t).where(*key).values(value=value, updated_by=by, updated_at=now)).rowcount:
        conn.execute(insert(t).values(app_key=app_key, dashboard_key=dashboard_key, widget_key=widget_key,
                                      manager_id=manager_id, month=month, value=value, updated_by=by, updated_at=now))
