"""On SQLite a list's total (the bounded count) may walk the entity's covering index
(dashboards/storage.py) instead of the driving filter's expression index plus a table row per
match (store/query.py `_PreparedList.covering_count`): only where ANALYZE's statistics say it is
worth it, within a step budget, and always with the same total as the usual count."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import event, text

from formloom.store import query as store_query
from formloom.store.expressions import index_name
from formloom.store.faster_way import FasterWay
from formloom.store.query import EXACT_COUNT_LIMIT, Filter, ListQuery, list_records
from formloom.store.records import NewRecord, create_records

from .test_query import _admin
from .test_slots import BOARD, install, random_values


@pytest.fixture
def deals(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's count")
    app, version_id = install(db, {"board": BOARD})
    rng = random.Random(1617)
    with db.write() as conn:
        create_records(conn, app, app.entity("deal"), [NewRecord(random_values(rng)) for _ in range(160)],
                       actor_id=None, version_id=version_id)
    store_query._LISTS.clear()
    return app


@pytest.fixture(autouse=True)
def covering_first(monkeypatch):
    """These tests are about the covering walk itself: it runs whenever it may. Which of the
    two ways runs once both are timed is the last test's (and test_faster_way's)."""
    monkeypatch.setattr(store_query.COUNT_WAYS, "pick", lambda key: 0)


def _analyze(db):
    with db.write() as conn:
        conn.execute(text("ANALYZE"))
    store_query._LISTS.clear()


COUNTED = [     # each matches more than a page of records, so the page asks for a total
    ListQuery(filters=(Filter("channel", "eq", "web"), Filter("amount", "gte", 0)), sort="-amount", limit=3),
    ListQuery(filters=(Filter("channel", "eq", "shop"), Filter("amount", "lt", 1000)), limit=2),
    ListQuery(filters=(Filter("channel", "eq", "phone"), Filter("closed_on", "gte", "2026-03-01")), sort="title",
              limit=2),
    ListQuery(filters=(Filter("channel", "eq", "mail"), Filter("amount", "gt", -10)), limit=2, offset=2),
]


def _totals(db, app, queries, monkeypatch=None, exact_up_to=None):
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        totals = []
        for query in queries:
            with db.read() as conn:
                page = list_records(conn, app, app.entity("deal"), _admin(app), query, with_total=True)
            assert page.has_more or page.offset, "the page must ask for a total"
            totals.append((tuple(r.id for r in page.items), page.total))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return totals, [s for s in statements if "count(" in s.lower() and "EXPLAIN" not in s]


def _usual(db, app, queries, monkeypatch):
    monkeypatch.setattr(store_query._PreparedList, "covering_count", lambda *args: None)
    return _totals(db, app, queries)


def test_with_statistics_the_total_walks_the_covering_index_and_equals_the_usual_count(db, deals, monkeypatch):
    _analyze(db)
    covered, counts = _totals(db, deals, COUNTED)
    assert len(counts) == len(COUNTED) and all("INDEXED BY ixd_shop_deal" in s for s in counts)
    usual, usual_counts = _usual(db, deals, COUNTED, monkeypatch)
    assert not any("INDEXED BY" in s for s in usual_counts)
    assert covered == usual and all(total.kind == "exact" for _ids, total in covered)


def test_a_total_beyond_the_bound_is_more_than_the_bound_either_way(db, deals, monkeypatch):
    _analyze(db)
    monkeypatch.setattr(store_query.count_total, "__defaults__",
                        (True, 5) + store_query.count_total.__defaults__[2:])     # exact_up_to = 5
    covered, counts = _totals(db, deals, COUNTED[:2])
    assert all("INDEXED BY" in s for s in counts)
    assert [total.kind for _ids, total in covered] == ["more", "more"]
    assert covered == _usual(db, deals, COUNTED[:2], monkeypatch)[0]


def test_without_statistics_the_usual_count_answers(db, deals, monkeypatch):
    totals, counts = _totals(db, deals, COUNTED)
    assert len(counts) == len(COUNTED) and not any("INDEXED BY" in s for s in counts)
    assert totals == _usual(db, deals, COUNTED, monkeypatch)[0]


def test_an_index_much_bigger_than_the_driving_values_rows_is_not_walked(db, deals, monkeypatch):
    _analyze(db)
    monkeypatch.setattr(store_query, "COVER_RATIO", 1)     # the entity's index holds ~5 times a channel's rows
    totals, counts = _totals(db, deals, COUNTED)
    assert not any("INDEXED BY" in s for s in counts)
    assert totals == _usual(db, deals, COUNTED, monkeypatch)[0]


def test_a_walk_that_runs_out_of_steps_gives_way_to_the_usual_count(db, deals, monkeypatch):
    _analyze(db)
    monkeypatch.setattr(store_query, "STEPS_PER_ENTRY", 0.001)      # a budget of a few steps
    totals, counts = _totals(db, deals, COUNTED)
    assert len(counts) == 2 * len(COUNTED)                          # the walk, then the usual count
    assert ["INDEXED BY" in s for s in counts] == [True, False] * len(COUNTED)
    assert totals == _usual(db, deals, COUNTED, monkeypatch)[0]


def test_a_filter_without_a_slot_keeps_the_usual_count(db, deals, monkeypatch):
    _analyze(db)
    query = ListQuery(filters=(Filter("channel", "eq", "web"), Filter("name", "eq", "nobody")), limit=1)
    with db.read() as conn:
        prepared = store_query._prepared_list(conn, deals, deals.entity("deal"), _admin(deals), query)
        mapping = store_query.entity_mapping(conn, "shop", "deal")
        assert "name" not in mapping
        assert prepared.covering_count(conn, deals, deals.entity("deal"), query, mapping, {},
                                       EXACT_COUNT_LIMIT + 1) is None


def test_the_decision_is_kept_per_shape(db, deals, monkeypatch):
    _analyze(db)
    checks = []
    real = store_query._PreparedList._covering_plan
    monkeypatch.setattr(store_query._PreparedList, "_covering_plan", lambda *args: checks.append(1) or real(*args))
    query = COUNTED[0]
    other = ListQuery(filters=(Filter("channel", "eq", "shop"), Filter("amount", "gte", 5)), sort="-amount", limit=3)
    first, _ = _totals(db, deals, [query, other, query])
    assert len(checks) == 1


def test_a_plan_that_cannot_be_asked_leaves_the_usual_count(db, deals, monkeypatch):
    _analyze(db)

    def refused(*args):
        raise store_query.OperationalError("EXPLAIN QUERY PLAN", {}, Exception("no plan"))
    monkeypatch.setattr(store_query, "_sqlite_plan", refused)
    totals, counts = _totals(db, deals, COUNTED)
    assert not any("INDEXED BY" in s for s in counts)
    assert totals == _usual(db, deals, COUNTED, monkeypatch)[0]


def test_the_walk_gets_the_steps_of_the_rows_the_usual_count_would_read(db, deals, monkeypatch):
    """COVER_RATIO index entries per row the usual count reads: the driving value's average
    rows, but at most COUNTED_ROWS_PER_BOUND per counted row, since that count stops at its
    bound. A rare value of a common field walks the whole index: never longer than that."""
    _analyze(db)
    budgets = []
    real = store_query._within_steps
    monkeypatch.setattr(store_query, "_within_steps", lambda conn, run, budget, chunk=1_000:
                        budgets.append(budget) or real(conn, run, budget, chunk))
    with db.read() as conn:
        driving = index_name("shop", "deal", "channel")
        per_value = store_query._stat1(conn, [driving])[driving][1]
    assert per_value > 12
    _totals(db, deals, COUNTED[:1])
    monkeypatch.setattr(store_query.count_total, "__defaults__",
                        (True, 5) + store_query.count_total.__defaults__[2:])     # exact_up_to = 5
    _totals(db, deals, COUNTED[:1])
    unit = store_query.STEPS_PER_ENTRY * store_query.COVER_RATIO
    assert budgets == [unit * per_value, unit * store_query.COUNTED_ROWS_PER_BOUND * 6]


def test_once_the_walk_has_been_the_slower_the_usual_count_runs_with_the_same_total(db, deals, monkeypatch):
    """Which way is cheaper turns on the page cache (store/faster_way.py): each is timed where
    it runs and the faster by its average is used. Here the walk is made to seem slow."""
    _analyze(db)
    monkeypatch.undo()                      # the real chooser, with a clock the walk moves
    monkeypatch.setattr(store_query, "COUNT_WAYS", FasterWay(clock=lambda: clock["now"]))
    clock = {"now": 0.0}
    real = store_query._PreparedList.covering_count

    def slow_walk(*args):
        clock["now"] += 1.0
        return real(*args)
    monkeypatch.setattr(store_query._PreparedList, "covering_count", slow_walk)
    totals, counts = _totals(db, deals, COUNTED[:1] * 4)
    assert ["INDEXED BY" in s for s in counts] == [True, False, False, False]
    assert len(set(totals)) == 1 and totals[0][1].kind == "exact"
