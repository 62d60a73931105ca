"""A move judges the record's field rules in the stage it is entering: a field shown
only in that stage (visible_if on $stage) is saved with the move, and a field that
becomes required there (required_if on $stage, or required and shown only there) is a
gate failure until it is filled."""
import pytest

from formloom.errors import RecordInvalid
from formloom.workflow import GateBlocked

from .conftest import Pipeline, recruiting_app

IN_REJECTED = {"==": [{"var": "$stage"}, "rejected"]}


@pytest.fixture
def staged(db, install):
    doc = recruiting_app()
    fields = doc["entities"][0]["fields"]
    next(f for f in fields if f["key"] == "reason")["visible_if"] = IN_REJECTED
    fields.append({"key": "detail", "type": "text", "label": {"en": "Detail", "zh": "说明"},
                   "required_if": IN_REJECTED})
    fields.append({"key": "rival", "type": "text", "label": {"en": "Rival", "zh": "竞争者"}, "required": True,
                   "visible_if": IN_REJECTED})
    return Pipeline(db, install(app_doc=doc))


def failures(pipeline, record_id, stage, actor, **kw):
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(record_id, stage, actor, **kw)
    return sorted((f.code, f.field) for f in caught.value.failures)


def test_a_field_shown_only_in_the_target_stage_is_saved_with_the_move(staged, manager):
    c = staged.candidate(manager)
    moved = staged.move(c.id, "rejected", manager, expected_version=c.version,
                        values={"reason": "Took another offer", "detail": "Salary", "rival": "Initech"})
    assert moved.stage == "rejected"
    assert moved.data["reason"] == "Took another offer" and moved.data["rival"] == "Initech"


def test_fields_required_only_in_the_target_stage_block_the_move(staged, manager):
    c = staged.candidate(manager)
    assert failures(staged, c.id, "rejected", manager) == [
        ("required", "detail"), ("required", "reason"), ("required", "rival")]
    assert staged.get(c.id).stage == "applied"


def test_a_value_for_a_field_required_in_the_target_stage_is_checked_there(staged, manager):
    c = staged.candidate(manager)
    with pytest.raises(RecordInvalid) as caught:
        staged.move(c.id, "rejected", manager, values={"reason": "No show", "rival": "Initech", "detail": ""})
    assert [(p.field, p.code) for p in caught.value.problems] == [("detail", "required")]
    assert staged.get(c.id).stage == "applied" and staged.get(c.id).data.get("reason") is None


def test_other_stages_do_not_ask_for_those_fields(staged, manager):
    c = staged.candidate(manager)
    moved = staged.move(c.id, "screened", manager, values={"cv_link": "https://cv.example.com/a"})
    assert moved.stage == "screened" and moved.data.get("rival") is None
