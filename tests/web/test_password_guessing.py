"""Password guessing is slowed where it happens: spraying one password over many
accounts from one address, and guessing the current password with a borrowed session."""
from __future__ import annotations

from .conftest import PASSWORD, Browser


def _login(browser: Browser, email: str, password: str, address: str = "127.0.0.1"):
    token = browser.csrf_token("/login")
    return browser.client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                               environ_base={"REMOTE_ADDR": address})


def test_one_address_trying_many_emails_is_slowed(app, people):
    browser = Browser(app.test_client())
    statuses = [_login(browser, f"person{i}@example.com", "Summer2026!").status_code for i in range(20)]
    assert statuses == [422] * 20
    blocked = _login(browser, "person20@example.com", "Summer2026!")
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers and "Too many requests" in blocked.get_data(as_text=True)
    assert _login(browser, "agent@example.com", PASSWORD).status_code == 429      # this address waits
    assert _login(browser, "agent@example.com", PASSWORD, address="10.0.0.2").status_code == 302


def test_successful_logins_do_not_count_against_the_address(app, people):
    browser = Browser(app.test_client())
    for i in range(19):
        assert _login(browser, f"person{i}@example.com", "wrong-password").status_code == 422
    for email in ("agent@example.com", "admin@example.com", "viewer@example.com", "other@example.com"):
        assert _login(Browser(app.test_client()), email, PASSWORD).status_code == 302
    assert _login(browser, "person19@example.com", "wrong-password").status_code == 422
    assert _login(browser, "person20@example.com", "wrong-password").status_code == 429


def test_the_address_limit_is_configurable(app, people):
    app.config["LOGIN_ADDRESS_RATE_LIMIT"] = "3 per minute"
    browser = Browser(app.test_client())
    statuses = [_login(browser, f"p{i}@example.com", "wrong-password").status_code for i in range(4)]
    assert statuses == [422, 422, 422, 429]


def _change(browser: Browser, current: str):
    return browser.post("/profile/password", {"current_password": current, "new_password": "brand-new-pw",
                                              "confirm_password": "brand-new-pw"})


def test_guessing_the_current_password_on_the_profile_is_throttled(app, as_agent):
    for i in range(5):
        response = _change(as_agent, f"guess-{i}")
        assert response.status_code == 422 and "current password is not right" in response.get_data(as_text=True)
    blocked = _change(as_agent, PASSWORD)                      # even the right one waits now
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    colleague = Browser(app.test_client())
    colleague.login("other@example.com")
    assert _change(colleague, PASSWORD).status_code == 303     # another person is not affected


def test_other_refusals_of_the_password_form_are_not_counted_as_guesses(as_agent):
    for _ in range(6):
        response = as_agent.post("/profile/password", {"current_password": PASSWORD, "new_password": "short",
                                                       "confirm_password": "short"})
        assert response.status_code == 422
    assert _change(as_agent, PASSWORD).status_code == 303


def test_the_limits_come_from_the_environment(monkeypatch, database_url, tmp_path):
    from formloom.app import create_app
    monkeypatch.setenv("FORMLOOM_LOGIN_ADDRESS_RATE_LIMIT", "7 per minute")
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "s", "INSTANCE": str(tmp_path)})
    assert flask_app.config["LOGIN_ADDRESS_RATE_LIMIT"] == "7 per minute"
    assert flask_app.config["PASSWORD_CHECK_RATE_LIMIT"] == "5 per 15 minutes"
    flask_app.extensions["formloom.db"].dispose()
