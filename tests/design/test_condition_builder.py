"""The condition builder writes only JSON Logic the engine accepts, reads back exactly what it
wrote, refuses what it cannot show as rows (kept as JSON, editable as JSON, checked on save),
types each value by its field, and locates every problem at the input it concerns."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st
from werkzeug.datastructures import MultiDict

from formloom.conditions import ALLOWED_OPERATORS, check_logic, evaluate
from formloom.design.condition_builder import (OPERATORS, BuilderField, Operator, builder_fields, form_items,
                                               from_form, operators_for, register_operator, to_builder, to_logic,
                                               with_options)

from ..web.desk import desk_app

CASE = desk_app()["entities"][1]
FIELDS = builder_fields(CASE, "en")
P = "s-visible_if"


def posted(pairs) -> MultiDict:
    return MultiDict(list(pairs))


def round_trip(logic):
    return from_form(posted(form_items(P, FIELDS, logic)), P, FIELDS)


def test_field_kinds_come_from_the_field_types():
    kinds = {f.key: f.kind for f in FIELDS}
    assert kinds == {"subject": "text", "company": "id", "priority": "choice", "budget": "number",
                     "due": "date", "escalated": "bool", "reason": "text", "notes": "text", "code": "text"}
    priority = next(f for f in FIELDS if f.key == "priority")
    assert priority.options == (("low", "Low"), ("high", "High"))
    assert next(f for f in builder_fields(CASE, "zh") if f.key == "priority").options[1] == ("high", "高")


def test_every_operator_writes_what_the_engine_allows():
    for op in OPERATORS.values():
        assert op.logic in ALLOWED_OPERATORS
    with pytest.raises(ValueError):
        register_operator(Operator("regex", "regex", {"en": "matches"}, frozenset({"text"})))


def test_operators_are_offered_by_value_kind():
    assert [op.name for op in operators_for("bool")] == ["eq", "empty", "filled"]
    assert {"gt", "lte"} <= {op.name for op in operators_for("date")}
    assert "gt" not in {op.name for op in operators_for("choice")}


@pytest.mark.parametrize("logic", [
    None,
    {"==": [{"var": "escalated"}, True]},
    {"in": [{"var": "priority"}, ["low", "high"]]},
    {"and": [{">=": [{"var": "budget"}, 1000]}, {"<": [{"var": "due"}, "2026-12-31"]}]},
    {"or": [{"!": {"var": "company"}}, {"and": [{"in": ["vip", {"var": "subject"}]}, {"==": [{"var": "company"}, 12]}]}]},
])
def test_logic_the_builder_writes_comes_back_unchanged(logic):
    assert to_builder(logic, FIELDS) is not None
    assert round_trip(logic) == (logic, [])


@pytest.mark.parametrize("logic", [
    {"if": [{"var": "escalated"}, True, False]},                      # an operator the builder has no row for
    {"==": [{"var": "nowhere"}, 1]},                                   # a field this entity lacks
    {">": [{"var": "priority"}, "low"]},                               # an operator the field's kind does not take
    {"and": [{"or": [{"and": [{"var": "escalated"}]}]}]},             # groups nested two deep
    {"==": [{"+": [{"var": "budget"}, 1]}, 2]},                       # a computed side
])
def test_what_the_builder_cannot_show_is_kept_as_json(logic):
    assert to_builder(logic, FIELDS) is None
    pairs = form_items(P, FIELDS, logic)
    assert (f"{P}-source", "json") in pairs
    kept, problems = from_form(posted(pairs), P, FIELDS)
    assert kept == logic
    assert problems == [] or all(p.where == f"{P}-json" for p in problems)


def test_values_are_typed_by_the_field():
    form = posted([(f"{P}-mode", "any"),
                   (f"{P}-item", "1"), (f"{P}-1-field", "budget"), (f"{P}-1-op", "gt"), (f"{P}-1-value", "1,500.5"),
                   (f"{P}-item", "2"), (f"{P}-2-field", "escalated"), (f"{P}-2-op", "eq"), (f"{P}-2-value", "false"),
                   (f"{P}-item", "3"), (f"{P}-3-field", "company"), (f"{P}-3-op", "in"), (f"{P}-3-value", "#4, 7"),
                   (f"{P}-item", "4"), (f"{P}-4-field", "priority"), (f"{P}-4-op", "in"),
                   (f"{P}-4-value", "low"), (f"{P}-4-value", "high"),
                   (f"{P}-item", "5"), (f"{P}-5-field", ""), (f"{P}-5-op", "eq")])    # a blank row is ignored
    logic, problems = from_form(form, P, FIELDS)
    assert problems == []
    assert logic == {"or": [{">": [{"var": "budget"}, 1500.5]}, {"==": [{"var": "escalated"}, False]},
                            {"in": [{"var": "company"}, [4, 7]]}, {"in": [{"var": "priority"}, ["low", "high"]]}]}
    assert evaluate(logic, {"budget": 10, "escalated": True, "company": 7, "priority": None}) is True


def test_a_group_nests_rows_and_an_empty_group_vanishes():
    form = posted([(f"{P}-mode", "all"),
                   (f"{P}-item", "1"), (f"{P}-1-field", "escalated"), (f"{P}-1-op", "filled"),
                   (f"{P}-item", "2"), (f"{P}-2-kind", "group"), (f"{P}-2-mode", "any"),
                   (f"{P}-item", "2.3"), (f"{P}-2.3-field", "due"), (f"{P}-2.3-op", "lt"), (f"{P}-2.3-value", "2027-01-01"),
                   (f"{P}-item", "2.4"), (f"{P}-2.4-field", "subject"), (f"{P}-2.4-op", "contains"),
                   (f"{P}-2.4-value", "urgent"),
                   (f"{P}-item", "5"), (f"{P}-5-kind", "group"), (f"{P}-5-mode", "all")])
    logic, problems = from_form(form, P, FIELDS)
    assert problems == []
    assert logic == {"and": [{"!!": {"var": "escalated"}}, {"or": [{"<": [{"var": "due"}, "2027-01-01"]},
                                                                   {"in": ["urgent", {"var": "subject"}]}]}]}


def test_no_rows_is_no_condition():
    assert from_form(posted([(f"{P}-mode", "all")]), P, FIELDS) == (None, [])


def test_problems_are_located_at_the_input_and_worded_by_the_given_gettext():
    form = posted([(f"{P}-item", "1"), (f"{P}-1-field", "budget"), (f"{P}-1-op", "gt"), (f"{P}-1-value", "lots"),
                   (f"{P}-item", "2"), (f"{P}-2-field", "priority"), (f"{P}-2-op", "eq"), (f"{P}-2-value", "urgent"),
                   (f"{P}-item", "3"), (f"{P}-3-field", "due"), (f"{P}-3-op", "eq"), (f"{P}-3-value", "31/12/2026"),
                   (f"{P}-item", "4"), (f"{P}-4-field", "escalated"), (f"{P}-4-op", "gt"), (f"{P}-4-value", "x"),
                   (f"{P}-item", "5"), (f"{P}-5-field", "ghost"), (f"{P}-5-op", "eq"),
                   (f"{P}-item", "6"), (f"{P}-6-field", "subject"), (f"{P}-6-op", "eq"), (f"{P}-6-value", " ")])
    logic, problems = from_form(form, P, FIELDS, gettext=lambda msgid, **p: f"<{msgid}>")
    assert logic is None
    assert [(p.where, p.message) for p in problems] == [
        (f"{P}-1-value", "<Enter a number.>"),
        (f"{P}-2-value", "<Choose one of the listed options.>"),
        (f"{P}-3-value", "<Enter a date as YYYY-MM-DD.>"),
        (f"{P}-4-op", "<Choose an operator this field offers.>"),
        (f"{P}-5-field", "<Choose a field from the list.>"),
        (f"{P}-6-value", "<Enter a value to compare with.>"),
    ]


def test_json_edited_by_hand_is_checked_on_save():
    bad = posted([(f"{P}-source", "json"), (f"{P}-json", "{\"==\": [")])
    logic, problems = from_form(bad, P, FIELDS)
    assert logic is None and problems[0].where == f"{P}-json" and "not valid JSON" in problems[0].message
    unknown = posted([(f"{P}-source", "json"), (f"{P}-json", json.dumps({"regex": [{"var": "subject"}, "x"]}))])
    _logic, problems = from_form(unknown, P, FIELDS)
    assert "'regex'" in problems[0].message and problems[0].where == f"{P}-json"
    fine = {"if": [{"var": "escalated"}, True, False]}
    assert from_form(posted([(f"{P}-source", "json"), (f"{P}-json", json.dumps(fine))]), P, FIELDS) == (fine, [])


_KEYS = st.sampled_from([f.key for f in FIELDS] + ["ghost", "$stage", ""])
_TEXT = st.text(max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "2.3", "4", "x", "9.9"]), _KEYS,
                          st.sampled_from(list(OPERATORS) + ["bogus", ""]),
                          st.lists(_TEXT, max_size=3), st.booleans()), max_size=6),
       st.sampled_from(["all", "any", "none", ""]))
def test_any_post_gives_a_rule_the_engine_accepts_or_located_problems(rows, mode):
    pairs = [(f"{P}-mode", mode)]
    for item, key, op, values, group in rows:
        pairs.append((f"{P}-item", item))
        if group:
            pairs += [(f"{P}-{item}-kind", "group"), (f"{P}-{item}-mode", mode)]
        pairs += [(f"{P}-{item}-field", key), (f"{P}-{item}-op", op)] + [(f"{P}-{item}-value", v) for v in values]
    logic, problems = from_form(posted(pairs), P, FIELDS)
    if problems:
        assert logic is None and all(p.where.startswith(f"{P}-") for p in problems)
    else:
        assert list(check_logic(logic, [f.key for f in FIELDS])) == []
        assert round_trip(logic) == (logic, [])


def test_a_page_may_add_its_own_fields():
    stage = BuilderField("$stage", "Stage", "choice", (("open", "Open"), ("closed", "Closed")))
    logic = {"==": [{"var": "$stage"}, "closed"]}
    assert to_builder(logic, FIELDS) is None
    assert to_logic(to_builder(logic, FIELDS + [stage])) == logic


def test_people_are_offered_by_name_for_a_user_field():
    entity = {"key": "task", "fields": [{"key": "assignee", "type": "user", "label": "Assignee"},
                                        {"key": "company", "type": "reference", "entity": "company", "label": "Co"}]}
    fields = builder_fields(entity, "en")
    assert [(f.kind, f.picker) for f in fields] == [("id", "$user"), ("id", "company")]
    fields = with_options(fields, "$user", [(7, "Ada"), (9, "Bo")])
    assert fields[0].options == ((7, "Ada"), (9, "Bo")) and fields[1].options == ()
    pairs = [("c-item", "1"), ("c-1-field", "assignee"), ("c-1-op", "in"), ("c-1-value", "7"), ("c-1-value", "9")]
    assert from_form(MultiDict(pairs), "c", fields) == ({"in": [{"var": "assignee"}, [7, 9]]}, [])
    stranger = MultiDict([("c-item", "1"), ("c-1-field", "assignee"), ("c-1-op", "eq"), ("c-1-value", "8")])
    assert from_form(stranger, "c", fields)[1][0].where == "c-1-value"
