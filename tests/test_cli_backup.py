"""`formloom backup FILE` / `formloom restore FILE`: a round trip keeps every row, a
non-empty target is refused, a foreign file is refused, each in one line."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from formloom.cli import main
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.migrate import upgrade
from formloom.store.records import create_record
from formloom.store.tables import audit, metadata, records, stage_history

from .conftest import helpdesk_app


def run(url: str, tmp_path, *args):
    env = {"DATABASE_URL": url, "FORMLOOM_INSTANCE": str(tmp_path / "instance")}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def fill(db: Database) -> dict[str, int]:
    install_documents(db, helpdesk_app(), {})
    from formloom.store.apps import AppCatalog
    app, version = AppCatalog(db).get("helpdesk")
    with db.write() as conn:
        client = create_record(conn, app, app.entity("client"), {"name": "Ünïcode 客户"}, actor_id=None)
        for i in range(3):
            create_record(conn, app, app.entity("ticket"), {"subject": f"t{i}", "client": client.id}, actor_id=None)
    return counts(db)


def counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


def test_sqlite_round_trip_keeps_every_row(tmp_path):
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    upgrade(source_url)
    source = Database(source_url)
    before = fill(source)
    assert before["records"] == 4 and before["audit"] == 4
    result = run(source_url, tmp_path, "backup", tmp_path / "backups" / "one.db")
    assert result.exit_code == 0, result.output
    assert "one.db" in result.output

    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    result = run(target_url, tmp_path, "restore", tmp_path / "backups" / "one.db")
    assert result.exit_code == 0, result.output
    target = Database(target_url)
    assert counts(target) == before
    with target.read() as conn:
        assert conn.execute(select(records.c.title).where(records.c.entity_key == "client")).scalar() == "Ünïcode 客户"
    source.dispose()
    target.dispose()


def test_restore_onto_an_initialised_but_empty_database_works(tmp_path):
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    upgrade(source_url)
    source = Database(source_url)
    before = fill(source)
    assert run(source_url, tmp_path, "backup", tmp_path / "b.db").exit_code == 0
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(target_url)                         # `formloom init` ran: tables, no rows
    result = run(target_url, tmp_path, "restore", tmp_path / "b.db")
    assert result.exit_code == 0, result.output
    assert counts(Database(target_url)) == before


def test_restore_refuses_a_database_with_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    busy = Database(url)
    before = fill(busy)
    assert run(url, tmp_path, "backup", tmp_path / "b.db").exit_code == 0
    result = run(url, tmp_path, "restore", tmp_path / "b.db")
    assert result.exit_code == 1
    assert "not empty" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert counts(busy) == before


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("hello")
    result = run(f"sqlite:///{tmp_path / 't.db'}", tmp_path, "restore", junk)
    assert result.exit_code == 1 and "not a SQLite backup" in result.output
    result = run(f"sqlite:///{tmp_path / 't.db'}", tmp_path, "restore", tmp_path / "missing.db")
    assert result.exit_code == 1 and "no backup file" in result.output


def test_backup_on_postgres_without_pg_dump_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    from formloom.store import backup
    with pytest.raises(backup.BackupError, match="pg_dump is not installed"):
        backup._pg_dump("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "x.dump")


PG_URL = os.environ.get("FORMLOOM_TEST_DATABASE_URL")


@pytest.mark.skipif(not PG_URL or shutil.which("pg_dump") is None,
                    reason="needs FORMLOOM_TEST_DATABASE_URL and pg_dump")
def test_postgres_round_trip_through_pg_dump(tmp_path):
    schema = f"formloom_bk_{uuid.uuid4().hex[:8]}"
    admin = Database(PG_URL)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    target_db = f"formloom_restore_{uuid.uuid4().hex[:8]}"
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {target_db}"))
    source_url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)
    target_url = make_url(source_url).set(database=target_db).render_as_string(hide_password=False)
    try:
        upgrade(source_url)
        source = Database(source_url)
        before = fill(source)
        source.dispose()
        result = run(source_url, tmp_path, "backup", tmp_path / "pg.dump")
        assert result.exit_code == 0, result.output
        result = run(target_url, tmp_path, "restore", tmp_path / "pg.dump")
        assert result.exit_code == 0, result.output
        target = Database(target_url)
        assert counts(target) == before
        with target.read() as conn:
            assert conn.execute(select(func.count()).select_from(stage_history)).scalar_one() == 0
            assert conn.execute(select(func.count()).select_from(audit)).scalar_one() == 4
        result = run(target_url, tmp_path, "restore", tmp_path / "pg.dump")
        assert result.exit_code == 1 and "not empty" in result.output
        target.dispose()
    finally:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {target_db} WITH (FORCE)"))
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
