"""Wire the web layer into the Flask app: htmx, sessions, CSRF, languages,
static files, security headers, the error handler and the blueprints."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, send_from_directory, session
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from werkzeug.exceptions import SecurityError

from ..definitions.model import LANGUAGES, DEFAULT_LANGUAGE
from ..resources import static_dir
from . import auth, csrf_kept, errors, health, helpers, records
from . import pipeline
from . import admin_automation, admin_indexes, notifications
from . import admin_users, api, api_comments, api_dashboards, api_design, params, profile, ratelimit, session_cookie
from . import (activity, approvals, bulk, comments, dashboard_builder, dashboard_targets, dashboards, designer,
               designer_layout, designer_roles, designer_rules, designer_workflows, exports, files, gallery, imports, pools,
               public_forms, saved_views, search, todos)

csrf = CSRFProtect()
login_manager = LoginManager()

#: Content-Security-Policy: every script and style is a file we serve; no inline code, no eval.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")


def select_locale() -> str:
    if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
        return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE
    actor = helpers.current_actor()
    if actor is not None and actor.language in LANGUAGES:
        return actor.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"])
    app.jinja_env.autoescape = True                 # every template, whatever its extension
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    params.init_app(app)                            # first: routes bind the int converter when added
    Htmx().init_app(app)
    csrf.init_app(app)
    csrf_kept.init_app(app)                         # the signed token, signed once a session
    session_cookie.init_app(app)                    # the session cookie, opened once per distinct cookie
    Babel(app, locale_selector=select_locale)
    _memoize_template_gettext(app)
    auth.init_login(app, login_manager)

    app.add_url_rule("/static/<path:filename>", "static", _static)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(pipeline.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(notifications.api_bp)
    app.register_blueprint(admin_automation.bp)
    app.register_blueprint(admin_indexes.bp)
    app.register_blueprint(admin_indexes.api_bp)
    app.register_blueprint(designer.bp)
    app.register_blueprint(designer_layout.bp)
    app.register_blueprint(designer_roles.bp)
    app.register_blueprint(designer_rules.bp)
    app.register_blueprint(designer_workflows.bp)
    app.register_blueprint(gallery.bp)
    csrf.exempt(api.bp)              # api.authenticate: CSRF is checked unless a Bearer token authenticated
    app.register_blueprint(api.bp)
    csrf.exempt(api_design.bp)       # same as api.bp
    app.register_blueprint(api_dashboards.bp)
    app.register_blueprint(api_design.bp)
    app.register_blueprint(approvals.bp)
    app.register_blueprint(activity.bp)
    app.register_blueprint(activity.api_bp)
    app.register_blueprint(comments.bp)
    app.register_blueprint(api_comments.bp)
    csrf.exempt(api_comments.bp)     # same as api.bp: api.authenticate checks CSRF for session callers
    app.register_blueprint(saved_views.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(pools.bp)
    app.register_blueprint(todos.bp)
    app.register_blueprint(pools.api_bp)
    csrf.exempt(pools.api_bp)        # same as api.bp: api.authenticate checks CSRF for session callers
    app.register_blueprint(files.bp)
    app.register_blueprint(files.api_bp)
    csrf.exempt(files.api_bp)        # same as api.bp: api.authenticate checks CSRF for session callers
    app.register_blueprint(approvals.api_bp)
    csrf.exempt(approvals.api_bp)    # same as api.bp: api.authenticate checks CSRF for session callers
    app.register_blueprint(admin_users.bp)
    app.register_blueprint(profile.bp)
    app.register_blueprint(bulk.bp)
    app.register_blueprint(dashboards.bp)
    app.register_blueprint(dashboard_builder.bp)
    app.register_blueprint(dashboard_targets.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(imports.bp)
    limiter = ratelimit.init_app(app)
    public_forms.init_app(app, csrf, limiter)
    app.before_request(_refuse_foreign_origin)
    errors.init_app(app)
    helpers.init_templates(app)
    app.after_request(_security_headers)
    app.after_request(_wake_worker)
    app.register_error_handler(SecurityError, _untrusted_host)


def _untrusted_host(error: SecurityError):
    """A Host header outside TRUSTED_HOSTS (FORMLOOM_TRUSTED_HOSTS): no URL can be built for it,
    so the answer is plain text rather than a page."""
    return Response("This server does not answer to that host name.\n", 400, mimetype="text/plain")


def _memoize_template_gettext(app: Flask) -> None:
    """Templates call `_()` dozens of times a page (a column header repeated in each cell's
    data-label, every label of the top bar): translate each message once per process and
    language (the compiled catalogs never change while the app runs) instead of asking
    Flask-Babel for the request's translations every time."""
    from flask import g, has_request_context
    from flask_babel import get_translations

    translated: dict[tuple, str] = {}     # (language, territory, script, message) -> text; this app only

    def gettext(message: str) -> str:
        if not has_request_context():
            return get_translations().ugettext(message)
        locale = getattr(getattr(g._get_current_object(), "_flask_babel", None), "babel_locale", None)
        key = None if locale is None else (locale.language, locale.territory, locale.script, message)
        found = translated.get(key) if key is not None else None
        if found is not None:
            return found
        text = get_translations().ugettext(message)
        locale = getattr(getattr(g._get_current_object(), "_flask_babel", None), "babel_locale", None)
        if locale is not None and isinstance(message, str):
            if len(translated) > 20_000:             # messages are the templates' literals; never grows far
                translated.clear()
            translated[(locale.language, locale.territory, locale.script, message)] = text
        return text

    # the same callables Flask-Babel installs, with gettext memoized
    app.jinja_env.install_gettext_callables(
        gettext=gettext,
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )


def _static(filename: str):
    return send_from_directory(static_dir(), filename, max_age=3600)


def _refuse_foreign_origin():
    """Besides the CSRF token: refuse a write that the browser says came from another site, or from
    nowhere (Origin: null). Bearer-token API calls are not sent by browsers on their own."""
    if request.method in ("GET", "HEAD", "OPTIONS") or "Origin" not in request.headers:
        return None
    if request.path.startswith("/api/") and request.headers.get("Authorization"):
        return None
    if urlsplit(request.headers["Origin"]).netloc != request.host:
        raise CSRFError("The request came from another site.")
    return None


def _wake_worker(response):
    """After a state-changing request succeeded (its transaction has committed), wake the
    background worker so rules run now; the request itself never waits on them."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 400:
        worker = current_app.extensions.get("formloom.worker")
        if worker is not None:
            worker.wake.set()
    return response


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if headers.get("X-Frame-Options") == "":     # a route that allows framing; its CSP names by whom
        del headers["X-Frame-Options"]
    else:
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):      # FORMLOOM_SECURE_COOKIES=1: HTTPS only
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CSP)
        vary = headers.get("Vary", "")
        if "HX-Request" not in vary:
            headers["Vary"] = f"{vary}, HX-Request" if vary else "HX-Request"
    return response
