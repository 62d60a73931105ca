"""CSRF, table-driven in the manner of Django's own tests: every state-changing
request from a session needs the token (in the form or in a header); an htmx
header is not a token; a foreign or null Origin is refused even with a token;
only Bearer-token API calls are exempt."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formloom.store.tables import records

from .api_client import Api, token_for  # noqa: F401



NEW_CASE = "/apps/desk/case/new"
API_CASES = "/api/v1/desk/case"


def count(app) -> int:
    with app.extensions["formloom.db"].read() as conn:
        return conn.execute(select(func.count()).select_from(records)).scalar_one()


# (name, how the token is sent, extra headers, expected status)
CASES = [
    ("no token", None, {}, 400),
    ("wrong token in the form", "form-wrong", {}, 400),
    ("wrong token in the header", "header-wrong", {}, 400),
    ("htmx header alone is not a token", None, {"HX-Request": "true"}, 400),
    ("token in the form", "form", {}, 303),
    ("token in the X-CSRFToken header", "header", {}, 303),
    ("token in the form, same origin", "form", {"Origin": "http://localhost"}, 303),
    ("token in the form, foreign origin", "form", {"Origin": "https://evil.example"}, 400),
    ("token in the form, null origin", "form", {"Origin": "null"}, 400),
    ("token in the header, foreign origin", "header", {"Origin": "http://localhost.evil.example"}, 400),
]


@pytest.mark.parametrize("name,how,headers,status", CASES, ids=[c[0] for c in CASES])
def test_web_form_posts(app, as_agent, name, how, headers, status):
    token = as_agent.csrf_token("/")
    data = {"subject": "Via form"}
    headers = dict(headers)
    if how == "form":
        data["csrf_token"] = token
    elif how == "form-wrong":
        data["csrf_token"] = token[:-4] + "AAAA"
    elif how == "header":
        headers["X-CSRFToken"] = token
    elif how == "header-wrong":
        headers["X-CSRFToken"] = "not-the-token"
    before = count(app)
    response = as_agent.client.post(NEW_CASE, data=data, headers=headers)
    assert response.status_code == status, name
    assert count(app) == before + (1 if status == 303 else 0)


API_CASES_TABLE = [
    ("session cookie alone", None, {}, 400),
    ("session with htmx header only", None, {"HX-Request": "true"}, 400),
    ("session with a wrong header token", "wrong", {}, 400),
    ("session with the header token", "header", {}, 201),
    ("session with the token, foreign origin", "header", {"Origin": "https://evil.example"}, 400),
]


@pytest.mark.parametrize("name,how,headers,status", API_CASES_TABLE, ids=[c[0] for c in API_CASES_TABLE])
def test_api_writes_from_a_session_need_the_csrf_token(app, as_agent, name, how, headers, status):
    headers = dict(headers)
    if how == "header":
        headers["X-CSRFToken"] = as_agent.csrf_token("/")
    elif how == "wrong":
        headers["X-CSRFToken"] = "nope"
    before = count(app)
    response = as_agent.client.post(API_CASES, json={"data": {"subject": "Via API"}}, headers=headers)
    assert response.status_code == status, (name, response.get_json())
    assert count(app) == before + (1 if status == 201 else 0)


def test_api_reads_from_a_session_need_no_token(as_agent):
    assert as_agent.client.get(API_CASES).status_code == 200


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
def test_bearer_token_api_calls_are_exempt(app, people, token_for, origin):
    api = Api(app.test_client(), token_for(people.agent))
    headers = {"Origin": origin} if origin else {}
    assert api.post(API_CASES, {"data": {"subject": "Token"}}, headers=headers).status_code == 201


def test_a_bad_bearer_token_does_not_fall_back_to_the_session(app, as_agent):
    token = as_agent.csrf_token("/")
    response = as_agent.client.post(API_CASES, json={"data": {"subject": "x"}},
                                    headers={"Authorization": "Bearer forged", "X-CSRFToken": token})
    assert response.status_code == 401


@pytest.mark.parametrize("path,data", [
    ("/logout", {}), ("/language", {"lang": "zh"}), ("/profile/", {"language": "zh", "timezone": ""}),
    ("/profile/tokens", {"name": "x"}), ("/profile/password", {"current_password": "correct-horse-9",
                                                               "new_password": "another-pass-1",
                                                               "confirm_password": "another-pass-1"}),
])
def test_account_forms_need_the_token(as_agent, path, data):
    assert as_agent.client.post(path, data=data).status_code == 400
    assert as_agent.client.post(path, data=data, headers={"HX-Request": "true"}).status_code == 400
