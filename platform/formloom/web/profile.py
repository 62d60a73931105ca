"""The profile page: language, timezone, password, and API tokens.

A password change needs the current password, ends every other session (the
session epoch moves on), starts a fresh session here and, unless the person
unticks "also revoke my API tokens", revokes their API tokens. A new API token
is shown once, on the page that answers its creation; only its hash is kept.
"""
from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth.tokens import create_token, list_tokens, revoke_all_tokens, revoke_token
from ..auth.users import UserError, check_password, load_actor, set_password, set_profile
from ..definitions.model import LANGUAGES
from ..errors import NotFoundError
from .auth import start_session
from .helpers import current_actor, db
from .ratelimit import note_wrong_password

bp = Blueprint("profile", __name__, url_prefix="/profile")


@bp.before_request
@login_required
def _require_login():
    return None


def _zones() -> list[str]:
    return sorted(available_timezones())


def render_profile(status: int = 200, **extra):
    actor = current_actor()
    with db().read() as conn:
        tokens = list_tokens(conn, actor.id)
    context = dict(actor=actor, tokens=tokens, zones=_zones(), message=None, error=None, password_error=None,
                   token_error=None, new_token=None)
    context.update(extra)
    return render_template("profile/index.html", **context), status


@bp.get("/")
def index():
    return render_profile()


@bp.post("/")
def settings():
    actor = current_actor()
    language = request.form.get("language", "")
    zone = request.form.get("timezone", "").strip()
    if language not in LANGUAGES:
        return render_profile(422, error=_("Choose one of the listed languages."))
    if zone and zone not in available_timezones():
        return render_profile(422, error=_("Choose a timezone from the list, such as Asia/Shanghai."))
    with db().write() as conn:
        set_profile(conn, actor.id, language=language, timezone_name=zone or None)
    session["lang"] = language
    return redirect(url_for("profile.index"), 303)


@bp.post("/password")
def password():
    actor = current_actor()
    current = request.form.get("current_password", "")[:1024]
    new = request.form.get("new_password", "")[:1024]
    if new != request.form.get("confirm_password", "")[:1024]:
        return render_profile(422, password_error=_("The new passwords do not match."))
    try:
        with db().write() as conn:
            if not check_password(conn, actor.id, current):
                note_wrong_password()          # counted by PASSWORD_CHECK_RATE_LIMIT
                return render_profile(422, password_error=_("The current password is not right."))
            set_password(conn, actor.id, new)
            revoked = revoke_all_tokens(conn, actor.id) if request.form.get("revoke_tokens") else 0
            fresh = load_actor(conn, actor.id)
    except UserError as error:
        return render_profile(422, password_error=error.message)
    start_session(fresh)               # other sessions end (new epoch); this one starts afresh
    return redirect(url_for("profile.index", changed=1, revoked=revoked or None), 303)


@bp.post("/tokens")
def new_token():
    actor = current_actor()
    name = request.form.get("name", "").strip()[:200]
    if not name:
        return render_profile(422, token_error=_("Give the token a name, such as the tool that will use it."))
    with db().write() as conn:
        token, secret = create_token(conn, actor.id, name)
    body, status = render_profile(201, new_token={"token": token, "secret": secret})
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    actor = current_actor()
    if token_id > 2**53:
        raise NotFoundError(_("There is no such token."))
    with db().write() as conn:
        if not revoke_token(conn, actor.id, token_id):
            raise NotFoundError(_("There is no such token."))
    return redirect(url_for("profile.index"), 303)
