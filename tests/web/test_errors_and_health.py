"""One error shape for people and programs; nothing leaks a traceback."""
from __future__ import annotations

import pytest


def test_healthz_answers_ok_when_the_database_answers(browser):
    response = browser.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(app, browser, monkeypatch):
    db = app.extensions["formloom.db"]

    def broken():
        raise RuntimeError("database is down")
    monkeypatch.setattr(db, "read", broken)
    response = browser.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] != "ok"


def test_unknown_page_is_a_friendly_404(as_agent):
    response = as_agent.get("/no/such/page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "This page does not exist." in body
    assert "Traceback" not in body


def test_api_paths_answer_json_errors(as_agent):
    response = as_agent.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "This page does not exist.",
                                              "hint": "Check the address, or start again from the home page."}}


def test_clients_that_ask_for_json_get_json_errors(as_agent):
    response = as_agent.get("/apps/nope/", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_method_not_allowed_is_a_405_page(as_agent):
    response = as_agent.client.delete("/apps/desk/case/")
    assert response.status_code == 405
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_too_large_body_is_refused_with_413(as_agent):
    token = as_agent.csrf_token("/")
    response = as_agent.client.post("/apps/desk/case/new", data={"csrf_token": token, "subject": "x" * 100_000})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_500_page_without_a_traceback(app, people):
    def boom():
        raise ValueError("secret internals")
    app.add_url_rule("/boom", "boom", boom)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "Something went wrong on our side." in body


@pytest.mark.parametrize("path", ["/healthz", "/login"])
def test_pages_carry_security_headers(browser, path):
    response = browser.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if response.mimetype == "text/html":
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_static_files_are_served(browser):
    for path, status in [("/static/js/formloom.js", 200), ("/static/vendor/htmx/htmx-2.0.11.min.js", 200),
                         ("/static/css/formloom.css", 200), ("/static/../pyproject.toml", 404)]:
        response = browser.get(path)
        assert response.status_code == status, path
        response.close()
