"""Replaying reminders that fell due in the past (automation/replay.py): for data that
arrives with a history, the in-app part of each reminder due in the window is delivered
as of its due time, marked, exactly once; mail and field changes are not replayed, the
condition still applies, and nothing replayed fires again later."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from formloom.automation.replay import replay_due
from formloom.store.tables import jobs

from .conftest import at, rule

RULES = [
    rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"},
         {"type": "notify", "to": ["owner"]}, {"type": "email", "to": ["owner"]},
         {"type": "set_field", "field": "resolution", "value": "reminded"}),
    rule("only_high", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"},
         condition={"==": [{"var": "priority"}, "high"]}),
    rule("escalate_me", {"type": "date_field", "field": "due", "offset": "P0D", "at": "10:00"},
         {"type": "escalate"}),
]


def _replay(desk, days=14):
    with desk.db.write() as conn:
        return replay_due(conn, desk.app, desk.now() - timedelta(days=days), desk.now())


def test_past_reminders_reach_the_bell_once_as_of_their_due_time(desk_factory):
    desk = desk_factory(RULES)
    ticket = desk.create(due="2026-02-25", priority="low")       # due_soon fell due on 24 Feb, 09:00 Berlin
    old = desk.create(due="2026-01-10")                          # before the window: not replayed
    desk.process()
    assert desk.pending() == []                                  # a live app does not fire past reminders

    assert _replay(desk) == 2                                    # due_soon and escalate_me; only_high skipped
    notes = desk.notes_for("ann")
    assert [n.subject for n in notes] == ["due_soon: Printer on fire"]
    assert notes[0].idempotency_key.startswith("demo:rem:support:ticket_flow:due_soon:")
    assert notes[0].created_at.replace(tzinfo=None) == at("2026-02-24T08:00:00Z").replace(tzinfo=None)
    assert [n.subject for n in desk.notes_for("boss")] == ["escalate_me: Printer on fire"]
    assert {r.rule_key: r.outcome for r in desk.runs()} == {"due_soon": "fired", "only_high": "skipped",
                                                           "escalate_me": "fired"}
    assert desk.get(ticket).data.get("resolution") is None       # no field changes replayed
    with desk.db.read() as conn:
        kinds = conn.execute(select(jobs.c.kind, jobs.c.status)).all()
    assert ("email", "pending") not in kinds                     # nobody gets mail about the past
    assert all(status == "done" for kind, status in kinds if kind == "reminder")
    assert all(n.record_id != old.id for n in desk.notes_for("ann"))

    assert _replay(desk) == 0                                    # exactly once
    desk.work()
    assert len(desk.notes_for("ann")) == 1 and len(desk.notes_for("boss")) == 1
