"""Rules-only workflows (no stages), set_field `on` a reference, "$now" values and
assign strategy none: what validation accepts, what it refuses, and how it compiles."""
from __future__ import annotations

import pytest

from formloom.definitions.compile import compile_app
from formloom.definitions.validate import validate_app, validate_workflow


def visit_log(rules: list, **extra) -> dict:
    return {"key": "visit_log", "entity": "visit", "rules": rules, **extra}


def check(app: dict, *workflows: dict) -> list:
    """Problems of the app and each workflow, as validate_paths would find them."""
    docs = {w["key"]: w for w in workflows}
    found = validate_app(app, docs, "app.json")
    for w in workflows:
        found += validate_workflow(w, app, f"{w['key']}.json")
    return found


@pytest.fixture
def app(make_app, make_field):
    doc = make_app(make_field("last_visit_at", "datetime"), make_field("last_visit_on", "date"))
    doc["entities"][1]["workflow"] = "visit_log"
    return doc


def touch(**action) -> dict:
    return {"key": "touch", "trigger": {"type": "record_created"},
            "actions": [{"type": "set_field", "on": "deal", "field": "last_visit_at", "value": "$now", **action}]}


@pytest.mark.parametrize("stages", [None, []])
def test_a_workflow_with_only_rules_is_valid_and_compiles_without_stages(app, make_workflow, stages):
    workflow = visit_log([touch()])
    if stages is not None:
        workflow["stages"] = stages
    assert check(app, make_workflow(), workflow) == []
    compiled = compile_app(app, {"deal_flow": make_workflow(), "visit_log": workflow})
    assert compiled.workflow_for("visit").stages == ()
    assert compiled.workflow_for("visit").first_stage is None
    assert compiled.workflow_for("visit").rules[0].actions[0]["on"] == "deal"


def test_a_workflow_without_stages_refuses_board_settings_and_stage_triggers(app, make_workflow):
    workflow = visit_log([{"key": "entered", "trigger": {"type": "stage_entered"},
                           "actions": [{"type": "notify", "to": ["owner"]}]},
                          {"key": "moved", "trigger": {"type": "record_created"},
                           "actions": [{"type": "move_stage", "stage": "done"}]}],
                         kanban={"card_fields": ["subject"]}, skip="allow")
    problems = {p.json_path: p.message for p in check(app, make_workflow(), workflow)}
    assert "no stages" in problems["$.kanban"] and "no stages" in problems["$.skip"]
    assert "would never fire" in problems["$.rules[0].trigger.type"]
    assert "'done'" in problems["$.rules[1].actions[0].stage"]


def test_set_field_on_checks_the_reference_and_the_target_field(app, make_workflow):
    cases = {
        "nope": ("$.rules[0].actions[0].on", "which entity 'visit' does not have"),
        "subject": ("$.rules[0].actions[0].on", "is a text field, not a reference field"),
    }
    for on, (path, words) in cases.items():
        problems = check(app, make_workflow(), visit_log([touch(on=on)]))
        assert [p.json_path for p in problems] == [path] and words in problems[0].message
    [problem] = check(app, make_workflow(), visit_log([touch(field="kind")]))
    assert problem.json_path == "$.rules[0].actions[0].field"
    assert "'kind'" in problem.message and "entity 'deal'" in problem.message   # a field of the target, not of visit


def test_set_field_on_checks_values_and_formulas_against_the_target(app, make_workflow):
    bad = [touch(field="amount", value="lots"), touch(field="close_date", value="$now"),
           touch(field="name", value="$now"), touch(field="last_visit_at", value="$today"),
           {**touch(), "actions": [{"type": "set_field", "on": "deal", "field": "amount", "formula": "amount + kind"}]}]
    for rule in bad:
        problems = check(app, make_workflow(), visit_log([rule]))
        action = rule["actions"][0]
        expected = [] if action.get("value") == "$now" and action["field"] == "close_date" else [1]
        assert len(problems) == len(expected), (action, [p.message for p in problems])
    [formula] = check(app, make_workflow(), visit_log([bad[-1]]))
    assert "'kind'" in formula.message
    assert check(app, make_workflow(), visit_log([touch(field="last_visit_on", value="$today")])) == []


def test_set_field_on_is_refused_by_the_schema_when_it_is_not_a_key(app, make_workflow):
    problems = check(app, make_workflow(), visit_log([touch(on="Deal!")]))
    assert {p.json_path for p in problems} == {"$.rules[0].actions[0].on"}
    assert "is not a valid key" in problems[0].message


def test_assign_none_needs_no_role_and_takes_none(make_app, make_workflow):
    def assign(**action):
        return make_workflow(rules=[{"key": "route", "trigger": {"type": "record_created"},
                                     "actions": [{"type": "assign", **action}]}])
    assert check(make_app(), assign(strategy="none")) == []
    [problem] = check(make_app(), assign(strategy="none", role="sales"))
    assert "takes no role" in problem.message
    [problem] = check(make_app(), assign(strategy="round_robin"))
    assert problem.message.endswith("is missing the required key 'role'.")
