"""The generic record screens: app home, entity list, record detail, the
create/edit forms, inline field validation and the reference picker.

Every view asks the policy first: lists and searches are scoped in SQL, a
record the actor may not read answers 404, only visible fields are shown and
only writable fields are taken from a post.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field, replace
from datetime import timedelta
from typing import Any, Iterable

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import login_required
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..auth.users import members_of, reports_of, user_names
from ..automation.actions import RULE_VIA
from ..collab.activity import NAMES_LATER
from ..conditions import plain_data, truthy
from ..definitions.model import EntityDef, FieldDef, StageDef, thaw
from ..errors import ConflictError, FormloomError, NotFoundError, RecordInvalid
from ..fields import field_type
from ..forms import build_form_class, form_to_data
from ..layout import arrange, shows
from ..store.query import (link_id, ListQuery, list_records, parse_list_args, record_and_related_lists,
                           titles_for)
from ..store.records import (Record, clean_context, create_record, get_record, stored_references,
                             update_record)
from ..collab.page_reads import timeline_rows
from ..workflow.stages import parse_duration
from ..i18n import translate
from ..ids import parse_int
from .display import cell_html, lookups_for, page_lookups, record_url, show
from .list_page import list_page
from .list_panels import columns_panel, filter_panel
from .list_rows import RowWriter, rows_html, select_label
from .rows_head import RowsHead
from .params import int_arg
from .helpers import (Place, cached_url_for, current_actor, db, is_fragment_request, label, lang, load_app,
                      load_entity, page_read, nav_apps, zone_for)
from .activity import change_values, read_timeline, timeline_query, timeline_view
from .approvals import approval_panel
from .field_html import field_html, written_here
from .files import form_with_uploads
from .pickers import picker_matches, prefill_references, record_id_arg
from .saved_views import views_panel
from .record_html import (activity_html, history_html, page_head_html, path_bar_html, record_meta_html, related_html,
                          sections_html, stage_badge_html)

bp = Blueprint("records", __name__)
PICKER_LIMIT = 20
RELATED_LIMIT = 20                 # rows of each related list on a record's page
VERSION_FIELD = "_version"         # field keys never start with "_", so these never collide
RECORD_FIELD = "_record"
FILTER_ARGS = ("ff", "fo", "fv")   # the "add a filter" form; redirected to `field__op=value`


@bp.before_request
@login_required
def _require_login():
    return None


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals.update(activity_html=activity_html, history_html=history_html,
                                       path_bar_html=path_bar_html, related_html=related_html,
                                       sections_html=sections_html, stage_badge_html=stage_badge_html,
                                       page_head_html=page_head_html, record_meta_html=record_meta_html)


# -- small pieces ------------------------------------------------------------------

_OP_LABELS: dict[str, dict[str, str]] = {}


def op_labels() -> dict[str, str]:
    """The operators in the reader's language (kept per language: the compiled catalogs do
    not change while the app runs; a copy, so no caller can change them for the next)."""
    code = lang()
    found = _OP_LABELS.get(code)
    if found is None:
        found = _OP_LABELS[code] = {
            "eq": _("is"), "ne": _("is not"), "lt": _("less than"), "lte": _("at most"),
            "gt": _("greater than"), "gte": _("at least"), "in": _("is one of"),
            "contains": _("contains"), "is_empty": _("is empty")}
    return dict(found)


def stage_of(place: Place, record: Record | None) -> StageDef | None:
    workflow = place.app.workflow_for(place.entity.key)
    if workflow is None:
        return None
    if record is None:
        return workflow.first_stage
    return workflow.stage(record.stage) if record.stage else None


def readable_record(place: Place, record_id: int, conn) -> Record:
    return judged_record(place, get_record(conn, place.app, place.entity, record_id), conn)


def judged_record(place: Place, record: Record | None, conn) -> Record:
    """`record`, read by the caller (None: there was no such live record), if the reader may
    read it; else the same "no such record" as `readable_record`."""
    if record is None:
        raise NotFoundError(translate("en", "There is no such record."))     # what get_record says
    if not policy.can(current_actor(), "read", place.app, place.entity, record,
                      team_of=_team_of(conn)):
        raise NotFoundError(_("There is no such record."))
    return record


def _team_of(conn):
    return lambda user_id: reports_of(conn, user_id)


def special_vars(place: Place, record: Record | None) -> dict:
    stage = stage_of(place, record)
    return {"$stage": stage.key if stage else None, "$terminal": stage.terminal if stage else None,
            "$owner": record.owner_id if record else None}


def is_shown(f: FieldDef, data: dict, *, plain: bool = False) -> bool:
    """Whether `f`'s visible_if holds for `data` (`plain=True`: `data` went through
    `conditions.plain_data`, once for all the fields of a page). The frozen rule is handed
    over as it is: `conditions` checks and thaws it once per process, not once per call."""
    return f.visible_if is None or truthy(f.visible_if, data, plain=plain)


@bp.app_template_global()
def stale_note(stage: StageDef | None, record: Record, app) -> str:
    """Why a record is marked stale, for the badge's tooltip and screen readers:
    "In Proposal since 2026-11-02 — stale after 14 days"."""
    entered = getattr(record, "stage_entered_at", None)
    if stage is None or entered is None or not stage.rot_after:
        return _("No stage change for longer than this stage allows")
    code = lang()
    name, day = label(stage.label, code), entered.astimezone(zone_for(app)).strftime("%Y-%m-%d")
    key = (code, name, day, stage.rot_after)
    found = _STALE_NOTES.get(key)
    if found is None:
        found = _("In %(stage)s since %(date)s — stale after %(limit)s", stage=name, date=day,
                  limit=_duration_words(stage.rot_after))
        if len(_STALE_NOTES) >= 4096:
            _STALE_NOTES.clear()
        _STALE_NOTES[key] = found
    return found


#: (language, stage label, day, rot_after) -> the note: its translations are looked up once (the
#: compiled catalogs do not change while the app runs), not on every record page.
_STALE_NOTES: dict[tuple, str] = {}


def _duration_words(iso: str) -> str:
    delta = parse_duration(iso)
    if not isinstance(delta, timedelta):          # months or years: say it as written
        return iso
    if delta.seconds == 0 and delta.days:
        return ngettext("%(num)s day", "%(num)s days", delta.days)
    hours = int(delta.total_seconds() // 3600)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


# -- home ------------------------------------------------------------------------

@bp.get("/")
def home():
    return render_template("apps/home.html", apps=nav_apps(), only=None)


@bp.get("/apps/<app_key>/")
def app_home(app_key: str):
    place = load_app(app_key)
    entries = [a for a in nav_apps() if a["app"].key == place.app.key]
    return render_template("apps/home.html", apps=entries, only=place.app)


# -- list ------------------------------------------------------------------------

OWNER_COLUMN = "owner"      # a reserved name: never a field key


def _asked_columns() -> list[str]:
    return [c for raw in request.args.getlist("cols") for c in raw.split(",") if c]


def choose_columns(entity: EntityDef, visible: Iterable[FieldDef]) -> list[FieldDef]:
    by_key = {f.key: f for f in visible}
    asked = _asked_columns()
    keys = [k for k in asked if k in by_key] or [k for k in entity.default_columns if k in by_key]
    if entity.title in by_key and entity.title not in keys:
        keys.insert(0, entity.title)
    seen: set[str] = set()
    return [by_key[k] for k in keys if not (k in seen or seen.add(k))]


def active_filters(entity: EntityDef, labels: dict[str, str], conn=None, app=None) -> list[dict]:
    """The chips above the list: each filter in words (titles, names and option labels,
    not ids and values) with a link that removes it."""
    workflow = app.workflow_for(entity.key) if app is not None else None
    out = []
    for name, value in request.args.items(multi=True):
        key, _sep, op = name.partition("__")
        f = entity.field(key)
        if name in ("q", "sort", "cols", "offset", "limit") or value == "":
            continue
        if f is None and name == "owner":
            caption, shown = _("Owner"), value
            if value == "me":
                shown = _("me")
            elif link_id(value) and conn is not None:
                shown = user_names(conn, [link_id(value)]).get(link_id(value), value)
        elif f is None and name == "stage" and workflow is not None:
            stage = workflow.stage(value)
            caption, shown = _("Stage"), label(stage.label) if stage else value
        elif f is None or (app is not None and policy.field_access(current_actor(), app, f) == "hidden"):
            continue
        else:
            caption, shown = label(f.label), _chip_value(app, f, value, conn)
        args = request.args.copy()
        remaining = [v for v in args.getlist(name) if v != value]
        args.setlist(name, remaining)
        args.pop("offset", None)
        out.append({"field": f, "caption": caption, "op": labels.get(op or "eq", op), "value": shown,
                    "remove": cached_url_for("records.list_view", app_key=request.view_args["app_key"],
                                             entity_key=entity.key, **args.to_dict(flat=False))})
    return out


def _chip_value(app, f: FieldDef, value: str, conn) -> str:
    if f.options:
        option = next((o for o in f.options if o.value == value), None)
        return label(option.label) if option else value
    ident = link_id(value)
    if f.type in ("reference", "user") and ident and conn is not None and app is not None:
        lookups = lookups_for(conn, app, [f], [{f.key: ident}], actor=current_actor())
        if f.type == "reference":
            return lookups.titles.get((f.entity, ident), value)
        return lookups.names.get(ident, value)
    return value


def filter_choices(app, entity: EntityDef, visible: Iterable[FieldDef]) -> dict:
    """What the "Add a filter" panel offers: the filterable fields, plus Owner and Stage."""
    workflow = app.workflow_for(entity.key)
    return {"filterable": [(f, field_type(f.type).field_operators(f)) for f in visible if f.type != "subtable"],
            "stages": list(workflow.stages) if workflow and workflow.stages else []}


def _canonical_filter_redirect(place: Place):
    args = MultiDict(request.args)
    field_key, op, value = (args.get(k, "") for k in FILTER_ARGS)
    for k in FILTER_ARGS + ("offset",):
        args.poplist(k)
    if field_key:
        args.add(field_key if op in ("", "eq") else f"{field_key}__{op}", value if op != "is_empty" else "1")
    return redirect(url_for("records.list_view", app_key=place.app.key, entity_key=place.entity.key,
                            **args.to_dict(flat=False)))


@bp.get("/apps/<app_key>/<entity_key>/")
def list_view(app_key: str, entity_key: str):
    with page_read() as conn:       # the request's read (the session user's): no transaction of its own
        place = load_entity(app_key, entity_key, conn=conn)
    if any(k in request.args for k in FILTER_ARGS):
        return _canonical_filter_redirect(place)
    actor, app, entity = current_actor(), place.app, place.entity
    visible = policy.visible_fields(actor, app, entity)
    columns = choose_columns(entity, visible)
    labels = op_labels()
    error, status = None, 200
    try:
        query = parse_list_args(entity, request.args, visible, getlist=request.args.getlist, lang=lang())
    except FormloomError as problem:      # htmx swaps 422, so a live search shows the explanation too
        error, status, query = problem, 422 if is_fragment_request() else 400, None
    workflow = app.workflow_for(entity.key)
    rows, page = [], None
    show_owner = OWNER_COLUMN in _asked_columns()
    with page_read() as conn:
        if query is not None:
            try:
                page = list_records(conn, app, entity, actor, query, with_total=True)
            except FormloomError as problem:     # e.g. a stage name that is not one of the stages
                error, status, page = problem, 422 if is_fragment_request() else 400, None
        column_labels = [label(f.label) for f in columns]
        if page is not None:
            lookups = lookups_for(conn, app, columns, [r.data for r in page.items],
                                  extra_users=[r.owner_id for r in page.items] if show_owner else (), actor=actor)
            code = lang()
            staged = bool(workflow and workflow.stages)
            app_key, entity_key = app.key, entity.key
            write_row = RowWriter(columns, column_labels, entity.title, code,
                                  lambda f, value: cell_html(app, f, value, code, lookups),
                                  owner_label=_("Owner") if show_owner else None,
                                  stage_label=_("Stage") if staged else None)
            select_pattern = _("Select %(title)s")
            rows = []
            for r in page.items:
                url = lookups.detail_url(app_key, entity_key, r.id)
                owner = lookups.names.get(r.owner_id, "") if show_owner else None
                stage = workflow.stage(r.stage) if workflow and r.stage else None
                first, html = write_row(r.id, r.data, url, owner, stage)
                rows.append({"record": r, "owner": owner, "stage": stage, "url": url,
                             "html": html, "select_label": select_label(select_pattern, first, r.id)})
        filters = active_filters(entity, labels, conn, app)
    chosen_cols = [f.key for f in columns] + ([OWNER_COLUMN] if show_owner else [])
    context = dict(
        place=place, app=app, entity=entity, columns=columns, rows=rows, page=page, error=error,
        column_labels=column_labels,
        query=query or ListQuery(), workflow=workflow, sort=request.args.get("sort", ""),
        q=request.args.get("q", ""), filters=filters,
        chosen_cols=chosen_cols, show_owner=show_owner, rows_html=rows_html, can_create=policy.can(actor, "create", app, entity),
    )
    context["rows_head"] = RowsHead(context)      # the table's head, kept as a stencil
    if is_fragment_request():
        return render_template("records/_rows.html", **context), status
    choices = filter_choices(app, entity, visible)
    context.update(
        filter_panel=filter_panel(app, entity, visible, lang(), op_labels=labels, owner_column=OWNER_COLUMN, **choices),
        columns_panel=columns_panel(app, entity, visible, lang(), chosen=chosen_cols, owner_column=OWNER_COLUMN),
        vp=views_panel(app, entity))
    return list_page(context), status


# -- detail ----------------------------------------------------------------------

@dataclass
class RelatedList:
    entity: EntityDef
    via: FieldDef
    columns: list[FieldDef]
    rows: list[dict]
    new_url: str | None
    complete: bool = False          # every related record is in `rows` (fewer than the list's limit)
    items: list[Record] = dc_field(default_factory=list)      # the records read, in the list's order

    def fill(self, app, lookups, code: str) -> None:
        """The rows as people read them, once the page's titles and names are known."""
        columns = self.columns
        self.rows = [{"record": r, "cells": [show(app, f, r.data.get(f.key), code, lookups) for f in columns],
                      "url": lookups.detail_url(app.key, self.entity.key, r.id)} for r in self.items]


@bp.get("/apps/<app_key>/<entity_key>/<int:record_id>")
def detail(app_key: str, entity_key: str, record_id: int):
    with page_read() as conn:
        place = load_entity(app_key, entity_key, conn=conn)
        actor, app, entity = current_actor(), place.app, place.entity
        shown_lists = _related_shown(place)
        # the record and the related lists the reader sees whole in one statement; the policy then judges the record
        record, items = record_and_related_lists(conn, app, entity, actor,
                                                 [(rel, via) for rel, via, _v in shown_lists], record_id,
                                                 limit=RELATED_LIMIT)
        record = judged_record(place, record, conn)
        stage = stage_of(place, record)
        readable = policy.visible_fields(actor, app, entity, stage)
        data = (plain_data({**record.data, **special_vars(place, record)})     # once for every field's rule
                if any(f.visible_if is not None for f in readable) else {})
        visible = [f for f in readable
                   if (is_shown(f, data, plain=True) or not field_type(f.type).is_empty(record.data.get(f.key)))
                   and shows(entity, f.key, "detail")]
        related = _related_views(place, record, shown_lists, items)
        workflow = app.workflow_for(entity.key)
        query = timeline_query(app, entity, record)
        known = {("related", rel.entity.key, rel.via.key): rel.items for rel in related if rel.complete}
        known[NAMES_LATER] = True
        stage_rows = None
        if workflow is not None and workflow.stages:
            # the stage history and the timeline's audit rows and comments in one statement
            stage_rows, rows = timeline_rows(conn, query)
            known.update(rows, stages=stage_rows)
        read = read_timeline(conn, app, entity, record, known, query=query)
        changed, owners = change_values(read[1], entity)
        creators = [a.user_id for a in read[1].items if a.kind == "related" and a.user_name is None]
        # one look-up of titles and names for the record, its related lists and its timeline
        lookups = page_lookups(conn, app, [(entity.fields, [record.data, *changed]),
                                           *((rel.columns, [r.data for r in rel.items]) for rel in related)],
                               extra_users=[record.owner_id, record.created_by, record.updated_by, *owners, *creators],
                               actor=actor, known_names=_names_read(read[1], stage_rows))
        _name_creators(read[1], lookups.names)
        code = lang()
        pairs = [(f, show(app, f, record.data.get(f.key), code, lookups)) for f in visible]
        shown = arrange(entity, [(f.key, _pair_html(f, value, code)) for f, value in pairs], "detail",
                        key_of=lambda pair: pair[0])
        for rel in related:
            rel.fill(app, lookups, code)
        current = {f.key: (record.data.get(f.key), value) for f, value in pairs}
        activity = timeline_view(conn, app, entity, record, read=read, lookups=lookups, current=current)
        can_update = policy.can(actor, "update", app, entity, record, team_of=_team_of(conn))
    return render_template(
        "records/detail.html", place=place, app=app, entity=entity, record=record, stage=stage, shown=shown,
        related=related, activity=activity, owner=lookups.names.get(record.owner_id), stage_rows=stage_rows,
        can_update=can_update, appr=approval_panel(app, entity, record))


def _name_creators(page, names: dict[int, str]) -> None:
    """The related records' entries of the timeline named from the page's look-up (they were
    read without names: collab.activity.NAMES_LATER)."""
    page.items[:] = [replace(a, user_name=names.get(a.user_id)) if a.kind == "related" and a.user_name is None else a
                     for a in page.items]


def _names_read(page, stage_rows) -> dict[int, str]:
    """The user names the page's timeline and stage history already carry (name, else email,
    as `user_names` reads them), so the page's one look-up of names need not read them again."""
    known = {a.user_id: a.user_name for a in page.items if a.user_id is not None and a.user_name}
    known.update((r.user_id, r.user_name) for r in stage_rows or () if r.user_id is not None and r.user_name)
    return known


def _pair_html(f: FieldDef, value, code: str | None = None) -> Markup:
    """One field of the record page as records/_sections.html shows it: written here rather
    than through a macro call per field."""
    return Markup(f'    <div class="pair" data-key="{escape(f.key)}"><dt>{escape(label(f.label, code))}</dt>'
                  f'<dd>{value.__html__()}</dd></div>\n')


def _writer(app, via: str | None) -> str:
    """Who wrote a change no person made: "Automation: <rule>" for a rule's write, the rule's
    label in the reader's language while the app still has a rule of that (English) label."""
    if not via or not via.startswith(RULE_VIA):
        return via or ""
    name = via[len(RULE_VIA):]
    for workflow in app.workflows.values():
        for rule in workflow.rules:
            if rule.label is not None and name in (rule.label.get("en"), rule.key):
                name = rule.label.get(lang())
                break
    return _("Automation: %(rule)s", rule=name)


def _related_shown(place: Place) -> list[tuple[EntityDef, FieldDef, list[FieldDef]]]:
    """The related lists the reader may see: (entity, its reference to this one, its fields
    the reader sees). Nothing here depends on the record."""
    actor, app = current_actor(), place.app
    shown = []
    for rel_entity, via in app.referencing(place.entity.key):
        if policy.scope(actor, "read", app, rel_entity) == "none":
            continue
        rel_visible = policy.visible_fields(actor, app, rel_entity)
        if via.key in {f.key for f in rel_visible}:
            shown.append((rel_entity, via, rel_visible))
    return shown


def _related_views(place: Place, record: Record, shown, read) -> list[RelatedList]:
    """The related lists `shown` with the records `read` for each, not yet filled."""
    actor, app = current_actor(), place.app
    out = []
    for (rel_entity, via, rel_visible), items in zip(shown, read):
        columns = [f for f in (rel_visible) if f.key != via.key and f.type not in ("subtable", "textarea")][:4]
        new_url = None
        if policy.can(actor, "create", app, rel_entity) and via.key in {
                f.key for f in policy.writable_fields(actor, app, rel_entity)}:
            new_url = record_url("records.new", record.id, via.key, app_key=app.key, entity_key=rel_entity.key)
        out.append(RelatedList(rel_entity, via, columns, [], new_url, complete=len(items) < RELATED_LIMIT,
                               items=items))
    return out


# -- forms -----------------------------------------------------------------------

@dataclass
class FieldView:
    """What _field.html needs for one field."""

    f: FieldDef
    field: Any                                   # the bound WTForms field
    readonly: bool
    rule: Any = None                             # visible_if, thawed for |tojson
    refs: list[tuple[int, str]] = dc_field(default_factory=list)    # current (id, title) of a reference
    errors: list[str] = dc_field(default_factory=list)
    html: Markup | None = None      # the field written in Python (web/field_html.py), else _field.html is included


@dataclass
class FormState:
    place: Place
    record: Record | None
    stage: StageDef | None
    visible: list[FieldDef]
    writable: set[str]
    form: Any


def form_fields(actor, app, entity: EntityDef, stage: StageDef | None, mode: str, timezone: str):
    """(fields on the form, writable keys, form class) of `entity` for `actor` in `mode` ("create"
    or "edit"): what the record form and the designer's preview both show."""
    visible = [f for f in policy.visible_fields(actor, app, entity, stage) if f.type != "auto_number" or mode == "edit"]
    visible = [f for f in visible if shows(entity, f.key, mode)]    # values set later are not asked for on create
    writable = {f.key for f in policy.writable_fields(actor, app, entity, stage)}
    readonly = tuple(f.key for f in visible if f.key not in writable)
    form_class = build_form_class(entity, lang(), only=[f.key for f in visible], readonly=readonly, timezone=timezone)
    return [f for f in visible if f.key in form_class.field_names], writable, form_class   # computed: not in forms


def writable_keys(place: Place, record: Record | None) -> set[str]:
    """The keys the actor may write on this form: what a post may bring (files included),
    without building the form itself."""
    return {f.key for f in policy.writable_fields(current_actor(), place.app, place.entity, stage_of(place, record))}


def form_state(place: Place, record: Record | None, formdata=None, context=None) -> FormState:
    actor, app, entity = current_actor(), place.app, place.entity
    stage = stage_of(place, record)
    visible, writable, form_class = form_fields(actor, app, entity, stage, "create" if record is None else "edit",
                                                zone_for(app).key)
    readonly = tuple(f.key for f in visible if f.key not in writable)
    if formdata is not None:
        form = form_class(formdata, context=context)
        stored = record.data if record else {}
        for key in readonly:               # not posted (disabled): show what is stored
            if key not in form_class.field_names:      # computed fields are not in forms
                continue
            f = entity.field(key)
            form.field_for(key).data = field_type(f.type).form_value(f, stored.get(key))
    else:
        form = form_class(data=initial_values(place, record, visible, writable, form_class), context=context)
    if record is not None:                 # a retired option the record holds stays on offer to it
        for f in visible:
            field_type(f.type).offer_held(f, form.field_for(f.key), record.data.get(f.key), lang(),
                                          marked=lambda text: _("%(option)s (retired)", option=text))
    return FormState(place, record, stage, visible, writable, form)


def initial_values(place: Place, record: Record | None, visible: list[FieldDef], writable: set[str],
                   form_class) -> dict:
    values = {}
    prefill = {}
    if record is None and request.args:
        with db().read() as conn:
            prefill = prefill_references(conn, place, writable)
    for f in visible:
        ftype = field_type(f.type)
        if record is not None:
            stored = record.data.get(f.key)
        else:
            stored = prefill.get(f.key, ftype.default_value(f))
            raw = request.args.get(f.key)
            if raw not in (None, "") and f.key in writable:
                stored = record_id_arg(raw) if f.type == "reference" else raw
        values[form_class.field_names[f.key]] = ftype.form_value(f, stored)
    return values


def field_views(state: FormState, conn, problems: Iterable = ()) -> list[FieldView]:
    extra: dict[str, list[str]] = {}
    for p in problems:
        extra.setdefault(p.field, []).append(p.message)
    views = []
    for f in state.visible:
        bound = state.form.field_for(f.key)
        errors = list(bound.errors) + [m for m in extra.get(f.key, []) if m not in bound.errors]
        refs = []
        if f.type == "reference":     # titles only of records of the target entity the actor may read
            ids = _ref_ids(bound.data)
            titles = titles_for(conn, state.place.app, state.place.app.entity(f.entity), current_actor(), ids)
            refs = [(i, titles.get(i, f"#{i}")) for i in ids]
        views.append(FieldView(f, bound, f.key not in state.writable,
                               thaw(f.visible_if) if f.visible_if is not None else None, refs, errors))
    return views


def _ref_ids(value: Any) -> list[int]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split()]
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool):
            out.append(v)
        elif isinstance(v, str) and parse_int(v) is not None:
            out.append(parse_int(v))
    return out


def incoming_data(state: FormState) -> dict:
    data = form_to_data(state.form, state.place.entity)
    return {k: v for k, v in data.items() if k in state.writable}


def render_form(state: FormState, status: int = 200, problems: Iterable = (), conflict: dict | None = None,
                general: list[str] | None = None, follow: dict | None = None, owner: dict | None = None):
    problems = list(problems)
    shown_keys = {f.key for f in state.visible}
    general = list(general or []) + [p.message for p in problems if p.field not in shown_keys]
    with page_read() as conn:              # the top bar reads in the same transaction
        views = field_views(state, conn, problems)
    place = state.place
    validate_url = url_for("records.validate", app_key=place.app.key, entity_key=place.entity.key, field_key="__key__")
    for view in views:
        if written_here(view):
            view.html = field_html(view, validate_url)
    groups = arrange(place.entity, views, "create" if state.record is None else "edit", key_of=lambda view: view.f.key)
    return render_template(
        "records/form.html", place=place, app=place.app, entity=place.entity, record=state.record,
        stage=state.stage, groups=groups, open_sections={g.key for g in groups if any(v.errors for v in g.items)},
        fields=views, general=general, conflict=conflict, follow=follow,
        version=(conflict or {}).get("version") or (state.record.version if state.record else None),
        validate_url=validate_url, owner=owner,
    ), status


OWNER_FIELD = "_owner"


def owner_view(place: Place, posted: str | None = None) -> dict:
    """The new-record form's Owner: the current user by default; a choice among the
    people the policy lets the actor assign to (policy.assign_scope), else read-only.
    `error` is set when a posted choice is not one of them."""
    actor = current_actor()
    reach = policy.assign_scope(actor, place.app, place.entity)
    choices: list[tuple[int, str]] = []
    if reach != "none":
        with page_read() as conn:
            choices = members_of(conn, place.app.key)
            if reach == "team":
                team = reports_of(conn, actor.id) | {actor.id}
                choices = [c for c in choices if c[0] in team]
        if actor.id not in {c[0] for c in choices}:
            choices = [(actor.id, actor.display_name), *choices]
    view = {"choices": choices, "selected": actor.id, "name": actor.display_name, "error": None}
    if posted is not None and choices:
        chosen = parse_int(posted)
        if chosen in {c[0] for c in choices}:
            view["selected"] = chosen
        else:
            view["error"] = _("Choose the owner from the list: you may give this record to yourself or "
                              "to the people you manage.") if reach == "team" else \
                _("Choose the owner from the list of this app's members.")
    return view


@bp.route("/apps/<app_key>/<entity_key>/new", methods=["GET", "POST"])
def new(app_key: str, entity_key: str):
    place = load_entity(app_key, entity_key, "create")
    actor = current_actor()
    if request.method == "GET":
        return render_form(form_state(place, None), owner=owner_view(place))
    formdata, refused = form_with_uploads(place.entity, writable_keys(place, None))
    state = form_state(place, None, formdata)
    posted_owner = request.form.get(OWNER_FIELD, str(actor.id))
    if refused:
        return render_form(state, 422, refused, general=[_("Some values need attention.")],
                           owner=owner_view(place, posted_owner))
    # the actor may always give a new record to themself: only another owner needs the list of choices
    owner = ({"selected": actor.id, "error": None} if parse_int(posted_owner) == actor.id
             else owner_view(place, posted_owner))
    try:
        with db().write() as conn:
            record = create_record(conn, place.app, place.entity, incoming_data(state), actor_id=actor.id,
                                   lang=lang(), writable=state.writable, version_id=place.version_id,
                                   reader=actor, owner_id=owner["selected"])
            if owner["error"]:
                raise RecordInvalid([])
    except RecordInvalid as invalid:
        return render_form(state, 422, invalid.problems, general=[_("Some values need attention.")],
                           owner=owner_view(place, posted_owner))
    return redirect(url_for("records.detail", app_key=app_key, entity_key=entity_key, record_id=record.id), 303)


@bp.route("/apps/<app_key>/<entity_key>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(app_key: str, entity_key: str, record_id: int):
    place = load_entity(app_key, entity_key)
    actor = current_actor()
    with db().read() as conn:
        record = readable_record(place, record_id, conn)
        may_update = policy.can(actor, "update", place.app, place.entity, record, team_of=_team_of(conn))
    if not may_update:
        abort(403)
    from .pipeline import finish_move, move_after_edit     # the pipeline screens build on this module
    follow = move_after_edit(place, request.args if request.method == "GET" else request.form)
    if request.method == "GET":
        return render_form(form_state(place, record), follow=follow)
    expected = int_arg(VERSION_FIELD, low=0, source=request.form)
    if expected is None:
        abort(400)
    formdata, refused = form_with_uploads(place.entity, writable_keys(place, record))
    state = form_state(place, record, formdata)
    if refused:
        return render_form(state, 422, refused, general=[_("Some values need attention.")], follow=follow)
    incoming = incoming_data(state)
    try:
        with db().write() as conn:
            update_record(conn, place.app, place.entity, record.id, incoming, actor_id=actor.id,
                          expected_version=expected, lang=lang(), writable=state.writable,
                          version_id=place.version_id, reader=actor)
    except RecordInvalid as invalid:
        return render_form(state, 422, invalid.problems, general=[_("Some values need attention.")], follow=follow)
    except ConflictError as conflict:
        current = getattr(conflict, "current", None)
        if current is None:
            with db().read() as conn:
                current = get_record(conn, place.app, place.entity, record.id)
        return render_form(state, 409, conflict=_conflict_view(place, state, current, incoming, conflict),
                           follow=follow)
    if follow is not None:
        return finish_move(place, record.id, follow)
    return redirect(url_for("records.detail", app_key=app_key, entity_key=entity_key, record_id=record.id), 303)


def _conflict_view(place: Place, state: FormState, current: Record, incoming: dict, error: ConflictError) -> dict:
    """The values saved by someone else next to the ones this person sent, for each field that differs."""
    with db().read() as conn:
        lookups = lookups_for(conn, place.app, state.visible, [current.data, incoming], actor=current_actor())
    rows = []
    for f in state.visible:
        saved, mine = current.data.get(f.key), incoming.get(f.key, current.data.get(f.key))
        if saved != mine:
            rows.append({"field": f, "saved": show(place.app, f, saved, lang(), lookups),
                         "mine": show(place.app, f, mine, lang(), lookups)})
    return {"message": error.message, "hint": error.hint, "rows": rows, "version": current.version,
            "updated_at": current.updated_at}


# -- htmx endpoints -----------------------------------------------------------------

@bp.post("/apps/<app_key>/<entity_key>/validate/<field_key>")
def validate(app_key: str, entity_key: str, field_key: str):
    """Check one field as the person leaves it; answers the field's fragment (422 when it has errors)."""
    place = load_entity(app_key, entity_key)
    record = None
    record_id = request.form.get(RECORD_FIELD, "")
    with db().read() as conn:
        if parse_int(record_id) is not None:
            record = readable_record(place, int_arg(RECORD_FIELD, source=request.form), conn)
            if not policy.can(current_actor(), "update", place.app, place.entity, record, team_of=_team_of(conn)):
                abort(403)
        elif not policy.can(current_actor(), "create", place.app, place.entity):
            abort(403)
        kept = stored_references(place.entity, record.data) if record else ()
        state = form_state(place, record, request.form,
                           context=clean_context(conn, place.app, lang(), reader=current_actor(), kept=kept))
        if field_key not in {f.key for f in state.visible}:
            abort(404)
        bound = state.form.field_for(field_key)
        if field_key in state.writable:
            bound.validate(state.form)
        view = next(v for v in field_views(state, conn) if v.f.key == field_key)
    status = 422 if view.errors else 200
    return render_template("records/_field.html", fv=view, place=place, record=record,
                           validate_url=url_for("records.validate", app_key=app_key, entity_key=entity_key,
                                                field_key="__key__")), status


@bp.get("/apps/<app_key>/<entity_key>/pick/<field_key>")
def pick(app_key: str, entity_key: str, field_key: str):
    """Up to 20 records of a reference field's target entity whose title matches `q`."""
    place = load_entity(app_key, entity_key)
    actor = current_actor()
    f = place.entity.field(field_key)
    if f is None or f.type != "reference" or policy.field_access(actor, place.app, f) == "hidden":
        abort(404)
    target = place.app.entity(f.entity)
    if target is None or policy.scope(actor, "read", place.app, target) == "none":
        matches = []
    else:
        with db().read() as conn:
            matches = picker_matches(conn, place, f, target, request.args.get("q", ""), PICKER_LIMIT)
    return render_template("records/_picker_results.html", matches=matches, f=f)
