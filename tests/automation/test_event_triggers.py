"""Event triggers: which record changes fire which rules, after commit, once."""
import pytest

from formloom.automation import TRIGGERS, process_events
from formloom.automation.rules import RegistryError, event_trigger
from formloom.store.tables import events

from .conftest import SETTINGS, rule


def notify(message="{{ rule.key }}: {{ record.title }}"):
    return {"type": "notify", "to": ["owner"], "message": message}


def test_record_created_fires_once_after_commit(desk_factory):
    desk = desk_factory([rule("hello", {"type": "record_created"}, notify())])
    ticket = desk.create()
    assert desk.notes_for("ann") == []            # nothing fires inside the saving transaction
    assert desk.process() == 1
    assert desk.process() == 0                    # processed events are not handled again
    notes = desk.notes_for("ann")
    assert [n.body for n in notes] == ["hello: Printer on fire"]
    assert notes[0].record_id == ticket.id
    assert [r.outcome for r in desk.runs("hello")] == ["fired"]


def test_record_updated_only_for_listed_fields(desk_factory):
    desk = desk_factory([rule("prio", {"type": "record_updated", "fields": ["priority"]}, notify()),
                         rule("any", {"type": "record_updated"}, notify())])
    ticket = desk.create()
    desk.update(ticket, score=3)
    desk.update(ticket, priority="high")
    desk.process()
    assert [r.rule_key for r in desk.runs()] == ["any", "prio", "any"]


def test_field_changed(desk_factory):
    desk = desk_factory([rule("due_moved", {"type": "field_changed", "field": "due"}, notify())])
    ticket = desk.create(due="2026-03-20")
    desk.update(ticket, score=1)
    desk.update(ticket, due="2026-03-21")
    desk.process()
    assert len(desk.runs("due_moved")) == 1


def test_stage_entered_with_from_and_stage_left(desk_factory):
    desk = desk_factory([
        rule("entered_open", {"type": "stage_entered", "stage": "open"}, notify()),
        rule("waiting_from_open", {"type": "stage_entered", "stage": "waiting", "from": ["open"]}, notify()),
        rule("left_new", {"type": "stage_left", "stage": "new"}, notify()),
        rule("entered_new", {"type": "stage_entered", "stage": "new"}, notify()),
    ])
    first = desk.create()
    desk.move(first, "open")
    desk.move(first, "waiting")
    second = desk.create(subject="Second")
    desk.move(second, "waiting")              # not from open
    desk.process()
    fired = [(r.rule_key, r.record_id) for r in desk.runs()]
    assert fired == [("entered_new", first.id), ("left_new", first.id), ("entered_open", first.id),
                     ("waiting_from_open", first.id), ("entered_new", second.id), ("left_new", second.id)]


def test_condition_is_evaluated_when_the_rule_fires(desk_factory):
    desk = desk_factory([rule("high_only", {"type": "record_created"}, notify(),
                              condition={"==": [{"var": "priority"}, "high"]})])
    desk.create(priority="low")
    desk.create(priority="high")
    desk.process()
    assert [r.outcome for r in desk.runs()] == ["skipped", "fired"]
    assert len(desk.notes_for("ann")) == 1


def test_rules_triggering_rules_stop_at_the_depth_limit(desk_factory):
    # each update bumps `hits`, which is an update, which bumps `hits` ...
    desk = desk_factory([rule("bump", {"type": "field_changed", "field": "hits"},
                              {"type": "set_field", "field": "hits", "formula": "hits + 1"})])
    ticket = desk.create(hits=0)
    desk.update(ticket, hits=1)
    desk.process()
    runs = desk.runs("bump")
    assert [r.outcome for r in runs] == ["fired"] * 5 + ["skipped"]
    assert "loop" in runs[-1].message
    assert desk.get(ticket).data["hits"] == 6
    assert desk.rows(events, events.c.processed_at.is_(None)) == []


def test_a_duplicate_trigger_name_fails_at_registration():
    assert "record_created" in TRIGGERS
    with pytest.raises(RegistryError):
        event_trigger("record_created")(lambda spec, event: True)


def test_two_processors_handle_each_event_once(desk_factory):
    desk = desk_factory([rule("hello", {"type": "record_created"}, notify())])
    for i in range(5):
        desk.create(subject=f"T{i}")
    assert process_events(desk.db, desk.catalog, settings=SETTINGS) == 5
    assert process_events(desk.db, desk.catalog, settings=SETTINGS) == 0
    assert len(desk.notes_for("ann")) == 5


def test_a_batch_past_its_time_commits_what_it_handled_and_leaves_the_rest(desk_factory, monkeypatch):
    """The worker's transaction holds SQLite's write lock and the rows its rules touch:
    it must not hold them for a whole batch of 200 events while requests wait."""
    from datetime import datetime, timezone
    from formloom.automation import events as outbox
    desk = desk_factory([rule("hello", {"type": "record_created"}, notify())])
    for i in range(5):
        desk.create(subject=f"T{i}")
    with desk.db.write() as conn:
        handled = outbox.process_batch(conn, desk.catalog, datetime.now(timezone.utc), SETTINGS, deadline=0.0)
    assert handled == 1                           # past the deadline: one event, then commit
    monkeypatch.setattr(outbox, "BATCH_SECONDS", 0.0)
    monkeypatch.setattr(outbox, "SQLITE_YIELD_SECONDS", 0.0)
    assert process_events(desk.db, desk.catalog, settings=SETTINGS) == 4    # the rest, a batch each
    assert len(desk.notes_for("ann")) == 5
