"""The error types a person may see. Each carries a message and a hint of what to do;
the web layer renders them with one handler (HTML or JSON alike) and the CLI prints
them as one line, so no traceback ever reaches a user."""
from __future__ import annotations


class FormloomError(Exception):
    """Base for errors that are the user's to fix; `status` is the HTTP answer."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotFoundError(FormloomError):
    """The app, entity or record does not exist (or is not visible to the user)."""

    status = 404
    code = "not_found"


class ConflictError(FormloomError):
    """The record changed since it was read; the caller must reload."""

    status = 409
    code = "conflict"


class ForbiddenError(FormloomError):
    """The user may not do this."""

    status = 403
    code = "forbidden"


class RecordInvalid(FormloomError):
    """Field values were refused; `problems` lists every one (FieldProblem)."""

    status = 422
    code = "invalid"

    def __init__(self, problems, message: str = "Some values need attention."):
        super().__init__(message)
        self.problems = list(problems)


class InstallError(FormloomError):
    """An app document could not be installed or upgraded without losing data."""

    code = "install_refused"
