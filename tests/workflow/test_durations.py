"""The time in stage each history row stores is recomputed from the history: `formloom
history check` finds a corrupted value (exit 1, naming the row), `rebuild` corrects it, and
the migration's backfill fills rows written without one but never a record's first row."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.tables import stage_history
from formloom.workflow.durations import backfill, differences, expected_seconds, rebuild

from ..dashboards import shop


@pytest.fixture
def seeded(db):
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()})
    from formloom.auth.users import create_user
    with db.write() as conn:
        people = {"admin": create_user(conn, "admin@example.com", "pw-123456789", roles=[("shop", "admin")])}
        people["a"] = people["b"] = create_user(conn, "a@example.com", "pw-123456789", roles=[("shop", "seller")])
    app, version_id = AppCatalog(db).get("shop")
    return db, shop.seed(db, app, version_id, people)


def history_of(db, record_id):
    with db.read() as conn:
        return conn.execute(select(stage_history).where(stage_history.c.record_id == record_id)
                            .order_by(stage_history.c.at, stage_history.c.id)).all()


def test_every_move_stores_what_the_history_recomputes(seeded):
    db, ids = seeded
    with db.read() as conn:
        assert differences(conn) == []
    d4 = history_of(db, ids["d4"])       # new -> talk 2 days -> offer 1 day -> won 1 day
    assert [(h.from_stage, h.seconds_in_previous) for h in d4] == [
        (None, None), ("new", 2 * 86400), ("talk", 86400), ("offer", 86400)]


def test_check_finds_a_corrupted_time_and_rebuild_corrects_it(seeded, monkeypatch, database_url):
    db, ids = seeded
    row = history_of(db, ids["d3"])[2]              # talk -> lost after 4 days
    with db.write() as conn:
        conn.execute(update(stage_history).where(stage_history.c.id == row.id).values(seconds_in_previous=5))
    with db.read() as conn:
        assert differences(conn, "shop") == [(row.id, ids["d3"], 5, 4 * 86400)]
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    found = runner.invoke(main, ["history", "check", "shop"])
    assert found.exit_code == 1
    assert f"history row {row.id} says 5 s" in found.output and "shop: 1 history row(s) differ" in found.output
    fixed = runner.invoke(main, ["history", "rebuild"])
    assert fixed.exit_code == 0 and "shop: corrected 1 history row(s)" in fixed.output
    again = runner.invoke(main, ["history", "check"])
    assert again.exit_code == 0 and "shop: 0 history row(s) differ" in again.output
    assert history_of(db, ids["d3"])[2].seconds_in_previous == 4 * 86400
    assert runner.invoke(main, ["history", "check", "nope"]).exit_code == 1


def test_backfill_fills_missing_times_and_leaves_first_rows_and_stored_values(seeded):
    db, ids = seeded
    d1 = history_of(db, ids["d1"])                  # new -> talk 2 days -> won 2 days
    with db.write() as conn:
        conn.execute(update(stage_history).where(stage_history.c.record_id == ids["d1"])
                     .values(seconds_in_previous=None))
        conn.execute(update(stage_history).where(stage_history.c.id == history_of(db, ids["d4"])[1].id)
                     .values(seconds_in_previous=7))
        assert backfill(conn) == 2
    assert [h.seconds_in_previous for h in history_of(db, ids["d1"])] == [None, 2 * 86400, 2 * 86400]
    assert history_of(db, ids["d4"])[1].seconds_in_previous == 7          # only `rebuild` corrects it
    with db.write() as conn:
        assert rebuild(conn) == 1
    assert [h.id for h in history_of(db, ids["d1"])] == [h.id for h in d1]


def test_a_clock_that_went_back_counts_no_time_not_negative_time():
    assert expected_seconds(shop.utc("2026-03-01T00:00:00"), shop.utc("2026-03-02T00:00:00")) == 0
