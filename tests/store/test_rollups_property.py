"""Maintained rollups equal a recount after any sequence of writes (and of time passing with the
worker running), on SQLite and, with FORMLOOM_TEST_DATABASE_URL, on PostgreSQL."""
from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formloom.automation.worker import run_once
from formloom.errors import NotFoundError
from formloom.store import rollups
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import (NewRecord, create_record, create_records, delete_record, restore_record,
                                    update_record)

from .test_rollups import NOW, rollup_app

CLIENTS = 3
NAMES = itertools.count()          # client names are unique, and examples share the database
values = st.fixed_dictionaries({}, optional={
    "priority": st.sampled_from(["low", "high", None]),
    "cost": st.sampled_from(["0.10", "0.20", "12.35", "100.00", None]),
    "hours": st.sampled_from([0, 0.5, 2.5, 40, None]),
    "due": st.dates(min_value=NOW.date() - timedelta(days=12), max_value=NOW.date() + timedelta(days=12)).map(
        lambda d: d.isoformat()) | st.none(),
    "subject": st.sampled_from(["a", "b", "c"]),
})
operations = st.lists(st.one_of(
    st.tuples(st.just("create"), st.integers(0, CLIENTS - 1), values),
    st.tuples(st.just("batch"), st.lists(st.tuples(st.integers(0, CLIENTS - 1), values), min_size=1, max_size=3)),
    st.tuples(st.just("update"), st.integers(0, 20), st.integers(0, CLIENTS - 1), values),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("restore"), st.integers(0, 20)),
    st.tuples(st.just("wait"), st.integers(1, 6 * 24)),       # hours pass; the worker runs
), min_size=1, max_size=14)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_maintained_rollups_equal_a_recount(db, ops):
    install_documents(db, rollup_app(), {})
    catalog = AppCatalog(db)
    app = catalog.get("helpdesk")[0]
    client, ticket = app.entity("client"), app.entity("ticket")
    now = NOW
    with db.write() as conn:
        clients = [create_record(conn, app, client, {"name": f"client {next(NAMES)}"}, actor_id=None,
                                 now=now).id for _ in range(CLIENTS)]
    tickets: list[int] = []
    for op in ops:
        with db.write() as conn:
            if op[0] == "create":
                tickets.append(create_record(conn, app, ticket, {"subject": "t", "client": clients[op[1]], **op[2]},
                                             actor_id=None, now=now).id)
            elif op[0] == "batch":
                made = create_records(conn, app, ticket, [NewRecord({"subject": "t", "client": clients[c], **v})
                                                          for c, v in op[1]], actor_id=None, now=now)
                tickets += [r.id for r in made]
            elif op[0] in ("update", "delete", "restore") and tickets:
                target = tickets[op[1] % len(tickets)]
                try:
                    if op[0] == "update":
                        update_record(conn, app, ticket, target, {**op[3], "client": clients[op[2]]}, actor_id=None,
                                      expected_version=None, now=now)
                    elif op[0] == "delete":
                        delete_record(conn, app, ticket, target, actor_id=None, now=now)
                    else:
                        restore_record(conn, app, ticket, target, actor_id=None, now=now)
                except NotFoundError:
                    pass                # updating or deleting a deleted ticket: refused, nothing written
        if op[0] == "wait":
            now = now + timedelta(hours=op[1])
            run_once(db, catalog, now=now)
    with db.read() as conn:
        # only this example's clients: earlier examples' were left at their own (later) moments
        assert [d for d in rollups.differences(conn, app, now) if d[0] in clients] == []
