"""Related-record measures and the weighted pipeline, against answers worked out by hand on
the shop (tests/dashboards/shop.py): the accounts were created on 1 January 00:00 UTC and
the deals point at them through `account`.

    acme  d1 (1 Mar 10:00)  d2 (31 Mar 17:00)       2 deals
    bolt  d4 (10 Mar 02:00) d3 (15 Mar 02:00)       2 deals
    core  d5 (20 Feb 02:00)                         1 deal
    today: 15 April 04:00 UTC

Weighted by the stage's probability: d1 100 + d2 300 + d4 200 (won, 100%) + d5 400 x 50%
(talk) + d3 50 x 0% (lost) = 800; d6 has no amount.
"""
from __future__ import annotations

import pytest
import time_machine

from formloom.dashboards.checks import validate_dashboard
from formloom.dashboards.measures import count_matching
from formloom.dashboards.model import compile_widget

from . import shop
from .test_measures import TODAY, run, rows  # noqa: F401
from .test_pages import NOW

RELATED = {"entity": "deal", "via": "account"}


def account_widget(**raw):
    return {"entity": "account", "related": RELATED, **raw}


@time_machine.travel(NOW, tick=False)
def test_related_count_per_record_and_in_total(shop_db):
    by_account = run(shop_db, **account_widget(type="table", group={"by": "name"},
                                               measures=[{"agg": "sum", "field": "$related_count"}]))
    assert rows(by_account) == {"Acme": [2.0], "Bolt": [2.0], "Core": [1.0]}
    average = run(shop_db, **account_widget(type="number", measures=[{"agg": "avg", "field": "$related_count"}]))
    assert average.value == pytest.approx(5 / 3)


@time_machine.travel(NOW, tick=False)
def test_hours_to_the_first_related_record(shop_db):
    """acme: 59 d 10 h = 1426 h; bolt: 68 d 2 h = 1634 h; core: 50 d 2 h = 1202 h."""
    data = run(shop_db, **account_widget(type="table", group={"by": "name"},
                                         measures=[{"agg": "max", "field": "$first_related_hours"}]))
    assert {k: round(v[0], 3) for k, v in rows(data).items()} == {"Acme": 1426.0, "Bolt": 1634.0, "Core": 1202.0}
    quick = run(shop_db, **account_widget(type="number", measures=[{"agg": "ratio",
                "of": {"agg": "count", "filter": {"<=": [{"var": "$first_related_hours"}, 1500]}},
                "per": {"agg": "count"}}]))
    assert quick.value == pytest.approx(2 / 3)           # acme and core within 1500 h


@time_machine.travel(NOW, tick=False)
def test_last_activity_age_finds_stale_records_and_the_drill_down_counts_the_same(shop_db):
    """acme: 14 d 11 h since d2; bolt: 31 d 2 h since d3; core: 54 d 2 h since d5."""
    ages = run(shop_db, **account_widget(type="table", group={"by": "name"},
                                         measures=[{"agg": "max", "field": "$last_activity_days"}]))
    assert {k: round(v[0], 2) for k, v in rows(ages).items()} == {"Acme": 14.46, "Bolt": 31.08, "Core": 54.08}
    stale = account_widget(key="stale", type="number", measures=[{"agg": "count"}],
                           filter={">=": [{"var": "$last_activity_days"}, 30]})
    assert run(shop_db, **stale).value == 2
    from formloom.dashboards.measures import Viewer
    from formloom.dashboards.periods import resolve_period
    from .conftest import ZONE, actor_of
    db, app, _vid, people, _ids = shop_db
    with db.read() as conn:
        viewer = Viewer(conn, app, actor_of(conn, people, "admin"), resolve_period("all", TODAY, ZONE), TODAY)
        assert count_matching(viewer, compile_widget(stale)) == 2


def test_a_weighted_sum_multiplies_by_the_stage_probability(shop_db):
    data = run(shop_db, measures=[{"agg": "sum", "field": "amount", "weighted": True}], group={"by": "$stage"})
    assert rows(data) == {"new": [0.0], "talk": [200.0], "offer": [0.0], "won": [600.0], "lost": [0.0]}
    assert run(shop_db, type="number", measures=[{"agg": "sum", "field": "amount", "weighted": True}]).value == 800


def _problems(widget: dict) -> list[str]:
    board = {"key": "b", "label": "B", "roles": ["lead"], "widgets": [{"key": "w", "type": "number", **widget}]}
    return [f"{p.json_path} {p.message}" for p in
            validate_dashboard(board, shop.shop_app(), {"deal_flow": shop.deal_flow()}, "dashboards/b.json")]


def test_related_measures_say_which_records_they_count():
    assert _problems(account_widget(measures=[{"agg": "sum", "field": "$related_count"}])) == []
    missing = _problems({"entity": "account", "measures": [{"agg": "sum", "field": "$related_count"}]})
    assert missing and "say which in 'related'" in missing[0]
    wrong = _problems({**account_widget(measures=[{"agg": "count"}]), "related": {"entity": "deal", "via": "name"}})
    assert wrong == ["$.widgets[0].related.via 'name' is not a field of 'deal' that links one record to a "
                     "'account'; use 'account'."]
    unweighted = _problems(account_widget(measures=[{"agg": "count", "weighted": True}]))
    assert unweighted and "weighted by the stage's probability" in unweighted[0]
    history = _problems({"entity": "deal", "source": "history", "measures": [{"agg": "avg", "field": "$related_count"}]})
    assert history        # counted over records only, not the stage history
