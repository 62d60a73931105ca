"""A list read by a reader who sees every record goes through statements prebuilt per
shape with bound values (store/query.py `_prepared_list`) and rows read by position
(`list_records_of`): the same pages and totals as the statement built per request, on
SQLite and PostgreSQL, whatever the filters' values, and never a statement of an older
app version or one holding another request's values."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from formloom.auth.users import Actor
from formloom.store import query as store_query
from formloom.store.query import (LIST_COLUMNS, Filter, ListQuery, _LISTS, _prepared_list, list_records,
                                  list_records_of)
from formloom.store.expressions import index_name
from formloom.store.records import NewRecord, create_records, record_from_row
from formloom.store.slots import entity_mapping
from formloom.store.tables import records

from .test_query import _admin
from .test_slots import BOARD, install, random_values


@pytest.fixture
def deals(db):
    app, version_id = install(db, {"board": BOARD})
    rng = random.Random(1616)
    with db.write() as conn:
        create_records(conn, app, app.entity("deal"), [NewRecord(random_values(rng)) for _ in range(90)],
                       actor_id=None, version_id=version_id)
    return app


QUERIES = [
    ListQuery(limit=5),
    ListQuery(filters=(Filter("channel", "eq", "web"),), sort="-amount", limit=5),
    ListQuery(filters=(Filter("channel", "in", ["web", "shop"]), Filter("amount", "gte", 0)), sort="amount", limit=4),
    ListQuery(filters=(Filter("channel", "in", []),), limit=5),
    ListQuery(filters=(Filter("channel", "ne", "phone"), Filter("amount", "ne", 0.1)), sort="closed_on", limit=6),
    ListQuery(filters=(Filter("amount", "gt", -1), Filter("amount", "lte", 500_000.5),
                       Filter("closed_on", "lt", "2026-09-30")), sort="-closed_on", limit=7, offset=5),
    ListQuery(filters=(Filter("closed_on", "is_empty", True),), sort="-amount", limit=5),
    ListQuery(filters=(Filter("closed_on", "is_empty", False), Filter("channel", "eq", "mail")), sort="title", limit=3),
    ListQuery(filters=(Filter("amount", "gte", 0),), stage="new", sort="-updated_at", limit=5),
    ListQuery(filters=(Filter("amount", "lt", 10),), owner_id=12345, limit=5),
    # not prebuilt (text search, JSON lists): the same function answers
    ListQuery(filters=(Filter("name", "contains", "deal 1"),), limit=5),
    ListQuery(filters=(Filter("tags", "eq", "a"),), limit=5),
]


def _read(db, app, query, reader):
    with db.read() as conn:
        page = list_records(conn, app, app.entity("deal"), reader, query, with_total=True)
    return page.items, page.has_more, page.total


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_prebuilt_lists_equal_the_statement_built_per_request(db, deals, query, monkeypatch):
    prebuilt = _read(db, deals, query, _admin(deals))
    monkeypatch.setattr(store_query, "_prepared_list", lambda *args: None)
    assert prebuilt == _read(db, deals, query, _admin(deals))


def test_values_are_bound_not_kept_with_the_statement(db, deals, monkeypatch):
    deal = deals.entity("deal")
    asked = [ListQuery(filters=(Filter("channel", "eq", channel), Filter("amount", "gte", low)), sort="-amount", limit=3)
             for channel, low in (("web", 0), ("shop", 1000), ("phone", -1), ("web", 10**6))]
    with db.read() as conn:
        shapes = {_prepared_list(conn, deals, deal, _admin(deals), q).shape for q in asked}
    assert len(shapes) == 1 and _LISTS[shapes.pop()][0] is deal
    prebuilt = [_read(db, deals, q, _admin(deals)) for q in asked]
    monkeypatch.setattr(store_query, "_prepared_list", lambda *args: None)
    built = [_read(db, deals, q, _admin(deals)) for q in asked]
    assert prebuilt == built
    assert len({tuple(r.id for r in items) for items, *_rest in built}) > 1      # the values made a difference


def test_postgresql_asks_the_counts_plans_once_written_with_each_requests_values(db, deals, monkeypatch):
    """The total's EXPLAINs (the estimate, and the cost of the other way to count) are written
    once per shape, like the page and the count, and sent with each request's own values."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's plans: SQLite's count asks none")
    explained = []

    def seen(conn, cursor, statement, params, *args):
        if statement.startswith("EXPLAIN"):
            explained.append((statement, dict(params)))
    asked = [ListQuery(filters=(Filter("channel", "eq", channel), Filter("amount", "gte", low)), limit=2)
             for channel, low in (("web", 0), ("shop", 1000))]
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        prebuilt = [_read(db, deals, q, _admin(deals)) for q in asked]
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert all(has_more for _items, has_more, _total in prebuilt)        # each asked for a total
    half = len(explained) // 2
    assert half == 1 and "UNION ALL" in explained[0][0]     # both ways' plans in one EXPLAIN
    assert [s for s, _p in explained[:half]] == [s for s, _p in explained[half:]]
    assert {p["f0"] for _s, p in explained[:half]} == {"web"} and {p["f0"] for _s, p in explained[half:]} == {"shop"}
    monkeypatch.setattr(store_query, "_prepared_list", lambda *args: None)
    assert prebuilt == [_read(db, deals, q, _admin(deals)) for q in asked]


def test_postgresql_plans_both_ways_together_as_each_on_its_own(db, deals):
    """The UNION ALL's branches are planned as each select would be alone: the same rows and cost."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's plans")
    deal = deals.entity("deal")
    query = ListQuery(filters=(Filter("channel", "eq", "web"), Filter("amount", "gte", 100)), limit=2)
    with db.read() as conn:
        prepared = _prepared_list(conn, deals, deal, _admin(deals), query)
        every = store_query.count_slots(conn, deals, deal, query, keep_driving=False)
        assert set(every) == {"channel", "amount"}
        together = prepared.planned(conn, deal, [{}, every])
        alone = [prepared.planned(conn, deal, [slots])[0] for slots in ({}, every)]
    assert together == alone and all(plan["rows"] > 0 and plan["cost"] > 0 for plan in together)


def test_a_new_app_version_gets_its_own_statement(db, deals):
    query = ListQuery(filters=(Filter("amount", "gte", 0),), sort="amount", limit=3)
    again, _version = install(db, {"board": BOARD})          # published again: a new EntityDef
    assert again.entity("deal") is not deals.entity("deal")
    with db.read() as conn:
        first = _prepared_list(conn, deals, deals.entity("deal"), _admin(deals), query)
        second = _prepared_list(conn, again, again.entity("deal"), _admin(again), query)
    assert first.shape == second.shape
    assert _LISTS[second.shape][0] is again.entity("deal")


def test_a_reader_with_a_narrower_scope_gets_the_statement_built_per_request(db, deals):
    seller = Actor(id=7, email="s@example.com", name="s", roles={"shop": frozenset({"seller"})})
    with db.read() as conn:
        assert _prepared_list(conn, deals, deals.entity("deal"), seller, ListQuery()) is None
        assert _prepared_list(conn, deals, deals.entity("deal"), _admin(deals), ListQuery(q="deal")) is None
        assert _prepared_list(conn, deals, deals.entity("deal"), None, ListQuery()) is None


def test_rows_read_by_position_equal_record_from_row(db, deals):
    with db.read() as conn:
        rows = conn.execute(select(*LIST_COLUMNS).where(records.c.entity_key == "deal").order_by(records.c.id)).all()
    assert len(rows) == 90
    assert list_records_of(rows) == [record_from_row(r) for r in rows]
    assert all(r.created_at.tzinfo is not None and r.updated_at.tzinfo is not None for r in list_records_of(rows))


SLOTTED = (Filter("channel", "eq", "web"), Filter("amount", "gte", 0), Filter("closed_on", "lt", "2026-09-30"))


def _page_with_slots(db, app, query):
    """(the page's statement as SQLite runs it, the plan without slots, the plan with them)."""
    deal = app.entity("deal")
    with db.read() as conn:
        prepared = _prepared_list(conn, app, deal, _admin(app), query)
        stmt = prepared.page_reading_slots(conn, app, deal, query, entity_mapping(conn, app.key, deal.key))
        return (stmt, prepared.page, store_query._sqlite_plan(conn, prepared.page, prepared.params),
                store_query._sqlite_plan(conn, stmt, prepared.params))


@pytest.mark.parametrize("sort", ["amount", "-closed_on", "title"])
def test_the_page_reads_slots_only_for_filters_whose_index_the_plan_does_not_walk(db, deals, sort):
    """With the channel's index walked (sorts on a JSON field) the channel keeps its expression
    and the others read their slots; with another index walked (title) all three read slots.
    Either way SQLite's plan is the plan it had without slots."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    stmt, plain, plan, plan_with_slots = _page_with_slots(db, deals, ListQuery(filters=SLOTTED, sort=sort, limit=5))
    with db.read() as conn:
        where = str(stmt.compile(dialect=conn.dialect)).split("WHERE")[1].split("ORDER BY")[0]
        slots = entity_mapping(conn, "shop", "deal")
    walked = {key for key in slots if any(index_name("shop", "deal", key) in step for step in plan)}
    assert walked == ({"channel"} if sort != "title" else set())
    for key, slot in slots.items():
        assert (f"records.{slot} " in where) == (key not in walked)
        assert (f"'$.{key}')" in where) == (key in walked)
    assert stmt is not plain and plan_with_slots == plan


def test_the_documents_statement_is_kept_when_the_plan_with_slots_would_differ(db, deals, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    real, asked = store_query._sqlite_plan, []

    def plan(conn, stmt, params):
        asked.append(stmt)
        steps = real(conn, stmt, params)
        return steps if len(asked) % 2 else steps + ["SCAN records"]       # the plan with slots differs
    monkeypatch.setattr(store_query, "_sqlite_plan", plan)
    query = ListQuery(filters=SLOTTED, sort="-amount", limit=5)
    deal = deals.entity("deal")
    with db.read() as conn:
        prepared = _prepared_list(conn, deals, deal, _admin(deals), query)
        mapping = entity_mapping(conn, "shop", "deal")
        assert prepared.page_reading_slots(conn, deals, deal, query, mapping) is prepared.page
        assert prepared.page_reading_slots(conn, deals, deal, query, mapping) is prepared.page
    assert len(asked) == 2                                                  # checked once, then kept


def test_the_plan_check_is_kept_and_made_again_after_its_time(db, deals, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    deal, now, checks = deals.entity("deal"), [1000.0], []
    real = store_query._PreparedList._checked_page
    monkeypatch.setattr(store_query._PreparedList, "_checked_page", lambda *args: checks.append(1) or real(*args))
    monkeypatch.setattr(store_query, "time", SimpleNamespace(monotonic=lambda: now[0]))
    query = ListQuery(filters=SLOTTED, sort="-closed_on", limit=5)

    def page():
        with db.read() as conn:
            prepared = _prepared_list(conn, deals, deal, _admin(deals), query)
            return prepared.page_reading_slots(conn, deals, deal, query, entity_mapping(conn, "shop", "deal"))
    first = page()
    now[0] += store_query.PLAN_RECHECK_S - 1
    assert page() is first and len(checks) == 1
    now[0] += 2
    later = page()
    assert len(checks) == 2 and later is not first and str(later) == str(first)


def test_a_plan_that_cannot_be_asked_leaves_the_page_as_it_was(db, deals, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")

    def refused(*args):
        raise OperationalError("EXPLAIN QUERY PLAN", {}, Exception("no plan"))
    monkeypatch.setattr(store_query, "_sqlite_plan", refused)
    query = ListQuery(filters=SLOTTED[:2], sort="amount", limit=5)
    deal = deals.entity("deal")
    with db.read() as conn:
        prepared = _prepared_list(conn, deals, deal, _admin(deals), query)
        assert prepared.page_reading_slots(conn, deals, deal, query, entity_mapping(conn, "shop", "deal")) is prepared.page
    read = _read(db, deals, query, _admin(deals))
    monkeypatch.setattr(store_query, "_prepared_list", lambda *args: None)
    assert read[0] and read == _read(db, deals, query, _admin(deals))
