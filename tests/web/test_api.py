"""The JSON API contract: authentication, list/create/get/patch/delete/restore,
stage moves, validation errors, sizes and bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from formloom.store.tables import records, users

from .api_client import Api, api_as, token_for  # noqa: F401



CASES = "/api/v1/desk/case"
RECORD_KEYS = {"id", "version", "stage", "owner", "data", "created_at", "updated_at"}


def test_healthz_answers_ok(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


# -- authentication -------------------------------------------------------------------

def test_no_token_is_401_with_a_challenge(app, people):
    response = Api(app.test_client(), None).get(CASES)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer flm_forged", "Bearer ", "Basic YWdlbnQ6cHc=", "flm_x", "Bearer a b"])
def test_forged_or_malformed_tokens_are_401(app, people, header):
    response = app.test_client().get(CASES, headers={"Authorization": header})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_a_revoked_token_is_401(app, people, token_for):
    from formloom.auth.tokens import list_tokens, revoke_token
    secret = token_for(people.agent)
    api = Api(app.test_client(), secret)
    assert api.get(CASES).status_code == 200
    with app.extensions["formloom.db"].write() as conn:
        revoke_token(conn, people.agent, list_tokens(conn, people.agent)[0].id)
    assert api.get(CASES).status_code == 401


def test_an_expired_token_is_401(app, people, token_for):
    secret = token_for(people.agent)
    app.config["API_TOKEN_MAX_AGE_DAYS"] = 30
    api = Api(app.test_client(), secret)
    assert api.get(CASES).status_code == 200
    from datetime import datetime, timedelta, timezone
    from formloom.store.tables import api_tokens
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(api_tokens).values(created_at=datetime.now(timezone.utc) - timedelta(days=31)))
    assert api.get(CASES).status_code == 401


def test_a_deactivated_user_is_refused_on_the_next_request(app, people, api_as):
    api = api_as("agent")
    assert api.get(CASES).status_code == 200
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == people.agent).values(active=False))
    assert api.get(CASES).status_code == 401


def test_changed_roles_apply_on_the_next_request(app, people, api_as):
    from formloom.store.tables import memberships
    from sqlalchemy import delete
    api = api_as("agent")
    assert api.get(CASES).status_code == 200
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(delete(memberships).where(memberships.c.user_id == people.agent))
    assert api.get(CASES).status_code == 404


def test_token_requests_set_no_session_cookie(api_as):
    response = api_as("agent").get(CASES)
    assert "Set-Cookie" not in response.headers


# -- create / read / list ----------------------------------------------------------------

def test_create_answers_201_with_the_record(api_as, people):
    response = api_as("agent").post(CASES, {"data": {"subject": "Printer on fire", "priority": "high",
                                                     "budget": "12.50", "due": "2026-03-01"}})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == RECORD_KEYS
    assert body["stage"] == "open" and body["owner"] == people.agent and body["version"] == 1
    assert body["data"]["subject"] == "Printer on fire" and body["data"]["priority"] == "high"
    assert response.headers["ETag"] == '"1"'


def test_get_one_and_list(api_as, make_record):
    mine = make_record("case", {"subject": "Mine"})
    api = api_as("agent")
    one = api.get(f"{CASES}/{mine.id}")
    assert one.status_code == 200 and one.get_json()["data"]["subject"] == "Mine"
    listed = api.get(CASES).get_json()
    assert [r["id"] for r in listed["items"]] == [mine.id]
    assert listed["limit"] == 50 and listed["offset"] == 0 and listed["has_more"] is False


def test_list_pages_sorts_filters_and_searches(api_as, make_record):
    for i, (subject, budget) in enumerate([("Alpha", "10"), ("Beta", "20"), ("Gamma", "30"), ("Delta", "40")]):
        make_record("case", {"subject": subject, "budget": budget, "priority": "high" if i % 2 else "low"})
    api = api_as("agent")
    page = api.get(f"{CASES}?sort=budget&limit=2").get_json()
    assert [r["data"]["subject"] for r in page["items"]] == ["Alpha", "Beta"] and page["next_offset"] == 2
    page2 = api.get(f"{CASES}?sort=budget&limit=2&offset=2").get_json()
    assert [r["data"]["subject"] for r in page2["items"]] == ["Gamma", "Delta"] and page2["has_more"] is False
    desc = api.get(f"{CASES}?sort=-budget&budget__gte=20").get_json()
    assert [r["data"]["subject"] for r in desc["items"]] == ["Delta", "Gamma", "Beta"]
    assert [r["data"]["subject"] for r in api.get(f"{CASES}?priority=high&sort=subject").get_json()["items"]] \
        == ["Beta", "Delta"]
    assert [r["data"]["subject"] for r in api.get(f"{CASES}?q=amm").get_json()["items"]] == ["Gamma"]
    assert len(api.get(f"{CASES}?priority__in=low,high").get_json()["items"]) == 4


@pytest.mark.parametrize("query", [
    "limit=0", "limit=501", "limit=100000000000000000000", "limit=abc", "offset=-1", "sort=nope",
    "sort=budget;DROP TABLE records", "nope=1", "budget__regex=1", "budget__gte=abc", "due=2026-13-45",
    "budget=NaN", "subject=%00", "owner=99999999999999999999999", "sort=-",
])
def test_bad_list_parameters_are_400_with_a_message(api_as, query):
    response = api_as("agent").get(f"{CASES}?{query}")
    assert response.status_code == 400, (query, response.get_json())
    assert response.get_json()["error"]["message"]


@pytest.mark.parametrize("query", ["budget__gte=1e999", "budget=-0", "due__lt=0001-01-01", "limit=500",
                                   "offset=10000000", "escalated=maybe", "company=1.5"])
def test_odd_list_parameters_are_never_a_server_error(api_as, query):
    assert api_as("agent").get(f"{CASES}?{query}").status_code < 500


@pytest.mark.parametrize("value", ["' OR 1=1 --", "\"; DROP TABLE records; --", "%", "_", "\\", "😀", "ä" * 300])
def test_sql_looking_or_odd_filter_values_are_just_values(api_as, make_record, value):
    make_record("case", {"subject": "Plain"})
    api = api_as("agent")
    for query in ({"subject": value}, {"subject__contains": value}, {"q": value}):
        response = api.get(CASES, query_string=query)
        assert response.status_code == 200 and response.get_json()["items"] == []


def test_unknown_app_entity_or_record_is_404(api_as, make_record):
    api = api_as("agent")
    for path in ("/api/v1/nope/case", "/api/v1/desk/nope", f"{CASES}/999999", f"{CASES}/99999999999999999999999",
                 "/api/v1/DESK/case", "/api/v1/desk/case/1/nope"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"


def test_unicode_and_xss_values_round_trip_unchanged_as_json(api_as):
    subject = "<script>alert(1)</script> 客户 \u200b😀"
    response = api_as("agent").post(CASES, {"data": {"subject": subject}})
    assert response.status_code == 201
    assert response.get_json()["data"]["subject"] == subject
    assert response.mimetype == "application/json"


# -- validation -----------------------------------------------------------------------

def test_every_problem_is_listed_with_field_path_code_and_message(api_as):
    response = api_as("agent").post(CASES, {"data": {"subject": "x" * 41, "budget": "-5", "due": "tomorrow",
                                                     "priority": "urgent", "nope": 1}})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {e["field"] for e in errors} == {"subject", "budget", "due", "priority", "nope"}
    for e in errors:
        assert set(e) == {"field", "path", "code", "message"} and e["path"] == f"/{e['field']}" and e["message"]
    assert next(e for e in errors if e["field"] == "nope")["code"] == "unknown_field"


def test_messages_follow_accept_language_then_the_users_language(api_as):
    in_zh = api_as("agent", lang="zh-CN").post(CASES, {"data": {}})
    assert in_zh.status_code == 422
    assert in_zh.get_json()["errors"][0]["message"] == "此项为必填项。"
    in_en = api_as("agent").post(CASES, {"data": {}})
    assert in_en.get_json()["errors"][0]["message"] == "This field is required."
    viewer_is_zh = api_as("viewer").get(f"{CASES}/12345")
    assert viewer_is_zh.status_code == 404
    assert viewer_is_zh.get_json()["error"]["message"] != "There is no such record."


def test_required_fields_missing_is_422_and_nothing_is_stored(app, api_as):
    response = api_as("agent").post(CASES, {"data": {"priority": "low"}})
    assert response.status_code == 422
    assert [e["code"] for e in response.get_json()["errors"]] == ["required"]
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records.c.id)).all() == []


@pytest.mark.parametrize("body,status", [
    (b"not json", 400), (b"[1, 2]", 400), (b'{"data": NaN}', 400), (b'{"data": [1]}', 422),
    (b'{"data": {}, "owner": 1}', 400), (b'{"data": {"subject": "a\\u0000b"}}', 400),
    (b'{"data": {"subject": "\\ud800"}}', 400), (b"[" * 5000 + b"]" * 5000, 400),
])
def test_bad_bodies_are_4xx_never_500(api_as, body, status):
    api = api_as("agent")
    response = api.client.post(CASES, data=body, headers=api.headers({"Content-Type": "application/json"}))
    assert response.status_code == status, response.get_json()


def test_a_body_that_is_not_json_is_415(api_as):
    api = api_as("agent")
    response = api.client.post(CASES, data="subject=x", headers=api.headers(
        {"Content-Type": "application/x-www-form-urlencoded"}))
    assert response.status_code == 415


def test_a_body_over_the_size_limit_is_413_json(api_as):
    response = api_as("agent").post(CASES, {"data": {"subject": "x" * 70_000}})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


# -- patch / delete / restore --------------------------------------------------------------

def test_patch_with_the_current_version_changes_the_record(api_as, make_record):
    case = make_record("case", {"subject": "Old"})
    response = api_as("agent").patch(f"{CASES}/{case.id}", {"version": 1, "data": {"subject": "New"}})
    assert response.status_code == 200
    assert response.get_json()["data"]["subject"] == "New" and response.get_json()["version"] == 2


def test_patch_with_if_match_works_and_a_stale_version_is_409(api_as, make_record):
    case = make_record("case", {"subject": "Old"})
    api = api_as("agent")
    assert api.patch(f"{CASES}/{case.id}", {"data": {"subject": "A"}}, headers={"If-Match": '"1"'}).status_code == 200
    stale = api.patch(f"{CASES}/{case.id}", {"data": {"subject": "B"}}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.get_json()["current_version"] == 2
    assert api.get(f"{CASES}/{case.id}").get_json()["data"]["subject"] == "A"


def test_patch_without_a_version_is_428(api_as, make_record):
    case = make_record("case", {"subject": "Old"})
    response = api_as("agent").patch(f"{CASES}/{case.id}", {"data": {"subject": "New"}})
    assert response.status_code == 428


def test_delete_is_soft_and_an_admin_restores(app, api_as, make_record):
    case = make_record("case", {"subject": "Going"})
    admin = api_as("admin")
    assert api_as("agent").delete(f"{CASES}/{case.id}").status_code == 403     # agents have no delete right
    assert admin.delete(f"{CASES}/{case.id}").status_code == 204
    assert admin.get(f"{CASES}/{case.id}").status_code == 404
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records.c.deleted_at).where(records.c.id == case.id)).scalar() is not None
    assert api_as("agent").post(f"{CASES}/{case.id}/restore").status_code == 403
    restored = admin.post(f"{CASES}/{case.id}/restore")
    assert restored.status_code == 200 and restored.get_json()["data"]["subject"] == "Going"
    assert admin.get(f"{CASES}/{case.id}").status_code == 200


def test_a_value_for_a_hidden_field_must_still_be_of_its_type(api_as, make_record):
    """`reason` shows only when `escalated`: a value sent while it is hidden is not stored,
    but the document publishes its type, so a value of another type is refused (422), on
    create, on patch and with a stage move alike, and nothing is stored."""
    api = api_as("agent")
    wrong = {"reason": [None, None]}
    created = api.post(CASES, {"data": {"subject": "Quiet", **wrong}})
    assert created.status_code == 422
    assert [(p["field"], p["code"]) for p in created.get_json()["errors"]] == [("reason", "invalid_type")]
    case = make_record("case", {"subject": "Quiet"})
    patched = api.patch(f"{CASES}/{case.id}", {"version": 1, "data": wrong})
    assert patched.status_code == 422 and patched.get_json()["errors"][0]["field"] == "reason"
    moved = api.post(f"{CASES}/{case.id}/stage", {"to": "closed", "version": 1, "data": wrong})
    assert moved.status_code == 422 and moved.get_json()["errors"][0]["field"] == "reason"
    assert api.get(f"{CASES}/{case.id}").get_json()["version"] == 1
    kept_out = api.patch(f"{CASES}/{case.id}", {"version": 1, "data": {"reason": "fits its type"}})
    assert kept_out.status_code == 200 and kept_out.get_json()["data"]["reason"] in (None, "")


# -- stage moves -----------------------------------------------------------------------

def test_stage_move_answers_the_moved_record(api_as, make_record):
    case = make_record("case", {"subject": "Done soon"})
    response = api_as("agent").post(f"{CASES}/{case.id}/stage", {"to": "closed", "version": 1})
    assert response.status_code == 200 and response.get_json()["stage"] == "closed"


def test_stage_move_errors(api_as, make_record, people):
    case = make_record("case", {"subject": "Moving"})
    api = api_as("agent")
    assert api.post(f"{CASES}/{case.id}/stage", {"to": "nowhere"}).status_code == 400
    assert api.post(f"{CASES}/{case.id}/stage", {"to": "closed", "version": 7}).status_code == 409
    assert api.post(f"{CASES}/{case.id}/stage", {}).status_code == 400
    assert api.post(f"{CASES}/424242/stage", {"to": "closed"}).status_code == 404
    others = make_record("case", {"subject": "Not mine"}, actor=people.other_agent)
    assert api.post(f"{CASES}/{others.id}/stage", {"to": "closed"}).status_code == 404
    assert api_as("viewer").post(f"{CASES}/{case.id}/stage", {"to": "closed"}).status_code == 403
    assert api.post("/api/v1/desk/company/1/stage", {"to": "closed"}).status_code in (400, 404)


def test_a_blocked_gate_answers_422_with_every_failure(app, api_as, make_record):
    from formloom.store.install import install_documents
    from .desk import CASE_FLOW, desk_app
    flow = {**CASE_FLOW, "stages": [CASE_FLOW["stages"][0],
                                    {"key": "closed", "label": "Closed", "gate": {"require": ["due", "budget"]}}]}
    install_documents(app.extensions["formloom.db"], desk_app(), {"case_flow": flow})
    case = make_record("case", {"subject": "Gated"})
    response = api_as("agent").post(f"{CASES}/{case.id}/stage", {"to": "closed"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {e["field"] for e in errors} == {"due", "budget"} and all(e["code"] == "required" for e in errors)
