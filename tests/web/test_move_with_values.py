"""Moves that save values (issue 9, items 1 and 2), on the generic pipeline of
pipeline_app.py with two additions: a reason shown only in the Dropped stage and
required by its gate, and an approval checkbox that a Triage condition reads.

The gate dialog, the API and the move endpoint judge the values in the stage the
record enters; the dialog offers the fields a failing condition reads; "Edit the
record" from the board comes back to the board and finishes the move."""
from __future__ import annotations

import re

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
