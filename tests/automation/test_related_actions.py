"""Actions reaching past the firing record: set_field `on` a reference (rules-only
workflows carry such rules), "$now" / "$today" values, and assign strategy none."""
from __future__ import annotations

import copy

from sqlalchemy import select

from formloom.auth.users import Actor
from formloom.store.install import install_documents
from formloom.store.query import ListQuery, list_records
from formloom.store.records import delete_record
from formloom.store.tables import audit, events

from .conftest import SUPPORT_APP, WORKFLOW, rule

CREATED = {"type": "record_created"}


def with_note_rules(desk, note_rules, ticket_rules=()):
    """Reinstall the desk app with a rules-only workflow for notes (no stages)."""
    app_doc = copy.deepcopy(SUPPORT_APP)
    ticket, note = app_doc["entities"]
    ticket["fields"] += [{"key": "last_note_at", "type": "datetime", "label": "Last note"},
                         {"key": "last_note_on", "type": "date", "label": "Last note day"}]
    note["workflow"] = "note_log"
    note["fields"] += [{"key": "also", "type": "reference", "entity": "ticket", "label": "Also about"},
                       {"key": "many", "type": "reference", "entity": "ticket", "multiple": True, "label": "Many"}]
    note_log = {"key": "note_log", "entity": "note", "stages": [], "rules": list(note_rules)}
    install_documents(desk.db, app_doc, {"ticket_flow": copy.deepcopy(WORKFLOW) | {"rules": list(ticket_rules)},
                                         "note_log": note_log})
    desk.app = desk.catalog.app("support")
    return desk


def test_a_rules_only_workflow_has_no_stages_and_its_records_none(desk_factory):
    desk = with_note_rules(desk_factory(), [])
    assert desk.app.workflow_for("note").stages == () and desk.app.workflow_for("note").first_stage is None
    ticket = desk.create()
    note = desk.create("note", ticket=ticket.id)
    assert note.stage is None


def test_set_field_on_a_reference_updates_the_referenced_record(desk_factory):
    desk = with_note_rules(desk_factory(), [rule("touch", CREATED,
        {"type": "set_field", "on": "ticket", "field": "last_note_at", "value": "$now"},
        {"type": "set_field", "on": "ticket", "field": "last_note_on", "value": "$now"},
        {"type": "set_field", "on": "ticket", "field": "resolution", "value": "noted: {{ record.text }}"},
        {"type": "set_field", "on": "ticket", "field": "hits", "formula": "hits + 1"})])
    ticket = desk.create(hits=2)
    desk.travel("2026-03-02T23:30:00Z")      # already the 3rd in Berlin
    desk.create("note", ticket=ticket.id, text="called back")
    desk.process()
    after = desk.get(ticket)
    assert after.data["last_note_at"] == "2026-03-02T23:30:00Z"
    assert after.data["last_note_on"] == "2026-03-03"
    assert after.data["resolution"] == "noted: called back"
    assert after.data["hits"] == 3                      # the formula reads the record it changes
    assert [r.outcome for r in desk.runs("touch")] == ["fired"]
    changes = desk.rows(audit, audit.c.record_id == ticket.id, audit.c.action == "update")
    assert len(changes) == 4 and all(c.user_id is None for c in changes)


def test_set_field_on_goes_through_validation_and_events(desk_factory):
    desk = with_note_rules(desk_factory(), [rule("touch", CREATED,
        {"type": "set_field", "on": "ticket", "field": "priority", "value": "{{ record.text }}"})],
        ticket_rules=[rule("watch", {"type": "field_changed", "field": "priority"},
                           {"type": "set_field", "field": "resolution", "value": "priority is {{ record.priority }}"})])
    ticket = desk.create()
    desk.create("note", ticket=ticket.id, text="not an option")
    desk.create("note", ticket=ticket.id, text="high")
    desk.process()
    assert [r.outcome for r in desk.runs("touch")] == ["failed", "fired"]
    assert "priority" in desk.runs("touch")[0].message
    after = desk.get(ticket)
    assert after.data["priority"] == "high"
    assert after.data["resolution"] == "priority is high"   # the referenced record's own rules ran
    ticket_events = desk.rows(events, events.c.record_id == ticket.id, events.c.type == "record_updated")
    assert ticket_events and ticket_events[0].depth == 1


def test_set_field_on_skips_an_empty_reference_and_a_record_that_is_gone(desk_factory):
    desk = with_note_rules(desk_factory(), [rule("touch", CREATED,
        {"type": "set_field", "on": "also", "field": "last_note_at", "value": "$now"},
        {"type": "set_field", "on": "ticket", "field": "last_note_at", "value": "$now"})])
    ticket = desk.create()
    desk.create("note", ticket=ticket.id)
    with desk.db.write() as conn:
        delete_record(conn, desk.app, desk.app.entity("ticket"), ticket.id, actor_id=None)
    desk.process()
    [run] = desk.runs("touch")
    assert run.outcome == "fired"
    assert "the reference is empty" in run.message and f"ticket #{ticket.id} is gone" in run.message
    assert desk.get(ticket).data.get("last_note_at") is None


def test_set_field_on_a_multiple_reference_updates_each_record(desk_factory):
    desk = with_note_rules(desk_factory(), [rule("touch", CREATED,
        {"type": "set_field", "on": "many", "field": "last_note_at", "value": "$now"})])
    first, second, untouched = desk.create(subject="a"), desk.create(subject="b"), desk.create(subject="c")
    desk.create("note", ticket=first.id, many=[first.id, second.id])
    desk.process()
    assert desk.get(first).data["last_note_at"] == desk.get(second).data["last_note_at"] == "2026-03-02T08:00:00Z"
    assert desk.get(untouched).data.get("last_note_at") is None


def test_assign_none_clears_the_owner_and_the_record_stays_visible_to_all_scope(desk_factory):
    entities = copy.deepcopy(SUPPORT_APP["entities"])
    entities[0]["permissions"]["lead"] = {"read": "own", "update": "own"}
    desk = desk_factory([rule("release", CREATED, {"type": "assign", "strategy": "none"})], entities=entities)
    ticket = desk.create(owner="ann")
    desk.process()
    after = desk.get(ticket)
    assert after.owner_id is None and after.version == ticket.version + 1
    [change] = desk.rows(audit, audit.c.record_id == ticket.id, audit.c.action == "update")
    assert change.changes == {"$owner": [desk.users["ann"], None]}
    updated = desk.rows(events, events.c.record_id == ticket.id, events.c.type == "record_updated")
    assert [e.payload["fields"] for e in updated] == [["$owner"]]
    agent = Actor(id=desk.users["bob"], email="bob@example.com", name="Bob", roles={"support": frozenset({"agent"})})
    outsider = Actor(id=desk.users["boss"], email="boss@example.com", name="Boss",
                     roles={"support": frozenset({"lead"})})
    with desk.db.read() as conn:
        seen = list_records(conn, desk.app, desk.app.entity("ticket"), agent, ListQuery()).items
        hidden = list_records(conn, desk.app, desk.app.entity("ticket"), outsider, ListQuery()).items
    assert [r.id for r in seen] == [ticket.id] and hidden == []     # 'own' never matches a cleared owner


def test_assign_after_the_owner_was_cleared_gives_it_a_new_owner(desk_factory):
    desk = desk_factory([rule("release", CREATED, {"type": "assign", "strategy": "none"}),
                         rule("route", {"type": "field_changed", "field": "priority"},
                              {"type": "assign", "strategy": "least_loaded", "role": "agent"})])
    ticket = desk.create(owner="ann")
    desk.process()
    assert desk.get(ticket).owner_id is None
    desk.update(ticket, priority="high")
    desk.process()
    assert desk.get(ticket).owner_id is not None
    with desk.db.read() as conn:
        assert conn.execute(select(audit.c.changes).where(audit.c.record_id == ticket.id)
                            .order_by(audit.c.id.desc())).first().changes["$owner"][0] is None


def test_now_is_when_the_triggering_change_was_saved_not_when_it_was_processed(desk_factory):
    desk = with_note_rules(desk_factory(), [rule("touch", CREATED,
        {"type": "set_field", "on": "ticket", "field": "last_note_at", "value": "$now"})])
    ticket = desk.create()
    desk.travel("2026-03-02T08:15:30.250000Z")
    desk.create("note", ticket=ticket.id)
    desk.travel("2026-03-02T09:00:00Z")          # the worker gets to it later
    desk.process()
    assert desk.get(ticket).data["last_note_at"] == "2026-03-02T08:15:30Z"
