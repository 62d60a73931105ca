"""Rate limits on guessing passwords, with Flask-Limiter: in memory by default,
in Redis when REDIS_URL is set (so several processes share the count).

Three limits, each answering 429 (the error page says to wait) with Retry-After:

- LOGIN_RATE_LIMIT, per client address and email together: one address cannot
  try one account's password faster than this, and an attacker elsewhere
  cannot lock a colleague out;
- LOGIN_ADDRESS_RATE_LIMIT, per client address across every email, counting
  failed logins only: password spraying (one guess at many accounts) is slowed,
  while an office behind one address logging in normally is not;
- PASSWORD_CHECK_RATE_LIMIT, per user, counting wrong current passwords on the
  password-change form: a borrowed session cannot be used to guess the password.
"""
from __future__ import annotations

import os

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

LOGIN_LIMIT_DEFAULT = "10 per minute"
LOGIN_ADDRESS_LIMIT_DEFAULT = "20 per minute;100 per hour"
PASSWORD_CHECK_LIMIT_DEFAULT = "5 per 15 minutes"


def login_key() -> str:
    email = request.form.get("email", "").strip().lower()[:254]
    return f"login:{get_remote_address()}:{email}"


def login_address_key() -> str:
    return f"login-address:{get_remote_address()}"


def password_check_key() -> str:
    from .helpers import current_actor
    actor = current_actor()
    return f"password-check:{actor.id if actor is not None else get_remote_address()}"


def login_failed(response) -> bool:
    return response.status_code == 422


def note_wrong_password() -> None:
    """Called by a view that just refused a wrong password; PASSWORD_CHECK_RATE_LIMIT counts it."""
    g._formloom_wrong_password = True


def wrong_password(_response) -> bool:
    return bool(g.get("_formloom_wrong_password"))


def init_app(app: Flask) -> Limiter:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    for name, default in (("LOGIN_RATE_LIMIT", LOGIN_LIMIT_DEFAULT),
                          ("LOGIN_ADDRESS_RATE_LIMIT", LOGIN_ADDRESS_LIMIT_DEFAULT),
                          ("PASSWORD_CHECK_RATE_LIMIT", PASSWORD_CHECK_LIMIT_DEFAULT)):
        app.config.setdefault(name, os.environ.get(f"FORMLOOM_{name}", default))
    limiter = Limiter(get_remote_address, app=app, key_prefix=app.config.get("RATELIMIT_KEY_PREFIX", "formloom"))
    app.extensions["formloom.limiter"] = limiter
    _check_only_where_limits_apply(app, limiter)
    per_email = limiter.limit(lambda: app.config["LOGIN_RATE_LIMIT"], key_func=login_key, methods=["POST"])
    per_address = limiter.limit(lambda: app.config["LOGIN_ADDRESS_RATE_LIMIT"], key_func=login_address_key,
                                methods=["POST"], deduct_when=login_failed)
    app.view_functions["auth.login"] = per_address(per_email(app.view_functions["auth.login"]))
    password_check = limiter.limit(lambda: app.config["PASSWORD_CHECK_RATE_LIMIT"], key_func=password_check_key,
                                   methods=["POST"], deduct_when=wrong_password)
    app.view_functions["profile.password"] = password_check(app.view_functions["profile.password"])
    return limiter


#: what _check_only_where_limits_apply reads of Flask-Limiter (4.x), on its manager and itself
_MANAGER_KNOWS = ("_application_limits", "_default_limits", "_blueprint_limits", "has_hints")
_LIMITER_KNOWS = ("_meta_limits", "_storage_dead")


def _check_only_where_limits_apply(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter checks every request before its view (~0.05-0.1 ms: it resolves the limits
    of the endpoint, its blueprint and the application each time). That check only applies limits
    declared outside a view (application, default, meta and blueprint limits, limits hinted for an
    endpoint) or the in-memory fallback when the storage is down; the limits above are declared on
    their views and are checked by their own decorators. So the before-request check runs only when
    one of those exists; Formloom declares none, and pages skip it. (Headers and the release of the
    request's limiter context stay as they were.) It reads Flask-Limiter's own attributes; a
    release without one of them keeps its check on every request, as before, rather than fail."""
    funcs = app.before_request_funcs.setdefault(None, [])
    check = getattr(limiter, "_check_request_limit", None)
    manager = getattr(limiter, "limit_manager", None)
    if (check is None or check not in funcs or manager is None
            or not all(hasattr(manager, name) for name in _MANAGER_KNOWS)
            or not all(hasattr(limiter, name) for name in _LIMITER_KNOWS)):
        return

    def check_where_limits_apply() -> None:
        if (manager._application_limits or manager._default_limits or limiter._meta_limits
                or manager._blueprint_limits or limiter._storage_dead
                or manager.has_hints(request.endpoint or "")):
            check()
    funcs[:] = [check_where_limits_apply if f == check else f for f in funcs]
