"""A retired option is kept on the records that hold it and shown there, but never offered
for a new value: the record validation (forms, API and import all run it), the form's
choices, the API's JSON Schema and the document checks agree on that."""
from __future__ import annotations

import copy

import pytest

from formloom.definitions.compile import compile_entity
from formloom.definitions.validate import validate_app
from formloom.fields import CleanContext
from formloom.forms import build_form_class
from formloom.record_data import clean_record_data
from formloom.record_schema import record_json_schema

from tests.web.desk import CASE_FLOW, desk_app


def _desk(retire=("low",), **priority) -> dict:
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    f = next(f for f in case["fields"] if f["key"] == "priority")
    for option in f["options"]:
        if option["value"] in retire:
            option["retired"] = True
    f.update(priority)
    case["fields"].append({"key": "labels", "type": "multiselect", "label": "Labels",
                           "options": ["red", {"value": "blue", "retired": True}, "green"]})
    return doc


@pytest.fixture
def case():
    doc = _desk()
    return compile_entity(next(e for e in doc["entities"] if e["key"] == "case"))


def _problems(entity, incoming, existing=None):
    _, problems = clean_record_data(entity, incoming, CleanContext(lang="en"), existing=existing)
    return {p.field: (p.code, p.message) for p in problems}


def test_a_new_record_cannot_choose_a_retired_option(case):
    found = _problems(case, {"subject": "S", "priority": "low", "labels": ["red", "blue"]})
    assert found["priority"][0] == "retired_option" and "Low is retired" in found["priority"][1]
    assert found["labels"][0] == "retired_option" and "blue" in found["labels"][1]
    assert _problems(case, {"subject": "S", "priority": "high", "labels": ["red"]}) == {}


def test_a_record_holding_a_retired_option_keeps_it_but_cannot_newly_choose_one(case):
    stored = {"subject": "S", "priority": "low", "labels": ["blue"]}
    assert _problems(case, {"priority": "low", "labels": ["blue", "red"]}, existing=stored) == {}
    assert _problems(case, {"priority": "high"}, existing={**stored, "priority": "high"}) == {}
    moved = _problems(case, {"priority": "low"}, existing={"subject": "S", "priority": "high"})
    assert moved["priority"][0] == "retired_option"


def test_the_refusal_names_the_option_in_the_readers_language(case):
    _, problems = clean_record_data(case, {"subject": "S", "priority": "low"}, CleanContext(lang="zh"))
    [problem] = problems
    assert problem.message.startswith("低")


def test_the_form_offers_retired_options_only_to_a_record_that_holds_them(case):
    form_class = build_form_class(case, "en")
    new = form_class()
    assert [c[0] if isinstance(c, tuple) else c.value for c in new.field_for("priority").choices] == ["", "high"]
    held = form_class.for_record({"priority": "low"})
    from formloom.fields import FIELD_TYPES
    FIELD_TYPES["select"].offer_held(case.field("priority"), held.field_for("priority"), "low", "en",
                                     marked=lambda text: f"{text} (retired)")
    labels = [c[1] if isinstance(c, tuple) else c.label for c in held.field_for("priority").choices]
    assert labels[-1] == "Low (retired)"


def test_the_api_schema_offers_them_for_updates_only(case):
    create = record_json_schema(case)["properties"]["priority"]["anyOf"][1]["enum"]
    update = record_json_schema(case, for_update=True)["properties"]["priority"]["anyOf"][1]["enum"]
    assert create == ["high"] and update == ["low", "high"]


def test_documents_say_retired_options_and_are_checked():
    flows = {"case_flow": copy.deepcopy(CASE_FLOW)}
    assert validate_app(_desk(), flows, "app.json") == []
    defaulted = validate_app(_desk(default="low"), flows, "app.json")
    assert any(p.json_path.endswith("fields[2].default") and "retired" in p.message for p in defaulted), defaulted
    nothing_left = validate_app(_desk(retire=("low", "high"), required=True), flows, "app.json")
    assert any(p.json_path.endswith("fields[2].options") and "Every option" in p.message for p in nothing_left)
