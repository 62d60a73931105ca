"""`formloom reminders due`, `formloom worker --once` and `formloom install` keeping
reminders in step with the rules, on a generic app (not the CRM)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from formloom.automation import process_events
from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.db import Database
from formloom.store.records import create_record
from formloom.store.tables import jobs, notifications

from .automation.conftest import SETTINGS, SUPPORT_APP, WORKFLOW, add_user

UTC = timezone.utc
DUE_RULE = {"key": "due_tomorrow", "trigger": {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"},
            "actions": [{"type": "notify", "to": ["owner"], "message": "{{ record.subject }} is due tomorrow"}]}


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("SMTP_URL", raising=False)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
    return invoke


def write_template(folder, rules, offset_days: int = 1):
    """An app folder (app.json + workflows/ticket_flow.json) for `formloom install`."""
    (folder / "workflows").mkdir(parents=True, exist_ok=True)
    (folder / "app.json").write_text(json.dumps(SUPPORT_APP))
    workflow = copy.deepcopy(WORKFLOW) | {"rules": rules}
    (folder / "workflows" / "ticket_flow.json").write_text(json.dumps(workflow))
    return folder


@pytest.fixture
def support(cli, db, clock, tmp_path):
    """The support app installed through the CLI with a date_field rule, a user, two tickets (events processed)."""
    result = cli("install", write_template(tmp_path / "support", [DUE_RULE]))
    assert result.exit_code == 0, result.output + result.stderr
    with db.write() as conn:
        ann = add_user(conn, "ann", "agent")
    catalog = AppCatalog(db)
    app = catalog.app("support")
    with db.write() as conn:
        soon = create_record(conn, app, app.entity("ticket"), {"subject": "Soon", "due": "2026-03-10"},
                             actor_id=ann, owner_id=ann)
        later = create_record(conn, app, app.entity("ticket"), {"subject": "Later", "due": "2026-03-20"},
                              actor_id=ann, owner_id=ann)
    process_events(db, catalog, settings=SETTINGS)       # what the worker does first: reminders now exist
    return {"ann": ann, "soon": soon.id, "later": later.id, "catalog": catalog}


def table(db, t):
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))]


def test_reminders_due_lists_without_firing(cli, db, support):
    before = table(db, jobs)
    result = cli("reminders", "due", "--at", "2026-03-15T00:00:00Z", "--json")
    assert result.exit_code == 0, result.stderr
    # 09:00 in Europe/Berlin (CET) the day before 2026-03-10
    assert json.loads(result.stdout) == [{"rule": "due_tomorrow", "record_id": support["soon"],
                                          "due_at": "2026-03-09T08:00:00Z"}]
    everything = json.loads(cli("reminders", "due", "--at", "2026-04-01T00:00:00+08:00", "--app", "support",
                                "--json").stdout)
    assert [(r["record_id"], r["due_at"]) for r in everything] == [
        (support["soon"], "2026-03-09T08:00:00Z"), (support["later"], "2026-03-19T08:00:00Z")]
    assert json.loads(cli("reminders", "due", "--at", "2026-03-09T07:59:59Z", "--json").stdout) == []

    text = cli("reminders", "due", "--at", "2026-03-15T00:00:00Z")
    assert text.exit_code == 0
    assert "due_tomorrow" in text.stdout and str(support["soon"]) in text.stdout and "1 reminder(s)" in text.stdout

    assert table(db, jobs) == before and table(db, notifications) == []     # nothing fired, nothing changed


def test_reminders_due_refuses_bad_input_in_one_line(cli, support):
    bad_time = cli("reminders", "due", "--at", "next tuesday")
    assert bad_time.exit_code == 1 and "ISO 8601" in bad_time.stderr and "Traceback" not in bad_time.stderr
    no_app = cli("reminders", "due", "--at", "2026-03-15T00:00:00Z", "--app", "nope")
    assert no_app.exit_code == 1 and "nope" in no_app.stderr


def test_worker_once_fires_due_reminders_once(cli, db, support, clock):
    quiet = cli("worker", "--once")
    assert quiet.exit_code == 0 and "Ran 0 job(s)" in quiet.stdout
    assert table(db, notifications) == []

    clock.move_to(datetime(2026, 3, 9, 8, 0, 1, tzinfo=UTC))
    first = cli("worker", "--once")
    assert first.exit_code == 0 and "Ran 1 job(s)" in first.stdout
    with db.read() as conn:
        sent = conn.execute(select(notifications)).all()
    assert [(n.user_id, n.record_id, n.body) for n in sent] == [(support["ann"], support["soon"],
                                                                 "Soon is due tomorrow")]
    second = cli("worker", "--once")
    assert second.exit_code == 0 and "Ran 0 job(s)" in second.stdout
    assert len(table(db, notifications)) == 1
    left = json.loads(cli("reminders", "due", "--at", "2026-03-15T00:00:00Z", "--json").stdout)
    assert left == []


def test_install_moves_reminders_when_the_rules_change(cli, db, support, tmp_path):
    moved_rule = DUE_RULE | {"trigger": DUE_RULE["trigger"] | {"offset": "-P2D"}}
    result = cli("install", write_template(tmp_path / "support", [moved_rule]))
    assert result.exit_code == 0 and "version 2" in result.stdout
    assert "rescheduled" in result.stdout
    due = json.loads(cli("reminders", "due", "--at", "2026-04-01T00:00:00Z", "--json").stdout)
    assert [(r["record_id"], r["due_at"]) for r in due] == [
        (support["soon"], "2026-03-08T08:00:00Z"), (support["later"], "2026-03-18T08:00:00Z")]


@pytest.mark.parametrize("command", [["worker"], ["reminders", "due"]])
def test_the_commands_have_help(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_run_serves_with_a_background_worker_and_stops_it(cli, monkeypatch):
    from formloom import serving

    seen = {}

    def fake_serve(app, **kw):
        worker = app.extensions["formloom.worker"]
        seen["worker"], seen["alive"] = worker, worker.is_alive()

    monkeypatch.setattr(serving, "serve", fake_serve)
    result = cli("run", "--port", "5999")
    assert result.exit_code == 0, result.output
    assert seen["alive"] is True
    assert not seen["worker"].is_alive()                 # stopped when the server returned
