"""The designer's layout editor and live form preview (app admins only).

The editor is one form over the entity's whole layout: sections (title,
description, columns, folded) and one row per field saying which section it is
in and where it is shown. Dragging a row (static/js/layout_editor.js) or its
arrow buttons reorder; every button posts the whole form plus what it does, so
nothing typed is lost. Saves go to the draft with its revision, like every
designer edit.

The preview renders the DRAFT with the record form's own code
(`records.form_fields`, `layout.arrange`, records/_field.html) as a chosen role
would see it on the new-record or edit form. It writes nothing.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth.users import Actor
from ..definitions.compile import compile_app
from ..definitions.layout_checks import placed_key
from ..definitions.model import LAYOUT_MODES, thaw
from ..design import layout_edits
from ..design.edits import _entity
from ..fields import field_type
from ..layout import arrange
from .designer import LANGS, _edit, load_design, load_state
from .helpers import lang
from .records import FieldView, form_fields

bp = Blueprint("designer_layout", __name__)
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_ACTION = re.compile(r"^(sec-up|sec-down|sec-remove|fld-up|fld-down):([a-z][a-z0-9_]{0,62})$")
PREVIEW_MODES = ("create", "edit")


@bp.before_request
@login_required
def _require_login():
    return None


def _label(name: str) -> dict | None:
    texts = {code: request.form.get(f"{name}-{code}", "").strip() for code in LANGS}
    return {k: v for k, v in texts.items() if v} or None


def posted_sections(field_keys: list[str]) -> list[dict]:
    """The layout the editor posted: sections in order, each field row in the section it names."""
    sections: dict[str, dict] = {}
    collapsed = set(request.form.getlist("sec-collapsed"))
    for key in request.form.getlist("sec"):
        if not _KEY.match(key) or key in sections:
            continue
        columns = request.form.get(f"sec-{key}-columns", "1")
        section = {"key": key, "title": _label(f"sec-{key}-title")}
        if (description := _label(f"sec-{key}-description")) is not None:
            section["description"] = description
        section["columns"] = int(columns) if columns in ("1", "2", "3") else 1
        if key in collapsed:
            section["collapsed"] = True
        sections[key] = {k: v for k, v in section.items() if v is not None} | {"fields": []}
    for fkey in request.form.getlist("fld"):
        target = sections.get(request.form.get(f"fld-{fkey}-section", ""))
        if fkey in field_keys and target is not None and fkey not in {placed_key(i) for i in target["fields"]}:
            shown = {mode: request.form.get(f"fld-{fkey}-{mode}") == "1" for mode in LAYOUT_MODES}
            target["fields"].append(layout_edits.placed_entry(fkey, shown))
    return list(sections.values())


def _apply(sections: list[dict], action: str) -> list[dict]:
    if action == "add":
        return layout_edits.add_section(sections, _label("new-title") or {"en": _("New section")})
    match = _ACTION.match(action)
    if match is None:
        return sections
    verb, key = match.groups()
    if verb == "sec-remove":
        return layout_edits.remove_section(sections, key)
    if verb.startswith("sec-"):
        return layout_edits.move_section(sections, key, -1 if verb == "sec-up" else 1)
    return layout_edits.move_placed(sections, key, -1 if verb == "fld-up" else 1)


def _preview_args() -> tuple[str, str]:
    return request.values.get("role", ""), request.values.get("mode", "create")


@bp.get("/apps/<app_key>/design/e/<entity_key>/layout")
def editor(app_key: str, entity_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    entity = state.entity(entity_key)
    role, mode = _preview_args()
    return render_template("designer/layout.html", place=place, state=state, entity=entity,
                           rows=_rows(entity), preview=preview_view(place, state, entity_key, role, mode))


def _rows(entity: dict) -> list[dict]:
    """One row per field: its section ("" when unplaced) and where it is shown, in layout order."""
    rows, seen = [], set()
    labels = {f.get("key"): f.get("label") for f in entity.get("fields", [])}
    for section in layout_edits.sections_of(entity):
        for item in section.get("fields", []):
            key = placed_key(item)
            if key in labels and key not in seen:
                seen.add(key)
                shown = {m: not (isinstance(item, dict) and item.get(m) is False) for m in LAYOUT_MODES}
                rows.append({"key": key, "label": labels[key], "section": section.get("key"), **shown})
    rows += [{"key": k, "label": lbl, "section": "", **{m: True for m in LAYOUT_MODES}}
             for k, lbl in labels.items() if k not in seen]
    return rows


@bp.post("/apps/<app_key>/design/e/<entity_key>/layout")
def save(app_key: str, entity_key: str):
    place = load_design(app_key)
    action = request.form.get("do", "")

    def change(doc: dict) -> dict:
        keys = [f.get("key") for f in _entity(doc, entity_key).get("fields", [])]
        return layout_edits.set_layout(doc, entity_key, _apply(posted_sections(keys), action))

    _edit(place, change)
    role, mode = _preview_args()
    anchor = "#" + (action.split(":", 1)[1] if ":" in action else "sections")
    return redirect(url_for("designer_layout.editor", app_key=app_key, entity_key=entity_key, role=role or None,
                            mode=mode) + anchor, code=303)


@bp.get("/apps/<app_key>/design/e/<entity_key>/preview")
def preview(app_key: str, entity_key: str):
    place = load_design(app_key)
    role, mode = _preview_args()
    state = load_state(app_key)
    return render_template("designer/_preview.html", state=state,
                           preview=preview_view(place, state, entity_key, role, mode))


@bp.app_template_global()
def form_preview(place, state, entity_key: str) -> SimpleNamespace:
    """The preview for a designer page other than the layout editor (the field editor)."""
    return preview_view(place, state, entity_key, "", "create")


def preview_view(place, state, entity_key: str, role: str, mode: str) -> SimpleNamespace:
    """What the preview shows: the draft's form for `role` in `mode`, or why it cannot."""
    roles = [r for r in state.app.get("roles", []) if isinstance(r, str)]
    role = role if role in roles else next((r for r in roles if r != place.app.admin_role), roles[0] if roles else "")
    mode = mode if mode in PREVIEW_MODES else "create"
    out = SimpleNamespace(role=role, roles=roles, mode=mode, modes=PREVIEW_MODES, groups=[], problem=None,
                          app_key=place.app.key, entity_key=entity_key, place=None, entity=None)
    if state.problems:
        out.problem = _("The preview shows the draft once its problems are fixed.")
        return out
    app = compile_app(state.documents["app"], state.documents.get("workflows") or {})
    entity = app.entity(entity_key)
    if entity is None:
        out.problem = _("There is no %(key)s here.", key=entity_key)
        return out
    workflow = app.workflow_for(entity.key)
    stage = workflow.first_stage if workflow else None
    actor = Actor(id=0, email="", name=_("Preview"), roles={app.key: frozenset({role})})
    if not (entity.permissions.get(role) or {}).get("create") and mode == "create" and role != app.admin_role:
        out.problem = _("The role %(role)s may not create records of this entity.", role=role)
    visible, writable, form_class = form_fields(actor, app, entity, stage, mode, app.timezone)
    values = {form_class.field_names[f.key]: field_type(f.type).form_value(f, field_type(f.type).default_value(f))
              for f in visible}
    form = form_class(data=values)
    views = [FieldView(f, form.field_for(f.key), f.key not in writable,
                       thaw(f.visible_if) if f.visible_if is not None else None) for f in visible]
    out.groups = arrange(entity, views, mode, key_of=lambda view: view.f.key)
    out.place, out.entity, out.fields = SimpleNamespace(app=app, entity=entity), entity, views
    return out
