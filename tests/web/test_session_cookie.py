"""The session cookie opened once per distinct cookie (web/session_cookie.py) is still a signed
cookie: a changed byte, another secret key or an age past PERMANENT_SESSION_LIFETIME refuse it
as before, and no request sees what another request wrote into its own copy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time_machine
from flask import request
from flask.sessions import SecureCookieSessionInterface

from .conftest import Browser

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _holding(app, cookie_value: str) -> Browser:
    client = app.test_client()
    client.set_cookie("session", cookie_value)
    return Browser(client)


def _tampered(value: str) -> str:
    """The same cookie with the first character of its signature changed (not the last: in
    base64 the last character's low bits are padding, so some changes there decode alike)."""
    payload, _dot, signature = value.rpartition(".")
    return f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def test_a_cookie_opened_before_and_then_changed_is_refused(app, as_agent):
    saved = as_agent.client.get_cookie("session").value
    assert _holding(app, saved).get("/profile/").status_code == 200        # opened and kept
    assert _holding(app, _tampered(saved)).get("/profile/").status_code == 302
    assert _holding(app, saved).get("/profile/").status_code == 200


def test_a_cookie_signed_with_another_secret_key_is_refused_after_a_key_change(app, as_agent):
    saved = as_agent.client.get_cookie("session").value
    assert _holding(app, saved).get("/profile/").status_code == 200
    app.secret_key = "another-secret"
    assert _holding(app, saved).get("/profile/").status_code == 302


def test_a_kept_cookie_older_than_the_session_lifetime_is_refused(app, people):
    app.config.update(SESSION_IDLE_MINUTES=0, SESSION_MAX_HOURS=0, PERMANENT_SESSION_LIFETIME=timedelta(minutes=5))
    with time_machine.travel(START, tick=False) as clock:
        browser = Browser(app.test_client())
        browser.login("agent@example.com")
        saved = browser.client.get_cookie("session").value
        assert _holding(app, saved).get("/profile/").status_code == 200
        clock.shift(timedelta(minutes=4))
        assert _holding(app, saved).get("/profile/").status_code == 200
        clock.shift(timedelta(minutes=2))
        assert _holding(app, saved).get("/profile/").status_code == 302
        clock.shift(timedelta(minutes=-10))                                 # signed in the future
        assert _holding(app, saved).get("/profile/").status_code == 302


def test_what_one_request_writes_into_its_session_is_not_seen_by_the_next(app, as_agent):
    as_agent.get("/profile/")                            # a page with a form: the session keeps [token, signature]
    saved = as_agent.client.get_cookie("session").value
    interface = app.session_interface
    with app.test_request_context("/", headers={"Cookie": f"session={saved}"}):
        first = interface.open_session(app, request)
        first["lang"] = "zh"
        first["csrf_token"] = "changed"
        lists = [value for value in first.values() if isinstance(value, list)]
        assert lists
        for value in lists:
            value.append("written")
    with app.test_request_context("/", headers={"Cookie": f"session={saved}"}):
        second = interface.open_session(app, request)
    assert "lang" not in second and second.get("csrf_token") != "changed"
    assert not any(isinstance(v, list) and "written" in v for v in second.values())
    assert not second.modified


def test_the_session_read_equals_flasks_own_reading_of_the_cookie(app, as_agent):
    saved = as_agent.client.get_cookie("session").value
    for _ in range(2):                                   # opened, then answered from the kept table
        with app.test_request_context("/", headers={"Cookie": f"session={saved}"}):
            ours = app.session_interface.open_session(app, request)
            flasks = SecureCookieSessionInterface().open_session(app, request)
            assert dict(ours) == dict(flasks) and len(ours) > 3
