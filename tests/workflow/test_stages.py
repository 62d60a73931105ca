"""Stage rules as pure functions: order, `from`, skipping, per-stage field rules,
staleness and time spent in stages; and the per-stage field rules enforced on
edits made with a move."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from formloom.definitions.compile import compile_workflow
from formloom.errors import RecordInvalid
from formloom.workflow import (
    allows_from, field_rule, hidden_in, is_stale, next_open_stage, plan_move, readonly_in, required_in,
    time_in_stages,
)

from .conftest import hiring_workflow

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


@pytest.fixture
def workflow():
    return compile_workflow(hiring_workflow())


def test_forward_move_lists_the_open_stages_it_skips(workflow):
    plan = plan_move(workflow, "applied", workflow.stage("offer"))
    assert plan.direction == "forward" and [s.key for s in plan.skipped] == ["screened", "interviewed"]
    assert plan.checks_target_gate and not plan.leaves_terminal


def test_adjacent_move_skips_nothing(workflow):
    plan = plan_move(workflow, "applied", workflow.stage("screened"))
    assert plan.direction == "forward" and plan.skipped == ()


def test_backward_move_is_free_of_the_target_gate(workflow):
    plan = plan_move(workflow, "offer", workflow.stage("applied"))
    assert plan.direction == "backward" and plan.skipped == () and not plan.checks_target_gate


def test_terminal_stages_are_never_skipped_over(workflow):
    plan = plan_move(workflow, "offer", workflow.stage("rejected"))
    assert plan.skipped == () and plan.explicit


def test_winning_early_skips_every_open_stage_after_the_current_one(workflow):
    plan = plan_move(workflow, "screened", workflow.stage("hired"))
    assert [s.key for s in plan.skipped] == ["interviewed", "offer"]


def test_explicit_from_is_an_edge_that_skips_nothing(workflow):
    plan = plan_move(workflow, "applied", workflow.stage("rejected"))
    assert plan.explicit and plan.skipped == ()
    assert allows_from(workflow.stage("rejected"), "applied") is True
    assert allows_from(workflow.stage("offer"), "applied") is None


def test_from_list_admits_only_named_stages():
    doc = hiring_workflow()
    doc["stages"][4]["from"] = ["offer"]
    wf = compile_workflow(doc)
    assert allows_from(wf.stage("hired"), "offer") is True
    assert allows_from(wf.stage("hired"), "screened") is False


def test_leaving_a_terminal_stage_is_a_reopen(workflow):
    assert plan_move(workflow, "hired", workflow.stage("offer")).leaves_terminal
    assert plan_move(workflow, "hired", workflow.stage("rejected")).leaves_terminal
    assert not plan_move(workflow, "hired", workflow.stage("hired")).leaves_terminal


def test_next_open_stage(workflow):
    assert next_open_stage(workflow, "applied").key == "screened"
    assert next_open_stage(workflow, "offer") is None


def test_per_stage_field_rules(workflow):
    offer, hired = workflow.stage("offer"), workflow.stage("hired")
    assert required_in(offer) == ("salary",) and readonly_in(hired) == ("salary",) and hidden_in(hired) == ()
    assert field_rule(offer, "salary") == "required"
    assert field_rule(hired, "salary") == "readonly"
    assert field_rule(hired, "score") == "normal"
    assert required_in(None) == ()


@dataclass
class Row:
    to_stage: str
    at: datetime


def test_time_in_stages_sums_visits_and_counts_the_current_stage_until_now():
    history = [Row("applied", T0), Row("screened", T0 + timedelta(hours=2)), Row("applied", T0 + timedelta(hours=3)),
               Row("screened", T0 + timedelta(hours=4))]
    assert time_in_stages(history, T0 + timedelta(hours=10)) == {"applied": 3 * 3600, "screened": 7 * 3600}
    assert time_in_stages([], T0) == {}


@dataclass
class Rec:
    stage_entered_at: datetime | None


def test_is_stale_after_rot_after_in_an_open_stage(workflow):
    applied = workflow.stage("applied")          # rot_after P3D
    record = Rec(T0)
    assert not is_stale(applied, record, T0 + timedelta(days=3) - timedelta(seconds=1))
    assert is_stale(applied, record, T0 + timedelta(days=3))
    assert not is_stale(workflow.stage("screened"), record, T0 + timedelta(days=30))   # no rot_after
    assert not is_stale(applied, Rec(None), T0)


def test_terminal_stages_never_rot():
    doc = hiring_workflow()
    doc["stages"][4]["rot_after"] = "P1D"
    wf = compile_workflow(doc)
    assert not is_stale(wf.stage("hired"), Rec(T0), T0 + timedelta(days=10))


# -- per-stage field rules on edits made with a move ---------------------------------------

def test_values_saved_with_a_move_obey_the_target_stage_readonly_fields(pipeline, manager):
    c = pipeline.candidate(manager, stage="offer", score=80, salary="1000")
    with pytest.raises(RecordInvalid) as caught:
        pipeline.move(c.id, "hired", manager, values={"salary": "2000"})
    assert [(p.field, p.code) for p in caught.value.problems] == [("salary", "readonly")]
    assert pipeline.get(c.id).stage == "offer" and pipeline.get(c.id).data["salary"] == "1000.00"


def test_values_saved_with_a_move_cannot_touch_fields_hidden_in_the_target_stage(make_pipeline, manager):
    doc = hiring_workflow()
    doc["stages"][5]["hidden"] = ["score"]
    pipeline = make_pipeline(doc)
    c = pipeline.candidate(manager)
    with pytest.raises(RecordInvalid) as caught:
        pipeline.move(c.id, "rejected", manager, values={"score": 5, "reason": "No show"})
    assert [(p.field, p.code) for p in caught.value.problems] == [("score", "readonly")]
    assert pipeline.move(c.id, "rejected", manager, values={"reason": "No show"}).stage == "rejected"


def test_a_record_keeps_the_required_fields_of_its_stage(pipeline, manager):
    from formloom.store.records import update_record
    c = pipeline.candidate(manager, stage="offer", score=80, salary="1000")
    with pytest.raises(RecordInvalid) as caught, pipeline.db.write() as conn:
        update_record(conn, pipeline.app, pipeline.candidates, c.id, {"salary": None}, actor_id=manager.id,
                      expected_version=c.version)
    assert [(p.field, p.code) for p in caught.value.problems] == [("salary", "required")]


def test_entering_a_stage_requires_its_stage_required_fields(pipeline, manager):
    from formloom.workflow import GateBlocked
    c = pipeline.candidate(manager, stage="interviewed", score=80)
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(c.id, "offer", manager)
    assert [(f.code, f.stage, f.field) for f in caught.value.failures] == [("required", "offer", "salary")]
    assert pipeline.move(c.id, "offer", manager, values={"salary": "900"}).stage == "offer"
