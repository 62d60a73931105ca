"""A widget of series is checked like any widget: each series' entity, date, measure and
filter against its own entity, the bucket its series share, and money in one currency,
every problem at its JSON path in a sentence."""
from __future__ import annotations

import pytest

from formloom.dashboards.checks import validate_dashboard
from formloom.dashboards.kinds import WIDGET_KINDS
from formloom.meta_schemas import dashboard_schema

from . import ledger


def problems(change=None, app_change=None):
    board = ledger.board()
    widget = board["widgets"][0]
    if change:
        change(widget)
    app = ledger.ledger_app()
    if app_change:
        app_change(app)
    return [(p.json_path, p.message) for p in validate_dashboard(board, app, {}, "money.json")]


def test_the_ledger_board_is_valid():
    assert problems() == []


def series(j, **values):
    def change(widget):
        widget["series"][j].update(values)
    return change


@pytest.mark.parametrize("change, path, words", [
    (series(1, entity="reciept"), "$.widgets[0].series[1].entity", "no entity 'reciept' (did you mean 'receipt'?)"),
    (series(0, date="amount"), "$.widgets[0].series[0].date", "'amount' is not a date"),
    (series(1, date="placed_on"), "$.widgets[0].series[1].date", "neither a field of this entity"),
    (series(1, measures=[{"agg": "sum", "field": "name"}]), "$.widgets[0].series[1].measures[0].field",
     "'sum' needs a number"),
    (series(1, filter={"==": [{"var": "colour"}, "red"]}), "$.widgets[0].series[1].filter", "'colour'"),
    (series(1, key="ordered"), "$.widgets[0].series[1].key", "Another series already has the key 'ordered'"),
    (lambda w: w.update(group={"by": "$created", "bucket": "month"}), "$.widgets[0].group.by",
     "grouped by its own 'date'"),
    (lambda w: w.update(group={}), "$.widgets[0].group", "needs 'group' with a 'bucket'"),
    (lambda w: w.update(entity="order"), "$.widgets[0].entity", "Each series says its own 'entity'"),
    (lambda w: w.update(type="pie"), "$.widgets[0].series", "only bar, line widgets compare series"),
    (lambda w: w.update(compare=True), "$.widgets[0].compare", "cannot use 'compare'"),
])
def test_series_problems_are_located_and_said(change, path, words):
    found = problems(change)
    assert any(p == path and words in m for p, m in found), found


def test_money_series_in_different_currencies_are_refused():
    def dollars(app):
        receipt = next(e for e in app["entities"] if e["key"] == "receipt")
        next(f for f in receipt["fields"] if f["key"] == "amount")["currency"] = "USD"
    found = problems(app_change=dollars)
    assert found == [("$.widgets[0].series[1].measures[0].field",
                      "This series adds up USD and the first money series CNY; a chart has one money axis: "
                      "compare amounts in one currency, or show them in separate charts.")]


def test_a_series_has_one_measure_and_a_date_by_the_schema():
    def two(widget):
        widget["series"][0]["measures"].append({"agg": "count"})
        del widget["series"][1]["date"]
    paths = [p for p, _m in problems(two)]
    assert "$.widgets[0].series[0].measures" in paths and "$.widgets[0].series[1]" in paths


def test_a_widget_needs_an_entity_or_series():
    found = problems(lambda w: w.pop("series"))
    assert found and found[0][0] == "$.widgets[0]"


def test_the_schema_offers_series_to_the_kinds_that_take_them():
    schema = dashboard_schema()
    assert schema["$defs"]["widget"]["properties"]["type"]["enum"] == list(WIDGET_KINDS)
    assert schema["$defs"]["widget"]["properties"]["series"]["maxItems"] == max(k.series for k in WIDGET_KINDS.values())
    assert "bar, line" in schema["$defs"]["widget"]["properties"]["series"]["description"]
