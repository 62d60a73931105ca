"""Drill-down: the records behind each number a widget shows are exactly as many as the
number, for every kind of widget, under the viewer's scope, period and owner filter; and
a pivot's cells and totals are each their own count (rows × columns, worked out by hand).

    d1 Ann won 100 web · d2 Ann won 300 shop · d3 Ann lost 50 web
    d4 Bob won 200 web · d5 Bob talk 400 phone · d6 Bob new (no channel)
"""
from __future__ import annotations

from datetime import date

import pytest

from formloom.dashboards.drill import Cell, drill
from formloom.dashboards.measures import Viewer, run_widget
from formloom.dashboards.model import compile_widget
from formloom.dashboards.periods import resolve_period

from .conftest import ZONE, actor_of

TODAY = date(2026, 4, 15)
COUNT = [{"agg": "count"}]

WIDGETS = {
    "number": {"type": "number", "measures": [{"agg": "count", "filter": {"==": [{"var": "$stage"}, "won"]}}]},
    "bar": {"type": "bar", "measures": COUNT, "group": {"by": "$stage"}},
    "pie": {"type": "pie", "measures": COUNT, "group": {"by": "channel"}},
    "donut": {"type": "donut", "measures": COUNT, "group": {"by": "$owner"}},
    "line": {"type": "line", "measures": COUNT, "group": {"by": "$created", "bucket": "month"}, "date": "$created"},
    "table": {"type": "table", "measures": COUNT, "group": {"by": "account"}, "limit": 5},
    "funnel": {"type": "funnel"},
    "history": {"type": "bar", "source": "history", "measures": COUNT, "group": {"by": "$to_stage"},
                "filter": {"==": [{"var": "$to_stage"}, "won"]}},
    "pivot": {"type": "pivot", "measures": COUNT, "group": {"by": "$stage"}, "across": {"by": "channel"}},
}


def viewer(conn, app, people, who="lead", period="all"):
    return Viewer(conn, app, actor_of(conn, people, who), resolve_period(period, TODAY, ZONE), TODAY)


def assert_drills_match(v, kind: str) -> None:
    w = compile_widget({"key": kind, "entity": "deal", **WIDGETS[kind]})
    data = run_widget(v, w)
    if kind == "number":
        assert drill(v, w, Cell()).total == data.value
        return
    assert data.rows, kind
    if data.pivot is None:
        for row in data.rows:
            assert drill(v, w, Cell(str(row.key))).total == row.values[0], (kind, row.label)
        return
    for i, row in enumerate(data.rows):
        assert drill(v, w, Cell(str(row.key))).total == data.pivot.row_totals[i]
        for j, key in enumerate(data.pivot.keys):
            assert drill(v, w, Cell(str(row.key), str(key))).total == row.values[j]
    for j, key in enumerate(data.pivot.keys):
        assert drill(v, w, Cell(None, str(key))).total == data.pivot.column_totals[j]
    assert drill(v, w, Cell()).total == data.pivot.total


@pytest.mark.parametrize("who", ["lead", "a"])
def test_drill_down_lists_as_many_records_as_the_number_shown(shop_db, who):
    """For every kind of widget (one shop data set per viewer: a lead sees the team, Ann her own)."""
    db, app, _vid, people, _ids = shop_db
    with db.read() as conn:
        v = viewer(conn, app, people, who)
        for kind in sorted(WIDGETS):
            assert_drills_match(v, kind)


def test_a_pivot_counts_each_cell_and_each_total_by_hand(shop_db):
    db, app, _vid, people, _ids = shop_db
    w = compile_widget({"key": "p", "entity": "deal", **WIDGETS["pivot"]})
    with db.read() as conn:
        data = run_widget(viewer(conn, app, people, "admin"), w)
    cells = {(r.key, k): x for r in data.rows for k, x in zip(data.pivot.keys, r.values)}
    assert data.pivot.keys == ["web", "shop", "phone", "mail", "__none__"]
    assert cells[("won", "web")] == 2 and cells[("won", "shop")] == 1 and cells[("lost", "web")] == 1
    assert cells[("new", "__none__")] == 1 and cells[("offer", "web")] == 0
    assert dict(zip([r.key for r in data.rows], data.pivot.row_totals)) == {
        "new": 1, "talk": 1, "offer": 0, "won": 3, "lost": 1}
    assert data.pivot.column_totals == [3, 1, 1, 0, 1] and data.pivot.total == 6


def test_drill_down_lists_the_funnel_step_reached_not_where_records_sit(shop_db):
    db, app, _vid, people, ids = shop_db
    w = compile_widget({"key": "f", "entity": "deal", "type": "funnel"})
    with db.read() as conn:
        page = drill(viewer(conn, app, people, "admin"), w, Cell("offer"))
    assert {r.data["name"] for r in page.records} == {"d1", "d2", "d4"}   # the won ones reached it, skipped or not


def test_a_sellers_drill_down_never_shows_someone_elses_record(shop_db):
    db, app, _vid, people, _ids = shop_db
    w = compile_widget({"key": "b", "entity": "deal", **WIDGETS["bar"]})
    with db.read() as conn:
        page = drill(viewer(conn, app, people, "a"), w, Cell("won"))
    assert {r.data["name"] for r in page.records} == {"d1", "d2"}
