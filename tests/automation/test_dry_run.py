"""Dry-run agrees with reality: a rule built with the designer's edit functions and
published through the draft is dry-run at one moment; the clock is then moved to
each listed due time and the worker run: exactly the listed reminders fire (with
the listed message), the listed skips are skipped, and the dry-run itself wrote
nothing. Runs on PostgreSQL too when FORMLOOM_TEST_DATABASE_URL is set."""
from __future__ import annotations

from sqlalchemy import func, select

from formloom.automation.dry_run import (ALREADY_FIRED, FIRED_BEFORE, NOT_MATCHED, NO_DUE, TERMINAL, dry_run_db)
from formloom.design import drafts, rule_edits
from formloom.store.tables import events, jobs, notifications, records
from formloom.automation.tables import rule_runs

from .conftest import SETTINGS, at

NO_NOTE = {
    "key": "no_note_3d", "label": {"en": "No note for 3 days", "zh": "3天无备注"},
    "trigger": {"type": "no_related", "entity": "note", "via": "ticket", "for": "P3D"},
    "condition": {"!": {"var": "$terminal"}},
    "actions": [{"type": "notify", "to": ["owner"],
                 "message": {"en": "No note on {{ record.subject }} for 3 days", "zh": "{{ record.subject }} 已3天无备注"}}],
}


def design(desk, change) -> None:
    """Edit the ticket workflow in the draft and publish it, as the designer does."""
    with desk.db.write() as conn:
        draft = drafts.load_draft(conn, "support")
        rule_edits.edit_workflow(conn, "support", draft.revision if draft else 0, None, "ticket_flow", change)
        revision = drafts.load_draft(conn, "support").revision
    drafts.publish_draft(desk.db, "support", revision=revision, user_id=None, comment="rules", catalog=desk.catalog)
    desk.app = desk.catalog.app("support")


def counts(desk) -> dict:
    with desk.db.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (jobs, rule_runs, notifications, events, records)}


def fired(desk, rule_key) -> set:
    return {(r.record_id, r.outcome) for r in desk.runs(rule_key)}


def test_the_reminders_that_fire_are_exactly_those_the_dry_run_listed(desk_factory):
    desk = desk_factory()
    quiet = desk.create(subject="Quiet")
    dropped = desk.create(subject="Dropped")
    desk.move(dropped, "dropped")
    noted = desk.create(subject="Noted")
    desk.travel("2026-03-03T08:00:00Z")
    desk.create("note", text="called", ticket=noted.id)
    desk.process()
    design(desk, lambda wf: rule_edits.add_rule(wf, NO_NOTE))
    desk.work()

    before = counts(desk)
    run = dry_run_db(desk.db, desk.app, "ticket_flow", "no_note_3d", now=desk.now(), settings=SETTINGS)
    assert counts(desk) == before                                  # a dry-run writes nothing
    listed = [(i.record_id, i.due_at, i.acts) for i in run.items]
    assert listed == [(quiet.id, at("2026-03-05T08:00:00Z"), True), (dropped.id, at("2026-03-05T08:00:00Z"), False),
                      (noted.id, at("2026-03-06T08:00:00Z"), True)]
    assert run.items[1].reason.msgid == TERMINAL and run.items[1].reason.params == {"stage": "dropped"}
    preview = run.items[0].actions[0]
    assert preview.recipients == ["Ann <ann@example.com>"]
    assert preview.body == "No note on Quiet for 3 days"

    for moment in sorted({i.due_at for i in run.items}):
        desk.travel(moment)
        desk.work()
        expected = {(i.record_id, "fired" if i.acts else "skipped") for i in run.items if i.due_at <= moment}
        assert fired(desk, "no_note_3d") == expected
    assert [n.body for n in desk.notes_for("ann")] == [run.items[0].actions[0].body, run.items[2].actions[0].body]


def test_an_already_fired_reminder_does_not_fire_again_when_its_rule_is_edited(desk_factory):
    desk = desk_factory()
    ticket = desk.create(subject="Quiet")
    design(desk, lambda wf: rule_edits.add_rule(wf, NO_NOTE))
    desk.travel("2026-03-05T08:00:00Z")
    desk.work()
    assert fired(desk, "no_note_3d") == {(ticket.id, "fired")}

    edited = {**NO_NOTE, "trigger": {**NO_NOTE["trigger"], "for": "P2D"}}
    design(desk, lambda wf: rule_edits.replace_rule(wf, "no_note_3d", edited))
    run = dry_run_db(desk.db, desk.app, "ticket_flow", "no_note_3d", now=desk.now(), settings=SETTINGS)
    assert run.items == []
    assert [(i.record_id, i.reason.msgid) for i in run.skipped] == [(ticket.id, ALREADY_FIRED)]
    desk.travel("2026-03-09T08:00:00Z")
    desk.work()
    assert len(desk.notes_for("ann")) == 1
    assert len(desk.runs("no_note_3d")) == 1


def test_a_record_the_trigger_gives_no_time_is_listed_with_the_reason(desk_factory):
    desk = desk_factory()
    dated = desk.create(subject="Dated", due="2026-03-10")
    undated = desk.create(subject="Undated")
    design(desk, lambda wf: rule_edits.add_rule(wf, {
        "key": "due_soon", "trigger": {"type": "date_field", "field": "due", "offset": "-P3D", "at": "09:00"},
        "actions": [{"type": "set_field", "field": "priority", "value": "high"}]}))
    run = dry_run_db(desk.db, desk.app, "ticket_flow", "due_soon", now=desk.now(), settings=SETTINGS)
    assert [(i.record_id, i.due_at) for i in run.items] == [(dated.id, at("2026-03-07T08:00:00Z"))]
    assert run.items[0].actions[0].changes == [("priority", "high")]
    assert [(i.record_id, i.reason.msgid) for i in run.skipped] == [(undated.id, NO_DUE)]
    assert desk.get(dated).data.get("priority") is None


def test_an_event_rule_answers_for_a_chosen_record_and_change(desk_factory):
    desk = desk_factory()
    ticket = desk.create(subject="Hot", priority="high")
    design(desk, lambda wf: rule_edits.add_rule(wf, {
        "key": "priority_changed", "trigger": {"type": "field_changed", "field": "priority"},
        "actions": [{"type": "notify", "to": ["manager"], "message": "{{ record.subject }} is now {{ record.priority }}"}]}))
    run = dry_run_db(desk.db, desk.app, "ticket_flow", "priority_changed", now=desk.now(), settings=SETTINGS,
                     record_id=ticket.id, change={"type": "record_updated", "fields": ["priority"]})
    assert [a.recipients for a in run.items[0].actions] == [["Boss <boss@example.com>"]]
    assert run.items[0].actions[0].body == "Hot is now high"
    other = dry_run_db(desk.db, desk.app, "ticket_flow", "priority_changed", now=desk.now(), settings=SETTINGS,
                       record_id=ticket.id, change={"type": "record_updated", "fields": ["subject"]})
    assert other.items == [] and other.skipped[0].reason.msgid == NOT_MATCHED
    assert run.items[0].note is None                                # it never acted on this record

    desk.travel("2026-03-03T08:00:00Z")
    desk.update(ticket, priority="low")
    desk.process()
    assert fired(desk, "priority_changed") == {(ticket.id, "fired")}
    again = dry_run_db(desk.db, desk.app, "ticket_flow", "priority_changed", now=desk.now(), settings=SETTINGS,
                       record_id=ticket.id, change={"type": "record_updated", "fields": ["priority"]})
    assert again.items[0].acts                                      # a new change fires it again ...
    assert again.items[0].note.msgid == FIRED_BEFORE                # ... and the admin is told it fired before
    assert again.items[0].note.params == {"when": "2026-03-03 08:00 UTC"}
    assert "already acted on this record" in again.as_json()["items"][0]["note"]
