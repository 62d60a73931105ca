"""A list's total reads the filters that do not drive its plan from their typed slot columns
(store/query.py `count_slots`): the same totals as comparing the JSON documents, whatever
the values (blanks, negatives, cents), and the driving filter keeps its expression index.
On PostgreSQL the count may also read every filter's slot, when the planner costs that lower."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import event, exists, false, select

from formloom.store.query import (EXACT_COUNT_LIMIT, Filter, ListQuery, Total, count_slots, count_total,
                                  list_records, where_clauses)
from formloom.store.records import NewRecord, create_records
from formloom.store.tables import records

from .test_query import _admin
from .test_slots import BOARD, install, random_values


@pytest.fixture
def deals(db):
    app, version_id = install(db, {"board": BOARD})
    rng = random.Random(16)
    with db.write() as conn:
        create_records(conn, app, app.entity("deal"), [NewRecord(random_values(rng)) for _ in range(120)],
                       actor_id=None, version_id=version_id)
    return app


QUERIES = [
    (Filter("channel", "eq", "web"), Filter("amount", "gte", 1000)),
    # "is one of": on PostgreSQL the planner estimate once sent its list unexpanded (an error, not a total)
    (Filter("channel", "in", ["web", "shop"]), Filter("amount", "lt", 0.5), Filter("closed_on", "gte", "2026-06-01")),
    (Filter("amount", "gt", -1), Filter("closed_on", "lte", "2026-09-30")),
    (Filter("channel", "ne", "phone"), Filter("amount", "ne", 0.1)),
    (Filter("closed_on", "eq", "2026-03-01"), Filter("amount", "gte", 0)),
    (Filter("amount", "gte", 0), Filter("name", "contains", "deal"), Filter("channel", "is_empty", False)),
]


@pytest.mark.parametrize("filters", QUERIES)
def test_totals_over_slots_equal_the_documents(db, deals, filters):
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=filters, limit=1)
    with db.read() as conn:
        page = list_records(conn, app, deal, _admin(app), query, with_total=True)
        by_documents = count_total(conn, app, deal, where_clauses(conn, app, deal, _admin(app), query))
    assert page.total == by_documents


def test_the_documents_count_agrees_with_python(db, deals):
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=QUERIES[0], limit=1)
    with db.read() as conn:
        every = list_records(conn, app, deal, _admin(app), ListQuery(limit=500)).items
        page = list_records(conn, app, deal, _admin(app), query, with_total=True)
    expected = sum(1 for r in every if r.data.get("channel") == "web" and (r.data.get("amount") or -1) >= 1000)
    assert expected > 1 and page.total == Total(expected, "exact")


def test_the_count_reads_the_slots_of_all_but_the_driving_filter(db, deals):
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=(Filter("amount", "gte", 0), Filter("channel", "eq", "web"),
                               Filter("closed_on", "gte", "2026-01-01")), limit=1)
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        with db.read() as conn:
            slots = count_slots(conn, app, deal, query)
            page = list_records(conn, app, deal, _admin(app), query, with_total=True)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert set(slots) == {"amount", "closed_on"}           # channel (the equality) drives the count
    counted = next(s for s in seen if "count(" in s.lower())
    if db.is_sqlite:            # PostgreSQL may count by every slot instead (below)
        assert "$.channel" in counted
    assert "$.amount" not in counted and "'amount'" not in counted
    assert page.total.kind == "exact" and page.total.count <= EXACT_COUNT_LIMIT


def test_every_slot_is_the_other_way_to_count(db, deals):
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=(Filter("channel", "eq", "web"), Filter("amount", "gte", 0)))
    with db.read() as conn:
        assert set(count_slots(conn, app, deal, query, keep_driving=False)) == {"channel", "amount"}
        one = ListQuery(filters=(Filter("channel", "eq", "web"),))
        assert count_slots(conn, app, deal, one) == {}                       # nothing else to drive
        assert set(count_slots(conn, app, deal, one, keep_driving=False)) == {"channel"}


def test_postgresql_counts_the_way_its_planner_costs_lower(db, deals):
    """Told two ways to count, PostgreSQL counts the one its planner expects to be cheaper. The
    ways here are made to disagree, so the answer says which one was counted: a condition that
    is never true (nothing to read) and a correlated check of every row (dearer than the list's own)."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL: SQLite counts through its covering index instead (covering_count)")
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=(Filter("channel", "eq", "web"), Filter("amount", "gte", 0)))
    other = records.alias("other")
    with db.read() as conn:
        where = where_clauses(conn, app, deal, _admin(app), query)
        real = count_total(conn, app, deal, where).count
        cheap = count_total(conn, app, deal, where, other_count_where=[*where, false()])
        dear = count_total(conn, app, deal, where, other_count_where=[
            *where, exists(select(other.c.id).where(other.c.title == records.c.title, other.c.id != records.c.id))])
    assert real > 0
    assert cheap == Total(0, "exact")
    assert dear == Total(real, "exact")


def test_a_single_filter_or_an_entity_without_slots_counts_as_before(db, deals):
    app = deals
    with db.read() as conn:
        assert count_slots(conn, app, app.entity("deal"), ListQuery(filters=(Filter("amount", "gte", 0),))) == {}
        assert count_slots(conn, app, app.entity("account"),
                           ListQuery(filters=(Filter("name", "eq", "a"), Filter("name", "ne", "b")))) == {}


def test_an_unindexed_equality_never_takes_the_index_from_an_indexed_filter(db, deals):
    app = deals
    deal = app.entity("deal")
    query = ListQuery(filters=(Filter("name", "eq", "deal 1"), Filter("amount", "gte", 0), Filter("closed_on", "gte", "2026-01-01")))
    with db.read() as conn:
        slots = count_slots(conn, app, deal, query)
    assert set(slots) == {"closed_on"}      # amount, the first indexed filter, drives; name has no slot anyway
