"""Logging in and out, and switching the interface language.

The session keeps the user id and the user's session epoch; the actor is
loaded fresh on every request, so a deactivated user, or one whose epoch was
bumped (logout, password change), is refused at once. Logging out bumps the
epoch, so a copy of the session cookie kept from before is worthless too (the
user's sessions on other devices end with it). Logging in clears the session
first, so a session id planted before login is worthless.

A session also ends by time: after SESSION_IDLE_MINUTES without a request, and
SESSION_MAX_HOURS after its login whatever happens (0 switches either off). Both
moments are kept in the signed session cookie.
"""
from __future__ import annotations

import time

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, login_user, logout_user

from ..auth.users import Actor, authenticate, end_sessions, load_actor_and_apps, set_language
from ..definitions.model import LANGUAGES
from ..ids import parse_int
from .helpers import catalog, current_actor, db, is_fragment_request, page_read, safe_next

bp = Blueprint("auth", __name__)
MAX_EMAIL = 254
MAX_PASSWORD = 1024


class SessionUser(UserMixin):
    """What Flask-Login keeps: the actor, identified by "user id:session epoch"."""

    def __init__(self, actor: Actor):
        self.actor = actor

    def get_id(self) -> str:
        return f"{self.actor.id}:{self.actor.session_epoch}"


STARTED, SEEN = "_started", "_seen"     # session keys: when it logged in, when it was last used
SEEN_RESOLUTION = 60                     # seconds; "last used" is rewritten at most once a minute


def start_session(actor: Actor) -> None:
    """A fresh session for `actor`: nothing planted before survives but the chosen language."""
    keep_lang = session.get("lang")
    session.clear()
    if keep_lang:
        session["lang"] = keep_lang
    login_user(SessionUser(actor))
    session[STARTED] = session[SEEN] = time.time()


def session_expired(now: float | None = None) -> bool:
    """Whether this session outlived its idle or its absolute lifetime (or never had one)."""
    now = time.time() if now is None else now
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, (int, float)) or not isinstance(seen, (int, float)):
        return True
    idle = float(current_app.config.get("SESSION_IDLE_MINUTES") or 0) * 60
    longest = float(current_app.config.get("SESSION_MAX_HOURS") or 0) * 3600
    return bool((idle and now - seen > idle) or (longest and now - started > longest))


def _reading():
    """A page that only reads (GET, HEAD) reads its user in the transaction its view and
    templates read in, one transaction a page instead of two. A request that may write keeps
    a read of its own: on SQLite the shared transaction would hold the snapshot from before
    the request's write, and the page it renders afterwards would not show that write."""
    return page_read() if request.method in ("GET", "HEAD") else db().read()


def _shows_top_bar() -> bool:
    """Whether this request is likely a whole page (a GET that is no htmx fragment and no API
    call): the pages with the top bar. A guess costs nothing either way: counts read for a
    request that shows no bar are not used, a bar without them reads them itself."""
    return request.method in ("GET", "HEAD") and not is_fragment_request() and not request.path.startswith("/api/")


def load_session_user(session_id: str) -> SessionUser | None:
    """The session's actor, read fresh on every request (nothing of it is kept between
    requests: a deactivated user, a bumped epoch, a changed role count from the next request);
    with it, in the same statement, the installed apps' current versions, which nearly every
    signed-in request looks up next (the menu, the app its URL names), and on a whole page the
    top bar's counts (web/bar_counts.py)."""
    user_part, _sep, epoch_part = session_id.partition(":")
    user_id, epoch = parse_int(user_part), parse_int(epoch_part, low=0)
    if user_id is None or epoch is None:
        return None
    now = time.time()
    if session_expired(now):
        g._formloom_session_ended = True
        return None
    with _reading() as conn:
        if _shows_top_bar():        # one statement: the user, the apps, the top bar's counts
            from .bar_counts import read_session     # here: bar_counts -> notifications -> api -> auth
            actor, versions = read_session(conn, user_id, g._get_current_object())
        else:                       # one statement: the user, the apps
            actor, versions = load_actor_and_apps(conn, user_id)
        if actor is not None and actor.session_epoch == epoch:
            catalog().installed(conn, versions)     # the apps this request will look up
    if actor is None or actor.session_epoch != epoch:
        g._formloom_session_ended = True
        return None
    if now - session[SEEN] >= SEEN_RESOLUTION:
        session[SEEN] = now
    return SessionUser(actor)


def unauthorized():
    login = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None,
                    ended=1 if g.get("_formloom_session_ended") else None)
    if request.path.startswith("/api/"):
        body = {"error": {"code": "unauthorized", "message": _("Please log in first."), "hint": None}}
        return jsonify(body), 401
    if is_fragment_request():
        return "", 401, {"HX-Redirect": login}
    return redirect(login)


def init_login(app: Flask, manager: LoginManager) -> None:
    manager.init_app(app)
    manager.user_loader(load_session_user)
    manager.unauthorized_handler(unauthorized)
    manager.session_protection = "basic"


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"), url_for("records.home"))
    if current_actor() is not None and request.method == "GET":
        return redirect(next_url)
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")[:MAX_EMAIL]
        password = request.form.get("password", "")[:MAX_PASSWORD]
        actor = None
        if email and password:
            with db().read() as conn:
                actor = authenticate(conn, email, password)
        if actor is not None:
            start_session(actor)
            return redirect(next_url)
        error = _("The email or the password is not right.")
    status = 422 if error else 200
    return render_template("auth/login.html", error=error, email=email, next=request.values.get("next", "")), status


@bp.post("/logout")
def logout():
    actor = current_actor()
    if actor is not None:
        with db().write() as conn:
            end_sessions(conn, actor.id)        # a copy of this session's cookie is worthless now
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    chosen = request.form.get("lang", "")
    back = safe_next(request.form.get("next"), url_for("records.home"))
    if chosen not in LANGUAGES:
        return redirect(back)
    session["lang"] = chosen
    actor = current_actor()
    if actor is not None:
        with db().write() as conn:
            set_language(conn, actor.id, chosen)
    return redirect(back)
