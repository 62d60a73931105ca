"""Entering targets (dashboards/targets.py): a manager sets, month by month, what each
person reporting to them, and their team as a whole, should reach on the dashboard's
number cards; an app admin may set anyone's and every team's. Everyone else has no
such page (404: nothing is revealed)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import policy
from ..auth.users import members_of, reports_of, user_names
from ..dashboards.targets import (MAX_VALUE, MONTH, month_of, month_targets, month_team_targets, set_target,
                                  set_team_target, target_widgets)
from ..errors import NotFoundError
from .dashboards import _dashboard, format_number
from .helpers import current_actor, db, load_app, zone_for
from .params import BadParameter

bp = Blueprint("dashboard_targets", __name__)


@bp.before_request
@login_required
def _require_login():
    return None


def target_people(conn, place) -> list[tuple[int, str]]:
    """Whose targets the current actor sets: their reports, or every member for an app admin."""
    actor = current_actor()
    if policy.is_app_admin(actor, place.app):
        return members_of(conn, place.app.key)
    team = reports_of(conn, actor.id)
    return sorted(user_names(conn, team).items(), key=lambda p: p[1]) if team else []


def target_teams(conn, place) -> list[tuple[int, str]]:
    """Whose teams' targets the current actor sets, as (manager id, manager's name): their own
    team when people report to them, every team of the app's members for an app admin."""
    actor = current_actor()
    if policy.is_app_admin(actor, place.app):
        return [(uid, name) for uid, name in members_of(conn, place.app.key) if reports_of(conn, uid)]
    if not reports_of(conn, actor.id):
        return []
    return sorted(user_names(conn, [actor.id]).items())


def _month() -> str:
    month = (request.values.get("month") or "").strip()
    if not month:
        return month_of(datetime.now(zone_for(load_app(request.view_args["app_key"]).app)).date())
    if not MONTH.match(month):
        raise BadParameter(_("Give the month as YYYY-MM, e.g. 2026-04."))
    return month


def _load(app_key: str, key: str):
    place = load_app(app_key)
    with db().read() as conn:
        dashboard = _dashboard(conn, place, key)
        people = target_people(conn, place)
        teams = target_teams(conn, place)
    widgets = target_widgets(dashboard)
    if not people or not widgets:
        raise NotFoundError(_("There are no targets you may set on this dashboard."),
                            hint=_("Managers set the targets of the people who report to them."))
    return place, dashboard, people, teams, widgets


@bp.get("/apps/<app_key>/dashboards/<key>/targets")
def targets(app_key: str, key: str, errors: dict | None = None, status: int = 200):
    place, dashboard, people, teams, widgets = _load(app_key, key)
    month = _month()
    with db().read() as conn:
        found = {("t", *k): v for k, v in month_targets(conn, place.app.key, dashboard.key, month).items()}
        found.update({("g", *k): v for k, v in month_team_targets(conn, place.app.key, dashboard.key, month).items()})
    values = {k: format_number(v, "number").replace(",", "") for k, v in found.items()}
    if errors:
        values.update({k: v for k, (v, _m) in errors.items()})
    return render_template("dashboards/targets.html", app=place.app, dashboard=dashboard, people=people,
                           teams=teams, widgets=widgets, month=month, values=values, errors=errors or {}), status


@bp.post("/apps/<app_key>/dashboards/<key>/targets")
def save_targets(app_key: str, key: str):
    place, dashboard, people, teams, widgets = _load(app_key, key)
    month = _month()
    cells, errors = {}, {}
    for w in widgets:      # "t": a person's target, "g": a team's (by its manager)
        for part, whose in (("t", people), ("g", teams)):
            for uid, _name in whose:
                raw = (request.form.get(f"{part}-{w.key}-{uid}") or "").strip().replace(",", "")
                try:
                    value = float(raw) if raw else None
                    if value is not None and not (0 <= value <= MAX_VALUE):
                        raise ValueError
                except ValueError:
                    errors[(part, w.key, uid)] = (raw[:40], _("Write a number from 0 up, or leave it empty."))
                    continue
                cells[(part, w.key, uid)] = value
    if errors:
        return targets(app_key, key, errors, 422)
    now = datetime.now(timezone.utc)
    with db().write() as conn:
        for (part, widget_key, uid), value in cells.items():
            store = set_target if part == "t" else set_team_target
            store(conn, place.app.key, dashboard.key, widget_key, uid, month, value, current_actor().id, now)
    return redirect(url_for("dashboard_targets.targets", app_key=app_key, key=key, month=month, saved=1), code=303)


@bp.app_template_global()
def may_set_targets(app, dashboard) -> bool:
    actor = current_actor()
    if actor is None or not target_widgets(dashboard):
        return False
    if policy.is_app_admin(actor, app):
        return True
    with db().read() as conn:
        return bool(reports_of(conn, actor.id))
