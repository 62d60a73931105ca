"""User admin for app admins: list users, add (invite) one, set roles per app,
set a manager, deactivate; and the first-run set-up page that creates the
platform's first administrator.

Escalation is impossible by construction: an app admin grants and removes
roles only in the apps they administer (a posted role of another app refuses
the whole request with 403, nothing stored), only superusers grant superuser,
and account-wide changes (manager, deactivation) to a user are for admins of
every app that user belongs to. The last active admin of an app cannot be
demoted or deactivated. Changes apply on the user's next request.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from ..auth import policy
from ..auth.users import (Actor, UserError, app_roles_of, create_first_superuser, create_user, has_users,
                          load_actor, normalize_email, replace_app_roles, set_active, set_manager, set_name,
                          set_superuser, user_id_by_email)
from ..definitions.model import AppDef
from ..errors import ForbiddenError, NotFoundError
from ..ids import parse_int
from ..store.tables import memberships, users
from .auth import start_session
from .helpers import catalog, current_actor, db

bp = Blueprint("admin_users", __name__)


@dataclass
class UserRow:
    id: int
    email: str
    name: str
    active: bool
    is_superuser: bool
    manager_id: int | None
    roles: dict[str, set[str]]


def administered_apps(actor: Actor | None) -> list[AppDef]:
    return [app for app in catalog().installed() if policy.is_app_admin(actor, app)]


@bp.app_template_global("user_admin_allowed")
def user_admin_allowed() -> bool:
    actor = current_actor()
    return actor is not None and (actor.is_superuser or any(policy.is_app_admin(actor, app)
                                                            for app in catalog().installed()))


def require_admin() -> tuple[Actor, list[AppDef]]:
    actor = current_actor()
    apps = administered_apps(actor)
    if actor is None or not apps:
        raise ForbiddenError(_("Only app admins may manage users."),
                             hint=_("Ask an administrator of this app for access."))
    return actor, apps


def _user_rows(conn, actor: Actor, apps: list[AppDef]) -> list[UserRow]:
    query = select(users).order_by(users.c.name, users.c.email)
    if not actor.is_superuser:
        members = select(memberships.c.user_id).where(memberships.c.app_key.in_([a.key for a in apps]))
        query = query.where(users.c.id.in_(members))
    rows = conn.execute(query).all()
    return [UserRow(r.id, r.email, r.name, r.active, r.is_superuser, r.manager_id, app_roles_of(conn, r.id))
            for r in rows]


def _visible_user(conn, actor: Actor, apps: list[AppDef], user_id: int) -> UserRow:
    found = next((u for u in _user_rows(conn, actor, apps) if u.id == user_id), None)
    if found is None:
        raise NotFoundError(_("There is no such user."))
    return found


def may_manage_account(actor: Actor, apps: list[AppDef], user: UserRow) -> bool:
    """Manager, name and deactivation touch every app the user is in: only for admins of all of them."""
    if actor.is_superuser:
        return True
    return not user.is_superuser and set(user.roles) <= {a.key for a in apps}


def posted_roles(apps: list[AppDef]) -> dict[str, set[str]]:
    """The roles the form grants, per administered app. A role of any other app (or an unknown role)
    refuses the whole request: that is how escalation through a forged form would look."""
    by_key = {a.key: a for a in apps}
    chosen: dict[str, set[str]] = {a.key: set() for a in apps}
    for raw in request.form.getlist("role"):
        app_key, _sep, role = raw.partition(":")
        app = by_key.get(app_key)
        if app is None:
            raise ForbiddenError(_("You may only give roles in apps you administer."))
        if role not in app.roles:
            raise ForbiddenError(_("You may only give roles in apps you administer."))
        chosen[app_key].add(role)
    return chosen


def _manager_choice(conn, actor: Actor, apps: list[AppDef], current: int | None = None) -> int | None:
    """The posted manager (one of the users this admin sees); not posted = unchanged."""
    if "manager" not in request.form:
        return current
    raw = request.form.get("manager", "")
    if not raw:
        return None
    manager_id = parse_int(raw)
    if manager_id is None:
        raise UserError(_("Choose a manager from the list."))
    if manager_id != current and manager_id not in {u.id for u in _user_rows(conn, actor, apps)}:
        raise UserError(_("Choose a manager from the list."))
    return manager_id


# -- pages --------------------------------------------------------------------------

@bp.get("/admin/users/")
@login_required
def index():
    actor, apps = require_admin()
    with db().read() as conn:
        rows = _user_rows(conn, actor, apps)
    names = {u.id: u.name or u.email for u in rows}
    return render_template("admin/users.html", users=rows, apps=apps, names=names)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def new():
    actor, apps = require_admin()
    with db().read() as conn:
        choices = _user_rows(conn, actor, apps)
    form = {"email": "", "name": "", "manager": "", "roles": set()}
    if request.method == "GET":
        return render_template("admin/users_new.html", apps=apps, managers=choices, form=form, error=None)
    roles = posted_roles(apps)
    pairs = [(app_key, role) for app_key, chosen in roles.items() for role in sorted(chosen)]
    email = normalize_email(request.form.get("email", ""))[:254]
    name = request.form.get("name", "").strip()[:200]
    password = request.form.get("password", "")[:1024]
    generated = None
    form = {"email": email, "name": name, "manager": request.form.get("manager", ""),
            "roles": set(request.form.getlist("role"))}
    if not pairs:
        return render_template("admin/users_new.html", apps=apps, managers=choices, form=form,
                               error=_("Give the user at least one role.")), 422
    try:
        with db().write() as conn:
            manager_id = _manager_choice(conn, actor, apps)
            existing = user_id_by_email(conn, email)
            if existing is not None:        # already has an account: give them the roles in my apps
                for app_key, chosen in roles.items():
                    if chosen:
                        current = app_roles_of(conn, existing).get(app_key, set())
                        app = next(a for a in apps if a.key == app_key)
                        replace_app_roles(conn, existing, app_key, current | chosen, app.admin_role)
                user_id = existing
            else:
                if not password:
                    password = generated = secrets.token_urlsafe(12)
                user_id = create_user(conn, email, password, name=name, roles=pairs, manager_id=manager_id)
    except UserError as error:
        return render_template("admin/users_new.html", apps=apps, managers=choices, form=form,
                               error=error.message), 422
    if generated:
        return render_template("admin/users_created.html", email=email, password=generated, user_id=user_id), 201
    return redirect(url_for("admin_users.edit", user_id=user_id), 303)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def edit(user_id: int):
    actor, apps = require_admin()
    if user_id > 2**53:
        raise NotFoundError(_("There is no such user."))
    with db().read() as conn:
        user = _visible_user(conn, actor, apps, user_id)
        choices = [u for u in _user_rows(conn, actor, apps) if u.id != user.id]
    account = may_manage_account(actor, apps, user)
    context = dict(user=user, apps=apps, managers=choices, account=account, error=None,
                   user_role_values={f"{a}:{r}" for a, roles in user.roles.items() for r in roles})
    if request.method == "GET":
        return render_template("admin/users_edit.html", **context)

    roles = posted_roles(apps)
    wants_super = request.form.get("superuser", "1" if user.is_superuser else "0") == "1"
    wants_active = request.form.get("active", "1" if user.active else "0") == "1"
    name = request.form.get("name", user.name).strip()[:200]
    if wants_super != user.is_superuser and not actor.is_superuser:
        raise ForbiddenError(_("Only superusers may grant or remove superuser rights."))
    try:
        with db().write() as conn:
            manager_id = _manager_choice(conn, actor, apps, user.manager_id)
            account_changes = (manager_id != user.manager_id or wants_active != user.active
                               or name != user.name)
            if account_changes and not account:
                raise ForbiddenError(_("This user also belongs to apps you do not administer."),
                                     hint=_("Ask a platform administrator to change the account."))
            if user.id == actor.id and not wants_active:
                raise UserError(_("You cannot deactivate yourself."))
            for app in apps:
                if roles[app.key] != user.roles.get(app.key, set()):
                    replace_app_roles(conn, user.id, app.key, roles[app.key], app.admin_role)
            if manager_id != user.manager_id:
                set_manager(conn, user.id, manager_id)
            if name != user.name and name:
                set_name(conn, user.id, name)
            if wants_super != user.is_superuser:
                set_superuser(conn, user.id, wants_super)
            if wants_active != user.active:
                admin_of = {app.key: app.admin_role for app in catalog().installed()
                            if app.admin_role in app_roles_of(conn, user.id).get(app.key, set())}
                set_active(conn, user.id, wants_active, admin_of)
    except UserError as error:
        context["error"] = error.message
        return render_template("admin/users_edit.html", **context), 422
    return redirect(url_for("admin_users.edit", user_id=user.id), 303)


# -- first run ----------------------------------------------------------------------

@bp.route("/setup", methods=["GET", "POST"])
def first_run():
    """Create the first administrator; only while there is no user at all."""
    with db().read() as conn:
        if has_users(conn):
            abort(404)
    form = {"email": request.form.get("email", "")[:254], "name": request.form.get("name", "")[:200]}
    if request.method == "GET":
        return render_template("admin/users_setup.html", form=form, error=None)
    try:
        with db().write() as conn:
            user_id = create_first_superuser(conn, form["email"], request.form.get("password", "")[:1024],
                                             name=form["name"])
            actor = load_actor(conn, user_id) if user_id is not None else None
    except UserError as error:
        return render_template("admin/users_setup.html", form=form, error=error.message), 422
    if actor is None:
        abort(404)                    # someone else finished the set-up first
    start_session(actor)
    return redirect(url_for("records.home"), 303)
