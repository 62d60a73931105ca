"""The app designer's screens (app admins only): an app's entities and fields edited
on a draft, the impact of publishing it, publishing, and the version history.

Every write carries the draft revision its page showed (a stale one answers
409) and the CSRF token; every route asks `policy.is_app_admin` first. The
settings forms come from design.settings_form, generated from the field-type
registry, so this module names no field type.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from ..auth import policy
from ..auth.users import members_of
from ..definitions.problems import Problem
from ..design import condition_builder, drafts, edits, formula_preview, impact as impact_mod
from ..design.settings_form import (LANGS, catalog_of, controls_for, missing_required, parse_settings,
                                    problems_by_setting, suggested_key)
from ..errors import ConflictError, FormloomError, NotFoundError
from ..fields import FIELD_TYPES
from ..store.apps import current_version
from ..store.tables import definition_versions, users
from .helpers import Place, current_actor, db, lang, load_app, local_time, role_name, zone_for
from .problem_text import formula_problem, in_reader_language
from .records import readable_record

bp = Blueprint("designer", __name__)

_ENTITY_PATH = re.compile(r"^\$\.entities\[(\d+)\](?:\.fields\[(\d+)\])?")
SCOPES = ("none", "own", "team", "all")


@bp.before_request
@login_required
def _require_login():
    return None


def load_design(app_key: str) -> Place:
    """The app, for its admins only: 404 for non-members (never reveal an app), 403 for other members."""
    place = load_app(app_key)
    if not policy.is_app_admin(current_actor(), place.app):
        from ..errors import ForbiddenError
        raise ForbiddenError(_("Only the administrators of this app may design it."),
                             hint=_("Ask an administrator of this app for access."))
    return place


@bp.app_template_global()
def designer_url(app) -> str | None:
    """Where the app menu's Design entry goes, or None for people who may not design the app."""
    if not policy.is_app_admin(current_actor(), app):
        return None
    return url_for("designer.overview", app_key=app.key)


@bp.app_template_filter("doc_label")
def doc_label(value: Any) -> str:
    """A label as written in a document (text, or {"en": ..., "zh": ...}) in the reader's language."""
    if isinstance(value, dict):
        return value.get(lang()) or value.get("en") or next(iter(value.values()), "")
    return "" if value is None else str(value)


@bp.app_template_global()
def condition_view(prefix: str, fields: list, logic: Any, form: Any = None) -> dict:
    """What the condition_builder macro shows, in the reader's language (any designer page)."""
    return condition_builder.view(prefix, fields, logic, lang(), form)


@bp.app_template_global()
def formula_palette() -> list[dict]:
    """The formula functions, with their help in the reader's language (the formula editor)."""
    return formula_preview.palette(lang())


# -- the state a designer page shows ---------------------------------------------------------------

@dataclass
class State:
    """The draft (or, before the first edit, the live documents), its problems and what would be archived."""

    app_key: str
    documents: dict
    revision: int                          # 0: no draft yet
    live_number: int
    live_documents: dict
    stale: bool                            # the live app changed since the draft began
    problems: list[Problem]
    archived: dict[str, list[dict]]
    located: dict = field(default_factory=dict)     # (entity key, field key or None) -> [message]
    general: list[Problem] = field(default_factory=list)

    @property
    def app(self) -> dict:
        return self.documents["app"]

    def entity(self, key: str) -> dict:
        for e in self.app["entities"]:
            if e["key"] == key:
                return e
        raise NotFoundError(_("There is no %(key)s here.", key=key))


def load_state(app_key: str) -> State:
    with db().read() as conn:
        draft = drafts.load_draft(conn, app_key)
        live = current_version(conn, app_key)
    if live is None:
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    documents = drafts.documents_of(draft, live)
    archived = drafts.archived_fields(live.documents, documents["app"])
    problems = in_reader_language(drafts.draft_problems(documents, archived))
    state = State(app_key, documents, draft.revision if draft else 0, live.number, live.documents,
                  bool(draft and draft.base_version_id != live.id), problems, archived)
    _locate(state)
    return state


def _locate(state: State) -> None:
    """Sort problems to the entity or field they concern; the rest are the app's."""
    entities = state.app.get("entities", [])
    for problem in state.problems:
        match = _ENTITY_PATH.match(problem.json_path) if problem.source == "app.json" else None
        if match and int(match.group(1)) < len(entities):
            entity = entities[int(match.group(1))]
            fkey = None
            if match.group(2) is not None and int(match.group(2)) < len(entity.get("fields", [])):
                fkey = entity["fields"][int(match.group(2))].get("key")
            state.located.setdefault((entity.get("key"), fkey), []).append(problem.message)
        else:
            state.general.append(problem)


def _revision() -> int:
    raw = request.form.get("revision", "")
    if not raw.isdigit():
        abort(400)
    return int(raw)


def edit_documents(place: Place, change: Callable[[dict], dict]) -> drafts.Draft:
    """Apply `change` (documents -> documents) to the draft made on the posted revision, the
    refusals (a stale page, an edit the document cannot take) in the reader's language. Every
    designer screen saves through here."""
    actor = current_actor()
    revision = _revision()
    try:
        with db().write() as conn:
            return drafts.edit_documents(conn, place.app.key, revision, actor.id if actor else None, change)
    except drafts.DraftConflict as conflict:
        raise _translated(conflict) from None
    except edits.EditError as error:
        raise type(error)(_(error.message)) from None


def _edit(place: Place, change: Callable[[dict], dict]) -> drafts.Draft:
    return edit_documents(place, lambda docs: {**docs, "app": change(docs["app"])})


def _edit_documents(place: Place, change: Callable[[dict], dict]) -> drafts.Draft:
    """`_edit` for a change to any of the draft's documents (the dashboard builder's)."""
    actor = current_actor()
    try:
        with db().write() as conn:
            return drafts.edit_documents(conn, place.app.key, _revision(), actor.id if actor else None, change)
    except (drafts.DraftConflict, NotFoundError, edits.EditError) as error:
        raise _translated(error) from None


def _translated(error: FormloomError) -> FormloomError:
    """The design layer's refusal in the reader's language (its messages are msgids of the catalogue)."""
    return type(error)(_(error.message), hint=_(error.hint) if error.hint else None)


def _back_to_entity(place: Place, entity_key: str, anchor: str = ""):
    return redirect(url_for("designer.entity", app_key=place.app.key, entity_key=entity_key) + anchor, code=303)


def _label_from_form(name: str) -> dict | None:
    texts = {code: request.form.get(f"{name}-{code}", "").strip() for code in LANGS}
    texts = {k: v for k, v in texts.items() if v}
    return texts or None


# -- the app: entities, publish ----------------------------------------------------------------------

@bp.get("/apps/<app_key>/design")
def overview(app_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    preview = reminders = None
    if state.revision and not state.problems:
        with db().read() as conn:
            preview = impact_mod.preview(conn, state.live_documents, state.documents)
        reminders = impact_mod.draft_reminder_changes(db(), state.documents, state.archived,
                                                      datetime.now(timezone.utc))
    return render_template("designer/overview.html", place=place, state=state, preview=preview,
                           reminders=reminders, published=request.args.get("published"))


@bp.post("/apps/<app_key>/design/entities")
def add_entity(app_key: str):
    place = load_design(app_key)
    label = _label_from_form("label")
    key = request.form.get("key", "").strip() or suggested_key(label)
    if not label or not key or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", key):
        state = load_state(app_key)
        error = _("Give the entity a name, and a key of lower-case letters, digits and _ starting with a letter.")
        if label and not request.form.get("key", "").strip():       # a key is made from an English name only
            error = _("Give the entity a key: lower-case letters, digits and _, starting with a letter "
                      "(a key is made from an English name only).")
        return render_template("designer/overview.html", place=place, state=state, preview=None,
                               entity_error=error, published=None), 422
    title = _label_from_form("title") or {"en": "Name", "zh": "名称"}
    _edit(place, lambda doc: edits.add_entity(doc, key, label, title))
    return _back_to_entity(place, key)


@bp.post("/apps/<app_key>/design/entities/<entity_key>/move")
def move_entity(app_key: str, entity_key: str):
    place = load_design(app_key)
    delta = -1 if request.form.get("direction") == "up" else 1
    _edit(place, lambda doc: edits.move_entity(doc, entity_key, delta))
    return redirect(url_for("designer.overview", app_key=app_key) + f"#entity-{entity_key}", code=303)


@bp.post("/apps/<app_key>/design/entities/<entity_key>/archive")
def archive_entity(app_key: str, entity_key: str):
    place = load_design(app_key)
    archived = request.form.get("archived") == "1"
    _edit(place, lambda doc: edits.set_entity_archived(doc, entity_key, archived))
    return redirect(url_for("designer.overview", app_key=app_key) + f"#entity-{entity_key}", code=303)


@bp.post("/apps/<app_key>/design/publish")
def publish(app_key: str):
    place = load_design(app_key)
    actor = current_actor()
    try:
        from .designer_workflows import publish_move_reason
        result = drafts.publish_draft(db(), app_key, revision=_revision(), user_id=actor.id if actor else None,
                                      comment=request.form.get("comment", ""),
                                      catalog=current_app.extensions["formloom.catalog"],
                                      move_reason=publish_move_reason(load_state(app_key)))
    except (drafts.DraftConflict, NotFoundError) as error:
        raise _translated(error) from None
    except drafts.PublishRefused as refused:
        refused.problems = in_reader_language(refused.problems)
        state = load_state(app_key)
        return render_template("designer/overview.html", place=place, state=state, preview=None,
                               refused=refused, published=None), 422
    except drafts.InstallError as refused:          # a value would not survive a type change
        state = load_state(app_key)
        return render_template("designer/overview.html", place=place, state=state, preview=None,
                               refused=refused, published=None), 422
    return redirect(url_for("designer.versions", app_key=app_key, published=result.version.number), code=303)


@bp.post("/apps/<app_key>/design/discard")
def discard(app_key: str):
    load_design(app_key)
    with db().write() as conn:
        draft = drafts.load_draft(conn, app_key)
        if draft is not None and draft.revision != _revision():
            raise drafts.DraftConflict(_("Someone else changed this draft since you opened it."),
                                       hint=_("Reload the page to see their change."))
        drafts.discard_draft(conn, app_key)
    return redirect(url_for("designer.overview", app_key=app_key), code=303)


@bp.get("/apps/<app_key>/design/versions")
def versions(app_key: str):
    place = load_design(app_key)
    with db().read() as conn:
        rows = conn.execute(select(definition_versions.c.number, definition_versions.c.content_hash,
                                   definition_versions.c.created_at, definition_versions.c.comment,
                                   definition_versions.c.source, users.c.name, users.c.email)
                            .select_from(definition_versions.outerjoin(
                                users, users.c.id == definition_versions.c.created_by))
                            .where(definition_versions.c.app_key == app_key)
                            .order_by(definition_versions.c.number.desc())).all()
        live = current_version(conn, app_key)
    listed = [{"number": r.number, "hash": r.content_hash[:12], "when": local_time(r.created_at, place.app),
               "who": r.name or r.email or "", "comment": _version_comment(r.comment or ""),
               "source": r.source or "",
               "current": live is not None and r.number == live.number} for r in rows]
    return render_template("designer/versions.html", place=place, versions=listed,
                           published=request.args.get("published"))


def _version_comment(comment: str) -> str:
    """A restore writes its note in English when it publishes (drafts.restore_version); the note
    is said again in the reader's language. A note an admin typed is shown as typed."""
    match = re.fullmatch(r"Restored version (\d+)", comment)
    return _("Restored version %(number)s", number=match.group(1)) if match else comment


@bp.post("/apps/<app_key>/design/versions/<int:number>/restore")
def restore_version(app_key: str, number: int):
    load_design(app_key)
    actor = current_actor()
    try:
        result = drafts.restore_version(db(), app_key, number, user_id=actor.id if actor else None,
                                        catalog=current_app.extensions["formloom.catalog"])
    except drafts.PublishRefused as refused:
        raise ConflictError(refused.message, hint=refused.hint) from None
    return redirect(url_for("designer.versions", app_key=app_key, published=result.version.number), code=303)


# -- one entity: settings, fields, permissions -------------------------------------------------------

def _palette() -> list[dict]:
    """Every registered field type, in its order, as the palette shows it."""
    code = lang()
    return [{"name": t.name, "label": t.label.get(code) or t.label.get("en") or t.name,
             "help": t.help.get(code) or t.help.get("en") or ""} for t in FIELD_TYPES.values()]


def _type_label(name: str) -> str:
    ftype = FIELD_TYPES.get(name)
    if ftype is None:
        return name
    return ftype.label.get(lang()) or ftype.label.get("en") or name


def _entity_page(place: Place, state: State, entity_key: str, status: int = 200, **extra):
    entity = state.entity(entity_key)
    roles = [r for r in state.app.get("roles", []) if r != place.app.admin_role]
    return render_template("designer/entity.html", place=place, state=state, entity=entity,
                           archived=state.archived.get(entity_key, []), palette=_palette(),
                           type_label=_type_label, roles=roles, scopes=SCOPES, search_types=_search_types(),
                           **extra), status


def _search_types() -> frozenset[str]:
    """Field types global search can index (the entity's `search_fields` choices)."""
    return frozenset(name for name, kind in FIELD_TYPES.items() if kind.searchable)


@bp.get("/apps/<app_key>/design/e/<entity_key>")
def entity(app_key: str, entity_key: str):
    place = load_design(app_key)
    return _entity_page(place, load_state(app_key), entity_key)


@bp.post("/apps/<app_key>/design/e/<entity_key>/settings")
def entity_settings(app_key: str, entity_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    fields = state.entity(entity_key).get("fields", [])
    known = {f["key"] for f in fields}
    texts = {f["key"] for f in fields if f.get("type") in _search_types()}
    changes = {
        "label": _label_from_form("label"),
        "plural": _label_from_form("plural"),
        "title": request.form.get("title", "").strip() or None,
        "list_columns": [k for k in request.form.getlist("list_columns") if k in known] or None,
        "search_fields": [k for k in request.form.getlist("search_fields") if k in texts] or None,
    }
    if changes["label"] is None:
        return _entity_page(place, state, entity_key, 422, settings_posted=changes,
                            settings_error=_("An entity needs a name in at least one language."))
    _edit(place, lambda doc: edits.update_entity(doc, entity_key, changes))
    return _back_to_entity(place, entity_key, "#entity-settings")


@bp.post("/apps/<app_key>/design/e/<entity_key>/permissions")
def permissions(app_key: str, entity_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    grid = {}
    for role in state.app.get("roles", []):
        if role == place.app.admin_role:
            continue
        grant: dict[str, Any] = {"create": request.form.get(f"{role}-create") == "1"}
        for action in ("read", "update", "delete"):
            value = request.form.get(f"{role}-{action}", "none")
            grant[action] = value if value in SCOPES else "none"
        grid[role] = grant
    _edit(place, lambda doc: edits.set_permissions(doc, entity_key, grid))
    return _back_to_entity(place, entity_key, "#permissions")


def _field_form(place: Place, state: State, entity_key: str, type_name: str, field_doc: dict | None,
                status: int = 200, errors: dict | None = None, raw: dict | None = None):
    ftype = FIELD_TYPES.get(type_name)
    if ftype is None:
        raise NotFoundError(_("There is no field type %(name)s.", name=type_name),
                            hint=_("Pick a type from the palette."))
    editing = bool((request.view_args or {}).get("field_key"))
    controls = controls_for(ftype, field_doc, lang(), editing=editing, errors=errors, raw=raw,
                            roles=tuple(r for r in state.app.get("roles", []) if isinstance(r, str)),
                            role_text=lambda role: role_name(role, state.app), catalog=_catalog(state, entity_key))
    return render_template("designer/field.html", place=place, state=state, entity=state.entity(entity_key),
                           ftype=ftype, type_label=_type_label(type_name), controls=controls, editing=editing,
                           palette=_palette(), condition_fields=_condition_fields(state, entity_key),
                           field_doc=field_doc or {}, general_error=(errors or {}).get("")), status


@bp.get("/apps/<app_key>/design/e/<entity_key>/new/<type_name>")
def new_field(app_key: str, entity_key: str, type_name: str):
    place = load_design(app_key)
    return _field_form(place, load_state(app_key), entity_key, type_name, None)


def worded(msgid: str, **params: Any) -> str:
    """A design-layer message in the reader's language (one catalogue serves the web and the engine)."""
    return _(msgid, **params)


def _condition_fields(state: State, entity_key: str) -> list:
    """What a field's visible_if / required_if may test: the draft entity's fields, its stage when it
    has a workflow, and the app's people (by name) for user fields."""
    entity = state.entity(entity_key)
    workflow = (state.documents.get("workflows") or {}).get(entity.get("workflow") or "")
    fields = (condition_builder.builder_fields(entity, lang())
              + condition_builder.stage_field(workflow, lang(), _("Stage")))
    if any(f.picker == "$user" for f in fields):
        with db().read() as conn:
            people = members_of(conn, state.app_key)
        fields = condition_builder.with_options(fields, "$user", people)
    return fields


def _catalog(state: State, entity_key: str):
    """The draft's entities and fields, for the settings form's entity and field pickers."""
    def people() -> list:
        with db().read() as conn:
            return members_of(conn, state.app_key)
    return catalog_of(state.app, entity_key, lang(), people)


def _save_field(place: Place, state: State, entity_key: str, type_name: str, field_key: str | None):
    ftype = FIELD_TYPES.get(type_name)
    if ftype is None:
        raise NotFoundError(_("There is no field type %(name)s.", name=type_name))
    doc, errors, raw = parse_settings(ftype, request.form, lang(), key=field_key,
                                      condition_fields=_condition_fields(state, entity_key), gettext=worded,
                                      catalog=_catalog(state, entity_key))
    if request.form.get("do") == "refresh":       # a picker changed what others offer: nothing is saved yet
        shown = {**doc, **({"key": field_key} if field_key else {})}
        return _field_form(place, state, entity_key, type_name, shown, 200, {}, raw)
    if not errors:
        app_doc = state.app
        try:
            if field_key is None:
                app_doc = edits.add_field(app_doc, entity_key, doc)
            else:
                app_doc = edits.replace_field(app_doc, entity_key, field_key, doc)
        except edits.EditError as error:
            errors = {"key": error.message}
        else:
            candidate = {**state.documents, "app": app_doc}
            problems = in_reader_language(drafts.draft_problems(candidate, state.archived))
            index = edits.field_index(app_doc, entity_key, doc["key"])
            path = f"$.entities[{edits.entity_index(app_doc, entity_key)}].fields[{index}]"
            errors = problems_by_setting(problems, path, missing_required(ftype, doc))
    if errors:
        shown = {**doc, **({"key": field_key} if field_key else {})}
        return _field_form(place, state, entity_key, type_name, shown, 422, errors, raw)
    if field_key is None:
        _edit(place, lambda d: edits.add_field(d, entity_key, doc))
    else:
        _edit(place, lambda d: edits.replace_field(d, entity_key, field_key, doc))
    return _back_to_entity(place, entity_key, f"#field-{doc['key']}")


@bp.post("/apps/<app_key>/design/e/<entity_key>/new/<type_name>")
def create_field(app_key: str, entity_key: str, type_name: str):
    place = load_design(app_key)
    return _save_field(place, load_state(app_key), entity_key, type_name, None)


def _field_doc(state: State, entity_key: str, field_key: str) -> dict:
    for f in state.entity(entity_key).get("fields", []):
        if f["key"] == field_key:
            return f
    raise NotFoundError(_("There is no field %(key)s here.", key=field_key))


@bp.get("/apps/<app_key>/design/e/<entity_key>/fields/<field_key>")
def edit_field(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    doc = _field_doc(state, entity_key, field_key)
    errors = problems_by_setting(state.problems, "$.entities[%d].fields[%d]" % (
        edits.entity_index(state.app, entity_key), edits.field_index(state.app, entity_key, field_key)),
        missing_required(FIELD_TYPES[doc["type"]], doc) if doc["type"] in FIELD_TYPES else ())
    return _field_form(place, state, entity_key, doc["type"], doc, errors=errors)


@bp.post("/apps/<app_key>/design/e/<entity_key>/fields/<field_key>")
def update_field(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    doc = _field_doc(state, entity_key, field_key)
    return _save_field(place, state, entity_key, doc["type"], field_key)


@bp.post("/apps/<app_key>/design/e/<entity_key>/fields/<field_key>/type")
def change_type(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    ftype = FIELD_TYPES.get(request.form.get("type", ""))
    if ftype is None:
        raise NotFoundError(_("There is no field type %(name)s.", name=request.form.get("type", "")),
                            hint=_("Pick a type from the palette."))
    allowed = {s.name for s in ftype.all_settings()}
    _edit(place, lambda doc: edits.change_type(doc, entity_key, field_key, ftype.name, allowed))
    return redirect(url_for("designer.edit_field", app_key=app_key, entity_key=entity_key, field_key=field_key),
                    code=303)


@bp.post("/apps/<app_key>/design/e/<entity_key>/fields/<field_key>/move")
def move_field(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    delta = -1 if request.form.get("direction") == "up" else 1
    _edit(place, lambda doc: edits.move_field(doc, entity_key, field_key, delta))
    return _back_to_entity(place, entity_key, f"#field-{field_key}")


@bp.post("/apps/<app_key>/design/e/<entity_key>/fields/order")
def order_fields(app_key: str, entity_key: str):
    """The whole order at once (what dragging sends); answers 204 for the script."""
    place = load_design(app_key)
    keys = [k for k in request.form.getlist("keys") if k]
    _edit(place, lambda doc: edits.order_fields(doc, entity_key, keys))
    if request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    return _back_to_entity(place, entity_key, "#fields")


@bp.post("/apps/<app_key>/design/e/<entity_key>/fields/<field_key>/archive")
def archive_field(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    _edit(place, lambda doc: edits.archive_field(doc, entity_key, field_key))
    return _back_to_entity(place, entity_key, "#archived")


@bp.post("/apps/<app_key>/design/e/<entity_key>/archived/<field_key>/restore")
def restore_field(app_key: str, entity_key: str, field_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    found = [f for f in state.archived.get(entity_key, []) if f["key"] == field_key]
    if not found:
        raise NotFoundError(_("There is no archived field %(key)s here.", key=field_key))
    _edit(place, lambda doc: edits.restore_field(doc, entity_key, found[0]))
    return _back_to_entity(place, entity_key, f"#field-{field_key}")


# -- the formula editor's live result -----------------------------------------------------------------

@bp.get("/apps/<app_key>/design/e/<entity_key>/formula/preview")
def formula_result(app_key: str, entity_key: str):
    """The formula typed so far, computed on a stored record (`record`) or on the sample values
    (`sample-<key>`); an htmx fragment. Reads only: a formula that cannot be read, a record that
    does not exist or may not be read, is a message in the fragment, never an error page."""
    place = load_design(app_key)
    with db().read() as conn:         # the draft's fields, without validating the draft on every keystroke
        draft = drafts.load_draft(conn, app_key)
        live = current_version(conn, app_key)
    if live is None:
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    entities = drafts.documents_of(draft, live)["app"].get("entities", [])
    entity = next((e for e in entities if e.get("key") == entity_key), None)
    if entity is None:
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key))
    known = [f["key"] for f in entity.get("fields", [])]
    source = request.args.get("s-formula", "")[:formula_preview.MAX_SOURCE]
    record_text = request.args.get("record", "").strip().lstrip("#")
    record_error, record = None, None
    if record_text:
        record, record_error = _preview_record(place, entity_key, record_text)
    if record is not None:
        values = dict(record.data)
    else:
        values = {key: formula_preview.sample_value(request.args.get(f"sample-{key}", "")[:2000]) for key in known}
    today = datetime.now(zone_for(place.app)).date()
    result = formula_preview.preview(source, values, known, today) if source.strip() else None
    shown = None
    if result is not None and result.error:
        result.error = formula_problem(result.error)
    if result is not None and result.computed:
        shown = _shown_result(result.result)
    return render_template("designer/_formula_result.html", result=result, shown=shown, record=record,
                           record_error=record_error)


def _preview_record(place: Place, entity_key: str, text: str):
    live = place.app.entity(entity_key)
    if live is None:
        return None, _("This entity is not published yet; try sample values.")
    if not re.fullmatch(r"[0-9]{1,15}", text):
        return None, _("Enter a record number, e.g. 12.")
    try:
        with db().read() as conn:
            return readable_record(Place(place.app, place.version_id, live), int(text), conn), None
    except NotFoundError:
        return None, _("There is no record %(id)s here.", id=text)


def _shown_result(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
