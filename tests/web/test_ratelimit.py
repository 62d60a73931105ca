"""Flask-Limiter's before-request check runs only where a limit declared outside a view could
apply (web/ratelimit.py): Formloom's own limits sit on their views, so pages skip it; a default
limit configured for the whole application still limits every page."""
from __future__ import annotations

from formloom.app import create_app


def _app(database_url, tmp_path, **config):
    return create_app({"DATABASE_URL": database_url, "SECRET_KEY": "s", "INSTANCE": str(tmp_path / "instance"),
                       **config})


def test_a_configured_default_limit_still_limits_every_page(database_url, tmp_path):
    flask_app = _app(database_url, tmp_path, RATELIMIT_DEFAULT="2 per minute")
    client = flask_app.test_client()
    statuses = [client.get("/livez").status_code for _ in range(3)]       # a view with no limit of its own
    assert statuses == [200, 200, 429]
    flask_app.extensions["formloom.db"].dispose()


def test_a_configured_application_limit_still_limits_every_page(database_url, tmp_path):
    flask_app = _app(database_url, tmp_path, RATELIMIT_APPLICATION="2 per minute")
    client = flask_app.test_client()
    statuses = [client.get("/livez").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    flask_app.extensions["formloom.db"].dispose()


def test_without_such_limits_pages_are_not_limited_and_carry_no_limit_headers(database_url, tmp_path):
    flask_app = _app(database_url, tmp_path, LOGIN_RATE_LIMIT="1 per minute")
    client = flask_app.test_client()
    responses = [client.get(path) for path in ("/login", "/livez") for _ in range(3)]
    assert [r.status_code for r in responses] == [200] * 6
    assert not any(name.startswith("X-RateLimit") for r in responses for name in r.headers.keys())
    flask_app.extensions["formloom.db"].dispose()


def test_a_flask_limiter_without_the_attributes_read_keeps_its_check_on_every_request():
    """Should a Flask-Limiter release rename what the shortcut reads, pages are checked as
    before rather than fail."""
    from flask import Flask
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from formloom.web.ratelimit import _check_only_where_limits_apply

    bare = Flask("bare")
    limiter = Limiter(get_remote_address, app=bare, storage_uri="memory://")
    del limiter._meta_limits
    _check_only_where_limits_apply(bare, limiter)
    assert limiter._check_request_limit in bare.before_request_funcs[None]
