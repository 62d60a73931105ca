"""`formloom search check|rebuild [APP]`: the index compared with the records, and written again."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import update

from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.store.tables import records

from .conftest import helpdesk_app


def test_check_finds_a_record_written_around_the_engine_and_rebuild_mends_it(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    db = Database(database_url)
    install_documents(db, helpdesk_app(), {})
    app = AppCatalog(db).app("helpdesk")
    with db.write() as conn:
        acme = create_record(conn, app, app.entity("client"), {"name": "Acme"}, actor_id=None)
    assert CliRunner().invoke(main, ["search", "check"]).exit_code == 0
    with db.write() as conn:
        conn.execute(update(records).where(records.c.id == acme.id).values(title="Zenith", data={"name": "Zenith"}))
    db.dispose()
    checked = CliRunner().invoke(main, ["search", "check", "helpdesk"])
    assert checked.exit_code == 1 and f"client {acme.id}" in checked.output
    rebuilt = CliRunner().invoke(main, ["search", "rebuild", "helpdesk"])
    assert rebuilt.exit_code == 0 and "'helpdesk': 1 entries" in rebuilt.output
    assert CliRunner().invoke(main, ["search", "check", "helpdesk"]).exit_code == 0


def test_an_unknown_app_is_a_one_line_error(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    answer = CliRunner().invoke(main, ["search", "rebuild", "nope"])
    assert answer.exit_code == 1 and "There is no app 'nope'." in answer.output
