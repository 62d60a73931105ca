"""A publish and the approval requests in flight (issue 18's gap, seen from the designer): the
impact preview counts the pending requests a change touches and says what happens to them;
a request into a stage that still exists keeps the steps it started with, and a request into
a removed stage is cancelled on publish with a trace (request, decision, audit, event, bell)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from formloom.automation.worker import sync_changed_apps
from formloom.design.impact import preview
from formloom.store.apps import AppCatalog, current_version
from formloom.store.install import install_documents
from formloom.store.tables import approval_decisions, audit, events, notifications
from formloom.workflow.approvals import CANCELLED, get_request

from .conftest import Pipeline
from .test_approvals import TWO_STEPS, approval_app, ask, at_interviewed, people, with_approval  # noqa: F401

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def two_waiting(people):
    p, u = people(TWO_STEPS)
    sync_changed_apps(p.db, AppCatalog(p.db), NOW)                 # the installed version is the synced one
    reqs = [ask(p, at_interviewed(p, u, name=name, salary=100).id, u["rec"]) for name in ("Ann", "Bo")]
    return p, u, reqs


def without_offer() -> dict:
    wf = with_approval(TWO_STEPS)
    wf["stages"] = [s for s in wf["stages"] if s["key"] != "offer"]
    return wf


def draft_impact(db, workflow: dict):
    with db.read() as conn:
        live = current_version(conn, "recruiting").documents
        return [c for c in preview(conn, live, {"app": approval_app(), "workflows": {"hiring": workflow}}).changes
                if c.kind.startswith("approvals_")]


def test_the_preview_says_pending_requests_keep_their_steps_when_the_approval_changes(people, db):
    p, u, reqs = two_waiting(people)
    [change] = draft_impact(db, with_approval({"steps": [{"key": "other", "approvers": ["role:admin"]}]}))
    assert (change.kind, change.key, change.records) == ("approvals_kept", "hiring.offer", 2)
    assert sorted(title for _, title in change.examples) == ["Ann", "Bo"]
    assert draft_impact(db, with_approval(TWO_STEPS)) == []                     # same approval: nothing to say


def test_removing_a_stage_cancels_the_requests_into_it_on_publish_with_a_trace(people, db):
    p, u, reqs = two_waiting(people)
    [change] = draft_impact(db, without_offer())
    assert (change.kind, change.records) == ("approvals_cancelled", 2)

    install_documents(db, approval_app(), {"hiring": without_offer()})
    sync_changed_apps(db, AppCatalog(db), NOW)
    app = AppCatalog(db).get("recruiting")[0]
    with db.read() as conn:
        done = [get_request(conn, r.id) for r in reqs]
        assert [r.status for r in done] == [CANCELLED, CANCELLED]
        assert "stage offer was removed" in done[0].reason and done[0].waiting_on == []
        assert done[0].status_text("zh") != CANCELLED                            # worded for people
        assert conn.execute(select(approval_decisions.c.decision).where(
            approval_decisions.c.request_id == reqs[0].id).order_by(approval_decisions.c.id)
        ).scalars().all() == ["request", "cancel"]
        assert conn.execute(select(audit.c.changes).where(audit.c.record_id == reqs[0].record_id,
                                                          audit.c.action == "approval")).scalars().all()[-1][
            "$approval"][1]["decision"] == "cancel"
        assert conn.execute(select(events.c.payload).where(events.c.type == "approval_decided",
                                                           events.c.record_id == reqs[0].record_id)
                            ).scalar_one()["outcome"] == CANCELLED
        told = conn.execute(select(notifications.c.user_id).where(notifications.c.record_id == reqs[0].record_id,
                                                                  notifications.c.created_at == NOW)).scalars().all()
    assert set(told) == {u["rec"].id, u["manager"].id}                           # the requester and the approver
    assert Pipeline(db, app).get(reqs[0].record_id).stage == "interviewed"       # the record stays where it was
    sync_changed_apps(db, AppCatalog(db), NOW)                                   # a second sync changes nothing
    with db.read() as conn:
        assert len(conn.execute(select(approval_decisions.c.id).where(
            approval_decisions.c.request_id == reqs[0].id)).scalars().all()) == 2
