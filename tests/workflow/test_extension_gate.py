"""A gate requirement kind added by touching only its own module works end to end.

`quorum` below is the whole extension: a stage's gate may say
`"quorum": {"entity": ..., "via": ..., "min": N}`, and a record enters the stage
only when N different people have written related records. Registered, the
workflow meta-schema takes it and a move is refused with it among the failures."""
import pytest
from sqlalchemy import func, select

from formloom.definitions.validate import validate_workflow
from formloom.store.expressions import field_expr, live
from formloom.store.tables import records
from formloom.workflow import GateBlocked
from formloom.workflow.gates import GateFailure, RequirementKind, register_requirement, unregister_requirement

from .conftest import hiring_workflow, recruiting_app


def quorum(check):
    """At least `min` different people created related records."""
    spec = check.setting("quorum")
    if not spec:
        return
    entity = check.app.entity(spec["entity"])
    via = entity.field(spec["via"])
    people = check.conn.execute(
        select(func.count(func.distinct(records.c.created_by))).where(
            live(check.app.key, entity.key), field_expr(check.conn.dialect.name, via) == check.record.id)).scalar()
    if people < spec["min"]:
        yield GateFailure("quorum", check.stage.key, None,
                          f"{spec['min']} different people must take part (so far {people}).",
                          {"min": spec["min"], "count": people, "entity": spec["entity"], "via": spec["via"]})


QUORUM = RequirementKind(
    "quorum", quorum, codes=("quorum",),
    schema={"type": "object", "required": ["entity", "via", "min"],
            "properties": {"entity": {"type": "string"}, "via": {"type": "string"},
                           "min": {"type": "integer", "minimum": 1}},
            "additionalProperties": False},
    label={"en": "Quorum", "zh": "法定人数"},
    help={"en": "Enough different people wrote related records.", "zh": "足够多的不同人员填写了相关记录。"})


@pytest.fixture
def quorum_kind():
    register_requirement(QUORUM)
    yield
    unregister_requirement("quorum")


def with_quorum():
    workflow = hiring_workflow()
    screened = next(s for s in workflow["stages"] if s["key"] == "screened")
    screened["gate"] = {"quorum": {"entity": "interview", "via": "candidate", "min": 2}}
    return workflow


def test_the_new_requirement_is_validated_and_blocks_moves(make_pipeline, make_user, quorum_kind):
    assert validate_workflow(with_quorum(), recruiting_app(), "hiring.json") == []
    pipeline = make_pipeline(with_quorum())
    manager, recruiter = make_user("m@example.com", "manager"), make_user("r@example.com", "recruiter")
    c = pipeline.candidate(manager)
    pipeline.interview(c.id, manager)
    pipeline.interview(c.id, manager)
    with pytest.raises(GateBlocked) as blocked:
        pipeline.move(c.id, "screened", manager)
    assert [(f.code, f.message) for f in blocked.value.failures] == [
        ("quorum", "2 different people must take part (so far 1).")]
    pipeline.interview(c.id, recruiter)
    assert pipeline.move(c.id, "screened", manager).stage == "screened"


def test_without_registration_the_requirement_is_unknown():
    problems = validate_workflow(with_quorum(), recruiting_app(), "hiring.json")
    assert [p.json_path for p in problems] == ["$.stages[1].gate.quorum"]
