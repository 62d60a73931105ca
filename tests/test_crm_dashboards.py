"""The CRM's dashboards on its demo data: every widget of every dashboard shows something
(a number, a chart with a non-zero bar, a list with a row) to the person it is for: the
sales manager's board to the manager, "my day" to a rep, finance to the finance user;
and the issue's list of manager metrics is on the manager's board."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from formloom.auth.users import load_actor, user_id_by_email
from formloom.dashboards.catalog import dashboards_of
from formloom.dashboards.measures import Viewer, run_widget
from formloom.dashboards.periods import resolve_period
from formloom.demo import load_demo
from formloom.resources import template_dir
from formloom.store.apps import AppCatalog
from formloom.store.install import install_path

NOW = datetime(2026, 6, 17, 3, 0, tzinfo=timezone.utc)      # mid-month, mid-year: the periods hold data
READER = {"sales": "manager@demo.formloom", "my_day": "li.wei@demo.formloom", "finance": "finance@demo.formloom"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from formloom.store.db import Database
    from formloom.store.migrate import upgrade
    url = f"sqlite:///{tmp_path_factory.mktemp('crm-demo') / 'demo.db'}"
    upgrade(url)
    db = Database(url)
    with time_machine.travel(NOW, tick=False):
        install_path(db, template_dir("crm"))
        app, version_id = AppCatalog(db).get("crm")
        load_demo(db, app, version_id, template_dir("crm"), now=NOW)
    yield db, app, version_id
    db.dispose()


def _shown(db, app, version_id, board_key: str) -> dict:
    zone = ZoneInfo(app.timezone)
    today = NOW.astimezone(zone).date()
    with time_machine.travel(NOW, tick=False), db.read() as conn:
        board = dashboards_of(conn, version_id)[board_key]
        out = {}
        for w in board.widgets:
            email = "li.wei@demo.formloom" if w.mine else READER[board_key]
            actor = load_actor(conn, user_id_by_email(conn, email))
            owners = frozenset({actor.id}) if board.owner == "me" else None
            viewer = Viewer(conn, app, actor, resolve_period(board.period, today, zone), today, owners)
            out[w.key] = (w, run_widget(viewer, w))
    return out


@pytest.mark.parametrize("board_key", sorted(READER))
def test_every_widget_of_the_demo_shows_something(demo, board_key):
    empty = []
    for key, (widget, data) in _shown(*demo, board_key).items():
        if widget.type == "records":
            shows = bool(data.records)
        elif widget.type == "number":
            shows = data.value is not None
        else:
            shows = any(v for row in data.rows for v in row.values)
        if not shows:
            empty.append(key)
    assert empty == []


def test_the_manager_board_has_the_issues_metrics(demo):
    """Conversion (target >= 20%), stage distribution, funnel, cycle (target <= 90 days), time in
    stage, loss reasons, source conversion, first follow-up in 24 h, follow-ups per deal and per
    stage (target >= 5), lead quality, weighted forecast, leaderboard with follow-ups, repeat
    purchases and stale deals."""
    shown = _shown(*demo, "sales")
    assert shown["win_rate"][0].target.value == 0.2
    assert (shown["avg_cycle"][0].target.value, shown["avg_cycle"][0].target.better) == (90, "lower")
    assert shown["follow_ups_per_deal"][0].target.value == 5
    for key in ("pipeline", "funnel", "time_in_stage", "loss_reasons", "source_conversion", "first_follow_up_24h",
                "follow_ups_by_stage", "score_tiers", "forecast", "repeat_purchase", "stale_deals"):
        assert key in shown
    forecast = shown["forecast"][1]
    weighted, amount = (sum(r.values[i] or 0 for r in forecast.rows) for i in (0, 1))
    assert 0 < weighted < amount                        # amount x a probability below 100% for open deals
    assert max(r.key for r in forecast.rows) > "2026-06"     # expected closes after today have their months
    assert [s.strip() for s in shown["leaderboard"][1].series][-1] == "Follow-ups"
    first = shown["first_follow_up_24h"][1].value
    assert 0 <= first <= 1


def test_the_finance_board_compares_contract_amount_and_collected_by_month_in_one_chart(demo):
    """Both series have money in the demo's months, each bar drills into its own entity's
    records adding up to the bar (contracts signed; payments received), and the cards stay."""
    from decimal import Decimal
    from formloom.dashboards.drill import Cell, drill
    shown = _shown(*demo, "finance")
    widget, data = shown["signed_vs_collected"]
    assert data.series_keys == ["signed", "collected"] and len(data.series) == 2
    for i in range(2):
        assert any(row.values[i] for row in data.rows), data.series[i]
    assert {"contract_amount", "collected", "collection_rate"} <= set(shown)
    db, app, version_id = demo
    zone = ZoneInfo(app.timezone)
    today = NOW.astimezone(zone).date()
    with time_machine.travel(NOW, tick=False), db.read() as conn:
        actor = load_actor(conn, user_id_by_email(conn, READER["finance"]))
        viewer = Viewer(conn, app, actor, resolve_period("this_year", today, zone), today)
        for i, key in enumerate(data.series_keys):
            for row in data.rows:
                page = drill(viewer, widget, Cell(str(row.key), series=key), limit=10_000)
                assert {r.entity_key for r in page.records} <= {"contract" if key == "signed" else "payment"}
                total = sum(Decimal(str(r.data.get("amount") or 0)) for r in page.records)
                assert abs(total - Decimal(str(row.values[i]))) < Decimal("0.01"), (key, row.key)
