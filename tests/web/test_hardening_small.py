"""Smaller hardening (issue 10, items 7 and 8): duplicate JSON keys, hidden-field
filters, the Host header, non-finite numbers in filters and HSTS."""
from __future__ import annotations

import re

import pytest

from formloom.app import create_app

from .api_client import api_as, token_for  # noqa: F401  (fixtures)
from .test_notifications import notify  # noqa: F401  (fixture)


# -- 7. duplicate JSON keys ---------------------------------------------------------------

def _raw(api, method, path, text):
    return getattr(api.client, method)(path, data=text, headers=api.headers({"Content-Type": "application/json"}))


@pytest.mark.parametrize("text, key", [
    ('{"data": {"subject": "a", "subject": "b"}}', "subject"),
    ('{"data": {"subject": "a"}, "data": {"subject": "b"}}', "data"),
    ('{"data": {"subject": "a", "company": {"x": 1, "x": 2}}}', "x"),
])
def test_a_create_with_a_duplicate_key_at_any_level_is_400_naming_the_key(api_as, text, key):
    api = api_as("agent")
    answer = _raw(api, "post", "/api/v1/desk/case", text)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert f"'{key}'" in error["message"] and "more than once" in error["message"]
    assert api.get("/api/v1/desk/case").get_json()["items"] == []     # nothing stored


def test_the_duplicate_key_refusal_speaks_the_callers_language(api_as):
    answer = _raw(api_as("agent", lang="zh"), "post", "/api/v1/desk/case", '{"data": {"a": 1, "a": 2}}')
    assert answer.status_code == 400 and "出现了不止一次" in answer.get_json()["error"]["message"]


def test_a_patch_with_a_duplicate_key_is_400(api_as, make_record):
    case = make_record("case", {"subject": "Printer"})
    answer = _raw(api_as("agent"), "patch", f"/api/v1/desk/case/{case.id}",
                  '{"data": {"subject": "a"}, "version": 1, "version": 2}')
    assert answer.status_code == 400 and "'version'" in answer.get_json()["error"]["message"]


# -- 8. smaller items ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/apps/desk/case/", "/apps/desk/case/board"])
def test_a_filter_on_a_hidden_field_answers_like_an_unknown_field(browser, path):
    browser.login("viewer@example.com")
    hidden = browser.get(f"{path}?notes__contains=x")
    unknown = browser.get(f"{path}?nosuchfield__contains=x")
    assert hidden.status_code == unknown.status_code == 400
    page = hidden.get_data(as_text=True)
    assert "内部备注" not in page and "Internal notes" not in page
    def same(text, key):           # the CSRF token (signed with a timestamp) differs per answer
        return re.sub(r"[\w.-]{40,}", "TOKEN", text.replace(key, "FIELD"))
    assert same(page, "notes") == same(unknown.get_data(as_text=True), "nosuchfield")


def test_the_host_header_never_reaches_notification_links(app, browser, people, notify, token_for, make_record):
    case = make_record("case", {"subject": "Printer"})
    notify(people.agent, "Yours", case)
    headers = {"Authorization": f"Bearer {token_for(people.agent)}", "Host": "evil.example"}
    [item] = browser.client.get("/api/v1/notifications", headers=headers).get_json()["data"]
    assert "evil.example" not in item["url"] and item["url"] == f"/apps/desk/case/{case.id}"
    app.config["FORMLOOM_BASE_URL"] = "https://crm.example.com"
    [item] = browser.client.get("/api/v1/notifications", headers=headers).get_json()["data"]
    assert item["url"] == f"https://crm.example.com/apps/desk/case/{case.id}"


def test_trusted_hosts_come_from_the_environment(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("FORMLOOM_TRUSTED_HOSTS", "crm.example.com, localhost")
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path))
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    try:
        assert flask_app.config["TRUSTED_HOSTS"] == ["crm.example.com", "localhost"]
        client = flask_app.test_client()
        assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/login", headers={"Host": "crm.example.com"}).status_code == 200
    finally:
        flask_app.extensions["formloom.db"].dispose()


@pytest.mark.parametrize("value", ["1e999", "-1e999", "1E400"])
def test_a_non_finite_number_in_a_filter_is_400(as_agent, api_as, value):
    assert as_agent.get(f"/apps/desk/case/?budget__gte={value}").status_code == 400
    answer = api_as("agent").get(f"/api/v1/desk/case?budget__gte={value}")
    assert answer.status_code == 400 and "budget" in answer.get_json()["error"]["message"].lower()


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_non_finite_number_in_a_body_is_400(api_as, number):
    answer = _raw(api_as("agent"), "post", "/api/v1/desk/case", f'{{"data": {{"subject": "x", "budget": {number}}}}}')
    assert answer.status_code == 400 and number in answer.get_json()["error"]["message"]


def test_hsts_only_with_secure_cookies(app, browser):
    assert "Strict-Transport-Security" not in browser.get("/login").headers
    app.config["SESSION_COOKIE_SECURE"] = True
    assert browser.get("/login").headers["Strict-Transport-Security"].startswith("max-age=31536000")
