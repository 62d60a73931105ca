"""Days in stage over the stage history, worked out by hand: a deal that skipped stages
(d2: new -> won) counts its time in the stage it left, and a reopened one (d7: new -> lost
-> talk -> won) counts its time in the lost stage and again in talk. Each move stores the
seconds spent in the stage it left, so the widget is one aggregate (SQLite medians: one
ranking query) on every database."""
from __future__ import annotations

import pytest

from formloom.auth.users import load_actor
from formloom.store.records import create_record
from formloom.workflow import move_to_stage

from .shop import utc
from .test_measures import run, rows

TIME_IN_STAGE = dict(source="history", group={"by": "$from_stage"}, filter={">=": [{"var": "$duration_days"}, 0]},
                     measures=[{"agg": "avg", "field": "$duration_days"}, {"agg": "median", "field": "$duration_days"}])


@pytest.fixture
def reopened(shop_db):
    """d7, created 1 March 00:00 UTC: lost a day later, reopened into talk 3 days after that,
    won 1.5 days later."""
    db, app, version_id, people, ids = shop_db
    with db.write() as conn:
        admin = load_actor(conn, people["admin"])
        deal = app.entity("deal")
        record = create_record(conn, app, deal, {"name": "d7", "amount": 70}, actor_id=people["a"],
                               owner_id=people["a"], version_id=version_id, now=utc("2026-03-01T00:00:00"))
        for stage, at in (("lost", "2026-03-02T00:00:00"), ("talk", "2026-03-05T00:00:00"),
                          ("won", "2026-03-06T12:00:00")):
            move_to_stage(conn, app, deal, record.id, stage, admin, now=utc(at))
    return shop_db


def test_time_in_stage_counts_skipped_and_reopened_records(reopened):
    """new: d1 2, d2 2 (skipped to won), d3 1, d4 2, d5 1, d7 1 -> avg 9/6, median (1 + 2) / 2;
    talk: d1 2, d3 4, d4 1, d7 1.5 -> avg 8.5/4, median (1.5 + 2) / 2; offer: d4 1;
    lost: d7 3 (reopened)."""
    got = rows(run(reopened, **TIME_IN_STAGE))
    assert got["new"] == [pytest.approx(1.5), pytest.approx(1.5)]
    assert got["talk"] == [pytest.approx(2.125), pytest.approx(1.75)]
    assert got["offer"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert got["lost"] == [pytest.approx(3.0), pytest.approx(3.0)]


def test_time_in_stage_within_a_period_reads_only_its_moves(reopened):
    """Moves in February (local): only d5 left new (1 day)."""
    got = rows(run(reopened, period="custom", start="2026-02-01", end="2026-02-28", date="$at", **TIME_IN_STAGE))
    assert got["new"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert got["talk"] == [None, None]


def test_time_in_stage_is_scoped_to_what_the_viewer_reads(reopened):
    """Bob's deals only: new d4 2, d5 1 -> avg 1.5, median 1.5; talk d4 1."""
    got = rows(run(reopened, who="b", **TIME_IN_STAGE))
    assert got["new"] == [pytest.approx(1.5), pytest.approx(1.5)]
    assert got["talk"] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_on_sqlite_a_median_over_more_values_than_the_bound_says_it_could_not(reopened, monkeypatch):
    """PostgreSQL's percentile_cont has no bound; SQLite ranks the values, at most MEDIAN_ROWS."""
    from formloom.dashboards import measures
    if reopened[0].is_postgres:
        pytest.skip("PostgreSQL computes every median")
    monkeypatch.setattr(measures, "MEDIAN_ROWS", 5)          # 6 + 4 + 1 + 1 values
    got = rows(run(reopened, **TIME_IN_STAGE))
    assert got["new"] == [pytest.approx(1.5), None] and got["talk"] == [pytest.approx(2.125), None]


def test_the_funnel_counts_where_a_record_went_not_only_where_it_is(reopened):
    """d8 went new -> offer (skipping talk), then back to talk: it counts for offer. With d7
    (reopened, now won): new 8, talk 7 (d1, d3, d4, d5, d7, d2 skipped to won, d8),
    offer 5 (d1, d2, d4, d7 won beyond it; d8 reached it), won 4."""
    db, app, version_id, people, ids = reopened
    with db.write() as conn:
        admin = load_actor(conn, people["admin"])
        deal = app.entity("deal")
        record = create_record(conn, app, deal, {"name": "d8"}, actor_id=people["b"], owner_id=people["b"],
                               version_id=version_id, now=utc("2026-03-01T00:00:00"))
        move_to_stage(conn, app, deal, record.id, "offer", admin, now=utc("2026-03-02T00:00:00"))
        move_to_stage(conn, app, deal, record.id, "talk", admin, now=utc("2026-03-03T00:00:00"))
    data = run(reopened, type="funnel", measures=[{"agg": "count"}])
    assert [(r.key, r.values[0]) for r in data.rows] == [("new", 8), ("talk", 7), ("offer", 5), ("won", 4)]
    bob = run(reopened, who="b", type="funnel", measures=[{"agg": "count"}])     # d4, d5, d6, d8
    assert [(r.key, r.values[0]) for r in bob.rows] == [("new", 4), ("talk", 3), ("offer", 2), ("won", 1)]
