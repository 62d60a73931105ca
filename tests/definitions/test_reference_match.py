"""Validating a reference's `match`, an entity's `subtitle` and a datetime default of
"now": the meta-schema accepts them, the meaning checks locate every problem."""
from __future__ import annotations

from formloom.definitions.compile import compile_field



def at(problems, path: str) -> list[str]:
    return [p.message for p in problems if p.json_path == path]

MATCH = "$.entities[1].fields[1].match"


def visit_app(make_app, make_field, match, *visit_fields):
    doc = make_app()
    visit = doc["entities"][1]
    visit["fields"][1]["match"] = match
    visit["fields"].extend(visit_fields)
    return doc


def test_a_match_between_fields_of_the_same_kind_is_valid(make_app, make_field, problems_of):
    doc = visit_app(make_app, make_field, {"rep": "rep"}, make_field("rep", "user"))
    assert problems_of(doc) == []
    assert compile_field(doc["entities"][1]["fields"][1]).match == {"rep": "rep"}


def test_the_meta_schema_wants_field_keys(make_app, make_field, problems_of):
    problems = problems_of(visit_app(make_app, make_field, {"Rep": 3}))
    assert at(problems, MATCH) or at(problems, f"{MATCH}.Rep")


def test_an_unknown_field_of_the_referenced_entity_is_named(make_app, make_field, problems_of):
    [message] = at(problems_of(visit_app(make_app, make_field, {"reps": "rep"}, make_field("rep", "user"))),
                   f"{MATCH}.reps")
    assert message.startswith("Field 'deal' matches the field 'reps' (did you mean 'rep'?) of entity 'deal'")


def test_an_unknown_field_of_this_form_is_named(make_app, make_field, problems_of):
    [message] = at(problems_of(visit_app(make_app, make_field, {"rep": "owner"})), f"{MATCH}.rep")
    assert "'owner'" in message and "of this entity, which it does not have" in message


def test_fields_of_different_kinds_cannot_match(make_app, make_field, problems_of):
    [message] = at(problems_of(visit_app(make_app, make_field, {"rep": "kind"})), f"{MATCH}.rep")
    assert "(a user field) with 'kind' (a select field)" in message


def test_this_side_must_hold_one_value(make_app, make_field, problems_of):
    doc = visit_app(make_app, make_field, {"rep": "reps"}, make_field("reps", "user", multiple=True))
    [message] = at(problems_of(doc), f"{MATCH}.rep")
    assert "holds several values" in message


def test_an_unknown_subtitle_is_named(make_app, problems_of):
    doc = make_app()
    doc["entities"][1]["subtitle"] = "dael"
    [message] = at(problems_of(doc), "$.entities[1].subtitle")
    assert "'dael' (did you mean 'deal'?)" in message


def test_a_datetime_may_default_to_now_and_nothing_else_vague(make_app, make_field, problems_of):
    assert problems_of(make_app(make_field("met_at", "datetime", default="now"))) == []
    [message] = at(problems_of(make_app(make_field("met_at", "datetime", default="tomorrow"))),
                   "$.entities[0].fields[5].default")
    assert message.endswith('(or "now": the moment the record is created).')
    assert at(problems_of(make_app(make_field("day", "date", default="now"))), "$.entities[0].fields[5].default")
