"""Gate semantics: every requirement kind reports every unmet requirement with a
code, the stage, the field concerned and a message in the user's language."""
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from formloom.workflow import GateBlocked, check_gate, check_move, count_related

from .conftest import hiring_workflow


def blocked(pipeline, record_id, stage, actor, **kw) -> GateBlocked:
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(record_id, stage, actor, **kw)
    return caught.value


def codes(failures):
    return [(f.code, f.stage, f.field) for f in failures]


def test_require_reports_the_missing_field(pipeline, manager):
    c = pipeline.candidate(manager)
    error = blocked(pipeline, c.id, "screened", manager)
    assert codes(error.failures) == [("required", "screened", "cv_link")]
    assert error.failures[0].message == "Fill in CV link to enter Screened."
    assert error.status == 422 and error.missing_fields == ["cv_link"] and error.only_missing_fields


def test_require_message_in_chinese(pipeline, manager):
    c = pipeline.candidate(manager)
    error = blocked(pipeline, c.id, "screened", manager, lang="zh")
    assert error.failures[0].message == "进入“已筛选”前请填写“简历链接”。"
    assert error.message == "此记录暂时不能移到“已筛选”。"


def test_a_filled_requirement_passes(pipeline, manager):
    c = pipeline.candidate(manager, cv_link="https://cv.example.com/ada")
    assert pipeline.move(c.id, "screened", manager).stage == "screened"


def test_every_kind_is_reported_at_once_when_skipping(pipeline, recruiter):
    c = pipeline.candidate(recruiter, score=50)
    error = blocked(pipeline, c.id, "offer", recruiter)
    assert codes(error.failures) == [
        ("required", "screened", "cv_link"),
        ("related", "interviewed", None),
        ("required", "offer", "salary"),
        ("condition", "offer", None),
        ("role", "offer", None),
    ]
    messages = [f.message for f in error.failures]
    assert messages[1] == "Hold at least 2 interviews in this stage"
    assert messages[3] == "Score must be at least 70"
    assert messages[4] == "Only manager may move records to Offer."
    assert not error.only_missing_fields and error.missing_fields == ["cv_link", "salary"]


def test_every_kind_in_chinese(pipeline, recruiter):
    c = pipeline.candidate(recruiter, score=50)
    error = blocked(pipeline, c.id, "offer", recruiter, lang="zh")
    assert [f.message for f in error.failures] == [
        "进入“已筛选”前请填写“简历链接”。",
        "本阶段至少需要两次面试",
        "进入“发出录用”前请填写“薪资”。",
        "评分需达到70分",
        "只有 manager 可以将记录移入“发出录用”。",
    ]


def test_failures_serialize_for_the_api(pipeline, manager):
    c = pipeline.candidate(manager)
    error = blocked(pipeline, c.id, "screened", manager)
    assert error.failures[0].as_dict() == {"code": "required", "stage": "screened", "field": "cv_link",
                                           "message": "Fill in CV link to enter Screened.",
                                           "details": {"field": "cv_link"}}


def test_condition_passes_when_the_rule_holds_and_fails_on_missing_values(pipeline, manager):
    ok = pipeline.candidate(manager, score=70, salary="1000")
    missing = pipeline.candidate(manager, salary="1000")
    offer = pipeline.app.workflow_for("candidate").stage("offer")
    with pipeline.db.read() as conn:
        assert check_gate(conn, pipeline.app, pipeline.app.workflow_for("candidate"), offer, ok) == []
        assert codes(check_gate(conn, pipeline.app, pipeline.app.workflow_for("candidate"), offer, missing)) == [
            ("condition", "offer", None)]


def test_condition_sees_special_variables(make_pipeline, manager):
    wf = hiring_workflow()
    wf["stages"][1]["gate"] = {"conditions": [
        {"rule": {"and": [{"==": [{"var": "$stage"}, "applied"]}, {"!": {"var": "$terminal"}},
                          {"==": [{"var": "$owner"}, manager.id]}, {"==": [{"var": "$today"}, "2026-03-02"]}]},
         "message": "special variables"}]}
    pipeline = make_pipeline(wf)
    c = pipeline.candidate(manager)
    # 2026-03-01 20:00 UTC is already 2026-03-02 in Asia/Shanghai, the app's timezone
    assert pipeline.move(c.id, "screened", manager, now=datetime(2026, 3, 1, 20, tzinfo=timezone.utc)).stage == "screened"


def test_condition_without_message_gets_a_translated_default(make_pipeline, manager):
    wf = hiring_workflow()
    wf["stages"][1]["gate"] = {"conditions": [{"rule": {"==": [{"var": "score"}, 2]}}]}
    pipeline = make_pipeline(wf, validate_workflows=False)     # the schema asks for a message; older documents lack it
    c = pipeline.candidate(manager)
    assert blocked(pipeline, c.id, "screened", manager).failures[0].message == "A condition of Screened is not met."
    assert blocked(pipeline, c.id, "screened", manager, lang="zh").failures[0].message == "未满足“已筛选”的条件。"


def test_related_counts_only_records_created_since_entering_the_stage(pipeline, manager):
    start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        c = pipeline.candidate(manager, cv_link="https://cv.example.com/a")
        pipeline.interview(c.id)                     # before the candidate was screened: does not count
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        pipeline.move(c.id, "screened", manager)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        pipeline.interview(c.id)
        error = blocked(pipeline, c.id, "interviewed", manager)
        assert codes(error.failures) == [("related", "interviewed", None)]
        assert error.failures[0].details["count"] == 1 and error.failures[0].details["min"] == 2
        pipeline.interview(c.id)
        assert pipeline.move(c.id, "interviewed", manager).stage == "interviewed"


def test_related_ignores_deleted_records_and_other_candidates(pipeline, manager):
    from formloom.store.records import delete_record
    c = pipeline.candidate(manager, cv_link="https://cv.example.com/a")
    other = pipeline.candidate(manager, name="Grace")
    pipeline.move(c.id, "screened", manager)
    pipeline.interview(other.id)
    pipeline.interview(other.id)
    gone = pipeline.interview(c.id)
    pipeline.interview(c.id)
    with pipeline.db.write() as conn:
        delete_record(conn, pipeline.app, pipeline.interviews, gone.id, actor_id=None)
    error = blocked(pipeline, c.id, "interviewed", manager)
    assert error.failures[0].details["count"] == 1


def test_related_default_message_is_translated(make_pipeline, manager):
    wf = hiring_workflow()
    wf["stages"][2]["gate"]["related"][0].pop("message")
    pipeline = make_pipeline(wf)
    c = pipeline.candidate(manager, cv_link="https://cv.example.com/a")
    pipeline.move(c.id, "screened", manager)
    en = blocked(pipeline, c.id, "interviewed", manager).failures[0].message
    zh = blocked(pipeline, c.id, "interviewed", manager, lang="zh").failures[0].message
    assert en == "Add at least 2 Interview records since entering Screened (there are 0)."
    assert zh == "进入“已筛选”后至少需要 2 条面试记录（目前 0 条）。"


@pytest.mark.parametrize("where, in_sql", [
    ({"==": [{"var": "kind"}, "onsite"]}, True),
    ({"==": ["onsite", {"var": "kind"}]}, True),
    ({"and": [{"==": [{"var": "kind"}, "onsite"]}, {">=": [{"var": "rating"}, 5]}]}, True),
    ({"in": [{"var": "kind"}, ["onsite"]]}, True),
    ({"==": [{"cat": [{"var": "kind"}, ""]}, "onsite"]}, False),          # not simple: evaluated in Python
    ({"some": [[{"var": "kind"}], {"==": [{"var": ""}, "onsite"]}]}, False),
])
def test_related_where_counts_matching_records_in_sql_or_python(pipeline, manager, where, in_sql):
    from formloom.definitions.model import GateRelatedDef, Label, freeze
    from formloom.workflow.gates import where_clause
    c = pipeline.candidate(manager)
    pipeline.interview(c.id, kind="phone", rating=9)
    pipeline.interview(c.id, kind="onsite", rating=8)
    pipeline.interview(c.id, kind="onsite", rating=7)
    pipeline.interview(c.id, kind="onsite", rating=2)
    rel = GateRelatedDef(entity="interview", via="candidate", min=10, message=Label.of("x"), where=freeze(where))
    with pipeline.db.read() as conn:
        assert (where_clause(conn.dialect.name, pipeline.interviews, rel.where) is not None) == in_sql
        expected = 2 if "and" in where else 3
        assert count_related(conn, pipeline.app, rel, c) == expected


def test_related_count_stops_at_the_minimum(pipeline, manager):
    from formloom.definitions.model import GateRelatedDef, Label
    c = pipeline.candidate(manager)
    for _ in range(4):
        pipeline.interview(c.id)
    rel = GateRelatedDef(entity="interview", via="candidate", min=2, message=Label.of("x"))
    with pipeline.db.read() as conn:
        assert count_related(conn, pipeline.app, rel, c) == 2


def test_roles_refuse_other_roles_and_admit_the_named_role_and_admins(pipeline, recruiter, manager, admin):
    workflow = pipeline.app.workflow_for("candidate")
    offer = workflow.stage("offer")
    c = pipeline.candidate(recruiter, score=90, salary="100")
    with pipeline.db.read() as conn:
        assert codes(check_gate(conn, pipeline.app, workflow, offer, c, actor=recruiter)) == [("role", "offer", None)]
        assert check_gate(conn, pipeline.app, workflow, offer, c, actor=manager) == []
        assert check_gate(conn, pipeline.app, workflow, offer, c, actor=admin) == []


def test_check_move_previews_with_proposed_data(pipeline, manager):
    workflow = pipeline.app.workflow_for("candidate")
    c = pipeline.candidate(manager)
    with pipeline.db.read() as conn:
        assert codes(check_move(conn, pipeline.app, workflow, c, workflow.stage("screened"), manager)) == [
            ("required", "screened", "cv_link")]
        assert check_move(conn, pipeline.app, workflow, c, workflow.stage("screened"), manager,
                          data={**c.data, "cv_link": "https://x.example.com"}) == []
