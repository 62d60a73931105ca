"""The designer's roles page (app admins only): what people read for each role, new roles,
and removing a role nothing uses any more.

A role's key is named by permissions, gates, pools, approvals and rules, so the page never
renames one; it labels it. Removal goes through the draft like every designer edit, and is
refused when it would leave the draft with problems it did not have (something still names
the role — the validator says what) or while people hold the role in the live app."""
from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from ..auth.users import members_of
from ..design import drafts, role_edits
from ..design.edits import EditError
from ..design.settings_form import suggested_key
from .designer import _edit, _label_from_form, load_design, load_state
from .helpers import db
from .problem_text import in_reader_language

bp = Blueprint("designer_roles", __name__)
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@bp.before_request
@login_required
def _require_login():
    return None


def _page(place, status: int = 200, **extra):
    state = load_state(place.app.key)
    live_roles = set(place.app.roles)
    with db().read() as conn:
        holders = {role: len(members_of(conn, place.app.key, role)) for role in state.app.get("roles", [])
                   if role in live_roles}
    return render_template("designer/roles.html", place=place, state=state, holders=holders,
                           labels=state.app.get("role_labels") or {}, **extra), status


@bp.get("/apps/<app_key>/design/roles")
def roles(app_key: str):
    return _page(load_design(app_key))


@bp.post("/apps/<app_key>/design/roles/labels")
def save_labels(app_key: str):
    place = load_design(app_key)
    state = load_state(app_key)
    labels = {role: _label_from_form(f"role-{role}") for role in state.app.get("roles", [])}
    _edit(place, lambda doc: role_edits.set_role_labels(doc, labels))
    return redirect(url_for("designer_roles.roles", app_key=app_key), code=303)


@bp.post("/apps/<app_key>/design/roles/add")
def add_role(app_key: str):
    place = load_design(app_key)
    label = _label_from_form("new")
    key = request.form.get("key", "").strip() or suggested_key(label)
    if not key or not _KEY.match(key):
        return _page(place, 422, add_error=_(
            "Give the role a key: lower-case letters, digits and _, starting with a letter "
            "(a key is made from an English name only)."))
    if key in load_state(app_key).app.get("roles", []):
        return _page(place, 422, add_error=_("This app already has a role with the key %(key)s.", key=key))
    _edit(place, lambda doc: role_edits.add_role(doc, key, label))
    return redirect(url_for("designer_roles.roles", app_key=app_key) + f"#role-{key}", code=303)


@bp.post("/apps/<app_key>/design/roles/<role>/remove")
def remove_role(app_key: str, role: str):
    place = load_design(app_key)
    state = load_state(app_key)
    if role not in state.app.get("roles", []):
        return _page(place, 404, remove_error=_("This app has no role %(key)s.", key=role))
    if role == state.app.get("admin_role", "admin"):
        return _page(place, 422, remove_error=_(
            "The administrators' role cannot be removed: someone must be able to design the app."))
    if role in place.app.roles:
        with db().read() as conn:
            held = len(members_of(conn, app_key, role))
        if held:
            return _page(place, 422, remove_error=ngettext(
                "%(num)s person holds the role %(key)s. Take it from them on the Users page first.",
                "%(num)s people hold the role %(key)s. Take it from them on the Users page first.", held, key=role))
    before = {p.message for p in state.problems}
    after_docs = {**state.documents, "app": role_edits.remove_role(state.app, role)}
    added = [p for p in in_reader_language(drafts.draft_problems(after_docs, state.archived))
             if p.message not in before]
    if added:
        return _page(place, 422, remove_error=_("The role %(key)s is still used:", key=role),
                     remove_problems=[p.message for p in added])
    try:
        _edit(place, lambda doc: role_edits.remove_role(doc, role))
    except EditError as error:
        return _page(place, 422, remove_error=error.message)
    return redirect(url_for("designer_roles.roles", app_key=app_key), code=303)
