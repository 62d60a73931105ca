"""Rollup fields are kept in the parent's data by every write of a related record, in its transaction."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from formloom.store import rollups
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import (NewRecord, create_record, create_records, delete_record, get_record,
                                    restore_record, update_record)
from formloom.store.tables import jobs

from ..conftest import helpdesk_app

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def rollup_app() -> dict:
    """The helpdesk with rollups on the client: its tickets counted, their cost summed, ..."""
    doc = helpdesk_app()
    client = doc["entities"][0]
    client["fields"] += [
        {"key": "tickets", "type": "rollup", "label": "Tickets", "function": "count", "source": "ticket",
         "via": "client"},
        {"key": "high_tickets", "type": "rollup", "label": "High tickets", "function": "count", "source": "ticket",
         "via": "client", "where": {"==": [{"var": "priority"}, "high"]}},
        {"key": "total_cost", "type": "rollup", "label": "Total cost", "function": "sum", "source": "ticket",
         "via": "client", "field": "cost"},
        {"key": "max_hours", "type": "rollup", "label": "Most hours", "function": "max", "source": "ticket",
         "via": "client", "field": "hours"},
        {"key": "first_due", "type": "rollup", "label": "First due", "function": "min", "source": "ticket",
         "via": "client", "field": "due"},
        {"key": "last_subject", "type": "rollup", "label": "Last subject", "function": "latest", "source": "ticket",
         "via": "client", "field": "subject"},
        {"key": "due_recently", "type": "rollup", "label": "Due in the last 7 days", "function": "count",
         "source": "ticket", "via": "client", "window": {"field": "due", "last": "P7D"}},
        {"key": "busy", "type": "formula", "label": "Busy", "formula": "tickets >= 2"},
    ]
    return doc


@pytest.fixture
def app(db):
    install_documents(db, rollup_app(), {})
    return AppCatalog(db).get("helpdesk")[0]


def client(db, app, name="Acme"):
    with db.write() as conn:
        return create_record(conn, app, app.entity("client"), {"name": name}, actor_id=None, now=NOW)


def ticket(db, app, client_id, **values):
    with db.write() as conn:
        return create_record(conn, app, app.entity("ticket"), {"subject": "Help", "client": client_id, **values},
                             actor_id=None, now=NOW)


def data(db, app, record_id):
    with db.read() as conn:
        return get_record(conn, app, app.entity("client"), record_id).data


def test_a_new_parent_starts_with_zero_counts_and_no_values(db, app):
    c = client(db, app)
    assert {k: c.data[k] for k in ("tickets", "total_cost", "max_hours", "last_subject")} == \
        {"tickets": 0, "total_cost": 0, "max_hours": None, "last_subject": None}


def test_creating_related_records_updates_every_function(db, app):
    c = client(db, app)
    ticket(db, app, c.id, subject="First", priority="high", cost="10.50", hours=2, due="2026-03-20")
    ticket(db, app, c.id, subject="Second", priority="low", cost="5.25", hours=7.5, due="2026-03-12")
    got = data(db, app, c.id)
    assert got["tickets"] == 2 and got["high_tickets"] == 1
    assert got["total_cost"] == 15.75
    assert got["max_hours"] == 7.5
    assert got["first_due"] == "2026-03-12"
    assert got["last_subject"] == "Second"
    assert got["busy"] is True          # a formula reading a rollup follows it


def test_moving_a_related_record_to_another_parent_updates_both(db, app):
    a, b = client(db, app, "A"), client(db, app, "B")
    t = ticket(db, app, a.id, cost="3.00")
    with db.write() as conn:
        update_record(conn, app, app.entity("ticket"), t.id, {"client": b.id}, actor_id=None, expected_version=None)
    assert (data(db, app, a.id)["tickets"], data(db, app, b.id)["tickets"]) == (0, 1)
    assert (data(db, app, a.id)["total_cost"], data(db, app, b.id)["total_cost"]) == (0, 3)


def test_delete_and_restore_are_counted(db, app):
    c = client(db, app)
    t = ticket(db, app, c.id)
    with db.write() as conn:
        delete_record(conn, app, app.entity("ticket"), t.id, actor_id=None)
    assert data(db, app, c.id)["tickets"] == 0
    with db.write() as conn:
        restore_record(conn, app, app.entity("ticket"), t.id, actor_id=None)
    assert data(db, app, c.id)["tickets"] == 1


def test_a_batch_of_creates_is_counted_once_per_parent(db, app):
    c = client(db, app)
    with db.write() as conn:
        create_records(conn, app, app.entity("ticket"),
                       [NewRecord({"subject": f"T{i}", "client": c.id, "cost": "1.00"}) for i in range(3)],
                       actor_id=None, now=NOW)
    assert (data(db, app, c.id)["tickets"], data(db, app, c.id)["total_cost"]) == (3, 3)


def test_editing_the_parent_keeps_its_rollups(db, app):
    c = client(db, app)
    ticket(db, app, c.id)
    with db.write() as conn:
        update_record(conn, app, app.entity("client"), c.id, {"email": "a@example.com"}, actor_id=None,
                      expected_version=None)
    assert data(db, app, c.id)["tickets"] == 1


def test_a_rollup_change_does_not_bump_the_parents_version(db, app):
    c = client(db, app)
    ticket(db, app, c.id)
    with db.read() as conn:
        assert get_record(conn, app, app.entity("client"), c.id).version == c.version


def test_the_window_is_recounted_when_a_related_record_ages_out(db, app):
    from formloom.automation.worker import run_once
    catalog = AppCatalog(db)
    with time_machine.travel(NOW, tick=False):
        c = client(db, app)
        ticket(db, app, c.id, due="2026-03-09")           # in the last 7 days
        ticket(db, app, c.id, due="2026-03-12")           # due in two days: not yet
        assert data(db, app, c.id)["due_recently"] == 1
        with db.read() as conn:
            job = conn.execute(jobs.select().where(jobs.c.kind == rollups.JOB_KIND)).one()
        assert job.due_at.replace(tzinfo=timezone.utc) == datetime(2026, 3, 11, 23, 0, tzinfo=timezone.utc)
    with time_machine.travel(datetime(2026, 3, 12, 9, 0, tzinfo=timezone.utc), tick=False):
        run_once(db, catalog)
        assert data(db, app, c.id)["due_recently"] == 2      # the second came into the window
    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=timezone.utc), tick=False):
        run_once(db, catalog)
        assert data(db, app, c.id)["due_recently"] == 1      # the first left it (7 days after 03-09)
    with time_machine.travel(datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc), tick=False):
        run_once(db, catalog)
        assert data(db, app, c.id)["due_recently"] == 0
        with db.read() as conn:
            assert conn.execute(jobs.select().where(jobs.c.kind == rollups.JOB_KIND,
                                                    jobs.c.status == "pending")).first() is None


def test_rebuild_repairs_drift_and_equals_maintenance(db, app):
    c = client(db, app)
    ticket(db, app, c.id, cost="2.00")
    with db.write() as conn:
        assert rollups.differences(conn, app, NOW) == []
        from sqlalchemy import update
        from formloom.store.tables import records
        stored = get_record(conn, app, app.entity("client"), c.id).data
        conn.execute(update(records).where(records.c.id == c.id).values(data={**stored, "tickets": 99}))
        assert rollups.differences(conn, app, NOW) == [(c.id, "tickets", 99, 1)]
        assert rollups.rebuild(conn, app, now=NOW) == 1
        assert rollups.differences(conn, app, NOW) == []


def test_installing_a_new_rollup_backfills_it(db):
    install_documents(db, helpdesk_app(), {})
    app = AppCatalog(db).get("helpdesk")[0]
    c = client(db, app)
    ticket(db, app, c.id)
    ticket(db, app, c.id)
    doc = helpdesk_app()
    doc["entities"][0]["fields"].append({"key": "tickets", "type": "rollup", "label": "Tickets",
                                         "function": "count", "source": "ticket", "via": "client"})
    install_documents(db, doc, {})
    app = AppCatalog(db).get("helpdesk")[0]
    assert data(db, app, c.id)["tickets"] == 2


def test_lists_filter_and_sort_on_a_rollup(db, app, make_user):
    from formloom.store.query import Filter, ListQuery, list_records
    agent = make_user()
    a, b, c = client(db, app, "A"), client(db, app, "B"), client(db, app, "C")
    for owner, n in ((a, 1), (b, 3), (c, 2)):
        for _ in range(n):
            ticket(db, app, owner.id, cost="1.50")
    with db.read() as conn:
        page = list_records(conn, app, app.entity("client"), agent,
                            ListQuery(filters=(Filter("tickets", "gte", 2),), sort="-total_cost"))
    assert [r.title for r in page.items] == ["B", "C"]


def test_a_rule_reacts_when_a_rollup_changes(db):
    from formloom.automation.worker import run_once
    doc = rollup_app()
    doc["entities"][0]["workflow"] = "client_rules"
    rules = {"key": "client_rules", "entity": "client", "stages": [], "rules": [
        {"key": "gold_when_busy", "trigger": {"type": "field_changed", "field": "tickets"},
         "condition": {">=": [{"var": "tickets"}, 2]},
         "actions": [{"type": "set_field", "field": "tier", "value": "gold"}]}]}
    install_documents(db, doc, {"client_rules": rules})
    catalog = AppCatalog(db)
    app = catalog.get("helpdesk")[0]
    c = client(db, app)
    ticket(db, app, c.id)
    run_once(db, catalog, now=NOW)
    assert data(db, app, c.id).get("tier") is None
    ticket(db, app, c.id)
    run_once(db, catalog, now=NOW)
    assert data(db, app, c.id)["tier"] == "gold"


def test_a_gate_can_require_a_rollup(db):
    doc = rollup_app()
    doc["entities"][0]["workflow"] = "client_flow"
    flow = {"key": "client_flow", "entity": "client", "stages": [
        {"key": "new", "label": "New"},
        {"key": "active", "label": "Active", "gate": {"conditions": [
            {"rule": {">=": [{"var": "tickets"}, 1]}, "message": "Log a ticket first"}]}}]}
    install_documents(db, doc, {"client_flow": flow})
    app = AppCatalog(db).get("helpdesk")[0]
    from formloom.automation.actions import SYSTEM_ACTOR
    from formloom.workflow.gates import GateBlocked
    from formloom.workflow.moves import move_to_stage
    c = client(db, app)
    with db.write() as conn, pytest.raises(GateBlocked):
        move_to_stage(conn, app, app.entity("client"), c.id, "active", SYSTEM_ACTOR)
    ticket(db, app, c.id)
    with db.write() as conn:
        assert move_to_stage(conn, app, app.entity("client"), c.id, "active", SYSTEM_ACTOR).stage == "active"


def test_a_restored_parent_is_recounted(db, app):
    c = client(db, app)
    with db.write() as conn:
        delete_record(conn, app, app.entity("client"), c.id, actor_id=None)
    ticket_while_deleted = None
    with db.write() as conn:       # an automation may still point a ticket at it (no reader checks the link)
        from sqlalchemy import insert
        from formloom.store.tables import records
        ticket_while_deleted = conn.execute(insert(records).values(
            app_key=app.key, entity_key="ticket", data={"subject": "x", "client": c.id}, title="x",
            created_at=NOW, updated_at=NOW, version=1)).inserted_primary_key[0]
    with db.write() as conn:
        restore_record(conn, app, app.entity("client"), c.id, actor_id=None)
    assert ticket_while_deleted and data(db, app, c.id)["tickets"] == 1


def test_concurrent_writers_for_one_parent_lose_no_count(db, app):
    """Two transactions adding tickets to one client at once: each re-counts after the other's commit
    (on PostgreSQL the parent is locked before the count; SQLite serializes writers)."""
    import threading
    c = client(db, app)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(n):
                ticket(db, app, c.id)
        except BaseException as exc:      # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(8,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert data(db, app, c.id)["tickets"] == 24
