"""The dashboard builder (app admins only): an app's dashboards edited in the app's
draft, beside its entities, and published with them by the designer's Publish
(design.drafts: one draft, one install path).

Widgets are added, edited, moved, resized and removed; the widget form is
generated from the widget and measure registries (design.widget_form) and shows
a live preview: the widget as the admin would see it, computed on the live data.
Every write carries the draft revision and the CSRF token, like the designer's.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..dashboards.checks import validate_dashboard
from ..dashboards.kinds import WIDGET_KINDS
from ..dashboards.measures import Viewer, run_widget
from ..dashboards.model import compile_widget
from ..dashboards.periods import PERIODS, resolve_period
from ..auth.users import members_of
from ..design import condition_builder as cb
from ..design import dashboard_edits as edits
from ..design import widget_form
from ..design.edits import EditError
from ..design.settings_form import suggested_key
from ..errors import FormloomError
from .dashboards import _view, period_names
from .designer import _condition_fields, _edit_documents, _label_from_form, load_design, load_state, worded
from .helpers import catalog, current_actor, db, lang, zone_for

bp = Blueprint("dashboard_builder", __name__)


@bp.before_request
@login_required
def _require_login():
    return None


def variable_names() -> dict[str, str]:
    return {"$stage": _("Stage"), "$owner": _("Owner"), "$created": _("Created"), "$updated": _("Updated"),
            "$stage_entered": _("Entered the stage"), "$probability": _("Stage probability"),
            "$related_count": _("Related records"), "$first_related_hours": _("Hours to the first related record"),
            "$last_activity_days": _("Days since the last activity")}


def bucket_names() -> dict[str, str]:
    return {"day": _("Day"), "week": _("Week"), "month": _("Month"), "quarter": _("Quarter"), "year": _("Year")}


def format_names() -> dict[str, str]:
    return {"number": _("Number"), "money": _("Money"), "percent": _("Percent"), "days": _("Days")}


def _back(app_key: str, key: str, anchor: str = ""):
    return redirect(url_for("dashboard_builder.board", app_key=app_key, key=key) + anchor, code=303)


# -- dashboards -----------------------------------------------------------------------------------

@bp.get("/apps/<app_key>/design/dashboards")
def boards(app_key: str, error: str | None = None, status: int = 200):
    place = load_design(app_key)
    state = load_state(app_key)
    return render_template("designer/dashboards.html", place=place, state=state, error=error,
                           boards=state.documents.get("dashboards") or {}), status


@bp.post("/apps/<app_key>/design/dashboards")
def add_board(app_key: str):
    place = load_design(app_key)
    label = _label_from_form("label")
    if not label or not label.get("en"):
        return boards(app_key, _("Give the dashboard an English name."), 422)
    key = (request.form.get("key") or "").strip() or suggested_key(label["en"])
    if not widget_form.KEY.match(key):
        return boards(app_key, _("A key is lower-case letters, digits and _ and starts with a letter, "
                                 "e.g. won_by_month."), 422)
    roles = [r for r in request.form.getlist("roles") if r in place.app.roles]
    try:
        _edit_documents(place, lambda docs: edits.add_dashboard(docs, key, label, roles))
    except EditError as error:
        return boards(app_key, _(str(error.message)), 422)
    return _back(app_key, key)


@bp.get("/apps/<app_key>/design/dashboards/<key>")
def board(app_key: str, key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    doc = edits.dashboard(state.documents, key)
    mine = [p for p in state.problems if p.source == f"dashboards/{key}.json"]
    return render_template("designer/dashboard.html", place=place, state=state, board=doc, problems=mine,
                           periods=period_names(), kinds={k["value"]: k["text"] for k in widget_form.kind_choices(lang())})


@bp.post("/apps/<app_key>/design/dashboards/<key>/settings")
def settings(app_key: str, key: str):
    place = load_design(app_key)
    label = _label_from_form("label") or {"en": key}
    roles = [r for r in request.form.getlist("roles") if r in place.app.roles]
    period = request.form.get("period") if request.form.get("period") in PERIODS else "this_month"
    owner = request.form.get("owner") if request.form.get("owner") in ("me", "team") else None
    _edit_documents(place, lambda docs: edits.set_settings(docs, key, label, roles, period, owner))
    return _back(app_key, key)


@bp.post("/apps/<app_key>/design/dashboards/<key>/remove")
def remove_board(app_key: str, key: str):
    place = load_design(app_key)
    _edit_documents(place, lambda docs: edits.remove_dashboard(docs, key))
    return redirect(url_for("dashboard_builder.boards", app_key=app_key), code=303)


@bp.post("/apps/<app_key>/design/dashboards/<key>/widgets/<widget_key>/layout")
def layout(app_key: str, key: str, widget_key: str):
    """Move a widget up or down, make it wider or narrower, or remove it."""
    place = load_design(app_key)
    action = request.form.get("action", "")
    if action in ("up", "down"):
        change = lambda docs: edits.move_widget(docs, key, widget_key, -1 if action == "up" else 1)  # noqa: E731
    elif action == "remove":
        change = lambda docs: edits.remove_widget(docs, key, widget_key)  # noqa: E731
    elif action.startswith("width-") and action[6:] in ("1", "2", "3"):
        change = lambda docs: edits.resize_widget(docs, key, widget_key, int(action[6:]))  # noqa: E731
    else:
        raise FormloomError(_("Choose up, down, a width or remove."))
    _edit_documents(place, change)
    return _back(app_key, key, f"#w-{widget_key}")


# -- one widget: the form and its live preview ----------------------------------------------------

def _entity_key(state, values) -> str:
    return values.get("entity") or (state.app["entities"][0]["key"] if state.app.get("entities") else "")


def _entity_doc(state, entity_key: str) -> dict | None:
    return next((e for e in state.app.get("entities", []) if e.get("key") == entity_key), None)


def _builder_fields(state, entity_key: str, old: dict | None = None, related: bool = False) -> list:
    """What a widget's conditions may test: the designer's fields for conditions (the entity's
    fields, its stage, the app's people for user fields), the record's owner and dates and its
    stage's probability, and what only some widgets have: related-record counts (`related`) and
    the stage history's variables (`source: history`)."""
    if _entity_doc(state, entity_key) is None:
        return []
    fields = _condition_fields(state, entity_key) + [
        cb.BuilderField("$owner", _("Owner"), "id", picker="$user"),
        cb.BuilderField("$created", _("Created"), "date"), cb.BuilderField("$updated", _("Updated"), "date"),
        cb.BuilderField("$stage_entered", _("Entered the stage"), "date"),
        cb.BuilderField("$probability", _("Stage probability"), "number")]
    with db().read() as conn:
        fields = cb.with_options(fields, "$user", members_of(conn, state.app_key))
    if related or (old and old.get("related")):
        fields += [cb.BuilderField("$related_count", _("Related records"), "number"),
                   cb.BuilderField("$first_related_hours", _("Hours to the first related record"), "number"),
                   cb.BuilderField("$last_activity_days", _("Days since the last activity"), "number")]
    if old and old.get("source") == "history":
        stages = next((f.options for f in fields if f.key == "$stage"), ())
        fields += [cb.BuilderField("$from_stage", _("Stage left"), "choice", stages),
                   cb.BuilderField("$to_stage", _("Stage entered"), "choice", stages),
                   cb.BuilderField("$at", _("Changed at"), "date"),
                   cb.BuilderField("$duration_days", _("Days in the stage left"), "number"),
                   cb.BuilderField("$age_days", _("Age in days at the change"), "number")]
    return fields


def _old_widget(state, key: str, widget_key: str | None) -> dict | None:
    """The draft's widget being edited (None: a new one)."""
    if widget_key is None:
        return None
    board = edits.dashboard(state.documents, key)
    return next((w for w in board.get("widgets", []) if w.get("key") == widget_key), None)


def _conditions(state, form, old: dict | None = None) -> tuple[dict, list]:
    """The widget's conditions as its condition builders posted them, and their located problems
    (each series' filter against its own entity's fields)."""
    entity_key = _entity_key(state, form)
    source = (old or {}).get("source", "records")
    fields = _builder_fields(state, entity_key, old, related=bool(form.get("related")))
    found, problems = widget_form.read_conditions(form, fields, _entity_doc(state, entity_key),
                                                  source=source, gettext=worded, lang=lang())
    for n in range(widget_form.series_count(form)):
        series_entity = form.get(f"s{n}_entity") or entity_key
        more, wrong = widget_form.read_conditions(form, _builder_fields(state, series_entity),
                                                  _entity_doc(state, series_entity), gettext=worded, lang=lang(),
                                                  prefixes=(widget_form.series_prefix(n),))
        found.update(more)
        problems += wrong
    return found, problems


def _series_rows(state, values: dict, posted, condition_problems) -> list[dict]:
    """Each series row of the form with its own entity's choices (fields, dates, conditions)."""
    rows = []
    for n in range(widget_form.series_count(values)):
        entity = values.get(f"s{n}_entity") or _entity_key(state, {})
        variables = widget_form.variable_choices(state.app, entity, lang(), variable_names())
        prefix = widget_form.series_prefix(n)
        rows.append({"n": n, "entity": entity, "prefix": prefix, "fields": variables,
                     "dates": widget_form.dates(variables), "condition_fields": _builder_fields(state, entity),
                     "logic": None if posted is not None else values.get(prefix),
                     "problems": [x for x in condition_problems if x.where.startswith(prefix + "-")]})
    return rows


def _form_context(place, state, key: str, values: dict, widget_key: str | None, posted=None,
                  condition_problems=()) -> dict:
    entity = _entity_key(state, values)
    names = variable_names()
    related = bool(values.get("related"))
    variables = widget_form.variable_choices(state.app, entity, lang(), names, related=related)
    return dict(place=place, state=state, board=edits.dashboard(state.documents, key), values=values,
                condition_fields=_builder_fields(state, entity, _old_widget(state, key, widget_key), related),
                posted=posted, related_choices=widget_form.related_choices(state.app, entity, lang()),
                condition_problems={p: [x for x in condition_problems if x.where.startswith(p + "-")]
                                    for p in widget_form.CONDITIONS},
                series_rows=_series_rows(state, values, posted, condition_problems),
                widget_key=widget_key, kinds=widget_form.kind_choices(lang()), aggs=widget_form.agg_choices(lang()),
                entities=[(e["key"], e.get("label")) for e in state.app.get("entities", [])],
                groupable=widget_form.groupable(variables), numbers=[v for v in variables if v.kind == "number"],
                fields=variables, dates=widget_form.dates(variables), buckets=bucket_names(), formats=format_names(),
                preview_url=url_for("dashboard_builder.preview", app_key=place.app.key, key=key,
                                    widget=widget_key or ""))


@bp.get("/apps/<app_key>/design/dashboards/<key>/widgets/new")
@bp.get("/apps/<app_key>/design/dashboards/<key>/widgets/<widget_key>")
def widget(app_key: str, key: str, widget_key: str | None = None):
    place = load_design(app_key)
    state = load_state(app_key)
    doc = edits.dashboard(state.documents, key)
    if widget_key is not None:
        values = widget_form.form_values(doc["widgets"][edits.widget_index(doc, widget_key)])
    else:
        values = {"type": request.args.get("type") if request.args.get("type") in WIDGET_KINDS else "bar",
                  "agg": "count", "width": "1"}
    if request.args.get("entity"):             # the form reloads when the entity changes (its fields are the choices)
        values["entity"] = request.args["entity"][:64]
    if request.args.get("type") in WIDGET_KINDS:
        values["type"] = request.args["type"]
    if "related" in request.args:              # ... and when the related records change (their counts are choices)
        values["related"] = request.args["related"][:130]
    return render_template("designer/widget.html", **_form_context(place, state, key, values, widget_key),
                           preview=_preview(place, state, key, values, widget_key))


@bp.post("/apps/<app_key>/design/dashboards/<key>/widgets/new")
@bp.post("/apps/<app_key>/design/dashboards/<key>/widgets/<widget_key>")
def save_widget(app_key: str, key: str, widget_key: str | None = None):
    place = load_design(app_key)
    state = load_state(app_key)
    form = request.form.to_dict()
    if widget_key is None and not form.get("key") and form.get("label-en"):
        form["key"] = suggested_key(form["label-en"])
    old = _old_widget(state, key, widget_key)
    conditions, problems = _conditions(state, request.form, old)
    action = request.form.get("series_action") or ""
    if action and not problems:        # add, remove or re-offer series rows: the form again, nothing saved
        values = widget_form.change_series({**form, **conditions}, action, _entity_key(state, {}))
        return render_template("designer/widget.html", **_form_context(place, state, key, values, widget_key),
                               preview=_preview(place, state, key, values, widget_key))
    try:
        if problems:
            raise widget_form.FormProblem("filter", "A condition cannot be used as it is; the marked rows say why.")
        doc = widget_form.keep_unedited(old, widget_form.parse_widget(form, widget_key, conditions))
        _edit_documents(place, lambda docs: edits.put_widget(docs, key, doc, replacing=widget_key))
    except (widget_form.FormProblem, EditError) as problem:
        message = _(problem.args[0] if isinstance(problem, widget_form.FormProblem) else problem.message)
        return render_template("designer/widget.html",
                               **_form_context(place, state, key, form, widget_key, request.form, problems),
                               error=message, error_at=getattr(problem, "name", None),
                               preview=None), 422
    return _back(app_key, key, f"#w-{doc['key']}")


@bp.get("/apps/<app_key>/design/dashboards/<key>/preview")
def preview(app_key: str, key: str):
    """The widget the form describes, drawn as on the dashboard (htmx swaps it in)."""
    place = load_design(app_key)
    state = load_state(app_key)
    return render_template("designer/_widget_preview.html",
                           preview=_preview(place, state, key, request.args.to_dict(), request.args.get("widget") or None,
                                            request.args))


def _preview(place, state, key: str, values: dict, widget_key: str | None, posted=None) -> dict:
    """{"problems": [...]} or {"view": WidgetView}: the form's widget checked against the draft,
    then computed on the live app (a widget over fields not yet published shows after publishing).
    `posted`: the form with its condition builders (None: the widget's own conditions, in `values`)."""
    values = {**values, "key": widget_key or values.get("key") or "preview"}
    old = _old_widget(state, key, widget_key)
    if posted is not None:
        conditions, problems = _conditions(state, posted, old)
        if problems:
            return {"problems": [p.message for p in problems]}
    else:
        conditions = {name: values.get(name) for name in widget_form.CONDITIONS}
        conditions.update({widget_form.series_prefix(n): values.get(widget_form.series_prefix(n))
                           for n in range(widget_form.series_count(values))})
    try:
        doc = widget_form.keep_unedited(old, widget_form.parse_widget(values, widget_key, conditions))
    except widget_form.FormProblem as problem:
        return {"problems": [_(problem.args[0])]}
    board = {**edits.dashboard(state.documents, key), "widgets": [doc]}
    problems = validate_dashboard(board, state.app, state.documents.get("workflows") or {}, "preview")
    if problems:
        return {"problems": [p.message for p in problems]}
    live = state.live_documents
    if validate_dashboard(board, live["app"], live.get("workflows") or {}, "preview"):
        return {"problems": [_("This widget uses a part of the draft that is not published yet; "
                               "publish to see its numbers.")]}
    app, version_id = catalog().get(place.app.key)
    zone = zone_for(app)
    today = datetime.now(zone).date()
    period_key = board.get("period", "this_month")
    period = resolve_period(period_key, today, zone)
    compiled = compile_widget(doc)
    with db().read() as conn:
        viewer = Viewer(conn, app, current_actor(), period, today, None, lang())
        view = _view(conn, place, compiled, run_widget(viewer, compiled))
    return {"view": view, "period": period_names().get(period_key, period_key)}
