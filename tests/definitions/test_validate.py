"""Validating documents: every problem, where it is, in a sentence people understand."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formloom import patterns, resources
from formloom.definitions.problems import Problem
from formloom.definitions.validate import CROSS_CHECKS, validate_app, validate_paths, validate_workflow


def at(problems: list[Problem], path: str) -> list[str]:
    """The messages reported at one JSON path."""
    return [p.message for p in problems if p.json_path == path]


def test_the_minimal_documents_are_valid(make_app, problems_of):
    assert problems_of(make_app()) == []


def test_cross_checks_are_small_generators_for_one_kind_each():
    assert all(check.kind in ("app", "workflow") for check in CROSS_CHECKS)
    assert len({check.__name__ for check in CROSS_CHECKS}) == len(CROSS_CHECKS)


# --- the meta-schema, translated ------------------------------------------------------

def test_unknown_key_is_refused_listing_the_allowed_keys(make_app, problems_of):
    [message] = at(problems_of(make_app(colour="red")), "$.colour")
    assert message.startswith("The app has an unknown key 'colour' (allowed here: admin_role,")


def test_unknown_key_suggests_the_close_one(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("memo", requird=True))), "$.entities[0].fields[5].requird")
    assert "(did you mean 'required'?)" in message


def test_a_key_of_another_field_type_is_refused_naming_the_type(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("memo", "text", min=3))), "$.entities[0].fields[5].min")
    assert message.startswith("Field 'memo' has the key 'min', which a field of type 'text' cannot have")


def test_unknown_field_type_is_refused_listing_the_known_types(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("memo", "richtext"))), "$.entities[0].fields[5].type")
    assert message.startswith("'richtext' is not a known field type")
    assert "textarea" in message and "subtable" in message


def test_missing_required_key_is_named(make_app, problems_of):
    app = make_app()
    del app["timezone"]
    assert at(problems_of(app), "$") == ["The app is missing the required key 'timezone'."]


def test_type_specific_required_key_is_named(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("account", "reference"))), "$.entities[0].fields[5]")
    assert message == "Field 'account' is missing the required key 'entity'."


def test_wrong_json_type_is_explained_in_words(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("memo", max_length="long"))),
                   "$.entities[0].fields[5].max_length")
    assert message == "The 'max_length' of field 'memo' must be a whole number, not text."


def test_empty_field_list_is_refused(make_app, problems_of):
    app = make_app()
    app["entities"][1]["fields"] = []
    assert at(problems_of(app), "$.entities[1].fields") == [
        "The 'fields' of entity 'visit' must have at least 1 entry."]


@pytest.mark.parametrize("key", ["$stage", "_secret"])
def test_keys_starting_with_dollar_or_underscore_are_reserved(make_app, make_field, problems_of, key):
    [message] = at(problems_of(make_app(make_field(key))), "$.entities[0].fields[5].key")
    assert "reserved for the engine" in message


def test_key_with_capitals_is_refused_with_a_suggestion(make_app, make_field, problems_of):
    messages = at(problems_of(make_app(make_field("Deal Size"))), "$.entities[0].fields[5].key")
    assert any("not a valid key" in m and "'deal_size'" in m for m in messages)


def test_subtable_columns_cannot_be_formulas(make_app, make_field, problems_of):
    lines = make_field("lines", "subtable", columns=[make_field("qty", "number"),
                                                     make_field("total", "formula", formula="1")])
    [message] = at(problems_of(make_app(lines)), "$.entities[0].fields[5].columns[1].type")
    assert "cannot be used for a subtable column" in message


def test_at_must_be_a_time_of_day(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "date_field", "field": "close_date", "at": "9am"})
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.at")
    assert "HH:MM" in message


# --- keys are unique and not reserved ---------------------------------------------------

def test_field_keys_are_unique_per_entity(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("amount"))), "$.entities[0].fields[5].key")
    assert message.startswith("Field key 'amount' is used twice in entity 'deal'")


def test_field_keys_equal_except_case_are_refused(make_app, make_field, problems_of):
    messages = at(problems_of(make_app(make_field("Amount", "money"))), "$.entities[0].fields[5].key")
    assert "Field keys 'amount' and 'Amount' in entity 'deal' differ only in upper/lower case; " \
           "use clearly different keys." in messages


def test_subtable_column_keys_are_unique(make_app, make_field, problems_of):
    lines = make_field("lines", "subtable", columns=[make_field("qty", "number"), make_field("qty", "text")])
    assert at(problems_of(make_app(lines)), "$.entities[0].fields[5].columns[1].key")


def test_entity_keys_are_unique(make_app, problems_of):
    app = make_app()
    app["entities"][1]["key"] = "deal"
    assert any("Entity key 'deal' is used twice" in m for m in at(problems_of(app), "$.entities[1].key"))


def test_option_values_are_unique(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("tier", "select", options=["a", {"value": "a"}]))),
                   "$.entities[0].fields[5].options[1]")
    assert "lists the option 'a' twice" in message


def test_stage_and_rule_keys_are_unique(make_app, make_workflow, make_rule, problems_of):
    workflow = make_workflow(rules=[make_rule(), make_rule()])
    workflow["stages"][1]["key"] = "new"
    problems = problems_of(make_app(), workflow)
    assert at(problems, "$.stages[1].key") == ["Stage key 'new' is used twice (stages 1 and 2)."]
    assert at(problems, "$.rules[1].key") == ["Rule key 'remind' is used twice (rules 1 and 2)."]


@pytest.mark.parametrize("key", ["id", "stage", "owner", "created_at", "version", "title"])
def test_reserved_field_keys_are_refused(make_app, make_field, problems_of, key):
    [message] = at(problems_of(make_app(make_field(key))), "$.entities[0].fields[5].key")
    assert f"{key!r} is a reserved name" in message


# --- every reference resolves --------------------------------------------------------------

def test_title_field_must_exist(make_app, problems_of):
    app = make_app()
    app["entities"][0]["title"] = "nmae"
    assert at(problems_of(app), "$.entities[0].title") == [
        "The title field 'nmae' is not a field of entity 'deal' (did you mean 'name'?)."]


def test_reference_target_entity_must_exist(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("account", "reference", entity="acount"))),
                   "$.entities[0].fields[5].entity")
    assert message == "Field 'account' refers to the entity 'acount', which this app does not have."


def test_list_columns_must_be_fields(make_app, problems_of):
    app = make_app()
    app["entities"][0]["list_columns"] = ["name", "amout"]
    [message] = at(problems_of(app), "$.entities[0].list_columns[1]")
    assert "'amout' is not a field of entity 'deal' (did you mean 'amount'?)" in message


def test_workflow_named_by_an_entity_must_exist(make_app):
    problems = validate_app(make_app(), {}, "app.json")
    [message] = at(problems, "$.entities[0].workflow")
    assert message.startswith("Entity 'deal' uses the workflow 'deal_flow', but no workflow document")


def test_workflow_entity_must_exist(make_app, make_workflow, problems_of):
    [message] = at(problems_of(make_app(), make_workflow(entity="dael")), "$.entity")
    assert message.startswith("The workflow is for the entity 'dael' (did you mean 'deal'?)")


def test_workflow_entity_must_name_the_workflow(make_app, make_workflow):
    problems = validate_workflow(make_workflow(entity="visit"), make_app(), "workflow.json")
    assert at(problems, "$.entity") == [
        "Entity 'visit' does not name this workflow ('deal_flow') in its 'workflow' key, "
        "so the workflow would never be used."]


@pytest.mark.parametrize("which", ["required", "readonly", "hidden"])
def test_stage_field_lists_name_existing_fields(make_app, make_workflow, problems_of, which):
    workflow = make_workflow()
    workflow["stages"][1][which] = ["amount", "budget"]
    [message] = at(problems_of(make_app(), workflow), f"$.stages[1].{which}[1]")
    assert "'budget'" in message and "entity 'deal' does not have" in message


def test_gate_requires_existing_fields(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {"require": ["budget"]}
    assert at(problems_of(make_app(), workflow), "$.stages[1].gate.require[0]") == [
        "Stage 'proposal' requires the field 'budget', which entity 'deal' does not have."]


def test_stage_from_names_existing_stages(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][2]["from"] = ["proposl"]
    [message] = at(problems_of(make_app(), workflow), "$.stages[2].from[0]")
    assert "the stage 'proposl' (did you mean 'proposal'?)" in message


def test_related_gate_entity_must_exist(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {"related": [{"entity": "vist", "via": "deal"}]}
    [message] = at(problems_of(make_app(), workflow), "$.stages[1].gate.related[0].entity")
    assert "the entity 'vist' (did you mean 'visit'?)" in message


def test_related_gate_via_must_be_a_field_of_the_related_entity(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {"related": [{"entity": "visit", "via": "opportunity"}]}
    [message] = at(problems_of(make_app(), workflow), "$.stages[1].gate.related[0].via")
    assert "the field 'opportunity'" in message and "entity 'visit' does not have" in message


def test_related_gate_via_must_refer_to_the_workflow_entity(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {"related": [{"entity": "visit", "via": "kind"}]}
    [message] = at(problems_of(make_app(), workflow), "$.stages[1].gate.related[0].via")
    assert "visit.kind, which must be a reference field pointing at 'deal'" in message


def test_related_gate_where_is_checked_against_the_related_entity(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {"related": [
        {"entity": "visit", "via": "deal", "where": {"and": [{"==": [{"var": "kind"}, "visit"]},
                                                            {">": [{"var": "amount"}, 0]}]}}]}
    [message] = at(problems_of(make_app(), workflow), "$.stages[1].gate.related[0].where")
    assert "refers to 'amount', which is not a field here" in message


def test_date_field_trigger_needs_a_date_field(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "date_field", "field": "name", "offset": "-P3D", "at": "09:00"})
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.field")
    assert "'name', which is a text field; it must be a date or datetime field" in message


def test_field_changed_trigger_names_an_existing_field(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "field_changed", "field": "amont"})
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.field")
    assert "the field 'amont' (did you mean 'amount'?)" in message


def test_record_updated_trigger_names_existing_fields(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "record_updated", "fields": ["amount", "budget"]})
    assert at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.fields[1]")


@pytest.mark.parametrize("trigger", [
    {"type": "stage_entered", "stage": "negotiation"},
    {"type": "stage_left", "stage": "negotiation"},
    {"type": "stage_idle", "stage": "negotiation", "after": "PT48H"},
])
def test_trigger_stage_must_exist(make_app, make_workflow, make_rule, problems_of, trigger):
    [message] = at(problems_of(make_app(), make_workflow(rules=[make_rule(trigger)])), "$.rules[0].trigger.stage")
    assert "the stage 'negotiation'" in message


def test_no_related_trigger_via_must_point_back(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "no_related", "entity": "visit", "via": "subject", "for": "P7D"})
    assert at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.via")


def test_move_stage_action_names_an_existing_stage(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "move_stage", "stage": "wn"}])
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].actions[0].stage")
    assert "the stage 'wn' (did you mean 'won'?)" in message


def test_set_field_action_names_a_settable_field_and_a_valid_value(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "set_field", "field": "reason", "value": "weather"},
                              {"type": "set_field", "field": "budget", "value": 1}])
    problems = problems_of(make_app(), make_workflow(rules=[rule]))
    assert "which is not one of its options (price, timing)" in at(problems, "$.rules[0].actions[0].value")[0]
    assert at(problems, "$.rules[0].actions[1].field")


def test_create_record_action_names_an_entity_and_its_fields(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "create_record", "entity": "visit",
                               "values": {"subject": "Call {{ record.name }}", "deal": "{{ record.id }}",
                                          "kind": "call", "mood": "good"}},
                              {"type": "create_record", "entity": "task", "values": {}}])
    problems = problems_of(make_app(), make_workflow(rules=[rule]))
    assert [p.json_path for p in problems] == ["$.rules[0].actions[0].values.mood", "$.rules[0].actions[1].entity"]


def test_create_record_action_must_fill_required_fields(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "create_record", "entity": "visit", "values": {"kind": "call"}}])
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].actions[0].values")
    assert "without its required field 'subject'" in message


def test_create_record_action_is_not_asked_for_what_it_fills_in_itself(make_app, make_workflow, make_rule,
                                                                      make_field, problems_of):
    """The reference back to the firing record and, with `due_in`, the due date are filled
    by the action (automation/actions.py), so leaving them out of `values` is right."""
    app = make_app()
    visit = next(e for e in app["entities"] if e["key"] == "visit")
    next(f for f in visit["fields"] if f["key"] == "deal")["required"] = True
    visit["fields"].append(make_field("due", "date", required=True))
    visit["fields"].append(make_field("rep", "user", required=True))
    rule = make_rule(actions=[{"type": "create_record", "entity": "visit", "due_in": "P2D",
                               "values": {"subject": "Call back"}}])
    [message] = at(problems_of(app, make_workflow(rules=[rule])), "$.rules[0].actions[0].values")
    assert "without its required field 'rep'" in message        # the one the action cannot know
    rule["actions"][0]["values"]["rep"] = "{{ record.owner }}"
    rule["actions"][0].pop("due_in")
    [message] = at(problems_of(app, make_workflow(rules=[rule])), "$.rules[0].actions[0].values")
    assert "without its required field 'due'" in message         # no due_in: nothing fills it


def test_roles_must_be_declared_everywhere_they_are_named(make_app, make_field, make_workflow, make_rule, problems_of):
    app = make_app(make_field("margin", "percent", hidden_for=["intern"]))
    app["entities"][0]["permissions"]["boss"] = {"read": "all"}
    workflow = make_workflow(reopen_roles=["ceo"], rules=[make_rule(actions=[
        {"type": "notify", "to": ["role:director"]}, {"type": "assign", "strategy": "round_robin", "role": "rep"}])])
    workflow["stages"][2]["gate"] = {"roles": ["vp"]}
    paths = [p.json_path for p in problems_of(app, workflow)]
    assert paths == ["$.entities[0].fields[5].hidden_for[0]", "$.entities[0].permissions.boss",
                     "$.reopen_roles[0]", "$.rules[0].actions[0].to[0]", "$.rules[0].actions[1].role",
                     "$.stages[2].gate.roles[0]"]


def test_role_labels_name_declared_roles_only(make_app, problems_of):
    app = make_app(role_labels={"admin": {"en": "Boss", "zh": "老板"}, "ghost": "Ghost"})
    problems = problems_of(app)
    assert [p.json_path for p in problems] == ["$.role_labels.ghost"]
    assert "the role 'ghost'" in problems[0].message


def test_admin_role_must_be_a_role(make_app, problems_of):
    assert at(problems_of(make_app(admin_role="root")), "$.admin_role")


def test_field_recipient_must_be_a_user_field(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "email", "to": ["field:rep", "field:name"]}])
    problems = problems_of(make_app(), make_workflow(rules=[rule]))
    assert [p.json_path for p in problems] == ["$.rules[0].actions[0].to[1]"]


def test_kanban_sums_a_number_field_and_shows_existing_fields(make_app, make_workflow, problems_of):
    workflow = make_workflow(kanban={"sum": "name", "card_fields": ["amount", "stage_name"]})
    problems = problems_of(make_app(), workflow)
    assert [p.json_path for p in problems] == ["$.kanban.card_fields[1]", "$.kanban.sum"]


# --- conditions and formulas -----------------------------------------------------------

def test_unknown_variable_in_a_condition_is_reported(make_app, make_field, problems_of):
    app = make_app(make_field("notes", "textarea", visible_if={"==": [{"var": "reasn"}, "price"]}))
    [message] = at(problems_of(app), "$.entities[0].fields[5].visible_if")
    assert message == ("The condition 'visible_if' of field 'notes' refers to 'reasn', which is not a field here "
                       "(did you mean 'reason'?).")


def test_special_variables_are_known_in_conditions(make_app, make_field, problems_of):
    app = make_app(make_field("notes", "textarea", visible_if={"and": [
        {"==": [{"var": "$stage"}, "lost"]}, {"!": {"var": "$terminal"}}, {"<": [{"var": "$today"}, "2030-01-01"]}]}))
    assert problems_of(app) == []


def test_operators_outside_the_allowed_list_are_refused(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(condition={"method": [{"var": "name"}, "upper"]})
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].condition")
    assert "uses the operator 'method', which is not allowed" in message


def test_gate_conditions_use_known_fields(make_app, make_workflow, problems_of):
    workflow = make_workflow()
    workflow["stages"][2]["gate"] = {"conditions": [{"rule": {">=": [{"var": "score"}, 60]}, "message": "Score!"}]}
    [message] = at(problems_of(make_app(), workflow), "$.stages[2].gate.conditions[0].rule")
    assert "refers to 'score'" in message


def test_required_if_is_checked_too(make_app, make_field, problems_of):
    app = make_app(make_field("notes", "textarea", required_if={"var": "nope"}))
    assert at(problems_of(app), "$.entities[0].fields[5].required_if")


def test_formula_may_not_call_import(make_app, make_field, problems_of):
    app = make_app(make_field("score", "formula", formula="__import__('os').system('true')"))
    [message] = at(problems_of(app), "$.entities[0].fields[5].formula")
    assert message.startswith("The formula of field 'score' ")


def test_formula_must_name_known_fields(make_app, make_field, problems_of):
    app = make_app(make_field("weighted", "formula", formula="amount * probablity"))
    [message] = at(problems_of(app), "$.entities[0].fields[5].formula")
    assert message == "The formula of field 'weighted' uses 'probablity', which is not a field of this entity."


def test_formula_cycles_are_reported(make_app, make_field, problems_of):
    app = make_app(make_field("a", "formula", formula="b + 1"), make_field("b", "formula", formula="c * 2"),
                   make_field("c", "formula", formula="a - amount"))
    [message] = at(problems_of(app), "$.entities[0].fields[5].formula")
    assert message == ("Formula fields depend on each other in a circle (a -> b -> c -> a), "
                       "so none of them can be computed.")


def test_formula_over_a_subtable_column_must_name_a_column(make_app, make_field, problems_of):
    lines = make_field("lines", "subtable", columns=[make_field("qty", "number")])
    app = make_app(lines, make_field("total", "formula", formula="sum(lines.qty) + sum(lines.price)"))
    [message] = at(problems_of(app), "$.entities[0].fields[6].formula")
    assert "subtable 'lines' has no column 'price'" in message


# --- settings that must make sense ----------------------------------------------------

def test_min_greater_than_max_is_refused(make_app, make_field, problems_of):
    app = make_app(make_field("seats", "number", min=100, max=10))
    assert at(problems_of(app), "$.entities[0].fields[5].min") == [
        "Field 'seats' has min 100 greater than max 10."]


def test_date_min_after_date_max_is_refused(make_app, make_field, problems_of):
    app = make_app(make_field("start", "date", min="2026-12-01", max="2026-01-01"))
    assert at(problems_of(app), "$.entities[0].fields[5].min") == [
        "Field 'start' has min 2026-12-01 greater than max 2026-01-01."]


def test_date_bounds_must_be_real_dates(make_app, make_field, problems_of):
    app = make_app(make_field("start", "date", min="2026-02-30"))
    assert at(problems_of(app), "$.entities[0].fields[5].min")


def test_percent_min_above_default_max_is_refused(make_app, make_field, problems_of):
    assert at(problems_of(make_app(make_field("share", "percent", min=150))), "$.entities[0].fields[5].min")


def test_subtable_min_rows_above_max_rows_is_refused(make_app, make_field, problems_of):
    lines = make_field("lines", "subtable", columns=[make_field("qty", "number")], min_rows=3, max_rows=1)
    assert at(problems_of(make_app(lines)), "$.entities[0].fields[5].min_rows")


@pytest.mark.parametrize(("field", "fragment"), [
    ({"key": "tier", "type": "select", "options": ["a", "b"], "default": "c"}, "is 'c', which is not one of its options"),
    ({"key": "seats", "type": "number", "default": 1.5}, "must be a whole number"),
    ({"key": "seats", "type": "number", "min": 0, "default": -1}, "below the field's min of 0"),
    ({"key": "flag", "type": "checkbox", "default": "yes"}, "must be true or false"),
    ({"key": "when", "type": "date", "default": "tomorrow"}, "not a date written YYYY-MM-DD"),
    ({"key": "code", "type": "text", "max_length": 3, "default": "ABCD"}, "longer than the field's max_length of 3"),
    ({"key": "tags", "type": "multiselect", "options": ["a"], "default": ["a", "z"]}, "lists 'z'"),
    ({"key": "stars", "type": "rating", "default": 6}, "from 0 to 5"),
])
def test_default_must_be_valid_for_the_type(make_app, problems_of, field, fragment):
    field["label"] = field["key"]
    [message] = at(problems_of(make_app(field)), "$.entities[0].fields[5].default")
    assert message.startswith(f"The default of field {field['key']!r} ") and fragment in message


def test_valid_defaults_are_accepted(make_app, make_field, problems_of):
    app = make_app(make_field("tier", "select", options=["a"], default="a"),
                   make_field("fee", "money", default="12.50"), make_field("flag", "checkbox", default=False),
                   make_field("when", "date", default="2026-11-23"), make_field("seats", "number", default=3))
    assert problems_of(app) == []


def test_bad_timezone_is_refused(make_app, problems_of):
    assert at(problems_of(make_app(timezone="Asia/Shangai")), "$.timezone") == [
        "'Asia/Shangai' is not a known time zone; use an IANA name such as 'Asia/Shanghai' or 'Europe/Berlin'."]


def test_timezone_that_looks_like_a_path_is_refused(make_app, problems_of):
    assert at(problems_of(make_app(timezone="../../etc/passwd")), "$.timezone")


def test_bad_duration_is_refused(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule({"type": "stage_idle", "stage": "proposal", "after": "48 hours"})
    [message] = at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.after")
    assert "is not an ISO 8601 duration" in message


def test_negative_duration_is_only_allowed_as_an_offset(make_app, make_workflow, make_rule, problems_of):
    rules = [make_rule({"type": "date_field", "field": "close_date", "offset": "-P3D", "at": "09:00"}, key="a"),
             make_rule({"type": "stage_idle", "stage": "proposal", "after": "-PT48H"}, key="b")]
    problems = problems_of(make_app(), make_workflow(rules=rules))
    assert [p.json_path for p in problems] == ["$.rules[1].trigger.after"]


def test_rot_after_and_repeat_are_durations(make_app, make_workflow, make_rule, problems_of):
    workflow = make_workflow(rules=[make_rule(repeat={"every": "P1W2"})])
    workflow["stages"][1]["rot_after"] = "P0D"
    paths = [p.json_path for p in problems_of(make_app(), workflow)]
    assert paths == ["$.rules[0].repeat.every", "$.stages[1].rot_after"]


@pytest.mark.parametrize("cron", ["0 9 * *", "0 9 * * * *", "60 9 * * *", "0 9 * * fri-mon/x"])
def test_cron_must_have_five_valid_fields(make_app, make_workflow, make_rule, problems_of, cron):
    rule = make_rule({"type": "schedule", "cron": cron})
    assert at(problems_of(make_app(), make_workflow(rules=[rule])), "$.rules[0].trigger.cron")


def test_common_cron_lines_are_accepted(make_app, make_workflow, make_rule, problems_of):
    rules = [make_rule({"type": "schedule", "cron": c}, key=f"r{i}")
             for i, c in enumerate(["0 9 * * 1-5", "*/15 * * * *", "30 8 1,15 * mon", "0 0 1 jan *"])]
    assert problems_of(make_app(), make_workflow(rules=rules)) == []


def test_catastrophic_regex_is_accepted_because_re2_is_linear(make_app, make_field, problems_of):
    assert problems_of(make_app(make_field("code", pattern="(a+)+$"))) == []
    compiled = patterns.compile_pattern("(a+)+$")
    assert type(compiled).__module__.split(".")[0] == "re2"      # the linear-time engine, not backtracking `re`
    assert compiled.fullmatch("a" * 50_000 + "!") is None and compiled.fullmatch("a" * 50_000)


def test_regex_with_a_backreference_is_refused(make_app, make_field, problems_of):
    [message] = at(problems_of(make_app(make_field("code", pattern=r"(a)\1"))), "$.entities[0].fields[5].pattern")
    assert message.startswith("The pattern of field 'code' is not a valid pattern")


def test_template_syntax_error_in_a_message_is_refused(make_app, make_workflow, make_rule, problems_of):
    rule = make_rule(actions=[{"type": "notify", "to": ["owner"],
                               "message": {"en": "Deal {{ record.name", "zh": "商机 {{ record.name }}"}}])
    problems = problems_of(make_app(), make_workflow(rules=[rule]))
    assert [p.json_path for p in problems] == ["$.rules[0].actions[0].message.en"]
    assert problems[0].message.startswith("The message of action 1 of rule 'remind' has a syntax error")


def test_template_like_text_in_a_label_is_just_text(make_app, make_field, problems_of):
    app = make_app(make_field("memo", label={"en": "{{7*7}} <script>alert(1)</script>", "zh": "{% if %}"}))
    assert problems_of(app) == []


def test_auto_number_format_needs_a_sequence_and_known_parts(make_app, make_field, problems_of):
    app = make_app(make_field("number", "auto_number", format="OPP-{YYYY}-{id}"))
    messages = at(problems_of(app), "$.entities[0].fields[5].format")
    assert len(messages) == 2
    assert any("uses {id}, which is not a known part" in m for m in messages)
    assert any("has no {seq:N} part" in m for m in messages)


# --- schema problems do not hide, or crash, the meaning checks -------------------------------

def test_meaning_checks_still_run_beside_schema_problems(make_app, make_field, problems_of):
    app = make_app(make_field("memo", "text", min=1), colour="red")
    app["entities"][0]["title"] = "nmae"
    paths = [p.json_path for p in problems_of(app)]
    assert paths == ["$.colour", "$.entities[0].fields[5].min", "$.entities[0].title"]


def test_a_badly_shaped_document_is_reported_not_crashed_on(make_app, make_workflow, problems_of):
    app = make_app(entities=[{"key": "deal", "fields": {"name": 1}, "workflow": ["x"], "title": 7}])
    workflow = make_workflow(stages={"a": 1}, rules=[{"trigger": "soon", "actions": "all"}])
    problems = problems_of(app, workflow)
    assert problems and all(isinstance(p, Problem) for p in problems)


def test_a_workflow_alone_is_checked_for_what_it_says_about_itself(make_workflow, make_rule):
    rule = make_rule({"type": "stage_idle", "stage": "proposl", "after": "PT48H"})
    problems = validate_workflow(make_workflow(rules=[rule]), None, "workflow.json")
    assert [p.json_path for p in problems] == ["$.rules[0].trigger.stage"]


# --- validate_paths ----------------------------------------------------------------------

def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_validate_paths_accepts_a_template_folder_and_finds_its_workflows(tmp_path, make_app, make_workflow):
    write(tmp_path / "crm" / "app.json", make_app())
    write(tmp_path / "crm" / "workflows" / "deal_flow.json", make_workflow())
    assert validate_paths([tmp_path / "crm"], search_dirs=[]) == []


def test_validate_paths_looks_in_the_search_dirs_when_the_app_folder_has_none(tmp_path, make_app, make_workflow):
    write(tmp_path / "crm" / "app.json", make_app())
    write(tmp_path / "shared" / "deal_flow.json", make_workflow(skip="never"))
    problems = validate_paths([tmp_path / "crm" / "app.json"], search_dirs=[tmp_path / "shared"])
    assert [(p.source, p.json_path) for p in problems] == [(str(tmp_path / "shared" / "deal_flow.json"), "$.skip")]


def test_validate_paths_prefers_the_app_folder_over_the_search_dirs(tmp_path, make_app, make_workflow):
    write(tmp_path / "crm" / "app.json", make_app())
    write(tmp_path / "crm" / "workflows" / "deal_flow.json", make_workflow())
    write(tmp_path / "shared" / "deal_flow.json", make_workflow(skip="never"))
    assert validate_paths([tmp_path / "crm"], search_dirs=[tmp_path / "shared"]) == []


def test_validate_paths_reports_a_workflow_that_cannot_be_found(tmp_path, make_app):
    write(tmp_path / "crm" / "app.json", make_app())
    [problem] = validate_paths([tmp_path / "crm"], search_dirs=[tmp_path])
    assert problem.json_path == "$.entities[0].workflow"


def test_validate_paths_checks_a_given_workflow_against_the_given_app(tmp_path, make_app, make_workflow):
    app = write(tmp_path / "crm" / "app.json", make_app())
    write(tmp_path / "crm" / "workflows" / "deal_flow.json", make_workflow())
    given = write(tmp_path / "elsewhere" / "deal_flow.json", make_workflow(stages=[
        {"key": "new", "label": "New", "gate": {"require": ["budget"]}}]))
    problems = validate_paths([app, given], search_dirs=[])
    assert [(p.source, p.json_path) for p in problems] == [(str(given), "$.stages[0].gate.require[0]")]


def test_validate_paths_reports_all_problems_of_all_documents(tmp_path, make_app, make_field, make_workflow):
    app = make_app(make_field("Seats", "number", min=5, max=1), timezone="Mars/Base")
    write(tmp_path / "crm" / "app.json", app)
    write(tmp_path / "crm" / "workflows" / "deal_flow.json", make_workflow(skip="never", reopen_roles=["ceo"]))
    broken = tmp_path / "broken.json"
    broken.write_text('{"key": "x",, }')
    problems = validate_paths([tmp_path / "crm", broken], search_dirs=[])
    assert [(Path(p.source).name, p.json_path) for p in problems] == [
        ("broken.json", "$"),
        ("app.json", "$.entities[0].fields[5].key"),
        ("app.json", "$.entities[0].fields[5].min"),
        ("app.json", "$.timezone"),
        ("deal_flow.json", "$.reopen_roles[0]"),
        ("deal_flow.json", "$.skip"),
    ]


def test_validate_paths_sorts_by_source_then_path_in_number_order(tmp_path, make_app, make_field):
    fields = [make_field(f"f{i}", "number", min=2, max=1) for i in range(12)]
    write(tmp_path / "a" / "app.json", make_app(*fields, entities=make_app(*fields)["entities"]))
    write(tmp_path / "a" / "workflows" / "deal_flow.json", {"key": "deal_flow", "entity": "deal",
                                                              "stages": [{"key": "s", "label": "S"}]})
    paths = [p.json_path for p in validate_paths([tmp_path / "a"], search_dirs=[])]
    assert paths == [f"$.entities[0].fields[{i}].min" for i in range(5, 17)]


def test_validate_paths_reports_a_folder_without_an_app(tmp_path):
    [problem] = validate_paths([tmp_path], search_dirs=[])
    assert "no app.json" in problem.message


def test_validate_paths_reports_a_workflow_whose_key_does_not_match_its_file(tmp_path, make_app, make_workflow):
    write(tmp_path / "crm" / "app.json", make_app())
    write(tmp_path / "crm" / "workflows" / "deal_flow.json", make_workflow(key="deals"))
    [problem] = validate_paths([tmp_path / "crm"], search_dirs=[])
    assert problem.json_path == "$.key" and "named after its key" in problem.message


def shipped_templates() -> list[Path]:
    return sorted(p for p in resources.app_templates_dir().iterdir() if (p / "app.json").is_file())


@pytest.mark.parametrize("template", shipped_templates(), ids=lambda p: p.name)
def test_shipped_template_is_valid(template):
    assert [str(p) for p in validate_paths([template])] == []


# --- robustness ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "name", "deal", "$stage", "P1D", "*"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["key", "type", "var", "==", "entity", "via", "stage", "field", "fields", "to", "rule"]),
        inner, max_size=3),
    max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=json_values, stage=json_values, rule=json_values)
def test_any_json_in_a_document_gives_problems_not_exceptions(make_app, make_workflow, problems_of, field, stage, rule):
    app = make_app()
    app["entities"][0]["fields"].append(field)
    workflow = make_workflow(rules=[rule])
    workflow["stages"].append(stage)
    assert all(isinstance(p, Problem) for p in problems_of(app, workflow))


# --- read_if: a permission condition the database can answer ---------------------------------

def _with_read_if(make_app, rule):
    doc = make_app()
    doc["entities"][0]["permissions"]["sales"]["read_if"] = rule
    return doc


def test_a_read_if_over_fields_and_stages_is_valid(make_app, make_workflow, problems_of):
    rule = {"or": [{"==": [{"var": "$stage"}, "proposal"]}, {"in": [{"var": "reason"}, ["price"]]}]}
    assert problems_of(_with_read_if(make_app, rule), make_workflow()) == []


@pytest.mark.parametrize("rule,expected", [
    ({"==": [{"var": "nope"}, 1]}, "'nope'"),
    ({">": [{"var": "amount"}, 1]}, "uses '>', which a permission cannot use"),
    ({"==": [{"var": "amount"}, {"var": "name"}]}, "must compare with fixed values"),
    ({"==": [{"var": "$stage"}, "pool"]}, "compares $stage with the stage 'pool'"),
    ({"==": [{"var": "$today"}, "x"]}, "a permission can only use $stage, $owner and fields"),
    ("yes", "must be an object"),          # the meta-schema's word
])
def test_a_read_if_the_database_cannot_answer_is_refused(make_app, make_workflow, problems_of, rule, expected):
    messages = at(problems_of(_with_read_if(make_app, rule), make_workflow()), "$.entities[0].permissions.sales.read_if")
    assert messages and expected in messages[0], messages
    if isinstance(rule, dict):
        assert messages[0].startswith("The condition 'read_if' of role 'sales' on entity 'deal'")


@pytest.mark.parametrize("read", ["none", "all", None])
def test_a_read_if_needs_a_role_that_reads_its_own_or_its_team(make_app, make_workflow, problems_of, read):
    doc = _with_read_if(make_app, {"==": [{"var": "reason"}, "price"]})
    grant = doc["entities"][0]["permissions"]["sales"]
    grant.pop("read")
    if read is not None:
        grant["read"] = read
    [message] = at(problems_of(doc, make_workflow()), "$.entities[0].permissions.sales.read_if")
    assert message.startswith(f"Role 'sales' has 'read_if' on entity 'deal' but 'read' is {read or 'none'!r}")
