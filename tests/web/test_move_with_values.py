"""Moves that save values (issue 9, items 1 and 2), on the generic pipeline of
pipeline_app.py with two additions: a reason shown only in the Dropped stage and
required by its gate, and an approval checkbox that a Triage condition reads.

The gate dialog, the API and the move endpoint judge the values in the stage the
record enters; the dialog offers the fields a failing condition reads; "Edit the
record" from the board comes back to the board and finishes the move."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from formloom.app import create_app
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.store.tables import records

from .api_client import api_as, token_for  # noqa: F401
from .pipeline_app import pipeline_app, pipeline_flow

BOARD = "/apps/desk/case/board"
CASES = "/api/v1/desk/case"
IN_DROPPED = {"==": [{"var": "$stage"}, "dropped"]}


def moves_app() -> dict:
    doc = pipeline_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["fields"] += [
        {"key": "drop_reason", "type": "select", "label": {"en": "Drop reason", "zh": "放弃原因"},
         "options": ["price", "timing"], "visible_if": IN_DROPPED},
        {"key": "approved", "type": "checkbox", "label": {"en": "Approved", "zh": "已批准"}},
    ]
    return doc


def moves_flow() -> dict:
    flow = pipeline_flow()
    stages = {s["key"]: s for s in flow["stages"]}
    stages["dropped"]["gate"] = {"require": ["drop_reason"]}
    stages["triage"]["gate"]["conditions"] = [
        {"rule": {"and": [{"==": [{"var": "approved"}, True]}, {"!=": [{"var": "code"}, "x"]}]},
         "message": {"en": "Approval needed", "zh": "需要批准"}}]
    return flow


@pytest.fixture
def app(database_url, tmp_path):
    flask_app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 64_000,
    })
    install_documents(flask_app.extensions["formloom.db"], moves_app(), {"case_flow": moves_flow()})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def make(app, people):
    def create(data: dict, stage: str | None = None):
        desk, version_id = app.extensions["formloom.catalog"].get("desk")
        with app.extensions["formloom.db"].write() as conn:
            return create_record(conn, desk, desk.entity("case"), data, actor_id=people.agent,
                                 version_id=version_id, stage=stage)
    return create


def stored(app, record_id: int):
    with app.extensions["formloom.db"].read() as conn:
        return conn.execute(select(records).where(records.c.id == record_id)).one()


def move(browser, record_id: int, to: str, **data):
    return browser.client.post(f"/apps/desk/case/{record_id}/stage",
                               data={"to": to, "csrf_token": browser.csrf_token(BOARD), **data},
                               headers={"HX-Request": "true"})


def gate_form(html: str) -> str:
    match = re.search(r'<form[^>]*class="gate-form".*?</form>', html, re.S)
    return match.group(0) if match else ""


# -- 1. values judged in the target stage ---------------------------------------------------

def test_dialog_offers_a_field_shown_only_in_the_target_stage_and_saves_it(as_agent, make, app):
    case = make({"subject": "Going cold"})
    refused = move(as_agent, case.id, "dropped", view="board", version=case.version)
    assert refused.status_code == 422
    assert re.findall(r'name="fill" value="([^"]+)"', gate_form(refused.get_data(as_text=True))) == ["drop_reason"]
    answer = move(as_agent, case.id, "dropped", view="board", version=case.version, fill="drop_reason",
                  drop_reason="price", _record=case.id)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    row = stored(app, case.id)
    assert row.stage == "dropped" and row.data["drop_reason"] == "price"


def test_api_moves_with_data_in_one_commit(api_as, make, app):
    case = make({"subject": "Going cold"})
    api = api_as("agent")
    answer = api.post(f"{CASES}/{case.id}/stage", {"to": "dropped", "version": case.version,
                                                   "data": {"drop_reason": "timing"}})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["stage"] == "dropped" and body["data"]["drop_reason"] == "timing"
    assert body["version"] == case.version + 2          # the values, then the move


def test_api_move_with_bad_data_is_422_and_stores_nothing(api_as, make, app):
    case = make({"subject": "Going cold"})
    api = api_as("agent")
    answer = api.post(f"{CASES}/{case.id}/stage", {"to": "dropped", "version": case.version,
                                                   "data": {"drop_reason": "weather", "code": "A1", "nope": 1}})
    assert answer.status_code == 422
    errors = {(e["field"], e["code"]) for e in answer.get_json()["errors"]}
    assert errors == {("drop_reason", "invalid_choice"), ("code", "readonly"), ("nope", "unknown_field")}
    row = stored(app, case.id)
    assert row.stage == "new" and row.version == case.version and row.data.get("drop_reason") is None


def test_api_move_with_data_needs_the_version(api_as, make):
    case = make({"subject": "Going cold"})
    answer = api_as("agent").post(f"{CASES}/{case.id}/stage", {"to": "dropped", "data": {"drop_reason": "price"}})
    assert answer.status_code == 428


def test_api_move_without_the_value_lists_the_gate(api_as, make):
    case = make({"subject": "Going cold"})
    answer = api_as("agent").post(f"{CASES}/{case.id}/stage", {"to": "dropped", "version": case.version})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.get_json()["errors"]] == ["drop_reason"]


def test_openapi_documents_the_move_body(api_as):
    spec = api_as("agent").get("/api/v1/openapi.json").get_json()
    body = spec["paths"][f"{CASES}/{{id}}/stage"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"to", "version", "data", "override_reason"}
    assert "drop_reason" in body["properties"]["data"]["properties"]
    assert body["then"] == {"required": ["version"]}


# -- 2. the dialog offers the fields a failing condition reads ----------------------------

def test_dialog_offers_the_fields_a_failing_condition_reads(as_agent, make):
    case = make({"subject": "Needs approval"})
    html = move(as_agent, case.id, "triage", view="board", version=case.version).get_data(as_text=True)
    assert "Approval needed" in html
    form = gate_form(html)
    # the missing fields and the checkbox the condition reads; `code` (read-only for agents) is not offered
    assert re.findall(r'name="fill" value="([^"]+)"', form) == ["priority", "due", "approved"]
    assert 'id="field-approved"' in form and 'type="checkbox"' in form


def test_ticking_the_condition_field_in_the_dialog_moves(as_agent, make, app):
    case = make({"subject": "Needs approval"})
    answer = move(as_agent, case.id, "triage", view="board", version=case.version, _record=case.id,
                  fill=["priority", "due", "approved"], priority="high", due="2030-01-02", approved="y")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:3000]
    row = stored(app, case.id)
    assert row.stage == "triage" and row.data["approved"] is True


def test_a_condition_still_unmet_keeps_what_was_typed(as_agent, make, app):
    case = make({"subject": "Needs approval"})
    answer = move(as_agent, case.id, "triage", view="board", version=case.version, _record=case.id,
                  fill=["priority", "due", "approved"], priority="high", due="2030-01-02")
    assert answer.status_code == 422
    form = gate_form(answer.get_data(as_text=True))
    assert re.search(r'<option selected value="high">|<option value="high" selected', form), form
    assert 'value="2030-01-02"' in form
    assert stored(app, case.id).stage == "new"


def test_no_form_when_filling_fields_cannot_be_enough(as_agent, make):
    case = make({"subject": "Far", "budget": 5})
    html = move(as_agent, case.id, "working", view="board").get_data(as_text=True)
    assert 'class="gate-failure" data-code="related"' in html
    assert gate_form(html) == ""


# -- 2. "Edit the record" from the board finishes the move ---------------------------------

def follow_args(link: str) -> dict:
    return parse_qs(urlsplit(link).query)


def edit_link(html: str) -> str:
    match = re.search(r'<p class="gate-edit"><a class="button" href="([^"]+)"', html)
    assert match, "no Edit the record link"
    return match.group(1).replace("&amp;", "&")


def test_edit_the_record_from_the_board_comes_back_and_finishes_the_move(as_agent, make, app):
    case = make({"subject": "Far", "budget": 5}, stage="triage")
    make_task = app.extensions["formloom.catalog"].get("desk")
    html = move(as_agent, case.id, "working", view="board", board_query="priority=high").get_data(as_text=True)
    link = edit_link(html)
    assert follow_args(link) == {"then_move": ["working"], "next": ["/apps/desk/case/board?priority=high"]}
    page = as_agent.get(link).get_data(as_text=True)
    assert 'name="_then_move" value="working"' in page and "Save and move to Working" in page
    # the task the gate also wants, then the edit that meets the condition
    desk, version_id = make_task
    with app.extensions["formloom.db"].write() as conn:
        create_record(conn, desk, desk.entity("task"), {"summary": "Call", "case": case.id}, actor_id=None)
    token = as_agent.csrf_token(link)
    saved = as_agent.client.post(link, data={
        "csrf_token": token, "_version": str(stored(app, case.id).version), "_record": case.id,
        "_then_move": "working", "_next": "/apps/desk/case/board?priority=high",
        "subject": "Far", "priority": "high", "due": "2030-01-01", "budget": "150"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/apps/desk/case/board?priority=high")
    row = stored(app, case.id)
    assert row.stage == "working" and row.data["budget"] == "150.00"


def test_an_edit_that_still_fails_the_gate_shows_the_gate_again(as_agent, make, app):
    case = make({"subject": "Far", "budget": 5}, stage="triage")
    link = f"/apps/desk/case/{case.id}/edit?then_move=working&next=/apps/desk/case/board"
    token = as_agent.csrf_token(link)
    answer = as_agent.client.post(link, data={
        "csrf_token": token, "_version": str(case.version), "_record": case.id, "_then_move": "working",
        "_next": "/apps/desk/case/board", "subject": "Far again", "budget": "50"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<dialog" in html and "Budget must be at least 100" in html
    assert follow_args(edit_link(html))["next"] == ["/apps/desk/case/board"]     # and again back to the board
    row = stored(app, case.id)
    assert row.data["subject"] == "Far again" and row.stage == "triage"     # the edit itself was saved


@pytest.mark.parametrize("query", ["then_move=nowhere&next=/apps/desk/case/board",
                                   "then_move=working&next=https://evil.example.com/",
                                   "then_move=working&next=//evil.example.com/x"])
def test_edit_follow_up_arguments_are_checked(as_agent, make, app, query):
    case = make({"subject": "Far", "budget": 5}, stage="triage")
    page = as_agent.get(f"/apps/desk/case/{case.id}/edit?{query}").get_data(as_text=True)
    assert 'name="_next"' not in page and 'href="https://evil' not in page and 'href="//evil' not in page
    if "nowhere" in query:
        assert "_then_move" not in page


def test_the_gate_shown_after_an_edit_returns_to_the_board_once_filled(as_agent, make, app):
    case = make({"subject": "Half done"})
    link = f"/apps/desk/case/{case.id}/edit?then_move=triage&next=/apps/desk/case/board"
    token = as_agent.csrf_token(link)
    page = as_agent.client.post(link, data={
        "csrf_token": token, "_version": str(case.version), "_record": case.id, "_then_move": "triage",
        "_next": "/apps/desk/case/board", "subject": "Half done", "priority": "high"})
    assert page.status_code == 422
    form = gate_form(page.get_data(as_text=True))
    assert 'name="next" value="/apps/desk/case/board"' in form
    assert re.findall(r'name="fill" value="([^"]+)"', form) == ["due", "approved"]
    answer = move(as_agent, case.id, "triage", view="record", version=stored(app, case.id).version,
                  next="/apps/desk/case/board", fill=["due", "approved"], due="2030-03-04", approved="y",
                  _record=case.id)
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == "/apps/desk/case/board"
    assert stored(app, case.id).stage == "triage"
