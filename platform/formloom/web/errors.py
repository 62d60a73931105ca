"""One error handler, one error shape: an HTML page for people, and
`{"error": {"code", "message", "hint"}}` for the API and for clients that ask
for JSON. No traceback ever reaches the response."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..errors import FormloomError

log = logging.getLogger(__name__)

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
        503: (_("The service is not available right now."), _("Try again in a moment.")),
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


def _with_header(response, name: str, value: str):
    response = make_response(response)
    response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(FormloomError, handle_formloom_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
