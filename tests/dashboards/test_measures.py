"""Each measure, group and period against answers worked out by hand on the fixed shop
deals (tests/dashboards/shop.py), on SQLite and (with FORMLOOM_TEST_DATABASE_URL) on
PostgreSQL: the same documents compile to the same numbers on both.

    d1 Ann  won  100 web    created 1 Mar       new -> talk (2 d) -> won (2 d)
    d2 Ann  won  300 shop   created 1 Apr local new -> won (2 d), skipping talk and offer
    d3 Ann  lost  50 web    created 15 Mar      new -> talk (1 d) -> lost (4 d)
    d4 Bob  won  200 web    created 10 Mar      new -> talk (2 d) -> offer (1 d) -> won (1 d)
    d5 Bob  talk 400 phone  created 20 Feb      new -> talk (1 d)
    d6 Bob  new  (no amount, no channel) created 5 Mar
"""
from __future__ import annotations

from datetime import date

import pytest

from formloom.dashboards.measures import NONE_KEY, Viewer, run_widget
from formloom.dashboards.model import compile_widget
from formloom.dashboards.periods import resolve_period

from .conftest import ZONE, actor_of

TODAY = date(2026, 4, 15)


def widget(**raw):
    return compile_widget({"key": "w", "type": "bar", "entity": "deal", **raw})


def run(shop_db, who="admin", period="all", owners=None, start=None, end=None, **raw):
    db, app, _vid, people, _ids = shop_db
    with db.read() as conn:
        viewer = Viewer(conn, app, actor_of(conn, people, who), resolve_period(period, TODAY, ZONE, start, end),
                        TODAY, owners=owners)
        return run_widget(viewer, widget(**raw))


def rows(data):
    return {r.key: r.values for r in data.rows}


def test_count_by_stage_lists_open_stages_even_empty_and_closed_ones_found(shop_db):
    data = run(shop_db, measures=[{"agg": "count"}], group={"by": "$stage"})
    assert [(r.key, r.label, r.values) for r in data.rows] == [
        ("new", "New", [1.0]), ("talk", "Talking", [1.0]), ("offer", "Offer", [0.0]),
        ("won", "Won", [3.0]), ("lost", "Lost", [1.0])]


@pytest.mark.parametrize("agg, expected", [
    ("sum", 1050.0), ("avg", 210.0), ("min", 50.0), ("max", 400.0), ("median", 200.0)])
def test_numeric_aggregates_skip_missing_values(shop_db, agg, expected):
    data = run(shop_db, type="number", measures=[{"agg": agg, "field": "amount"}])
    assert data.value == pytest.approx(expected)


def test_count_distinct_ignores_missing_values(shop_db):
    assert run(shop_db, type="number", measures=[{"agg": "count_distinct", "field": "channel"}]).value == 3


def test_ratio_of_two_filtered_counts_is_the_win_rate(shop_db):
    data = run(shop_db, type="number", filter={"in": [{"var": "$stage"}, ["won", "lost"]]},
               measures=[{"agg": "ratio", "of": {"agg": "count", "filter": {"==": [{"var": "$stage"}, "won"]}},
                          "per": {"agg": "count"}}])
    assert data.value == pytest.approx(0.75)


def test_ratio_with_nothing_to_divide_by_is_empty_not_an_error(shop_db):
    data = run(shop_db, type="number", filter={"==": [{"var": "$stage"}, "offer"]},
               measures=[{"agg": "ratio", "of": {"agg": "count"}, "per": {"agg": "count"}}])
    assert data.value is None


def test_group_by_select_shows_every_option_in_order_and_the_empty_group(shop_db):
    data = run(shop_db, measures=[{"agg": "count"}, {"agg": "sum", "field": "amount"}], group={"by": "channel"})
    assert [(r.key, r.label, r.values) for r in data.rows] == [
        ("web", "Web", [3.0, 350.0]), ("shop", "shop", [1.0, 300.0]), ("phone", "phone", [1.0, 400.0]),
        ("mail", "mail", [0.0, 0.0]), (NONE_KEY, "—", [1.0, 0.0])]


def test_group_by_owner_names_people_largest_first(shop_db):
    data = run(shop_db, type="table", measures=[{"agg": "sum", "field": "amount"}], group={"by": "$owner"})
    assert [(r.label, r.values) for r in data.rows] == [("Bob Seller", [600.0]), ("Ann Seller", [450.0])]


def test_median_per_group(shop_db):
    data = run(shop_db, measures=[{"agg": "median", "field": "amount"}], group={"by": "channel"})
    assert rows(data)["web"] == [pytest.approx(100.0)]
    assert rows(data)["phone"] == [pytest.approx(400.0)]


def test_group_by_reference_shows_titles_only_where_the_viewer_may_read(shop_db):
    _db, _app, _vid, _people, ids = shop_db
    admin = run(shop_db, measures=[{"agg": "count"}], group={"by": "account"})
    assert {r.label: r.values for r in admin.rows} == {"Acme": [2.0], "Bolt": [2.0], "Core": [1.0], "—": [1.0]}
    ann = run(shop_db, who="a", measures=[{"agg": "count"}], group={"by": "account"})
    # Ann's deals: d1, d2 on Acme (hers), d3 on Bolt (Bob's account: she may not read its title)
    assert {r.label: r.values for r in ann.rows} == {"Acme": [2.0], f"#{ids['bolt']}": [1.0]}


def test_period_is_local_days_in_the_app_timezone(shop_db):
    """March in Shanghai: d1, d3, d4, d6; d2 (31 March 17:00 UTC) is already 1 April there."""
    data = run(shop_db, period="custom", start="2026-03-01", end="2026-03-31", type="number",
               measures=[{"agg": "count"}], date="$created")
    assert data.value == 4


def test_month_buckets_put_the_edge_record_in_the_local_month_and_keep_empty_months(shop_db):
    data = run(shop_db, period="this_year", type="line", measures=[{"agg": "count"}],
               group={"by": "$created", "bucket": "month"}, date="$created")
    assert [r.label for r in data.rows][:5] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert [r.values[0] for r in data.rows] == [0, 1, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_week_buckets_start_on_monday(shop_db):
    data = run(shop_db, period="custom", start="2026-03-01", end="2026-03-16", type="line",
               measures=[{"agg": "count"}], group={"by": "$created", "bucket": "week"}, date="$created")
    # 1 Mar 2026 is a Sunday: its week starts on 23 Feb; d1 (1 Mar), d6 (5 Mar), d4 (10 Mar), d3 (15 Mar)
    assert [(r.key, r.values[0]) for r in data.rows] == [
        ("2026-02-23", 1.0), ("2026-03-02", 1.0), ("2026-03-09", 2.0), ("2026-03-16", 0.0)]


def test_number_card_compares_with_the_previous_period(shop_db):
    """April (this month on 15 April): d2 won 300; March: d1 + d4 = 300."""
    data = run(shop_db, period="this_month", type="number", measures=[{"agg": "sum", "field": "amount"}],
               filter={"==": [{"var": "$stage"}, "won"]}, date="$created", compare=True,
               target={"value": 250, "better": "higher"})
    assert (data.value, data.previous, data.status) == (300.0, 300.0, "good")


def test_a_seller_counts_only_what_they_may_read_and_a_lead_their_team(shop_db):
    raw = dict(type="number", measures=[{"agg": "count"}])
    assert run(shop_db, who="a", **raw).value == 3
    assert run(shop_db, who="b", **raw).value == 3
    assert run(shop_db, who="lead", **raw).value == 6
    assert run(shop_db, who="a", type="number", measures=[{"agg": "sum", "field": "amount"}]).value == 450


def test_the_owner_filter_only_narrows(shop_db):
    _db, _app, _vid, people, _ids = shop_db
    assert run(shop_db, who="lead", owners=frozenset({people["a"]}), type="number",
               measures=[{"agg": "count"}]).value == 3
    # Ann asking for Bob's numbers gets none: the scope still applies
    assert run(shop_db, who="a", owners=frozenset({people["b"]}), type="number",
               measures=[{"agg": "count"}]).value == 0


def test_ordered_comparison_filters(shop_db):
    assert run(shop_db, type="number", measures=[{"agg": "count"}],
               filter={">=": [{"var": "amount"}, 200]}).value == 3
    assert run(shop_db, type="number", measures=[{"agg": "count"}],
               filter={"!": {">=": [{"var": "amount"}, 200]}}).value == 3       # d1, d3 and d6 (no amount)


def test_funnel_counts_records_that_reached_each_stage_including_skipped_ones(shop_db):
    data = run(shop_db, type="funnel", measures=[{"agg": "count"}])
    assert [(r.key, r.values[0]) for r in data.rows] == [("new", 6), ("talk", 5), ("offer", 3), ("won", 3)]


def test_time_in_stage_from_the_stage_history(shop_db):
    data = run(shop_db, source="history", measures=[{"agg": "avg", "field": "$duration_days"},
                                                    {"agg": "median", "field": "$duration_days"}],
               group={"by": "$from_stage"}, filter={">=": [{"var": "$duration_days"}, 0]})
    got = rows(data)
    assert got["new"] == [pytest.approx(1.6), pytest.approx(2.0)]
    assert got["talk"] == [pytest.approx(7 / 3), pytest.approx(2.0)]
    assert got["offer"] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_cycle_length_is_the_age_when_won(shop_db):
    data = run(shop_db, source="history", type="number", measures=[{"agg": "avg", "field": "$age_days"}],
               filter={"==": [{"var": "$to_stage"}, "won"]})
    assert data.value == pytest.approx(10 / 3)


def test_entered_stage_counts_in_a_period(shop_db):
    """Stage changes in March (local) by the stage entered."""
    data = run(shop_db, source="history", period="custom", start="2026-03-01", end="2026-03-31",
               measures=[{"agg": "count"}], group={"by": "$to_stage"}, date="$at",
               filter={"!=": [{"var": "$to_stage"}, "new"]})
    assert {k: v[0] for k, v in rows(data).items() if v[0]} == {"talk": 3, "offer": 1, "won": 2, "lost": 1}
