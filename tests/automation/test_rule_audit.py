"""Every change a rule writes is audited as the system actor acting for that rule
(issue 10, item 2): no user, and `via` = "rule: <label>"."""
from __future__ import annotations

from formloom.store.tables import audit

from .conftest import rule

CREATED = {"type": "record_created"}


def test_rule_writes_name_the_rule_in_the_audit(desk_factory):
    desk = desk_factory([rule("triage", CREATED,
                              {"type": "set_field", "field": "priority", "value": "high"},
                              {"type": "assign", "role": "agent", "strategy": "least_loaded"},
                              {"type": "move_stage", "stage": "open"},
                              {"type": "create_record", "entity": "note", "values": {"text": "call back"}},
                              label={"en": "Triage new tickets", "zh": "分拣新工单"})])
    ticket = desk.create()
    desk.process()
    [run] = desk.runs("triage")
    assert run.outcome == "fired", run.message
    by_rule = desk.rows(audit, audit.c.via.is_not(None))
    assert sorted((row.action, row.record_id == ticket.id) for row in by_rule) == [
        ("create", False), ("stage", True), ("update", True), ("update", True)]   # the field, then the owner
    assert all(row.user_id is None and row.via == "rule: Triage new tickets" for row in by_rule)
    [by_person] = desk.rows(audit, audit.c.via.is_(None))
    assert by_person.action == "create" and by_person.user_id == desk.users["ann"]
