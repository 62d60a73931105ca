"""The worker handles a batch of events together (automation.events): what every event asks
is asked once for the batch, new reminders, run logs and notifications are written with one
statement each, and events of an entity nothing listens to are marked processed unread. What
it writes is exactly what handling the same events one by one writes."""
import random
from functools import partial

from sqlalchemy import event as sa_event, select

from formloom.automation import events as event_processing, process_events
from formloom.automation.tables import rule_runs
from formloom.store.tables import audit, events, jobs, notifications, records

from .conftest import SETTINGS, rule

MIXED_RULES = [
    rule("high_created", {"type": "record_created"}, {"type": "notify", "to": ["owner"], "message": "{{ record.subject }}"},
         condition={"==": [{"var": "priority"}, "high"]}),
    rule("scored", {"type": "field_changed", "field": "score"},
         {"type": "set_field", "field": "resolution", "value": "scored {{ record.score }}"},
         {"type": "set_field", "field": "due", "value": "2026-03-07"},       # its reminder moves at once
         {"type": "notify", "to": ["owner", "role:lead"]}),
    rule("priority_changed", {"type": "record_updated", "fields": ["priority"]}, {"type": "email", "to": ["owner"]},
         condition={"!": {"var": "resolution"}}),        # reads what "scored" writes
    rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"}),
    rule("no_note", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P2D"}),
    rule("open_idle", {"type": "stage_idle", "stage": "open", "after": "P1D"}),
    rule("waiting", {"type": "stage_entered", "stage": "waiting"}, {"type": "notify", "to": ["owner"]}),
]


class _RolledBack(Exception):
    pass


def _writes(desk, seed: int, tickets: list, hour: int, n: int = 40) -> list:
    """A generated sequence of creates, updates, notes and stage moves, a minute apart."""
    rnd = random.Random(seed)
    for step in range(n):
        desk.travel(f"2026-03-02T{hour:02d}:{step % 60:02d}:00Z")
        kind = rnd.choice(["create", "create", "update", "note", "move"]) if tickets else "create"
        if kind == "create":
            tickets.append(desk.create(subject=f"T{step}", priority=rnd.choice(["low", "high"]),
                                       due=rnd.choice([None, "2026-03-05", "2026-03-09"]),
                                       owner=rnd.choice(["ann", "bob"])))
        elif kind == "update":
            ticket = rnd.choice(tickets)
            change = rnd.choice([{"score": rnd.randint(1, 9)}, {"priority": rnd.choice(["low", "high"])},
                                 {"due": rnd.choice([None, "2026-03-06", "2026-03-01"])}])
            desk.update(ticket, **change)
        elif kind == "note":
            desk.create("note", text=f"N{step}", ticket=rnd.choice(tickets).id)
        else:
            desk.move(rnd.choice(tickets), rnd.choice(["open", "waiting", "new"]))
    return tickets


def _outcome(conn) -> dict:
    """Everything processing writes, without the ids a database hands out."""
    return {
        "notifications": sorted((r.user_id, r.record_id, r.subject, r.body, r.idempotency_key)
                                for r in conn.execute(select(notifications))),
        "jobs": sorted((r.kind, r.idempotency_key, r.status, str(r.due_at), r.record_id, r.rule_key, str(r.payload),
                        r.last_error) for r in conn.execute(select(jobs))),
        "rule_runs": sorted((r.rule_key, r.record_id, r.trigger, r.outcome, r.message, r.late)
                            for r in conn.execute(select(rule_runs))),
        "audit": sorted((r.record_id, r.action, str(r.changes), r.user_id, r.record_version)
                        for r in conn.execute(select(audit))),
        "records": sorted((r.id, str(r.data), r.stage, r.owner_id, r.version) for r in conn.execute(select(records))),
        "events": sorted((r.entity_key, r.record_id, r.type, str(r.payload), r.depth, r.processed_at is None)
                         for r in conn.execute(select(events))),
    }


def test_a_batch_of_mixed_events_writes_exactly_what_handling_them_one_by_one_writes(desk_factory):
    desk = desk_factory(MIXED_RULES)
    tickets = _writes(desk, 16, [], hour=8)
    desk.process()                        # reminders exist: the next writes move and cancel some
    _writes(desk, 17, tickets, hour=9)
    desk.travel("2026-03-02T10:30:00Z")
    one_by_one = {}
    try:
        with desk.db.write() as conn:     # event by event, then taken back
            while event_processing.process_batch(conn, desk.catalog, desk.now(), SETTINGS, batched=False):
                pass
            one_by_one = _outcome(conn)
            raise _RolledBack()
    except _RolledBack:
        pass
    assert desk.process() > 40
    with desk.db.read() as conn:
        batched = _outcome(conn)
    assert batched == one_by_one
    assert batched["notifications"] and batched["rule_runs"] and any(j[0] == "email" for j in batched["jobs"])
    assert {j[2] for j in batched["jobs"] if j[0] == "reminder"} >= {"pending", "cancelled"}


def test_a_batch_writes_its_new_reminders_with_one_statement_and_reads_pending_ones_once(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"}),
                         rule("no_note", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P2D"})])
    tickets = [desk.create(subject=f"T{i}", due="2026-03-05") for i in range(12)]
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:       # a clock that stands still: one batch however loaded the machine
        assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) == 12
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    assert len(desk.pending("due_soon")) == 12 and len(desk.pending("no_note")) == 12
    assert sum(s.startswith("INSERT INTO jobs") for s in seen) == 1
    assert sum(s.startswith("SELECT") and "FROM jobs" in s for s in seen) == 1
    assert sum(s.startswith("UPDATE events") for s in seen) == 1
    assert not any(s.startswith("SELECT") and "records.id = " in s for s in seen)
    assert {j.record_id for j in desk.pending()} == {t.id for t in tickets}


def test_events_nobody_listens_to_are_marked_processed_without_reading_anything(desk_factory):
    desk = desk_factory([rule("hello", {"type": "record_created"}, {"type": "notify", "to": ["owner"]})])
    ticket = desk.create()
    desk.process()
    for i in range(5):
        desk.create("note", text=f"N{i}", ticket=ticket.id)
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        assert desk.process() == 5
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    assert not any("FROM records" in s or "FROM jobs" in s or "SAVEPOINT" in s for s in seen)
    assert desk.rows(events, events.c.processed_at.is_(None)) == []


def test_an_event_written_before_a_rule_listened_is_handled_by_the_rule_published_since(desk_factory):
    desk = desk_factory([])
    notes_ticket = desk.create()
    desk.process()
    desk.create("note", text="written while nothing listened", ticket=notes_ticket.id)
    desk.reinstall([rule("no_note", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P2D"})])
    assert desk.process() == 1
    assert [j.record_id for j in desk.pending("no_note")] == [notes_ticket.id]   # the note restarted its clock


def test_a_failing_event_takes_back_what_it_queued_and_the_others_are_kept(desk_factory, monkeypatch):
    desk = desk_factory([rule("hello", {"type": "record_created"}, {"type": "notify", "to": ["owner"]}),
                         rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"})])
    tickets = [desk.create(subject=f"T{i}", due="2026-03-05") for i in range(4)]
    victim = tickets[1].id
    real = event_processing.sync_record

    def breaks_after_queueing(conn, app, entity_key, record, now):
        real(conn, app, entity_key, record, now)
        if getattr(record, "id", record) == victim:        # a batch passes the record it holds
            raise RuntimeError("broken after its reminders were queued")
    monkeypatch.setattr(event_processing, "sync_record", breaks_after_queueing)
    assert desk.process() == 4
    assert sorted(j.record_id for j in desk.pending("due_soon")) == sorted(t.id for t in tickets if t.id != victim)
    assert sorted(n.record_id for n in desk.notes_for("ann")) == sorted(t.id for t in tickets if t.id != victim)
    assert victim not in {r.record_id for r in desk.runs("hello")}
    assert desk.rows(events, events.c.processed_at.is_(None)) == []


def test_a_batch_that_fails_as_a_whole_is_handled_again_event_by_event(desk_factory, monkeypatch):
    desk = desk_factory([rule("hello", {"type": "record_created"}, {"type": "notify", "to": ["owner"]})])
    tickets = [desk.create(subject=f"T{i}") for i in range(3)]
    real = event_processing.process_batch

    def batched_fails(*args, batched=True, **kwargs):
        if batched:
            raise RuntimeError("the batch's one INSERT failed")
        return real(*args, batched=False, **kwargs)
    monkeypatch.setattr(event_processing, "process_batch", batched_fails)
    assert desk.process() == 3
    assert sorted(n.record_id for n in desk.notes_for("ann")) == [t.id for t in tickets]


def test_one_by_one_is_what_the_worker_did_before_batches(desk_factory, monkeypatch):
    """The fallback path keeps the old shape: each event in its savepoint, marked on its own."""
    desk = desk_factory([rule("hello", {"type": "record_created"}, {"type": "notify", "to": ["owner"]})])
    desk.create()
    desk.create()
    monkeypatch.setattr(event_processing, "process_batch", partial(event_processing.process_batch, batched=False))
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        assert desk.process() == 2
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    assert sum(s.startswith("UPDATE events") for s in seen) == 2
    assert len(desk.notes_for("ann")) == 2


def test_an_event_after_a_rule_changed_its_record_in_the_same_batch_sees_the_change(desk_factory):
    """The batch read its records ahead; a rule's write makes it read them again, as one by one."""
    desk = desk_factory(MIXED_RULES)
    ticket = desk.create(priority="low")
    desk.process()
    ticket = desk.update(ticket, score=5)           # "scored" will write a resolution ...
    desk.update(ticket, priority="high")            # ... which "priority_changed" reads
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) >= 2
    assert [r.outcome for r in desk.runs("priority_changed")] == ["skipped"]
    assert desk.get(ticket).data["resolution"] == "scored 5"


def _with_parent_rollup() -> list:
    """The desk's entities, tickets with a parent ticket whose rollup sums its children's scores."""
    import copy

    from .conftest import SUPPORT_APP

    entities = copy.deepcopy(SUPPORT_APP["entities"])
    entities[0]["fields"] += [
        {"key": "parent", "type": "reference", "entity": "ticket", "label": "Parent"},
        {"key": "child_score", "type": "rollup", "label": "Child score", "function": "sum", "source": "ticket",
         "via": "parent", "field": "score"}]
    return entities


def test_a_rule_writing_its_own_record_makes_the_batch_read_its_rollup_parents_afresh(desk_factory):
    desk = desk_factory([rule("scored", {"type": "record_created"}, {"type": "set_field", "field": "score", "value": 5},
                              condition={"!": {"var": "score"}}),
                         rule("busy_parent", {"type": "record_updated", "fields": ["priority"]},
                              {"type": "notify", "to": ["owner"]}, condition={">=": [{"var": "child_score"}, 5]})],
                        entities=_with_parent_rollup())
    parent = desk.create(subject="Parent", score=1)
    desk.create(subject="Child", parent=parent.id)          # "scored" sets its score: the parent's rollup moves
    desk.update(parent, priority="high")                     # read after that, in the same batch
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) >= 4
    assert desk.get(parent).data["child_score"] == 5
    assert [r.outcome for r in desk.runs("busy_parent")] == ["fired"]
    assert [n.record_id for n in desk.notes_for("ann")] == [parent.id]


def test_a_rule_writing_its_own_record_leaves_the_other_records_read_ahead(desk_factory):
    desk = desk_factory([rule("routed", {"type": "record_created"},
                              {"type": "assign", "strategy": "round_robin", "role": "agent"},
                              {"type": "set_field", "field": "resolution", "value": "routed"}),
                         rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"}),
                         rule("no_note", {"type": "no_related", "entity": "note", "via": "ticket", "for": "P2D"})])
    tickets = [desk.create(subject=f"T{i}", due="2026-03-05") for i in range(12)]
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) == 12 + 12 + 8   # + the writes
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    assert {desk.get(t).data["resolution"] for t in tickets} == {"routed"}
    assert len(desk.pending("due_soon")) == 12 and len(desk.pending("no_note")) == 12
    # the 12 tickets' records and clocks are read ahead once; each firing reads back only its own record
    assert sum(s.startswith("SELECT") and "FROM records" in s and "max(records.created_at)" in s for s in seen) <= 3
    assert sum(s.startswith("SELECT max(events.id)") for s in seen) <= 2
    assert sum(s.startswith("SELECT") and "FROM memberships" in s for s in seen) <= 2


def test_the_events_a_failed_event_took_back_do_not_hide_the_next_firings_events(desk_factory, monkeypatch):
    desk = desk_factory([rule("resolved", {"type": "record_created"},
                              {"type": "set_field", "field": "resolution", "value": "seen"})])
    tickets = [desk.create(subject=f"T{i}") for i in range(3)]
    victim = tickets[0].id
    real = event_processing.sync_record

    def breaks_after_firing(conn, app, entity_key, record, now):
        real(conn, app, entity_key, record, now)
        if getattr(record, "id", record) == victim:     # its rule's event is written, then taken back
            raise RuntimeError("broken after its rule wrote")
    monkeypatch.setattr(event_processing, "sync_record", breaks_after_firing)
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) == 3 + 2
    written = desk.rows(events, events.c.type == "record_updated")
    assert sorted(e.record_id for e in written) == [t.id for t in tickets[1:]]
    assert {e.depth for e in written} == {1}       # one level below their cause, ids handed out again or not


def test_round_robin_in_a_batch_goes_on_from_the_last_pick_and_a_failed_assignment_takes_its_pick_back(
        desk_factory, monkeypatch):
    from formloom.automation import actions

    desk = desk_factory([rule("routed", {"type": "record_created"},
                              {"type": "assign", "strategy": "round_robin", "role": "agent"})])
    tickets = [desk.create(subject=f"T{i}", owner="boss") for i in range(4)]
    real = actions.set_owner

    def refuses_the_second(ctx, record, owner_id):
        if record.id == tickets[1].id:
            raise actions.ActionError("the record changed while it was being assigned")
        real(ctx, record, owner_id)
    monkeypatch.setattr(actions, "set_owner", refuses_the_second)
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) >= 4
    owners = [desk.get(t).owner_id for t in tickets]
    assert owners == [desk.users["ann"], desk.users["boss"], desk.users["bob"], desk.users["cy"]]
    assert [r.outcome for r in desk.runs("routed")] == ["fired", "failed", "fired", "fired"]


ASSIGNING_RULES = [
    rule("routed", {"type": "record_created"}, {"type": "assign", "strategy": "round_robin", "role": "agent"},
         {"type": "notify", "to": ["owner"], "message": "{{ record.subject }}"},
         condition={"==": [{"var": "priority"}, "high"]}),
    rule("balanced", {"type": "record_created"}, {"type": "assign", "strategy": "least_loaded", "role": "agent"},
         condition={"==": [{"var": "priority"}, "low"]}),
    rule("unstaffed", {"type": "field_changed", "field": "score"},          # nobody has the role: refused
         {"type": "assign", "strategy": "round_robin", "role": "admin"}, {"type": "notify", "to": ["owner"]}),
    rule("reassigned", {"type": "record_updated"}, {"type": "email", "to": ["owner"]},
         condition={"==": [{"var": "$owner"}, {"var": "$owner"}]}),
    rule("due_soon", {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"}),
]


def _state(conn) -> list:
    from formloom.automation.tables import automation_state
    return sorted((r.key, str(r.value)) for r in conn.execute(select(automation_state)))


def _one_by_one(desk) -> tuple[dict, list]:
    """What handling the backlog event by event (the fallback path) writes, then taken back."""
    found = ({}, [])
    try:
        with desk.db.write() as conn:
            while event_processing.process_batch(conn, desk.catalog, desk.now(), SETTINGS, batched=False):
                pass
            found = (_outcome(conn), _state(conn))
            raise _RolledBack()
    except _RolledBack:
        pass
    return found


def _without_event_ids(found):
    """Idempotency keys name the event they came from: a rolled-back run's events keep their ids
    on PostgreSQL (a sequence is not taken back), so the events the rules wrote are numbered on."""
    import re
    outcome, state = found
    return {table: sorted(re.sub(r"evt:\d+", "evt:#", repr(row)) for row in rows)
            for table, rows in outcome.items()}, state


def test_assignments_in_a_batch_write_exactly_what_assigning_one_by_one_writes(desk_factory):
    """A batch runs assign without a savepoint, writes its event one level deeper itself, keeps the
    record it wrote instead of reading it back and moves the round-robin cursor once at its end."""
    desk = desk_factory(ASSIGNING_RULES)
    tickets = _writes(desk, 21, [], hour=8)
    desk.process()
    _writes(desk, 22, tickets, hour=9)
    desk.travel("2026-03-02T10:30:00Z")
    one_by_one = _one_by_one(desk)
    assert desk.process() > 40
    with desk.db.read() as conn:
        batched = (_outcome(conn), _state(conn))
    assert _without_event_ids(batched) == _without_event_ids(one_by_one)
    outcome = batched[0]
    assert {r[3] for r in outcome["rule_runs"] if r[0] == "unstaffed"} == {"failed"}
    assert {r[0] for r in outcome["rule_runs"] if r[3] == "fired"} >= {"routed", "balanced", "reassigned"}
    assert {e[4] for e in outcome["events"] if "$owner" in e[3]} == {1}


def test_an_assignment_failing_after_it_wrote_takes_its_batch_back_and_is_handled_as_one_by_one(
        desk_factory, monkeypatch):
    from formloom.automation import actions

    desk = desk_factory([ASSIGNING_RULES[0]])
    tickets = [desk.create(subject=f"T{i}", priority="high", owner="boss") for i in range(5)]
    victim = tickets[2].id
    real = actions.emit_event

    def breaks_after_the_update(conn, app_key, entity_key, record_id, *args, **kwargs):
        if record_id == victim:
            raise RuntimeError("the event could not be written")
        return real(conn, app_key, entity_key, record_id, *args, **kwargs)
    monkeypatch.setattr(actions, "emit_event", breaks_after_the_update)
    one_by_one = _one_by_one(desk)
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) == 5 + 4
    with desk.db.read() as conn:
        assert (_outcome(conn), _state(conn)) == one_by_one
    assert desk.get(tickets[2]).owner_id == desk.users["boss"]        # its savepoint took the UPDATE back
    assert [r.outcome for r in desk.runs("routed")] == ["fired", "fired", "failed", "fired", "fired"]


def test_an_assignment_in_a_batch_takes_three_statements(desk_factory):
    """The record's UPDATE, its audit row and its event: no savepoint, no reading the record back,
    no deepening UPDATE, the cursor written once for the batch."""
    desk = desk_factory([ASSIGNING_RULES[0]])
    for i in range(10):
        desk.create(subject=f"T{i}", priority="high", owner="boss")
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split()))    # noqa: E731
    sa_event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=lambda: 0.0) == 10 + 10
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", listener)
    assert sum(s.startswith("UPDATE records") for s in seen) == 10
    assert sum(s.startswith("SAVEPOINT") for s in seen) == 0
    assert sum(s.startswith("UPDATE events SET depth") for s in seen) == 0
    assert sum(s.startswith("UPDATE automation_state") for s in seen) == 1
    assert sum(s.startswith("SELECT") and "FROM records" in s and "records.id =" in s for s in seen) == 0
