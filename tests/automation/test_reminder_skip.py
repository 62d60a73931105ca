"""The worker brings a record's reminders in step after each of its events, except after a
change to fields no time rule reads (automation.reminders.sync_needed): an assignment's
owner, a number nothing counts on. Then the reminders are already what the recalculation
would make them, and it is skipped; a change to any field a rule reads still recalculates."""
from sqlalchemy import event as sa_event

from formloom.automation.reminders import reminder_reads, resync_app, sync_needed
from formloom.store.records import change_owner

from .conftest import SUPPORT_APP, rule

TIME_RULES = [
    rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"}),
    rule("no_note", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P2D"}),
    rule("open_idle", {"type": "stage_idle", "stage": "open", "after": "P1D"}),
    rule("assign_high", {"type": "record_created"}, {"type": "assign", "strategy": "round_robin", "role": "agent"},
         condition={"==": [{"var": "priority"}, "high"]}),
]


def _statements(desk, run):
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    return seen


def _reminders(desk):
    return sorted((j.idempotency_key, str(j.due_at)) for j in desk.pending())


def _recalculated_changes(desk) -> int:
    """What the full recalculation of every record's reminders still had to change."""
    with desk.db.write() as conn:
        return resync_app(conn, desk.app, desk.now())


def test_the_fields_a_time_rule_reads_are_its_date_field_and_the_via_of_the_records_it_counts(desk_factory):
    desk = desk_factory(TIME_RULES)
    assert reminder_reads(desk.app, "ticket") == {"due"}
    assert reminder_reads(desk.app, "note") == {"ticket"}       # no_note counts notes by their ticket


def test_a_change_to_a_field_no_time_rule_reads_needs_no_recalculation(desk_factory):
    app = desk_factory(TIME_RULES).app
    assert not sync_needed(app, "ticket", "record_updated", {"fields": ["$owner"]})
    assert not sync_needed(app, "ticket", "record_updated", {"fields": ["hits", "score"]})
    assert not sync_needed(app, "note", "record_updated", {"fields": ["text", "due"]})


def test_a_change_to_a_field_a_time_rule_reads_or_anything_unsure_is_recalculated(desk_factory):
    app = desk_factory(TIME_RULES).app
    assert sync_needed(app, "ticket", "record_updated", {"fields": ["hits", "due"]})
    assert sync_needed(app, "note", "record_updated", {"fields": ["ticket"]})      # re-pointed: two clocks move
    assert sync_needed(app, "ticket", "record_updated", {"fields": ["$stage"]})     # a key nobody knows
    assert sync_needed(app, "ticket", "record_updated", {"fields": ["gone"]})       # a field no longer defined
    assert sync_needed(app, "ticket", "record_updated", {})                         # changed fields not named
    for other in ("record_created", "stage_entered", "stage_left", "record_deleted", "approval_requested",
                  "approval_decided"):
        assert sync_needed(app, "ticket", other, {"fields": ["hits"]})


def test_a_date_rule_on_a_computed_field_reads_every_field(desk_factory):
    fields = [{"key": "subject", "type": "text", "label": "Subject", "required": True},
              {"key": "hits", "type": "number", "label": "Hits"},
              {"key": "due", "type": "date", "label": "Due"},
              {"key": "twice", "type": "formula", "label": "Twice", "formula": "hits * 2"}]
    desk = desk_factory([])
    entities = [dict(e, fields=fields) if e["key"] == "ticket" else e for e in SUPPORT_APP["entities"]]
    desk.reinstall([rule("on_twice", {"type": "date_field", "field": "twice"})], entities=entities,
                   validate_workflows=False)        # the validator refuses it; an older document may have it
    assert reminder_reads(desk.app, "ticket") is None
    assert sync_needed(desk.app, "ticket", "record_updated", {"fields": ["subject"]})
    assert sync_needed(desk.app, "ticket", "record_updated", {"fields": ["$owner"]})


def test_an_extension_time_trigger_is_taken_to_read_every_field(desk_factory):
    from formloom.automation.rules import TRIGGERS, time_trigger

    @time_trigger("test_hits_reached", label={"en": "Hits", "zh": "点击"}, help={"en": "", "zh": ""})
    def hits_reached(tc, workflow, rule_def, record):
        return []
    try:
        desk = desk_factory([rule("hits", {"type": "test_hits_reached"})], validate_workflows=False)
        assert reminder_reads(desk.app, "ticket") is None
        assert sync_needed(desk.app, "ticket", "record_updated", {"fields": ["$owner"]})
    finally:
        TRIGGERS.pop("test_hits_reached", None)


def test_assignments_and_unread_changes_read_no_reminders_and_leave_them_as_the_recalculation_would(desk_factory):
    desk = desk_factory(TIME_RULES)
    tickets = [desk.create(subject=f"T{i}", priority="high", due="2026-03-05") for i in range(4)]
    desk.travel("2026-03-02T09:00:00Z")
    desk.move(tickets[0], "open")
    desk.create("note", text="first call", ticket=tickets[1].id)
    desk.process()                                  # created: reminders computed; the assignments' events wait
    for ticket in tickets:
        desk.update(ticket, hits=3)
    with desk.db.write() as conn:
        change_owner(conn, desk.app, desk.app.entity("ticket"), tickets[2].id, desk.users["cy"], actor_id=None)
    before = _reminders(desk)
    seen = _statements(desk, desk.process)
    assert len(desk.runs("assign_high")) == 4
    assert not any("FROM jobs" in s or "INTO jobs" in s or "UPDATE jobs" in s for s in seen)
    assert _reminders(desk) == before
    assert _recalculated_changes(desk) == 0


def test_a_change_to_a_read_field_still_recalculates_in_the_same_batch_as_skipped_ones(desk_factory):
    desk = desk_factory(TIME_RULES)
    tickets = [desk.create(subject=f"T{i}", priority="low", due="2026-03-05") for i in range(3)]
    desk.travel("2026-03-02T09:00:00Z")
    note = desk.create("note", text="call", ticket=tickets[0].id)
    desk.process()
    desk.update(tickets[0], hits=1)
    desk.update(tickets[1], due="2026-03-09")       # its due_soon reminder moves to the 8th
    desk.update(tickets[2], hits=2)
    desk.update(note, "note", ticket=tickets[2].id)  # the note now counts for ticket 2, not ticket 0
    desk.process()
    due = {j.record_id: str(j.due_at) for j in desk.pending("due_soon")}
    assert due[tickets[1].id].startswith("2026-03-08 08:00")       # 09:00 in Berlin
    no_note = {j.record_id: j.payload["occurrence"] for j in desk.pending("no_note")}
    assert no_note[tickets[1].id] == "n2026-03-02T08:00:00+00:00"     # its creation: no note
    assert no_note[tickets[2].id] == "n2026-03-02T09:00:00+00:00"     # the note re-pointed to it restarted its clock
