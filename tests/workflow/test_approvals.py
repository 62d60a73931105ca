"""Approvals as a gate requirement: requests, steps, approver kinds, decisions, timeouts.

The recruiting app (not the CRM): moving a candidate to `offer` needs sign-off."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from formloom.auth.users import create_user, load_actor, set_manager
from formloom.automation.settings import Settings
from formloom.automation.worker import run_once
from formloom.definitions.validate import validate_workflow
from formloom.errors import ConflictError, ForbiddenError, NotFoundError
from formloom.store.apps import AppCatalog
from formloom.store.records import AwaitingApproval, update_record
from formloom.store.tables import approval_decisions, audit, events, jobs, notifications
from formloom.workflow import GateBlocked, move_to_stage
from formloom.workflow.approvals import (ApprovalPending, ApprovalRequired, ApprovalStarted, CommentMissing, decide, decisions_of,
                                         get_request, in_flight, pending_request, start_request, waiting_on, withdraw)

from .conftest import Pipeline, hiring_workflow, recruiting_app

UTC = timezone.utc


def approval_app() -> dict:
    app = recruiting_app()
    app["entities"][0]["fields"].append({"key": "reviewer", "type": "user", "label": "Reviewer"})
    return app


def with_approval(approval: dict) -> dict:
    wf = hiring_workflow()
    offer = next(s for s in wf["stages"] if s["key"] == "offer")
    offer["gate"] = {"approval": approval}
    offer.pop("required", None)
    return wf


TWO_STEPS = {"steps": [
    {"key": "lead", "label": {"en": "Hiring lead", "zh": "招聘负责人"}, "approvers": ["manager"]},
    {"key": "director", "label": {"en": "Director", "zh": "总监"}, "approvers": ["user:director@example.com"],
     "when": {">": [{"var": "salary"}, 500000]}}]}


@pytest.fixture
def people(db, install):
    """install(approval) -> (Pipeline, {name: Actor}); the recruiter reports to the manager,
    the manager to the director."""
    def make(approval: dict, rules: list | None = None):
        wf = with_approval(approval)
        wf["rules"] = rules or []
        app = install(wf, approval_app())
        ids = {}
        with db.write() as conn:
            for name, roles in (("director", ["manager"]), ("manager", ["manager"]), ("rec", ["recruiter"]),
                                ("other", ["recruiter"]), ("admin", ["admin"]), ("peer", ["manager"])):
                ids[name] = create_user(conn, f"{name}@example.com", "password123",
                                        roles=[("recruiting", r) for r in roles])
            set_manager(conn, ids["manager"], ids["director"])
            set_manager(conn, ids["rec"], ids["manager"])
            actors = {n: load_actor(conn, i) for n, i in ids.items()}
        return Pipeline(db, app), actors
    return make


def ask(p: Pipeline, record_id: int, actor, stage="offer", now=None, **kw):
    """What the screens do: move with request_approval; the request when one was started."""
    with p.db.write() as conn:
        try:
            move_to_stage(conn, p.app, p.candidates, record_id, stage, actor, now=now, request_approval=True, **kw)
            return None
        except ApprovalStarted as started:
            return started.request


def act(p: Pipeline, req, actor, decision="approve", comment=None, now=None):
    with p.db.write() as conn:
        return decide(conn, p.app, p.candidates, req.record_id, req.id, actor, decision, comment, now=now)


def at_interviewed(p, users, **data):
    """A candidate sitting in `interviewed`, ready for the offer."""
    return p.candidate(users["rec"], stage="interviewed", **{"cv_link": "https://cv.example/a", "score": 80, **data})


# -- requesting ---------------------------------------------------------------------------------------

def test_move_into_an_approval_gate_starts_a_request_instead_of_moving(people):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u, salary=100)
    req = ask(p, rec.id, u["rec"])
    assert req is not None and req.pending and req.to_stage == "offer"
    assert p.get(rec.id).stage == "interviewed"
    assert req.status_text("en") == "awaiting approval (step 1 of 1: Hiring lead)"
    assert req.status_text("zh").startswith("等待审批")
    assert req.waiting_on == [u["manager"].id]


def test_without_request_approval_the_move_is_refused_and_nothing_is_stored(people, db):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u, salary=100)
    with pytest.raises(ApprovalRequired) as refused:
        p.move(rec.id, "offer", u["rec"], values={"score": 99}, expected_version=rec.version)
    assert refused.value.failures[0].code == "approval"
    assert p.get(rec.id).data["score"] == 80
    with db.read() as conn:
        assert pending_request(conn, rec.id) is None
    # the screens' way: the values are saved with the request, in one commit
    req = ask(p, rec.id, u["rec"], values={"score": 99}, expected_version=rec.version)
    assert req.pending and p.get(rec.id).data["score"] == 99
    # and a request can also be started explicitly after a refusal
    other = at_interviewed(p, u, salary=100)
    with db.write() as conn:
        assert start_request(conn, p.app, p.candidates, other.id, "offer", u["rec"]).pending


def test_conditional_step_applies_only_when_its_condition_holds(people):
    p, u = people(TWO_STEPS)
    big = at_interviewed(p, u, salary=600000)
    req = ask(p, big.id, u["rec"])
    assert [s["key"] for s in req.steps] == ["lead", "director"]
    assert req.status_text("en") == "awaiting approval (step 1 of 2: Hiring lead)"


def test_no_applicable_step_means_no_approval(people):
    p, u = people({"steps": [{"key": "d", "approvers": ["role:manager"], "when": {">": [{"var": "salary"}, 5]}}]})
    rec = at_interviewed(p, u, salary=1)
    assert ask(p, rec.id, u["rec"]) is None
    assert p.get(rec.id).stage == "offer"


def test_other_failures_are_listed_with_the_approval_and_no_request_starts(people, db, install):
    p, u = people(TWO_STEPS)
    wf = with_approval(TWO_STEPS)
    next(s for s in wf["stages"] if s["key"] == "offer")["gate"]["require"] = ["reason"]
    p = Pipeline(db, install(wf, approval_app()))
    rec = at_interviewed(p, u, salary=1)
    with pytest.raises(GateBlocked) as refused:
        p.move(rec.id, "offer", u["rec"])
    assert not isinstance(refused.value, ApprovalRequired)
    assert [f.code for f in refused.value.failures] == ["required", "approval"]
    assert "needs approval" in refused.value.failures[1].message
    with db.read() as conn:
        assert pending_request(conn, rec.id) is None


# -- approver kinds -----------------------------------------------------------------------------------

@pytest.mark.parametrize("approver, who", [
    ("manager", ["manager"]),
    ("manager_manager", ["director"]),
    ("role:manager", ["director", "manager", "peer"]),
    ("field:reviewer", ["peer"]),
    ("user:director@example.com", ["director"]),
])
def test_each_approver_kind_resolves_to_its_people(people, approver, who):
    p, u = people({"steps": [{"key": "s", "approvers": [approver]}]})
    rec = at_interviewed(p, u, reviewer=u["peer"].id)
    req = ask(p, rec.id, u["rec"])
    assert sorted(req.waiting_on) == sorted(u[n].id for n in who)


def test_nobody_resolved_falls_back_to_the_app_admins(people):
    p, u = people({"steps": [{"key": "s", "approvers": ["field:reviewer"]}]})
    rec = at_interviewed(p, u)
    assert ask(p, rec.id, u["rec"]).waiting_on == [u["admin"].id]


# -- deciding -----------------------------------------------------------------------------------------

def test_last_approval_moves_the_record_and_everything_is_recorded(people, db):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u, salary=600000)
    req = ask(p, rec.id, u["rec"])
    req = act(p, req, u["manager"], comment="fine by me")
    assert req.pending and req.step_index == 1 and req.waiting_on == [u["director"].id]
    assert p.get(rec.id).stage == "interviewed"
    req = act(p, req, u["director"])
    assert req.status == "approved"
    moved = p.get(rec.id)
    assert moved.stage == "offer"
    with db.read() as conn:
        kinds = [d["decision"] for d in decisions_of(conn, [req.id])]
        audits = conn.execute(select(audit.c.action, audit.c.changes).where(audit.c.record_id == rec.id)).all()
        types = conn.execute(select(events.c.type).where(events.c.record_id == rec.id)).scalars().all()
        bells = conn.execute(select(notifications.c.user_id).where(notifications.c.record_id == rec.id)).scalars().all()
    assert kinds == ["request", "approve", "approve"]
    assert [a.changes["$approval"][1]["decision"] for a in audits if a.action == "approval"] == \
        ["request", "approve", "approve"]
    assert "stage" in [a.action for a in audits]
    assert {"approval_requested", "approval_decided", "stage_entered"} <= set(types)
    assert {u["manager"].id, u["director"].id, u["rec"].id} <= set(bells)


def test_rejection_needs_a_comment_and_leaves_the_record_in_place(people, db):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u, salary=1)
    req = ask(p, rec.id, u["rec"])
    with pytest.raises(CommentMissing):
        act(p, req, u["manager"], "reject", "  ")
    req = act(p, req, u["manager"], "reject", "Budget is frozen")
    assert req.status == "rejected" and req.reason == "Budget is frozen"
    assert p.get(rec.id).stage == "interviewed"
    with db.read() as conn:
        assert pending_request(conn, rec.id) is None
    assert ask(p, rec.id, u["rec"]).pending       # may ask again


def test_all_rule_waits_for_everyone(people):
    p, u = people({"steps": [{"key": "s", "approvers": ["role:manager"], "rule": "all"}]})
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    req = act(p, req, u["manager"])
    assert req.pending and sorted(req.waiting_on) == sorted([u["director"].id, u["peer"].id])
    req = act(p, req, u["peer"])
    assert req.pending
    req = act(p, req, u["director"])
    assert req.status == "approved" and p.get(rec.id).stage == "offer"


def test_any_rule_takes_the_first_approval(people):
    p, u = people({"steps": [{"key": "s", "approvers": ["role:manager"]}]})
    rec = at_interviewed(p, u)
    req = act(p, ask(p, rec.id, u["rec"]), u["peer"])
    assert req.status == "approved"


def test_nobody_approves_their_own_request_unless_allowed(people):
    p, u = people({"steps": [{"key": "s", "approvers": ["role:manager"]}]})
    rec = p.candidate(u["manager"], stage="interviewed", cv_link="https://x.example", score=90)
    req = ask(p, rec.id, u["manager"])
    assert u["manager"].id not in req.waiting_on
    with pytest.raises(ForbiddenError):
        act(p, req, u["manager"])


def test_self_approval_when_the_workflow_allows_it(people):
    p, u = people({"steps": [{"key": "s", "approvers": ["role:manager"]}], "allow_self_approval": True})
    rec = p.candidate(u["manager"], stage="interviewed", cv_link="https://x.example", score=90)
    req = ask(p, rec.id, u["manager"])
    assert act(p, req, u["manager"]).status == "approved"


@pytest.mark.parametrize("who, allowed", [("manager", True), ("director", False), ("rec", False),
                                          ("other", False), ("peer", False), ("admin", False)])
def test_permission_matrix_for_deciding(people, who, allowed):
    p, u = people({"steps": [{"key": "s", "approvers": ["manager"]}]})
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    if allowed:
        assert act(p, req, u[who]).status == "approved"
    else:
        with pytest.raises((ForbiddenError, NotFoundError)) as caught:
            act(p, req, u[who])
        assert getattr(caught.value, "status", None) in (403, 404)


def test_inbox_lists_only_what_waits_on_me(people, db):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    with db.read() as conn:
        assert [r.id for r in waiting_on(conn, u["manager"])] == [req.id]
        assert waiting_on(conn, u["peer"]) == []
        assert waiting_on(conn, u["rec"]) == []


# -- waiting ------------------------------------------------------------------------------------------

def test_fields_are_read_only_while_waiting_except_what_the_step_allows(people, db):
    p, u = people({"steps": [{"key": "s", "approvers": ["manager"], "editable": ["salary"]}]})
    rec = at_interviewed(p, u, salary=10)
    ask(p, rec.id, u["rec"])
    with pytest.raises(AwaitingApproval):
        with db.write() as conn:
            update_record(conn, p.app, p.candidates, rec.id, {"score": 95}, actor_id=u["rec"].id,
                          expected_version=None)
    with pytest.raises(AwaitingApproval):
        with db.write() as conn:
            update_record(conn, p.app, p.candidates, rec.id, {"score": 95}, actor_id=u["manager"].id,
                          expected_version=None)
    with db.write() as conn:
        update_record(conn, p.app, p.candidates, rec.id, {"salary": 20}, actor_id=u["manager"].id,
                      expected_version=None)
    assert float(p.get(rec.id).data["salary"]) == 20
    with pytest.raises(ApprovalPending):
        p.move(rec.id, "rejected", u["rec"])


def test_an_edit_refused_while_waiting_writes_nothing_and_an_allowed_one_is_logged_once(people, db):
    p, u = people({"steps": [{"key": "s", "approvers": ["manager"], "editable": ["salary"]}]})
    rec = at_interviewed(p, u, salary=10)
    ask(p, rec.id, u["rec"])
    version = p.get(rec.id).version
    with db.read() as conn:
        before = (conn.execute(select(audit.c.id)).all(), conn.execute(select(events.c.id)).all())
    with pytest.raises(AwaitingApproval), db.write() as conn:
        update_record(conn, p.app, p.candidates, rec.id, {"score": 95}, actor_id=u["rec"].id, expected_version=None)
    with db.read() as conn:
        assert (conn.execute(select(audit.c.id)).all(), conn.execute(select(events.c.id)).all()) == before
    with db.write() as conn:
        update_record(conn, p.app, p.candidates, rec.id, {"salary": 20}, actor_id=u["manager"].id,
                      expected_version=None)
    with db.read() as conn:
        logged = conn.execute(select(audit.c.changes, audit.c.record_version)
                              .where(audit.c.record_id == rec.id, audit.c.id > max(r.id for r in before[0]))).all()
        updated = conn.execute(select(events.c.payload).where(events.c.record_id == rec.id,
                                                              events.c.type == "record_updated",
                                                              events.c.id > max(r.id for r in before[1]))).all()
    assert [(list(r.changes), r.record_version) for r in logged] == [(["salary"], version + 1)]
    assert [r.payload["fields"] for r in updated] == [["salary"]]
    assert p.get(rec.id).version == version + 1


def test_requester_withdraws(people, db):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    with pytest.raises(ForbiddenError):
        with db.write() as conn:
            withdraw(conn, p.app, p.candidates, rec.id, req.id, u["manager"])
    with db.write() as conn:
        done = withdraw(conn, p.app, p.candidates, rec.id, req.id, u["rec"], "changed my mind")
    assert done.status == "withdrawn"
    with pytest.raises(ConflictError):
        act(p, req, u["manager"])
    p.move(rec.id, "rejected", u["rec"], values={"reason": "gone"})      # free again
    assert p.get(rec.id).stage == "rejected"


def test_in_flight_request_finishes_under_the_approval_it_started_with(people, db, install):
    p, u = people(TWO_STEPS)
    rec = at_interviewed(p, u, salary=600000)
    req = ask(p, rec.id, u["rec"])
    # the admin publishes a version whose approval has a single, different step
    app = install(with_approval({"steps": [{"key": "other", "approvers": ["role:admin"]}]}), approval_app())
    p = Pipeline(db, app)
    with db.read() as conn:
        assert [r.id for r in in_flight(conn, "recruiting")] == [req.id]      # what an impact preview lists
    req = act(p, req, u["manager"])
    assert req.step["key"] == "director"
    assert act(p, req, u["director"]).status == "approved"
    assert p.get(rec.id).stage == "offer"


# -- concurrency --------------------------------------------------------------------------------------

def test_two_approvers_at_once_on_an_any_step_produce_one_decision(people, db):
    p, u = people({"steps": [{"key": "s", "approvers": ["role:manager"]}]})
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(who):
        barrier.wait()
        try:
            act(p, req, u[who])
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=approve, args=(w,)) for w in ("manager", "peer")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    with db.read() as conn:
        decided = conn.execute(select(approval_decisions.c.decision)
                               .where(approval_decisions.c.request_id == req.id)).scalars().all()
    assert decided == ["request", "approve"]
    assert p.get(rec.id).stage == "offer"


# -- timeouts -----------------------------------------------------------------------------------------

SETTINGS = Settings(backoff_base=10.0, backoff_cap=600.0, max_attempts=3, lease_seconds=60.0,
                    base_url="https://hr.example")


def test_timeout_escalates_to_the_approvers_manager(people, db):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        p, u = people({"steps": [{"key": "s", "approvers": ["manager"], "timeout": "P2D",
                                  "on_timeout": "escalate"}]})
        rec = at_interviewed(p, u)
        req = ask(p, rec.id, u["rec"])
        run_once(db, AppCatalog(db), settings=SETTINGS)
        with db.read() as conn:
            assert pending_request(conn, rec.id).waiting_on == [u["manager"].id]
        clock.move_to(start + timedelta(days=2, minutes=1))
        run_once(db, AppCatalog(db), settings=SETTINGS)
        with db.read() as conn:
            assert pending_request(conn, rec.id).waiting_on == [u["manager"].id, u["director"].id]
            bells = conn.execute(select(notifications.c.user_id)
                                 .where(notifications.c.record_id == rec.id)).scalars().all()
        assert u["director"].id in bells
        with db.read() as conn:
            req = get_request(conn, req.id)
        assert act(p, req, u["director"]).status == "approved"


def test_timeout_rejects_automatically(people, db):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        p, u = people({"steps": [{"key": "s", "approvers": ["manager"], "timeout": "PT4H",
                                  "on_timeout": "reject"}]})
        rec = at_interviewed(p, u)
        req = ask(p, rec.id, u["rec"])
        clock.move_to(start + timedelta(hours=3))
        run_once(db, AppCatalog(db), settings=SETTINGS)
        with db.read() as conn:
            assert pending_request(conn, rec.id) is not None
        clock.move_to(start + timedelta(hours=4, minutes=1))
        run_once(db, AppCatalog(db), settings=SETTINGS)
        with db.read() as conn:
            assert pending_request(conn, rec.id) is None
            assert [d["decision"] for d in decisions_of(conn, [req.id])] == ["request", "timeout"]
        assert p.get(rec.id).stage == "interviewed"


def test_business_day_timeouts_skip_the_weekend(people, db):
    friday = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)            # 16:00 on a Friday in Shanghai
    with time_machine.travel(friday, tick=False):
        p, u = people({"steps": [{"key": "s", "approvers": ["manager"], "timeout": "P1D", "business_days": True,
                                  "on_timeout": "reject"}]})
        rec = at_interviewed(p, u)
        ask(p, rec.id, u["rec"])
    with db.read() as conn:
        due = conn.execute(select(jobs.c.due_at).where(jobs.c.kind == "approval_timeout")).scalar_one()
    due = due if due.tzinfo is not None else due.replace(tzinfo=UTC)
    assert due == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)                # Monday, 16:00 in Shanghai


def test_a_rule_reminds_the_approvers_of_a_request_that_waits_too_long(people, db):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    rules = [{"key": "nudge", "trigger": {"type": "approval_waiting", "stage": "offer", "after": "P1D"},
              "actions": [{"type": "notify", "to": ["approvers"], "message": "Still waiting"}]}]
    with time_machine.travel(start, tick=False) as clock:
        p, u = people({"steps": [{"key": "s", "approvers": ["manager"]}]}, rules)
        rec = at_interviewed(p, u)
        ask(p, rec.id, u["rec"])
        run_once(db, AppCatalog(db), settings=SETTINGS)
        clock.move_to(start + timedelta(hours=23))
        run_once(db, AppCatalog(db), settings=SETTINGS)

        def nudges():
            with db.read() as conn:
                return conn.execute(select(notifications.c.user_id).where(
                    notifications.c.body == "Still waiting")).scalars().all()
        assert nudges() == []
        clock.move_to(start + timedelta(days=1, minutes=1))
        run_once(db, AppCatalog(db), settings=SETTINGS)
        assert nudges() == [u["manager"].id]


# -- documents ----------------------------------------------------------------------------------------

def test_meaning_checks_locate_unknown_roles_fields_and_user_fields():
    wf = with_approval({"steps": [
        {"key": "a", "approvers": ["role:boss", "field:nope", "field:score"], "editable": ["nah"],
         "when": {">": [{"var": "ghost"}, 1]}, "on_timeout": "reject"}]})
    problems = validate_workflow(wf, approval_app(), source="hiring.json")
    paths = {p.json_path for p in problems}
    assert "$.stages[3].gate.approval.steps[0].approvers[0]" in paths
    assert "$.stages[3].gate.approval.steps[0].approvers[1]" in paths
    assert "$.stages[3].gate.approval.steps[0].approvers[2]" in paths
    assert "$.stages[3].gate.approval.steps[0].editable[0]" in paths
    assert "$.stages[3].gate.approval.steps[0].when" in paths
    assert "$.stages[3].gate.approval.steps[0].on_timeout" in paths


def test_schema_refuses_an_unknown_approver_kind():
    wf = with_approval({"steps": [{"key": "a", "approvers": ["boss"]}]})
    problems = validate_workflow(wf, approval_app(), source="hiring.json")
    assert any(p.json_path == "$.stages[3].gate.approval.steps[0].approvers[0]" for p in problems)


# -- notifications and automation ------------------------------------------------------------------

def test_approvers_get_an_email_job_and_rules_fire_on_requested_and_decided(people, db):
    rules = [{"key": "asked", "trigger": {"type": "approval_requested", "stage": "offer"},
              "actions": [{"type": "notify", "to": ["role:admin"], "message": "Approval asked"}]},
             {"key": "refused", "trigger": {"type": "approval_decided", "outcome": "rejected"},
              "actions": [{"type": "notify", "to": ["role:admin"], "message": "Approval refused"}]},
             {"key": "granted", "trigger": {"type": "approval_decided", "outcome": "approved"},
              "actions": [{"type": "notify", "to": ["role:admin"], "message": "Approval granted"}]}]
    p, u = people({"steps": [{"key": "s", "approvers": ["manager"]}]}, rules)
    rec = at_interviewed(p, u)
    req = ask(p, rec.id, u["rec"])
    with db.read() as conn:
        mail = conn.execute(select(jobs.c.payload).where(jobs.c.kind == "email", jobs.c.record_id == rec.id)).all()
    assert [m.payload["to"] for m in mail] == ["manager@example.com"]
    act(p, req, u["manager"], "reject", "no")
    run_once(db, AppCatalog(db), settings=SETTINGS)
    with db.read() as conn:
        told = conn.execute(select(notifications.c.body).where(notifications.c.user_id == u["admin"].id)
                            ).scalars().all()
    assert sorted(told) == ["Approval asked", "Approval refused"]
