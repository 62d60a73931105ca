"""My to-dos (/todos): what is due for the reader (collab/todos.py) as a list of the
coming weeks, or as a week or month calendar, in the reader's timezone.

`view` is list, week or month; `day` (YYYY-MM-DD) picks the week or month shown.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..collab.todos import Todo, due_for
from ..errors import FormloomError
from .helpers import catalog, current_actor, db, label, zone_for

bp = Blueprint("todos", __name__)
VIEWS = ("list", "week", "month")
LIST_BEFORE, LIST_AFTER = 7, 31          # the list: a week back (overdue) and a month ahead
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _day_arg(today: date) -> date:
    raw = request.args.get("day", "")
    if not raw:
        return today
    try:
        if not DAY.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
        if not 1900 <= day.year <= 9000:       # the calendar's edges stay far from date.min/max
            raise ValueError(raw)
        return day
    except ValueError:
        raise FormloomError(_("%(value)s is not a valid value for %(name)s.", value=repr(raw[:20]), name="day"),
                            hint=_("Write the date as YYYY-MM-DD.")) from None


def _span(view: str, day: date) -> tuple[date, date]:
    """The first day shown and the day after the last (weeks start on Monday)."""
    if view == "list":
        return day - timedelta(days=LIST_BEFORE), day + timedelta(days=LIST_AFTER)
    if view == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=7)
    first_of_month = day.replace(day=1)
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    first = first_of_month - timedelta(days=first_of_month.weekday())
    last = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return first, last


def _steps(view: str, day: date) -> tuple[date, date]:
    if view == "month":
        first = day.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1), (first + timedelta(days=32)).replace(day=1)
    step = timedelta(days=7 if view == "week" else 30)
    return day - step, day + step


def _entry(t: Todo) -> dict:
    return {"todo": t, "title": t.title or f"#{t.record_id}", "what": label(t.what) if t.what else "",
            "entity": label(t.entity.label), "time": t.at.strftime("%H:%M") if t.at else "",
            "url": url_for("records.detail", app_key=t.app.key, entity_key=t.entity.key, record_id=t.record_id)}


@bp.get("/todos")
@login_required
def index():
    view = request.args.get("view", "list")
    if view not in VIEWS:
        raise FormloomError(_("%(value)s is not a valid value for %(name)s.", value=repr(view[:20]), name="view"),
                            hint=_("Use one of: %(values)s.", values=", ".join(VIEWS)))
    zone = zone_for(None)
    today = datetime.now(zone).date()
    day = _day_arg(today)
    first, after = _span(view, day)
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(after, time.min, zone)
    with db().read() as conn:
        items = due_for(conn, catalog().installed(), current_actor(), start, end, zone)
    by_day: dict[date, list[dict]] = {}
    for t in items:
        by_day.setdefault(t.day, []).append(_entry(t))
    days = [first + timedelta(days=n) for n in range((after - first).days)]
    before, later = _steps(view, day)
    link = lambda v, d: url_for("todos.index", view=v, day=d.isoformat())    # noqa: E731
    return render_template(
        "todos/index.html", view=view, day=day, today=today, zone=str(zone), by_day=by_day, days=days,
        weeks=[days[i:i + 7] for i in range(0, len(days), 7)], count=len(items),
        tabs=[(v, link(v, day), {"list": _("List"), "week": _("Week"), "month": _("Month")}[v]) for v in VIEWS],
        earlier=link(view, before), next=link(view, later), this=link(view, today),
        weekdays=[_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")])
