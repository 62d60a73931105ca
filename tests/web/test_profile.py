"""The profile page: language, timezone, password change, API tokens."""
from __future__ import annotations

import re

import pytest

from formloom.auth.tokens import hash_secret
from formloom.store.tables import api_tokens
from sqlalchemy import select

from .api_client import Api
from .conftest import PASSWORD, Browser



def test_the_profile_needs_a_login(browser):
    assert browser.get("/profile/").status_code == 302


def test_the_profile_page_shows_the_settings(as_agent):
    page = as_agent.get("/profile/").get_data(as_text=True)
    assert "agent@example.com" in page and 'name="timezone"' in page and "Asia/Shanghai" in page


def test_language_and_timezone_are_saved(as_agent, people, actor_of):
    response = as_agent.post("/profile/", {"language": "zh", "timezone": "Europe/Berlin"})
    assert response.status_code == 303
    saved = actor_of(people.agent)
    assert saved.language == "zh" and saved.timezone == "Europe/Berlin"
    assert "退出登录" in as_agent.get("/profile/").get_data(as_text=True)


@pytest.mark.parametrize("data", [{"language": "xx", "timezone": ""}, {"language": "en", "timezone": "Mars/Olympus"},
                                  {"language": "en", "timezone": "<script>x</script>"}])
def test_bad_settings_are_refused(as_agent, people, actor_of, data):
    response = as_agent.post("/profile/", data)
    assert response.status_code == 422
    assert "<script>x" not in response.get_data(as_text=True)
    assert actor_of(people.agent).timezone is None


def test_password_change_needs_the_current_password(app, as_agent):
    response = as_agent.post("/profile/password", {"current_password": "wrong-one-1", "new_password": "brand-new-pw",
                                                   "confirm_password": "brand-new-pw"})
    assert response.status_code == 422 and "current password is not right" in response.get_data(as_text=True)
    assert Browser(app.test_client()).login("agent@example.com", "brand-new-pw").status_code == 422


@pytest.mark.parametrize("new,confirm,message", [("short", "short", "at least 8"),
                                                 ("long-enough-1", "long-enough-2", "do not match")])
def test_bad_new_passwords_are_refused(as_agent, new, confirm, message):
    response = as_agent.post("/profile/password", {"current_password": PASSWORD, "new_password": new,
                                                   "confirm_password": confirm})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_password_change_ends_other_sessions_but_keeps_this_one(app, as_agent):
    elsewhere = Browser(app.test_client())
    elsewhere.login("agent@example.com")
    assert elsewhere.get("/").status_code == 200
    response = as_agent.post("/profile/password", {"current_password": PASSWORD, "new_password": "brand-new-pw",
                                                   "confirm_password": "brand-new-pw"})
    assert response.status_code == 303
    assert as_agent.get("/profile/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert Browser(app.test_client()).login("agent@example.com", "brand-new-pw").status_code == 302


def test_a_token_is_shown_once_and_works(app, as_agent):
    response = as_agent.post("/profile/tokens", {"name": "laptop <b>script</b>"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    assert "<b>script</b>" not in page and "&lt;b&gt;script&lt;/b&gt;" in page
    assert secret not in as_agent.get("/profile/").get_data(as_text=True)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(api_tokens.c.token_hash)).scalar_one() == hash_secret(secret)
    assert Api(app.test_client(), secret).get("/api/v1/desk/case").status_code == 200


def test_a_token_needs_a_name(as_agent):
    assert as_agent.post("/profile/tokens", {"name": " "}).status_code == 422


def test_revoking_a_token_stops_it(app, as_agent):
    page = as_agent.post("/profile/tokens", {"name": "ci"}).get_data(as_text=True)
    secret = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    token_id = re.search(r"/profile/tokens/(\d+)/revoke", page).group(1)
    assert as_agent.post(f"/profile/tokens/{token_id}/revoke").status_code == 303
    assert Api(app.test_client(), secret).get("/api/v1/desk/case").status_code == 401
    assert "Revoked" in as_agent.get("/profile/").get_data(as_text=True)


def test_one_cannot_revoke_someone_elses_token(app, as_agent, people, token_for):
    secret = token_for(people.other_agent)
    with app.extensions["formloom.db"].read() as conn:
        other_id = conn.execute(select(api_tokens.c.id)).scalar_one()
    assert as_agent.post(f"/profile/tokens/{other_id}/revoke").status_code == 404
    assert as_agent.post("/profile/tokens/99999999999999999999/revoke").status_code == 404
    assert Api(app.test_client(), secret).get("/api/v1/desk/case").status_code == 200


@pytest.fixture
def token_for(app):
    from formloom.auth.tokens import create_token

    def make(user_id):
        with app.extensions["formloom.db"].write() as conn:
            return create_token(conn, user_id, "t")[1]
    return make
