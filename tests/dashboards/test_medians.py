"""Medians on every database: the middle value of an odd count, the mean of the two middles
of an even one (SQLite ranks the values in SQL; PostgreSQL has percentile_cont)."""
from __future__ import annotations

import pytest

from .test_measures import run


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(shop_db):
    data = run(shop_db, type="table", measures=[{"agg": "median", "field": "amount"}], group={"by": "$owner"})
    # Ann: 50, 100, 300 -> 100; Bob: 200, 400 (d6 has no amount) -> 300
    assert {r.label: r.values for r in data.rows} == {"Bob Seller": [pytest.approx(300.0)],
                                                       "Ann Seller": [pytest.approx(100.0)]}


def test_median_over_four_values_without_groups(shop_db):
    data = run(shop_db, type="number", filter={"!=": [{"var": "channel"}, "shop"]},
               measures=[{"agg": "median", "field": "amount"}])
    assert data.value == pytest.approx(150.0)     # 50, 100, 200, 400
