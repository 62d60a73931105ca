"""move_to_stage: the one guard. Rules and gates, policy, per-stage rules, history
and durations, the audit row and outbox events written in the move's transaction,
admin overrides, version conflicts and two movers at once."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from formloom.errors import ConflictError, NotFoundError, RecordInvalid
from formloom.store.db import Database
from formloom.store.records import audit_rows, update_record
from formloom.store.tables import events
from formloom.workflow import (
    GateBlocked, OverrideReasonMissing, StageForbidden, UnknownStage, move_to_stage, stage_history_rows,
    time_in_stages,
)

from .conftest import hiring_workflow

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
CV = "https://cv.example.com/ada"


def failure_codes(pipeline, record_id, stage, actor, **kw):
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(record_id, stage, actor, **kw)
    return [(f.code, f.stage) for f in caught.value.failures]


def event_rows(pipeline, record_id):
    with pipeline.db.read() as conn:
        return conn.execute(select(events).where(events.c.record_id == record_id).order_by(events.c.id)).all()


def history(pipeline, record_id):
    with pipeline.db.read() as conn:
        return stage_history_rows(conn, record_id)


# -- a successful move -----------------------------------------------------------------------

def test_new_records_start_in_the_first_stage_with_a_history_row(pipeline, manager):
    c = pipeline.candidate(manager)
    assert c.stage == "applied" and c.stage_entered_at is not None
    assert [(h.from_stage, h.to_stage) for h in history(pipeline, c.id)] == [(None, "applied")]


def test_a_move_updates_stage_time_and_version(pipeline, manager):
    c = pipeline.candidate(manager, cv_link=CV)
    moved = pipeline.move(c.id, "screened", manager, expected_version=1, now=T0 + timedelta(days=1))
    assert moved.stage == "screened" and moved.version == 2
    assert moved.stage_entered_at == T0 + timedelta(days=1) and moved.updated_by == manager.id


def test_a_move_writes_history_audit_and_both_events(pipeline, manager):
    c = pipeline.candidate(manager, cv_link=CV)
    pipeline.move(c.id, "screened", manager)
    rows = history(pipeline, c.id)
    assert [(h.from_stage, h.to_stage, h.user_id, h.override_reason) for h in rows][-1] == (
        "applied", "screened", manager.id, None)
    with pipeline.db.read() as conn:
        audit = audit_rows(conn, c.id)
    assert audit[0]["action"] == "stage" and audit[0]["changes"] == {"$stage": ["applied", "screened"]}
    assert audit[0]["record_version"] == 2
    kinds = [(e.type, e.payload) for e in event_rows(pipeline, c.id)]
    payload = {"from": "applied", "to": "screened", "actor": manager.id}
    assert kinds[-2:] == [("stage_left", payload), ("stage_entered", payload)]


def test_moving_to_the_current_stage_changes_nothing(pipeline, manager):
    c = pipeline.candidate(manager)
    same = pipeline.move(c.id, "applied", manager)
    assert same.version == c.version and len(history(pipeline, c.id)) == 1


def test_history_rows_and_durations(pipeline, manager):
    with time_machine.travel(T0, tick=False):
        c = pipeline.candidate(manager, cv_link=CV)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        pipeline.move(c.id, "screened", manager)
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        pipeline.move(c.id, "applied", manager)
    with time_machine.travel(T0 + timedelta(hours=6), tick=False):
        pipeline.move(c.id, "screened", manager)
    rows = history(pipeline, c.id)
    assert [(h.from_stage, h.to_stage, h.seconds_in_previous) for h in rows] == [
        (None, "applied", None), ("applied", "screened", 7200), ("screened", "applied", 10800),
        ("applied", "screened", 3600)]
    assert rows[1].at == T0 + timedelta(hours=2) and rows[1].user_name == "manager"
    assert time_in_stages(rows, T0 + timedelta(hours=10)) == {"applied": 3 * 3600, "screened": 7 * 3600}


def test_missing_fields_are_filled_and_the_move_made_in_one_commit(pipeline, manager):
    c = pipeline.candidate(manager)
    moved = pipeline.move(c.id, "screened", manager, values={"cv_link": CV}, expected_version=1)
    assert moved.stage == "screened" and moved.data["cv_link"] == CV
    with pipeline.db.read() as conn:
        assert [a["action"] for a in audit_rows(conn, c.id)] == ["stage", "update", "create"]


def test_invalid_values_are_refused_and_nothing_moves(pipeline, manager):
    c = pipeline.candidate(manager)
    with pytest.raises(RecordInvalid):
        pipeline.move(c.id, "screened", manager, values={"cv_link": "not a url"})
    assert pipeline.get(c.id).stage == "applied"


def test_values_that_do_not_satisfy_the_gate_are_not_kept(pipeline, manager):
    c = pipeline.candidate(manager)
    with pytest.raises(GateBlocked):
        pipeline.move(c.id, "offer", manager, values={"score": 10})
    assert pipeline.get(c.id).data.get("score") is None


def test_a_refusal_caught_inside_the_transaction_leaves_nothing_behind(pipeline, manager):
    c = pipeline.candidate(manager)
    with pipeline.db.write() as conn:
        with pytest.raises(GateBlocked):
            move_to_stage(conn, pipeline.app, pipeline.candidates, c.id, "offer", manager, values={"score": 10})
    after = pipeline.get(c.id)
    assert after.version == 1 and after.data.get("score") is None


# -- rules: from, skip, back, roles, reopen ----------------------------------------------------

def test_from_refuses_stages_it_does_not_name(make_pipeline, manager):
    doc = hiring_workflow()
    doc["stages"][4]["from"] = ["offer"]
    pipeline = make_pipeline(doc)
    c = pipeline.candidate(manager, stage="interviewed", score=90, salary="10")
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(c.id, "hired", manager)
    assert [(f.code, f.stage) for f in caught.value.failures] == [("from", "hired")]
    assert caught.value.failures[0].message == "Hired can only be entered from Offer."
    pipeline.move(c.id, "offer", manager)
    assert pipeline.move(c.id, "hired", manager).stage == "hired"


def test_lost_stage_with_from_any_is_reachable_from_every_stage_without_skipped_gates(pipeline, manager):
    for stage in ("applied", "screened", "interviewed", "offer"):
        c = pipeline.candidate(manager, stage=stage, salary="1")
        assert failure_codes(pipeline, c.id, "rejected", manager) == [("required", "rejected")]
        assert pipeline.move(c.id, "rejected", manager, values={"reason": "Withdrew"}).stage == "rejected"


def test_skip_check_applies_the_gates_of_skipped_stages(pipeline, manager):
    c = pipeline.candidate(manager, score=90, salary="100")
    assert failure_codes(pipeline, c.id, "offer", manager) == [("required", "screened"), ("related", "interviewed")]


def test_skip_allow_checks_only_the_target(make_pipeline, manager):
    doc = hiring_workflow()
    doc["skip"] = "allow"
    pipeline = make_pipeline(doc)
    c = pipeline.candidate(manager, score=90, salary="100")
    assert pipeline.move(c.id, "offer", manager).stage == "offer"


def test_skip_deny_refuses_skipping_and_allows_the_next_stage(make_pipeline, manager):
    doc = hiring_workflow()
    doc["skip"] = "deny"
    pipeline = make_pipeline(doc)
    c = pipeline.candidate(manager, cv_link=CV, score=90, salary="100")
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(c.id, "offer", manager)
    assert [(f.code, f.stage) for f in caught.value.failures] == [("skip_denied", "offer")]
    assert caught.value.failures[0].message == "Stages cannot be skipped: move to Screened first."
    assert caught.value.failures[0].details["skipped"] == ["screened", "interviewed"]
    assert pipeline.move(c.id, "screened", manager).stage == "screened"
    assert pipeline.move(c.id, "rejected", manager, values={"reason": "x"}).stage == "rejected"   # explicit from


def test_moving_back_is_free_of_gates(pipeline, manager):
    c = pipeline.candidate(manager, stage="offer", salary="100")
    assert pipeline.move(c.id, "screened", manager).stage == "screened"     # no cv_link, still allowed


def test_gate_roles_apply_to_the_target(pipeline, recruiter, manager, admin):
    c = pipeline.candidate(recruiter, stage="interviewed", score=90, salary="100")
    assert failure_codes(pipeline, c.id, "offer", recruiter) == [("role", "offer")]
    assert pipeline.move(c.id, "offer", manager).stage == "offer"
    d = pipeline.candidate(recruiter, stage="interviewed", score=90, salary="100")
    assert pipeline.move(d.id, "offer", admin).stage == "offer"


def test_leaving_a_terminal_stage_needs_a_reopen_role(pipeline, recruiter, manager):
    c = pipeline.candidate(recruiter, stage="hired", salary="100")
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(c.id, "offer", recruiter)
    assert [(f.code, f.stage) for f in caught.value.failures] == [("reopen", "hired"), ("role", "offer")]
    assert caught.value.failures[0].message == "Only manager may reopen a record that is Hired."
    assert pipeline.move(c.id, "offer", manager).stage == "offer"


def test_without_reopen_roles_only_admins_reopen(make_pipeline, manager, admin):
    doc = hiring_workflow()
    del doc["reopen_roles"]
    pipeline = make_pipeline(doc)
    c = pipeline.candidate(manager, stage="rejected", reason="x")
    with pytest.raises(GateBlocked) as caught:
        pipeline.move(c.id, "applied", manager, lang="zh")
    assert [f.code for f in caught.value.failures] == ["reopen"]
    assert caught.value.failures[0].message == "处于“已拒绝”的记录不能重新打开。"
    assert pipeline.move(c.id, "applied", admin).stage == "applied"


# -- policy and errors ---------------------------------------------------------------------------

def test_unknown_stage_and_entities_without_a_workflow(pipeline, manager):
    c = pipeline.candidate(manager)
    with pytest.raises(UnknownStage) as caught:
        pipeline.move(c.id, "nowhere", manager)
    assert caught.value.status == 400
    i = pipeline.interview(c.id)
    with pytest.raises(UnknownStage), pipeline.db.write() as conn:
        move_to_stage(conn, pipeline.app, pipeline.interviews, i.id, "applied", manager)


def test_a_user_who_cannot_read_the_record_gets_not_found(pipeline, recruiter, make_user):
    other = make_user("other@example.com", "recruiter")
    c = pipeline.candidate(recruiter, cv_link=CV)
    with pytest.raises(NotFoundError):
        pipeline.move(c.id, "screened", other)


def test_a_user_who_may_only_read_is_forbidden(pipeline, recruiter, make_user):
    viewer = make_user("viewer@example.com", "viewer")
    c = pipeline.candidate(recruiter, cv_link=CV)
    with pytest.raises(StageForbidden) as caught:
        pipeline.move(c.id, "screened", viewer)
    assert caught.value.status == 403


def test_a_stale_version_is_a_conflict_with_the_fresh_record(pipeline, manager):
    c = pipeline.candidate(manager, cv_link=CV)
    with pipeline.db.write() as conn:
        update_record(conn, pipeline.app, pipeline.candidates, c.id, {"score": 50}, actor_id=manager.id,
                      expected_version=1)
    with pytest.raises(ConflictError) as caught:
        pipeline.move(c.id, "screened", manager, expected_version=1)
    assert caught.value.status == 409 and caught.value.current.version == 2
    assert pipeline.get(c.id).stage == "applied"


def test_update_record_cannot_change_the_stage(pipeline, manager):
    c = pipeline.candidate(manager)
    with pytest.raises(RecordInvalid), pipeline.db.write() as conn:
        update_record(conn, pipeline.app, pipeline.candidates, c.id, {"stage": "hired"}, actor_id=manager.id,
                      expected_version=1)
    assert pipeline.get(c.id).stage == "applied"


# -- admin override -------------------------------------------------------------------------------

def test_admin_override_skips_gates_and_writes_the_reason(pipeline, admin):
    c = pipeline.candidate(admin)
    moved = pipeline.move(c.id, "hired", admin, override_reason="  Hired by the CEO directly  ")
    assert moved.stage == "hired"
    assert history(pipeline, c.id)[-1].override_reason == "Hired by the CEO directly"
    assert event_rows(pipeline, c.id)[-1].payload["override_reason"] == "Hired by the CEO directly"


def test_override_needs_a_reason(pipeline, admin):
    c = pipeline.candidate(admin)
    with pytest.raises(OverrideReasonMissing):
        pipeline.move(c.id, "hired", admin, override_reason="   ")
    assert pipeline.get(c.id).stage == "applied"


def test_only_app_admins_may_override(pipeline, manager):
    c = pipeline.candidate(manager)
    with pytest.raises(StageForbidden):
        pipeline.move(c.id, "hired", manager, override_reason="Because")
    assert pipeline.get(c.id).stage == "applied"


def test_admins_without_override_meet_the_gates_like_everyone(pipeline, admin):
    c = pipeline.candidate(admin)
    assert failure_codes(pipeline, c.id, "screened", admin) == [("required", "screened")]


# -- transactions and concurrency -------------------------------------------------------------------

def test_move_history_and_events_roll_back_together(pipeline, manager):
    c = pipeline.candidate(manager, cv_link=CV)
    before = len(event_rows(pipeline, c.id))
    with pytest.raises(RuntimeError), pipeline.db.write() as conn:
        move_to_stage(conn, pipeline.app, pipeline.candidates, c.id, "screened", manager)
        assert conn.execute(select(events).where(events.c.record_id == c.id,
                                                 events.c.type == "stage_entered")).first() is not None
        raise RuntimeError("the caller failed after the move")
    assert pipeline.get(c.id).stage == "applied"
    assert len(event_rows(pipeline, c.id)) == before and len(history(pipeline, c.id)) == 1


@pytest.mark.parametrize("targets", [("screened", "screened"), ("screened", "rejected")])
def test_two_users_moving_at_once_exactly_one_wins(database_url, pipeline, manager, targets):
    c = pipeline.candidate(manager, cv_link=CV, reason="r")
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def mover(i: int, target: str) -> None:
        db = Database(database_url)
        try:
            barrier.wait()
            with db.write() as conn:
                outcomes[i] = move_to_stage(conn, pipeline.app, pipeline.candidates, c.id, target, manager,
                                            expected_version=1)
        except Exception as exc:   # noqa: BLE001 -- collected for the assertion
            outcomes[i] = exc
        finally:
            db.dispose()

    threads = [threading.Thread(target=mover, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wins = [o for o in outcomes if not isinstance(o, Exception)]
    losses = [o for o in outcomes if isinstance(o, Exception)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert isinstance(losses[0], ConflictError) and losses[0].current.version == 2
    final = pipeline.get(c.id)
    assert final.version == 2 and final.stage == wins[0].stage
    assert len(history(pipeline, c.id)) == 2
    assert [e.type for e in event_rows(pipeline, c.id)].count("stage_entered") == 1
