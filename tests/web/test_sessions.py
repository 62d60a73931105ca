"""Sessions end for real: logout invalidates on the server, sessions have an idle and an
absolute lifetime, and a password change can revoke the person's API tokens."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from formloom.store.tables import api_tokens

from .api_client import Api, token_for  # noqa: F401  (fixture)
from .conftest import PASSWORD, Browser

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _replay(app, cookie_value: str) -> Browser:
    """Another browser holding a copy of a saved session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie_value)
    return Browser(client)


def test_a_session_cookie_saved_before_logout_is_worthless_afterwards(app, as_agent):
    saved = as_agent.client.get_cookie("session").value
    assert _replay(app, saved).get("/profile/").status_code == 200
    assert as_agent.logout().status_code == 302
    copy = _replay(app, saved)
    refused = copy.get("/profile/")
    assert refused.status_code == 302 and "ended=1" in refused.headers["Location"]
    assert copy.get("/api/v1/desk/case").status_code == 401


def test_logout_ends_the_persons_sessions_on_every_device(app, as_agent):
    phone = Browser(app.test_client())
    phone.login("agent@example.com")
    as_agent.logout()
    assert phone.get("/").status_code == 302
    assert phone.login("agent@example.com").status_code == 302     # logging in again works
    assert phone.get("/").status_code == 200


def test_a_session_unused_longer_than_the_idle_lifetime_ends(app, browser):
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_MAX_HOURS=24)
    with time_machine.travel(START, tick=False) as traveller:
        browser.login("agent@example.com")
        traveller.shift(timedelta(minutes=25))
        assert browser.get("/profile/").status_code == 200       # used in time: the idle clock restarts
        traveller.shift(timedelta(minutes=25))
        assert browser.get("/profile/").status_code == 200
        traveller.shift(timedelta(minutes=31))
        ended = browser.get("/profile/")
        assert ended.status_code == 302
        assert browser.get("/api/v1/desk/case").status_code == 401
    login_page = browser.get(ended.headers["Location"]).get_data(as_text=True)
    assert "Your session has ended. Please log in again." in login_page


def test_a_plain_visit_to_the_login_page_says_nothing_about_ended_sessions(browser):
    assert "session has ended" not in browser.get("/login?next=/").get_data(as_text=True)


def test_a_session_ends_at_its_absolute_lifetime_however_busy(app, browser):
    app.config.update(SESSION_IDLE_MINUTES=30, SESSION_MAX_HOURS=2)
    with time_machine.travel(START, tick=False) as traveller:
        browser.login("agent@example.com")
        for _ in range(7):
            traveller.shift(timedelta(minutes=17))
            assert browser.get("/").status_code == 200
        traveller.shift(timedelta(minutes=2 * 60 - 7 * 17 + 1))
        assert browser.get("/").status_code == 302


def test_zero_switches_a_lifetime_off(app, browser):
    app.config.update(SESSION_IDLE_MINUTES=0, SESSION_MAX_HOURS=0)
    with time_machine.travel(START, tick=False) as traveller:
        browser.login("agent@example.com")
        traveller.shift(timedelta(days=20))
        assert browser.get("/").status_code == 200


def test_the_lifetimes_have_defaults_and_come_from_the_environment(monkeypatch):
    from formloom.config import settings_from_env
    defaults = settings_from_env()
    assert defaults["SESSION_IDLE_MINUTES"] == 480 and defaults["SESSION_MAX_HOURS"] == 24
    monkeypatch.setenv("FORMLOOM_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("FORMLOOM_SESSION_MAX_HOURS", "8")
    assert settings_from_env()["SESSION_IDLE_MINUTES"] == 15
    assert settings_from_env()["SESSION_MAX_HOURS"] == 8


def test_a_session_without_a_login_time_is_not_accepted(app, as_agent):
    with as_agent.client.session_transaction() as session:
        del session["_started"]
    assert as_agent.get("/").status_code == 302


def _change_password(browser, **extra):
    return browser.post("/profile/password", {"current_password": PASSWORD, "new_password": "brand-new-pw",
                                              "confirm_password": "brand-new-pw", **extra})


def test_the_password_form_offers_to_revoke_tokens_ticked_by_default(as_agent):
    page = as_agent.get("/profile/").get_data(as_text=True)
    assert 'name="revoke_tokens" value="1" checked' in page


def test_a_password_change_revokes_the_api_tokens_when_asked(app, as_agent, people, token_for):
    secret = token_for(people.agent)
    other = token_for(people.other_agent)
    response = _change_password(as_agent, revoke_tokens="1")
    assert response.status_code == 303
    assert "tokens were revoked" in as_agent.get(response.headers["Location"]).get_data(as_text=True)
    assert Api(app.test_client(), secret).get("/api/v1/desk/case").status_code == 401
    assert Api(app.test_client(), other).get("/api/v1/desk/case").status_code == 200
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(api_tokens.c.revoked_at).where(api_tokens.c.user_id == people.agent)).scalar()


def test_a_password_change_keeps_the_tokens_when_unticked(app, as_agent, people, token_for):
    secret = token_for(people.agent)
    assert _change_password(as_agent).status_code == 303
    assert Api(app.test_client(), secret).get("/api/v1/desk/case").status_code == 200


@pytest.mark.parametrize("path", ["/profile/", "/apps/desk/case/"])
def test_the_session_survives_a_password_change_here(as_agent, path):
    assert _change_password(as_agent, revoke_tokens="1").status_code == 303
    assert as_agent.get(path).status_code == 200
