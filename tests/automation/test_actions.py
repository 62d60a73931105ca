"""Actions: each one, its recipients, its messages and its failures."""
import pytest

from formloom.automation import ACTIONS, outbox, run_log
from formloom.automation.actions import action
from formloom.automation.rules import RegistryError
from formloom.store.tables import jobs, records

from .conftest import SETTINGS, rule

CREATED = {"type": "record_created"}


def test_notify_reaches_owner_creator_manager_role_and_user_field_once_each(desk_factory):
    desk = desk_factory()
    desk.reinstall([rule("tell", CREATED, {"type": "notify",
                                          "to": ["owner", "creator", "manager", "role:lead", "field:watcher"],
                                          "subject": "New: {{ record.title }}",
                                          "message": {"en": "{{ record.subject }} in {{ record.stage_label }}",
                                                      "zh": "新工单 {{ record.subject }}（{{ record.stage_label }}）"}})])
    desk.create(watcher=desk.users["bob"])
    desk.process()
    assert [n.subject for n in desk.notes_for("ann")] == ["New: Printer on fire"]
    assert [n.body for n in desk.notes_for("boss")] == ["Printer on fire in New"]   # manager and lead: once
    assert [n.body for n in desk.notes_for("bob")] == ["新工单 Printer on fire（New）"]  # Bob reads Chinese
    assert desk.notes_for("cy") == []


def test_email_becomes_a_job_and_lands_in_the_outbox_without_smtp(desk_factory):
    desk = desk_factory([rule("mail", CREATED, {"type": "email", "to": ["owner"], "subject": "Hi {{ record.title }}"})])
    ticket = desk.create()
    desk.process()
    queued = desk.rows(jobs, jobs.c.kind == "email")
    assert len(queued) == 1 and queued[0].payload["to"] == "ann@example.com"
    desk.work()
    with desk.db.read() as conn:
        mails = outbox(conn)
    assert [(m["to_addr"], m["subject"]) for m in mails] == [("ann@example.com", "Hi Printer on fire")]
    assert f"https://desk.example/apps/support/ticket/{ticket.id}" in mails[0]["body"]
    desk.work()
    with desk.db.read() as conn:
        assert len(outbox(conn)) == 1


def test_set_field_with_value_template_and_formula(desk_factory):
    desk = desk_factory([rule("fill", CREATED,
                              {"type": "set_field", "field": "resolution", "value": "auto: {{ record.subject }}"},
                              {"type": "set_field", "field": "score", "formula": "hits * 2 + 1"})])
    ticket = desk.create(hits=4)
    desk.process()
    data = desk.get(ticket).data
    assert data["resolution"] == "auto: Printer on fire" and data["score"] == 9


def test_create_record_links_back_and_fills_the_due_date(desk_factory):
    desk = desk_factory([rule("task", CREATED, {"type": "create_record", "entity": "note", "due_in": "P2D",
                                               "values": {"text": "Call about {{ record.subject }} by {{ due }}"}})])
    ticket = desk.create()
    desk.process()
    notes = desk.rows(records, records.c.entity_key == "note")
    assert len(notes) == 1
    assert notes[0].data == {"text": "Call about Printer on fire by 2026-03-04", "ticket": ticket.id,
                             "due": "2026-03-04"}
    assert notes[0].owner_id == desk.users["ann"]


def test_assign_round_robin_rotates_and_least_loaded_balances(desk_factory):
    desk = desk_factory([rule("route", CREATED, {"type": "assign", "strategy": "round_robin", "role": "agent"})])
    owners = []
    for i in range(4):
        ticket = desk.create(subject=f"T{i}", owner="boss")
        desk.process()
        owners.append(desk.get(ticket).owner_id)
    agents = sorted([desk.users["ann"], desk.users["bob"], desk.users["cy"]])
    assert owners == agents + agents[:1]
    desk.reinstall([rule("route", CREATED, {"type": "assign", "strategy": "least_loaded", "role": "agent"})])
    ticket = desk.create(subject="next", owner="boss")
    desk.process()
    assert desk.get(ticket).owner_id == agents[1]     # agents[0] has two tickets, the others one


def test_move_stage_goes_through_the_gate_and_logs_a_refusal(desk_factory):
    desk = desk_factory([rule("close_high", {"type": "field_changed", "field": "priority"},
                              {"type": "move_stage", "stage": "solved"})])
    ticket = desk.create()
    desk.update(ticket, priority="high")
    desk.process()
    assert desk.get(ticket).stage == "new"
    run = desk.runs("close_high")[-1]
    assert run.outcome == "failed" and "Resolution" in run.message
    desk.update(ticket, resolution="done", priority="low")
    desk.process()
    assert desk.get(ticket).stage == "solved"


def test_escalate_notifies_the_owners_manager(desk_factory):
    desk = desk_factory([rule("esc", CREATED, {"type": "escalate", "message": "{{ record.owner }} needs help"})])
    desk.create()
    desk.create(owner="cy")       # Cy has no manager: the action fails, logged
    desk.process()
    assert [n.body for n in desk.notes_for("boss")] == ["Ann needs help"]
    assert [r.outcome for r in desk.runs("esc")] == ["fired", "failed"]


def test_a_failing_action_does_not_stop_the_others(desk_factory):
    desk = desk_factory([rule("mixed", CREATED, {"type": "set_field", "field": "score", "value": "not a number"},
                              {"type": "notify", "to": ["owner"]})], validate_workflows=False)
    desk.create()
    desk.process()
    assert len(desk.notes_for("ann")) == 1
    with desk.db.read() as conn:
        [run] = run_log(conn, "support")
    assert run["outcome"] == "failed" and run["message"].startswith("set_field")


def test_a_duplicate_action_name_fails_at_registration():
    assert {"notify", "email", "webhook", "set_field", "create_record", "assign", "move_stage",
            "escalate"} <= set(ACTIONS)
    with pytest.raises(RegistryError):
        action("notify")(lambda ctx, spec, index: None)
