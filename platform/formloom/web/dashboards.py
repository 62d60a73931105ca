"""Dashboard pages: an app's dashboards for the roles they name, each widget's
numbers computed under the viewer's data scope, with a period and an owner
filter. Charts are drawn by static/js/dashboards.js from JSON in a data script
tag (no inline code: the CSP allows none); each chart also has a plain table."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy.exc import SQLAlchemyError

from ..auth import policy
from ..auth.users import members_of, reports_of, user_names
from ..dashboards.catalog import dashboards_of, may_see, visible_dashboards
from ..dashboards.measures import NONE_KEY, Viewer, WidgetData, run_widget
from ..dashboards.model import CHART_TYPES, DashboardDef, WidgetDef
from ..dashboards.periods import PERIODS, PeriodError, resolve_period
from ..errors import NotFoundError
from ..fields.numbers import CURRENCY_SYMBOLS, money_display
from .display import lookups_for, show
from .helpers import cached_url_for, catalog, current_actor, db, lang, load_app, page_read, zone_for

bp = Blueprint("dashboards", __name__)


@bp.before_request
@login_required
def _require_login():
    return None


def period_names() -> dict[str, str]:
    return {"this_month": _("This month"), "last_month": _("Last month"), "this_quarter": _("This quarter"),
            "last_quarter": _("Last quarter"), "this_year": _("This year"), "last_year": _("Last year"),
            "last_30_days": _("Last 30 days"), "all": _("All time"), "custom": _("Custom dates")}


@bp.app_template_global()
def nav_dashboards(app) -> list[DashboardDef]:
    """The dashboards of `app` the current actor may see (for the menu)."""
    actor = current_actor()
    if actor is None:
        return []
    try:
        app_def, version_id = catalog().get(app.key)
        with page_read() as conn:
            return visible_dashboards(conn, actor, app_def, version_id)
    except SQLAlchemyError:        # the menu of an error page (database away) still renders
        g._formloom_nav_incomplete = True        # ... but is not kept (web/nav_menu.py)
        return []


@bp.get("/apps/<app_key>/dashboards/")
def index(app_key: str):
    place = load_app(app_key)
    with db().read() as conn:
        shown = visible_dashboards(conn, current_actor(), place.app, place.version_id)
    if len(shown) == 1:
        return redirect(cached_url_for("dashboards.view", app_key=app_key, key=shown[0].key))
    return render_template("dashboards/index.html", app=place.app, dashboards=shown)


@dataclass
class Filters:
    period: str
    start: str
    end: str
    owner: str                 # "", "all" (everyone: overrides the dashboard's default), "me", "team" or a user id
    errors: list[str]
    owner_by_default: bool = False


def _filters(dashboard: DashboardDef) -> Filters:
    period = request.args.get("period") or dashboard.period
    errors = []
    if period not in PERIODS:
        errors.append(_("The period %(value)s is not one of the choices; showing %(default)s.",
                        value=repr(period[:40]), default=period_names()[dashboard.period]))
        period = dashboard.period
    owner = request.args.get("owner")
    return Filters(period, (request.args.get("from") or "")[:10], (request.args.get("to") or "")[:10],
                   (dashboard.owner or "" if owner is None else owner)[:20], errors, owner is None)


def _owner_choices(conn, place, dashboard: DashboardDef) -> list[tuple[str, str]]:
    """Whose numbers the viewer may narrow to: themselves, their team, or anyone they may
    read (the data scope in SQL still applies; this only narrows)."""
    actor = current_actor()
    entities = [place.app.entity(key) for w in dashboard.widgets for key in w.entities()]
    widest = max((policy.SCOPE_ORDER.index(policy.scope(actor, "read", place.app, e)) for e in entities if e),
                 default=0)
    choices = [("me", _("Only me"))]
    if widest >= policy.SCOPE_ORDER.index("team"):
        team = reports_of(conn, actor.id)
        if team:
            choices.append(("team", _("My team")))
        people = members_of(conn, place.app.key) if widest == len(policy.SCOPE_ORDER) - 1 else \
            sorted(user_names(conn, team).items(), key=lambda p: p[1])
        choices += [(str(uid), name) for uid, name in people if uid != actor.id]
    return choices


def _owners(conn, value: str, choices: list[tuple[str, str]], errors: list[str]) -> frozenset[int] | None:
    actor = current_actor()
    if not value or value == "all":
        return None
    if value not in {k for k, _label in choices}:
        errors.append(_("You cannot narrow the numbers to that person; showing everyone you may see."))
        return None
    if value == "me":
        return frozenset({actor.id})
    if value == "team":
        return frozenset(reports_of(conn, actor.id) | {actor.id})
    return frozenset({int(value)})


@dataclass
class WidgetView:
    widget: WidgetDef
    data: WidgetData
    title: str
    chart: bool
    shown_value: str = ""
    shown_previous: str = ""
    change: str = ""
    change_class: str = ""
    target_text: str = ""
    records: list[dict] | None = None
    columns: list[Any] | None = None
    group_label: str = ""
    link: str = ""                                   # the records behind the whole widget
    links: list[str] = field(default_factory=list)   # ... behind each row (bar, slice, step)
    cell_links: list[list[str]] = field(default_factory=list)   # pivot: ... behind each cell
    series_links: list[list[str]] = field(default_factory=list)  # series: ... behind each bucket of each series
    column_links: list[str] = field(default_factory=list)       # pivot: ... behind each column
    personal_target: float | None = None     # the sum of the targets of the people counted (dashboards.targets)
    attainment: float | None = None
    currency: str | None = None              # a money card: its field's currency (card_currency)
    formats: list[tuple[str, str | None]] = field(default_factory=list)   # per measure: (format, currency)


def format_number(value: float | None, fmt: str, currency: str | None = None) -> str:
    if value is None:
        return "—"
    if fmt == "percent":
        return f"{value * 100:.1f}%"
    if fmt == "days":
        return _("%(n)s d", n=f"{value:.1f}")
    if fmt == "money":
        return money_display(Decimal(repr(float(value))), currency) if currency else f"{value:,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def card_currency(app, widget: WidgetDef) -> str | None:
    """The currency of the field a money card adds up, so the card shows the amount the way the
    record pages do (symbol and all); None when the card is no money or its field has none."""
    if not widget.measures:
        return None
    return measure_currency(app, widget, widget.measures[0])


def measure_currency(app, widget: WidgetDef, measure) -> str | None:
    """The currency of the field a money measure aggregates; None when it counts, divides, or
    its field has no currency."""
    if widget.format != "money" or widget.entity is None:
        return None
    if measure.agg not in ("sum", "avg", "min", "max", "median") or not measure.field:
        return None
    entity = app.entity(next((p.entity for p in widget.parts() if measure in p.measures), widget.entity))
    fdef = entity.field(measure.field) if entity is not None else None
    return getattr(fdef, "currency", None) if fdef is not None else None


def measure_formats(app, widget: WidgetDef) -> list[tuple[str, str | None]]:
    """How each measure's numbers are shown: a ratio as a percent, a count as a number, anything
    else as the widget says, with the currency of its field when that is money (charts, their
    tables and CSV headings agree)."""
    out = []
    for m in widget.measures:
        fmt = "percent" if m.agg == "ratio" else ("number" if m.agg in ("count", "count_distinct") else widget.format)
        out.append((fmt, measure_currency(app, widget, m) if fmt == "money" else None))
    return out or [("number", None)]


def group_label(app, widget: WidgetDef) -> str:
    """The heading of a table's first column: what its rows are."""
    if widget.type == "funnel":
        return _("Stage")
    if widget.group is None:
        return ""
    if widget.group.bucket:
        return _("Period")
    by = widget.group.by
    named = {"$stage": _("Stage"), "$from_stage": _("Stage"), "$to_stage": _("Stage"), "$owner": _("Owner")}
    if by in named:
        return named[by]
    f = app.entity(widget.entity).field(by)
    return f.label.get(lang()) if f is not None else by


def filter_args(filters: Filters) -> dict[str, str]:
    """The page's filters as they were applied, for links that must show the same records."""
    args = {"period": filters.period, "owner": filters.owner}
    if filters.period == "custom":
        args.update({"from": filters.start, "to": filters.end})
    return {k: v for k, v in args.items() if v}


def _linked(view: WidgetView, app_key: str, dashboard_key: str, filters: Filters) -> WidgetView:
    def url(**cell):
        return cached_url_for("dashboards.drill_view", app_key=app_key, key=dashboard_key,
                              widget_key=view.widget.key, **filter_args(filters), **cell)
    view.link = url()
    view.links = [url(row=str(r.key)) for r in view.data.rows]
    if view.widget.series:         # each bar (and table cell) opens its own series' records
        view.series_links = [[url(series=s.key, row=str(r.key)) for r in view.data.rows] for s in view.widget.series]
        view.links = []
    if view.data.pivot is not None:
        columns = [str(k) for k in view.data.pivot.keys]
        view.column_links = [url(col=c) for c in columns]
        view.cell_links = [[url(row=str(r.key), col=c) for c in columns] for r in view.data.rows]
    return view


def counted_people(conn, viewer: Viewer, widget: WidgetDef) -> frozenset[int] | None:
    """Whose numbers a widget counts for this viewer (None: everyone's)."""
    actor = viewer.actor
    if widget.mine:
        return frozenset({actor.id})
    if viewer.owners is not None:
        return viewer.owners
    scope = policy.scope(actor, "read", viewer.app, viewer.app.entity(widget.entity))
    if scope == "all":
        return None
    return frozenset({actor.id} | (reports_of(conn, actor.id) if scope == "team" else set()))


def _attained(conn, viewer: Viewer, dashboard: DashboardDef, view: WidgetView) -> WidgetView:
    from ..dashboards.targets import months_of, takes_targets, target_for
    months = months_of(viewer.period)
    if not takes_targets(view.widget) or not months:
        return view
    view.personal_target = target_for(conn, viewer.app.key, dashboard.key, view.widget.key, months,
                                      counted_people(conn, viewer, view.widget),
                                      team_of=lambda manager: reports_of(conn, manager))
    if view.personal_target:
        view.attainment = (view.data.value or 0) / view.personal_target
    return view


def _view(conn, place, widget: WidgetDef, data: WidgetData) -> WidgetView:
    view = WidgetView(widget, data, widget.label.get(lang()), widget.type in CHART_TYPES,
                      group_label=group_label(place.app, widget), formats=measure_formats(place.app, widget))
    if widget.type == "number":
        view.currency = card_currency(place.app, widget)
        view.shown_value = format_number(data.value, widget.format, view.currency)
        if data.previous is not None or widget.compare:
            view.shown_previous = format_number(data.previous, widget.format, view.currency)
            if data.value is not None and data.previous:
                delta = (data.value - data.previous) / abs(data.previous)
                view.change = f"{'+' if delta >= 0 else '−'}{abs(delta) * 100:.0f}%"
                view.change_class = "up" if delta >= 0 else "down"
        if widget.target is not None:
            sign = "≥" if widget.target.better == "higher" else "≤"
            view.target_text = _("Target %(sign)s %(value)s", sign=sign,
                                 value=format_number(widget.target.value, widget.format, view.currency))
    if widget.type == "records":
        entity = place.app.entity(widget.entity)
        visible = {f.key for f in policy.visible_fields(current_actor(), place.app, entity)}
        view.columns = [f for f in (entity.field(k) for k in widget.columns) if f is not None and f.key in visible]
        lookups = lookups_for(conn, place.app, view.columns, [r.data for r in data.records], actor=current_actor())
        view.records = [{"id": r.id, "title": r.title,
                         "url": cached_url_for("records.detail", app_key=place.app.key, entity_key=entity.key,
                                               record_id=r.id),
                         "cells": [show(place.app, f, r.data.get(f.key), lang(), lookups) for f in view.columns]}
                        for r in data.records]
    return view


def _dashboard(conn, place, key: str) -> DashboardDef:
    dashboard = dashboards_of(conn, place.version_id).get(key)
    if dashboard is None or not may_see(current_actor(), place.app, dashboard):
        raise NotFoundError(_("There is no dashboard %(key)s here.", key=repr(key[:60])),
                            hint=_("Pick a dashboard in the menu."))
    return dashboard


def _viewer(conn, place, dashboard: DashboardDef):
    """The viewer of `dashboard` with the period and owner the request asks for (bad ones are
    replaced by the defaults and said in `filters.errors`)."""
    actor = current_actor()
    filters = _filters(dashboard)
    zone = zone_for(place.app)
    today = datetime.now(zone).date()
    try:
        period = resolve_period(filters.period, today, zone, filters.start, filters.end)
    except PeriodError:
        filters.errors.append(_("Give both custom dates as YYYY-MM-DD, the first not after the second; "
                                "showing %(default)s.", default=period_names()[dashboard.period]))
        filters.period = dashboard.period
        period = resolve_period(dashboard.period, today, zone)
    choices = _owner_choices(conn, place, dashboard)
    if filters.owner_by_default and filters.owner not in {k for k, _label in choices}:
        filters.owner = ""               # a default that does not apply to this viewer (no team): everyone they see
    owners = _owners(conn, filters.owner, choices, filters.errors)
    if owners is None:
        filters.owner = "all" if dashboard.owner else ""
    return Viewer(conn, place.app, actor, period, today, owners, lang()), filters, choices


def _compute(app_key: str, key: str, only: str | None = None):
    place = load_app(app_key)
    with db().read() as conn:
        dashboard = _dashboard(conn, place, key)
        viewer, filters, choices = _viewer(conn, place, dashboard)
        shown = [w for w in dashboard.widgets if only is None or w.key == only]
        if only is not None and not shown:
            raise NotFoundError(_("There is no widget %(key)s on this dashboard.", key=repr(only[:60])))
        views = [_linked(_attained(conn, viewer, dashboard, _view(conn, place, w, run_widget(viewer, w))),
                         place.app.key, dashboard.key, filters) for w in shown]
    return place, dashboard, filters, viewer.period, choices, views


@bp.get("/apps/<app_key>/dashboards/<key>")
def view(app_key: str, key: str):
    place, dashboard, filters, period, choices, views = _compute(app_key, key)
    return render_template("dashboards/view.html", app=place.app, dashboard=dashboard, filters=filters,
                           period=period, periods=period_names(), owner_choices=choices, views=views,
                           none_key=NONE_KEY), 400 if filters.errors else 200


@bp.get("/apps/<app_key>/dashboards/<key>.json")
def data(app_key: str, key: str):
    """Every widget's numbers as JSON (the same the page shows)."""
    place, dashboard, filters, period, _choices, views = _compute(app_key, key)
    body = dashboard_json(dashboard, filters, period, views)
    return jsonify(body), 400 if filters.errors else 200


DRILL_PAGE = 50


@bp.get("/apps/<app_key>/dashboards/<key>/<widget_key>/records")
def drill_view(app_key: str, key: str, widget_key: str):
    """The records behind a number of a widget (a card, bar, slice, funnel step, table row
    or pivot cell), under the same scope, period and owner as the page that showed it."""
    from ..dashboards.drill import Cell, drill
    from .params import int_arg
    place = load_app(app_key)
    actor = current_actor()
    offset = int_arg("offset", 0, low=0, high=10**9)
    with db().read() as conn:
        dashboard = _dashboard(conn, place, key)
        widget = dashboard.widget(widget_key)
        if widget is None:
            raise NotFoundError(_("There is no widget %(key)s on this dashboard.", key=repr(widget_key[:60])))
        viewer, filters, _choices = _viewer(conn, place, dashboard)
        cell = Cell(_cell_key("row"), _cell_key("col"), _cell_key("series"))
        series = next((s for s in widget.series if s.key == cell.series), None)
        if widget.series and series is None:
            raise NotFoundError(_("There is no series %(key)s on this widget.", key=repr((cell.series or "")[:60])),
                                hint=_("Click a bar or point of the chart to see its records."))
        page = drill(viewer, widget, cell, offset=offset, limit=DRILL_PAGE)
        entity = place.app.entity(series.widget.entity if series else widget.entity)
        visible = {f.key: f for f in policy.visible_fields(actor, place.app, entity)}
        keys = list(widget.columns) or list(entity.default_columns)
        columns = [visible[k] for k in keys if k in visible and k != entity.title][:6]
        lookups = lookups_for(conn, place.app, columns, [r.data for r in page.records], actor=actor)
        workflow = place.app.workflow_for(entity.key)
        rows = [{"id": r.id, "title": r.title or f"#{r.id}",
                 "url": cached_url_for("records.detail", app_key=place.app.key, entity_key=entity.key, record_id=r.id),
                 "stage": workflow.stage(r.stage) if workflow and r.stage else None,
                 "cells": [show(place.app, f, r.data.get(f.key), lang(), lookups) for f in columns]}
                for r in page.records]
    return render_template("dashboards/drill.html", app=place.app, dashboard=dashboard, widget=widget, series=series,
                           entity=entity, page=page, rows=rows, columns=columns, workflow=workflow,
                           filters=filters, offset=offset, size=DRILL_PAGE,
                           back=cached_url_for("dashboards.view", app_key=place.app.key, key=dashboard.key,
                                               **filter_args(filters)),
                           more=_more_url(offset + DRILL_PAGE) if offset + DRILL_PAGE < page.total else None,
                           fewer=_more_url(max(offset - DRILL_PAGE, 0)) if offset else None), \
        400 if filters.errors else 200


def _cell_key(name: str) -> str | None:
    value = request.args.get(name)
    return value[:200] if value else None


def _more_url(offset: int) -> str:
    args = request.args.to_dict()
    args["offset"] = str(offset)
    return cached_url_for(request.endpoint, **(request.view_args or {}), **args)


def dashboard_json(dashboard: DashboardDef, filters: Filters, period, views: list[WidgetView]) -> dict:
    """The numbers as the page shows them (web/openapi.py describes this shape)."""
    return {"dashboard": dashboard.key, "label": dashboard.label.get(lang()),
            "period": {"key": filters.period, "start": period.start.isoformat() if period.start else None,
                       "end": period.end.isoformat() if period.end else None},
            "errors": filters.errors, "widgets": [widget_json(v) for v in views]}


def widget_json(v: WidgetView) -> dict:
    return {**v.data.as_json(), "label": v.title, "personal_target": v.personal_target, "attainment": v.attainment,
            "records": [{"id": r["id"], "title": r["title"]} for r in (v.records or [])]}


@bp.get("/apps/<app_key>/dashboards/<key>/<widget_key>.csv")
def widget_csv(app_key: str, key: str, widget_key: str):
    """One widget's numbers as CSV (the same rows the page shows, same filters); cells that
    a spreadsheet would run as a formula are prefixed with a quote."""
    import csv
    import io
    from flask import Response
    place, dashboard, filters, _period, _choices, views = _compute(app_key, key, only=widget_key)
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(views[0]))
    name = f"{dashboard.key}-{widget_key}-{filters.period}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def csv_rows(view: WidgetView) -> list[list]:
    """The widget's table as a spreadsheet would show it: headings in the viewer's language,
    text cells safe from formula injection, numbers as numbers."""
    if view.widget.type == "records":
        return [[_("Record"), *[f.label.get(lang()) for f in view.columns or []]],
                *[[_cell(r["title"]), *[_cell(str(c.text if not c.links else ", ".join(t for _h, t in c.links)))
                                        for c in r["cells"]]] for r in view.records or []]]
    pivot = view.data.pivot
    head = [_cell(view.group_label or view.title), *[_cell(s) for s in view.data.series]]
    rows = [[_cell(row.label), *["" if x is None else x for x in row.values]] for row in view.data.rows]
    if pivot is None:
        return [head, *rows]
    return [head + [_("Total")], *[r + ["" if t is None else t] for r, t in zip(rows, pivot.row_totals)],
            [_("Total"), *["" if x is None else x for x in pivot.column_totals], "" if pivot.total is None else pivot.total]]


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.app_context_processor
def _template_helpers() -> dict:
    from datetime import timedelta
    return {"fmt": format_number, "chart_payload": chart_payload, "timedelta_day": timedelta(days=1)}


def chart_payload(v: WidgetView) -> dict:
    """What dashboards.js draws: labels, one series per measure, how to format numbers."""
    formats = v.formats or [("number", None)]

    def shown(i: int) -> dict:
        fmt, currency = formats[min(i, len(formats) - 1)]
        return {"format": fmt, **({"currency": currency, "symbol": CURRENCY_SYMBOLS.get(currency, currency + " ")}
                                  if currency else {})}
    return {"type": v.widget.type, "labels": [r.label for r in v.data.rows],
            "series": [{"label": s, **shown(i), "values": [r.values[i] for r in v.data.rows],
                        **({"links": v.series_links[i]} if v.series_links else {})}
                       for i, s in enumerate(v.data.series)],
            "links": v.links, "lang": lang()}
