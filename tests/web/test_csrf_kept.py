"""The signed CSRF token is signed once a session and kept in it (web/csrf_kept.py): later
pages show the same token, it is accepted, it goes with the session at logout and login, and
with a time limit configured tokens are signed per request again."""
from __future__ import annotations

from flask_wtf.csrf import generate_csrf

from formloom.web.csrf_kept import KEPT

from .conftest import _TOKEN

NEW_CASE = "/apps/desk/case/new"


def tokens(browser, path="/", n=3) -> list[str]:
    return [_TOKEN.search(browser.get(path).get_data(as_text=True)).group(1) for _ in range(n)]


def session_of(browser) -> dict:
    with browser.client.session_transaction() as sess:
        return dict(sess)


def test_pages_of_one_session_show_the_signature_the_session_keeps(as_agent):
    shown = tokens(as_agent)
    assert len(set(shown)) == 1
    kept = session_of(as_agent)[KEPT]
    assert kept == [session_of(as_agent)["csrf_token"], shown[0]]


def test_the_kept_token_is_accepted_and_a_wrong_one_is_not(as_agent):
    token = tokens(as_agent, n=2)[-1]
    assert as_agent.client.post(NEW_CASE, data={"subject": "Kept", "csrf_token": token}).status_code == 303
    assert as_agent.client.post(NEW_CASE, data={"subject": "Forged", "csrf_token": token[:-4] + "AAAA"}).status_code == 400


def test_the_kept_signature_signs_the_sessions_token(app, as_agent):
    token = tokens(as_agent, n=1)[0]
    raw = session_of(as_agent)["csrf_token"]
    with app.test_request_context("/"):
        from flask import session
        session["csrf_token"] = raw
        fresh = generate_csrf()
    # both signatures of the same token (their timestamps may differ): the same payload
    assert token.split(".")[0] == fresh.split(".")[0]


def test_a_signature_kept_for_another_token_is_not_handed_over(as_agent):
    first = tokens(as_agent, n=1)[0]
    with as_agent.client.session_transaction() as sess:
        sess["csrf_token"] = "0" * 40             # the session's token changed under the kept copy
    second = tokens(as_agent, n=1)[0]
    assert second != first
    assert session_of(as_agent)[KEPT] == ["0" * 40, second]
    assert as_agent.client.post(NEW_CASE, data={"subject": "New", "csrf_token": second}).status_code == 303
    assert as_agent.client.post(NEW_CASE, data={"subject": "Old", "csrf_token": first}).status_code == 400


def test_logout_and_login_start_from_a_new_token(browser):
    browser.login("agent@example.com")
    before = tokens(browser, n=1)[0]
    browser.logout()
    assert KEPT not in session_of(browser)
    browser.login("agent@example.com")
    after = tokens(browser, n=1)[0]
    assert after != before
    assert browser.client.post(NEW_CASE, data={"subject": "Old", "csrf_token": before}).status_code == 400


def test_with_a_time_limit_tokens_are_signed_per_request(app, as_agent, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 3600)
    with as_agent.client.session_transaction() as sess:
        sess.pop(KEPT, None)
    tokens(as_agent, n=2)
    assert KEPT not in session_of(as_agent)
