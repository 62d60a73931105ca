"""Login rate limiting with Flask-Limiter: in memory by default, in Redis when
REDIS_URL is set (so several processes share the count).

Attempts are counted per client address and email together, so one attacker
cannot lock a colleague out from another address, and one address cannot try
passwords faster than the limit. A refused attempt answers 429 (the error page
says to wait) with a Retry-After header.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

LOGIN_LIMIT_DEFAULT = "10 per minute"


def login_key() -> str:
    email = request.form.get("email", "").strip().lower()[:254]
    return f"login:{get_remote_address()}:{email}"


def init_app(app: Flask) -> Limiter:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("LOGIN_RATE_LIMIT", LOGIN_LIMIT_DEFAULT)
    limiter = Limiter(get_remote_address, app=app, key_prefix=app.config.get("RATELIMIT_KEY_PREFIX", "formloom"))
    app.extensions["formloom.limiter"] = limiter
    limited = limiter.limit(lambda: app.config["LOGIN_RATE_LIMIT"], key_func=login_key, methods=["POST"])
    app.view_functions["auth.login"] = limited(app.view_functions["auth.login"])
    return limiter
