"""One error handler, one error shape: an HTML page for people, and
`{"error": {"code", "message", "hint"}}` for the API and for clients that ask
for JSON. No traceback ever reaches the response.

A database that cannot be reached or written (connection refused or cut, a
read-only file, a lock that never came) is an outage, not a bug: it answers 503
with Retry-After. The outage page is rendered without touching the database
again: the request is marked, and `helpers.current_actor()` then answers None
instead of loading the user. Every handler falls back to the outage answer if
the database fails while it renders (e.g. the top bar loading the user).
"""
from __future__ import annotations

import functools
import logging

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from ..errors import FormloomError

log = logging.getLogger(__name__)

#: what a database outage raises (SQLAlchemy wraps the driver's errors in these) ...
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
#: ... and driver errors of other classes that mean the same, by SQLSTATE (25006: read-only transaction)
OUTAGE_SQLSTATES = frozenset({"25006"})
RETRY_AFTER_SECONDS = 30


def is_outage(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached or written (not that a query is wrong)."""
    if isinstance(error, DATABASE_DOWN):
        return True
    return isinstance(error, sa_exc.DBAPIError) and getattr(error.orig, "sqlstate", None) in OUTAGE_SQLSTATES

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid", 429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


def _http_texts(status: int) -> tuple[str, str | None]:
    """The message and hint people see for a plain HTTP error, in their language."""
    texts = {
        400: (_("The request could not be understood."), _("Go back and try again.")),
        401: (_("Please log in first."), None),
        403: (_("You may not do this."), _("Ask an administrator of this app for access.")),
        404: (_("This page does not exist."), _("Check the address, or start again from the home page.")),
        405: (_("This address does not accept that kind of request."), None),
        413: (_("What you sent is too large."), _("Send less data, or smaller files, and try again.")),
        429: (_("Too many requests."), _("Wait a moment and try again.")),
        500: (_("Something went wrong on our side."), _("Try again in a moment. If it keeps happening, tell an administrator.")),
        503: (_("The service is not available right now."),
              _("Try again in a minute. If you were saving something, check afterwards whether it was saved.")),
    }
    return texts.get(status, (_("The request could not be completed."), None))


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] > \
        request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, hint: str | None):
    if wants_json():
        response = jsonify({"error": {"code": code, "message": message, "hint": hint}})
        response.status_code = status
        return response
    return render_template("errors/error.html", status=status, code=code, message=message, hint=hint), status


def handle_formloom_error(error: FormloomError):
    return error_response(error.status, error.code, error.message, error.hint)


def handle_csrf_error(error: CSRFError):
    return error_response(400, "csrf_failed", _("This form has expired or was not sent from this site."),
                          _("Reload the page and submit the form again."))


def handle_http_error(error: HTTPException):
    status = error.code or 500
    message, hint = _http_texts(status)
    response = error_response(status, HTTP_CODES.get(status, "error"), message, hint)
    if status == 405 and getattr(error, "valid_methods", None):
        response = _with_header(response, "Allow", ", ".join(error.valid_methods))
    return response


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    message, hint = _http_texts(500)
    return error_response(500, "internal_error", message, hint)


def database_down() -> bool:
    """Whether this request met a database outage (its answer must not touch the database)."""
    return bool(g.get("_formloom_db_down"))


def handle_database_down(error: Exception):
    g._formloom_db_down = True
    if "_login_user" not in g:              # Flask-Login's template context would load the user
        g._login_user = current_app.login_manager.anonymous_user()
    first_line = (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]
    log.error("database unavailable on %s %s: %s", request.method, request.path, first_line)
    message, hint = _http_texts(503)
    response = make_response(error_response(503, "unavailable", message, hint))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handle_database_error(error: sa_exc.DBAPIError):
    """A driver error: an outage (503) or a bug (500)."""
    return handle_database_down(error) if is_outage(error) else handle_unexpected(error)


def _outage_safe(handler):
    """Run `handler`; if the database fails while it renders, answer as an outage instead."""
    @functools.wraps(handler)
    def wrapper(error):
        try:
            return handler(error)
        except Exception as failure:
            if not is_outage(failure):
                raise
            return handle_database_down(failure)
    return wrapper


def _with_header(response, name: str, value: str):
    response = make_response(response)
    response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(FormloomError, _outage_safe(handle_formloom_error))
    app.register_error_handler(CSRFError, _outage_safe(handle_csrf_error))
    app.register_error_handler(HTTPException, _outage_safe(handle_http_error))
    for kind in (sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError):
        app.register_error_handler(kind, _outage_safe(handle_database_error))
    app.register_error_handler(Exception, _outage_safe(handle_unexpected))
