"""`formloom rollups rebuild [APP] [--check]`: says what drifted, then repairs it."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import update

from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.records import create_record, get_record
from formloom.store.tables import records

from .store.test_rollups import rollup_app


def test_rebuild_reports_drift_then_repairs_it(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    db = Database(database_url)
    install_documents(db, rollup_app(), {})
    app = AppCatalog(db).get("helpdesk")[0]
    with db.write() as conn:
        client = create_record(conn, app, app.entity("client"), {"name": "Acme"}, actor_id=None)
        create_record(conn, app, app.entity("ticket"), {"subject": "Help", "client": client.id}, actor_id=None)
        stored = get_record(conn, app, app.entity("client"), client.id).data
        conn.execute(update(records).where(records.c.id == client.id).values(data={**stored, "tickets": 7}))
    checked = CliRunner().invoke(main, ["rollups", "rebuild", "helpdesk", "--check"])
    assert checked.exit_code == 1
    assert f"helpdesk record {client.id}: tickets is 7, a recount gives 1" in checked.output
    rebuilt = CliRunner().invoke(main, ["rollups", "rebuild", "helpdesk"])
    assert rebuilt.exit_code == 0 and "1 record(s) updated in 1 app(s)." in rebuilt.output
    assert CliRunner().invoke(main, ["rollups", "rebuild", "--check"]).exit_code == 0
    with db.read() as conn:
        assert get_record(conn, app, app.entity("client"), client.id).data["tickets"] == 1
    db.dispose()


def test_an_unknown_app_is_one_line(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["rollups", "rebuild", "nope"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
