"""Records: create and update with validation, optimistic locking, uniqueness,
auto numbers, audit rows and outbox events."""
import pytest
from sqlalchemy import event, func, select

from formloom.errors import ConflictError, NotFoundError, RecordInvalid
from formloom.store.records import audit_rows, create_record, delete_record, get_record, restore_record, update_record
from formloom.store.tables import audit, events, records, stage_history


def make_client(db, app, name="Acme", **data):
    with db.write() as conn:
        return create_record(conn, app, app.entity("client"), {"name": name, **data}, actor_id=None)


def make_ticket(db, app, client_id, actor_id=None, **data):
    values = {"subject": "Printer on fire", "client": client_id, **data}
    with db.write() as conn:
        return create_record(conn, app, app.entity("ticket"), values, actor_id=actor_id)


def table_rows(db, table):
    with db.read() as conn:
        return conn.execute(select(table)).all()


def test_create_stores_clean_data_computes_formula_and_numbers(db, installed):
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id, hours=2.5, cost="12.5")
    assert ticket.data["cost"] == "12.50"
    assert float(ticket.data["estimate"]) == 200
    assert ticket.data["number"].startswith("T-") and ticket.data["number"].endswith("-0001")
    assert ticket.version == 1 and ticket.title == "Printer on fire"


def test_auto_numbers_increase_per_record(db, installed):
    app, _ = installed
    client = make_client(db, app)
    numbers = [make_ticket(db, app, client.id).data["number"] for _ in range(3)]
    assert [n[-4:] for n in numbers] == ["0001", "0002", "0003"]


def test_create_reports_every_problem_and_stores_nothing(db, installed):
    app, _ = installed
    before = table_rows(db, records)
    with pytest.raises(RecordInvalid) as caught, db.write() as conn:
        create_record(conn, app, app.entity("ticket"),
                      {"subject": "x" * 61, "client": 9999, "hours": "lots", "bogus": 1}, actor_id=None)
    codes = {(p.field, p.code) for p in caught.value.problems}
    assert {"subject", "client", "hours", "bogus"} <= {field for field, _ in codes}
    assert table_rows(db, records) == before


def test_reference_to_a_record_of_another_entity_is_refused(db, installed):
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id)
    with pytest.raises(RecordInvalid) as caught, db.write() as conn:
        create_record(conn, app, app.entity("ticket"), {"subject": "s", "client": ticket.id}, actor_id=None)
    assert [p.field for p in caught.value.problems] == ["client"]


def test_hidden_required_field_is_not_validated_and_its_value_is_kept(db, installed):
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id, escalated=True, reason="VIP")
    with db.write() as conn:
        updated = update_record(conn, app, app.entity("ticket"), ticket.id, {"escalated": False},
                                actor_id=None, expected_version=1)
    assert updated.data["reason"] == "VIP"


def test_visible_required_field_is_required(db, installed):
    app, _ = installed
    client = make_client(db, app)
    with pytest.raises(RecordInvalid) as caught:
        make_ticket(db, app, client.id, escalated=True)
    assert [(p.field, p.code) for p in caught.value.problems] == [("reason", "required")]


def test_update_with_stale_version_is_a_conflict_and_changes_nothing(db, installed):
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id)
    with db.write() as conn:
        update_record(conn, app, app.entity("ticket"), ticket.id, {"subject": "First"}, actor_id=None,
                      expected_version=1)
    with pytest.raises(ConflictError) as caught, db.write() as conn:
        update_record(conn, app, app.entity("ticket"), ticket.id, {"subject": "Second"}, actor_id=None,
                      expected_version=1)
    assert caught.value.current.data["subject"] == "First"
    with db.read() as conn:
        assert get_record(conn, app, app.entity("ticket"), ticket.id).data["subject"] == "First"


def test_a_stale_update_writes_no_audit_row_and_no_event(db, installed):
    app, _ = installed
    ticket = make_ticket(db, app, make_client(db, app).id)
    with db.write() as conn:
        update_record(conn, app, app.entity("ticket"), ticket.id, {"subject": "First"}, actor_id=None,
                      expected_version=1)
    before = (len(table_rows(db, audit)), len(table_rows(db, events)))
    with pytest.raises(ConflictError), db.write() as conn:     # as read before the first update: its UPDATE matches nothing
        update_record(conn, app, app.entity("ticket"), ticket.id, {"subject": "Second"}, actor_id=None,
                      expected_version=1, current=ticket)
    assert (len(table_rows(db, audit)), len(table_rows(db, events))) == before


def test_every_change_writes_an_audit_row_with_old_and_new(db, installed):
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id, priority="low")
    with db.write() as conn:
        update_record(conn, app, app.entity("ticket"), ticket.id, {"priority": "high"}, actor_id=None,
                      expected_version=1)
    with db.read() as conn:
        rows = audit_rows(conn, ticket.id)
    assert [r["action"] for r in rows] == ["update", "create"]
    assert rows[0]["changes"] == {"priority": ["low", "high"]}


def test_changes_write_outbox_events_in_the_same_transaction(db, installed):
    app, _ = installed
    client = make_client(db, app)
    make_ticket(db, app, client.id)
    with db.read() as conn:
        kinds = [r.type for r in conn.execute(select(events).order_by(events.c.id))]
    assert kinds == ["record_created", "record_created"]


def test_unique_field_refuses_a_second_equal_value_ignoring_case(db, installed):
    app, _ = installed
    make_client(db, app, name="Acme")
    with pytest.raises(RecordInvalid) as caught:
        make_client(db, app, name="ACME ")
    assert [p.code for p in caught.value.problems] == ["unique"]


def test_deleted_record_frees_its_unique_value_and_can_be_restored(db, installed):
    app, _ = installed
    client = make_client(db, app, name="Acme")
    with db.write() as conn:
        delete_record(conn, app, app.entity("client"), client.id, actor_id=None)
    with pytest.raises(NotFoundError), db.read() as conn:
        get_record(conn, app, app.entity("client"), client.id)
    with db.write() as conn:
        restored = restore_record(conn, app, app.entity("client"), client.id, actor_id=None)
    assert restored.deleted_at is None and restored.data["name"] == "Acme"


def test_hostile_strings_are_stored_literally(db, installed):
    app, _ = installed
    hostile = "<script>alert(1)</script>'; DROP TABLE records;--{{7*7}}"
    client = make_client(db, app, name=hostile[:80])
    assert client.data["name"] == hostile[:80]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 1


def test_unchanged_update_does_not_bump_the_version(db, installed):
    app, _ = installed
    client = make_client(db, app)
    with db.write() as conn:
        same = update_record(conn, app, app.entity("client"), client.id, {"name": "Acme"}, actor_id=None,
                             expected_version=1)
    assert same.version == 1


def test_create_records_writes_each_record_as_create_record_would(db, installed):
    """The batched path (import, bulk): per item the same Record, audit row, stage history
    and event as create_record; invalid items and values taken in the table or earlier in
    the batch come back as the RecordInvalid create_record raises, and write nothing."""
    from formloom.store.records import NewRecord, create_records
    from formloom.store.tables import audit

    app, _ = installed
    taken = make_client(db, app, name="Taken")
    single = make_ticket(db, app, taken.id, hours=2.5, cost="12.5")
    with db.write() as conn:
        clients = create_records(conn, app, app.entity("client"),
                                 [NewRecord({"name": "Acme"}), NewRecord({"name": "ACME "}),
                                  NewRecord({"name": "taken"}), NewRecord({"name": "Beta"}, via="import: row 4")],
                                 actor_id=None)
    assert [type(c).__name__ for c in clients] == ["Record", "RecordInvalid", "RecordInvalid", "Record"]
    assert [p.code for p in clients[1].problems] == ["unique"] and [p.code for p in clients[2].problems] == ["unique"]
    with db.write() as conn:
        tickets = create_records(conn, app, app.entity("ticket"),
                                 [NewRecord({"subject": "a", "client": clients[0].id, "hours": 2.5, "cost": "12.5"}),
                                  NewRecord({"subject": "b", "client": 9999, "hours": "lots"}),
                                  NewRecord({"subject": "c", "client": taken.id})],
                                 actor_id=None)
    assert {p.field for p in tickets[1].problems} == {"client", "hours"}
    first, third = tickets[0], tickets[2]
    assert first.data["cost"] == single.data["cost"] and first.data["estimate"] == single.data["estimate"]
    assert [first.data["number"][-4:], third.data["number"][-4:]] == ["0002", "0003"]
    with db.read() as conn:
        for record in (clients[0], clients[3], first, third):
            assert get_record(conn, app, app.entity(record.entity_key), record.id) == record
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 6
        assert conn.execute(select(audit.c.via).where(audit.c.record_id == clients[3].id)).scalar() == "import: row 4"
        per_record = {r.record_id: r.type for r in conn.execute(select(events))}
        assert set(per_record) == {taken.id, single.id, clients[0].id, clients[3].id, first.id, third.id}
        assert set(per_record.values()) == {"record_created"}
        histories = conn.execute(select(stage_history.c.record_id, stage_history.c.to_stage)
                                 .order_by(stage_history.c.id)).all()
    assert [h.to_stage for h in histories if h.record_id == first.id] == \
        [h.to_stage for h in histories if h.record_id == single.id]
    with pytest.raises(RecordInvalid):
        make_client(db, app, name="beta")


def test_create_record_returns_what_a_read_returns(db, installed):
    """create_record builds its result from what it wrote instead of reading it back."""
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id, hours=2.5, cost="12.5")
    with db.read() as conn:
        assert get_record(conn, app, app.entity("ticket"), ticket.id) == ticket
        assert get_record(conn, app, app.entity("client"), client.id) == client


def test_references_are_read_at_once_and_an_id_of_another_entity_is_none(db, installed):
    from sqlalchemy import event

    from formloom.store.records import prefetch_references
    app, _ = installed
    client = make_client(db, app)
    ticket = make_ticket(db, app, client.id)
    statements = []

    def seen(_conn, _cursor, statement, *_rest):
        if statement != "BEGIN":                  # SQLite's, sent as a statement
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.read() as conn:
            known = prefetch_references(conn, app, app.entity("ticket"),
                                        [{"client": client.id}, {"client": ticket.id}, {"client": 10**9}])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert known[("client", client.id)].id == client.id
    assert known[("client", ticket.id)] is None and known[("client", 10**9)] is None


def test_on_postgresql_a_write_and_its_audit_row_stage_and_event_are_one_statement(db, installed):
    if db.is_sqlite:
        pytest.skip("PostgreSQL writes the record's log in data-modifying CTEs; SQLite has no INSERT in a WITH")
    app, _ = installed
    client = make_client(db, app)
    statements = []

    def note(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        ticket = make_ticket(db, app, client.id)
        with db.write() as conn:
            update_record(conn, app, app.entity("ticket"), ticket.id, {"subject": "Second"}, actor_id=None,
                          expected_version=1)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    logging = [s for s in statements if "INSERT INTO audit" in s or "INSERT INTO events" in s]
    assert len(logging) == 2
    assert all("INSERT INTO events" in s and "INSERT INTO audit" in s for s in logging)
    assert "INSERT INTO records" in logging[0] and "UPDATE records" in logging[1]
