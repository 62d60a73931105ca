"""A retired option through the JSON API and the import: refused for new values with the
`retired_option` code, accepted unchanged on a record that holds it; the OpenAPI document
lists the rule and offers the option for updates only."""
from __future__ import annotations

import copy

import pytest

from formloom.store.install import install_documents

from .api_client import api_as, token_for  # noqa: F401
from .desk import CASE_FLOW, desk_app

CASES = "/api/v1/desk/case"


@pytest.fixture
def retired(app):
    """The desk app with its `low` priority retired (a record holding it was made before)."""
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    next(f for f in case["fields"] if f["key"] == "priority")["options"][0]["retired"] = True
    doc["version"] = 2
    return doc


def _retire(app, doc):
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})


def test_the_api_refuses_a_retired_option_for_new_values_and_keeps_it_on_old_records(
        app, retired, api_as, make_record):
    old = make_record("case", {"subject": "Old", "priority": "low"})
    _retire(app, retired)
    api = api_as("agent")
    refused = api.post(CASES, {"data": {"subject": "New", "priority": "low"}})
    assert refused.status_code == 422
    [error] = refused.get_json()["errors"]
    assert error["code"] == "retired_option" and error["field"] == "priority"
    kept = api.patch(f"{CASES}/{old.id}", {"data": {"subject": "Old, edited", "priority": "low"}},
                     headers={"If-Match": '"1"'})
    assert kept.status_code == 200, kept.get_json()
    assert kept.get_json()["data"]["priority"] == "low"
    other = make_record("case", {"subject": "Other", "priority": "high"})
    moved = api.patch(f"{CASES}/{other.id}", {"data": {"priority": "low"}}, headers={"If-Match": '"1"'})
    assert moved.status_code == 422


def test_the_openapi_document_offers_a_retired_option_for_updates_only(app, retired, api_as):
    _retire(app, retired)
    doc = api_as("agent").get("/api/v1/openapi.json").get_json()
    text = str(doc)
    assert "retired_option" in text
    schemas = doc["components"]["schemas"]
    create = next(v for k, v in schemas.items() if "case" in k.lower() and "create" in k.lower())
    update = next(v for k, v in schemas.items() if "case" in k.lower() and "update" in k.lower())
    priority = {which: str(s["properties"]["data"]["properties"]["priority"]) for which, s in
                (("create", create), ("update", update))}
    assert "'low'" not in priority["create"] and "'high'" in priority["create"] and "'low'" in priority["update"]
