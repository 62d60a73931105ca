"""`formloom copy --to URL`: a whole instance moves to another database (SQLite to
PostgreSQL and back when one is configured), every table counted and hashed on both
sides; a pending reminder keeps its due time; a non-empty target is refused."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from formloom.auth.users import create_user
from formloom.automation.jobs import enqueue
from formloom.cli import main
from formloom.store.apps import AppCatalog
from formloom.store.copy import table_hash
from formloom.store.db import Database
from formloom.store.install import install_documents
from formloom.store.migrate import upgrade
from formloom.store.records import create_record
from formloom.store.tables import events, jobs, metadata, records, search_entries, users

from .conftest import helpdesk_app

PG_URL = os.environ.get("FORMLOOM_TEST_DATABASE_URL")
DUE = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def run(url: str, tmp_path, *args):
    env = {"DATABASE_URL": url, "FORMLOOM_INSTANCE": str(tmp_path / "instance")}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def fill(url: str) -> None:
    upgrade(url)
    db = Database(url)
    install_documents(db, helpdesk_app(), {})
    app, _version = AppCatalog(db).get("helpdesk")
    with db.write() as conn:
        boss = create_user(conn, "boss@example.com", "pw-123456", name="Boss", roles=[("helpdesk", "admin")])
        # a manager with a larger id than their report: the self-reference is filled in afterwards
        rep = create_user(conn, "rep@example.com", "pw-123456", name="代表", roles=[("helpdesk", "agent")])
        late_boss = create_user(conn, "late@example.com", "pw-123456", name="Late")
        from sqlalchemy import update
        conn.execute(update(users).where(users.c.id == rep).values(manager_id=late_boss))
        client = create_record(conn, app, app.entity("client"), {"name": "Ünï 客户", "tier": "gold"}, actor_id=boss)
        for i in range(5):
            create_record(conn, app, app.entity("ticket"), {"subject": f"t{i}", "client": client.id, "hours": 1.5,
                                                            "cost": "12.50"}, actor_id=rep)
        # typed slot columns (store.slots) travel exactly: a float no 15-digit rounding keeps, a whole one
        conn.execute(text("UPDATE records SET num_1 = 0.30000000000000004, num_2 = 7, txt_1 = '2026-01-02' "
                          "WHERE entity_key = 'ticket'"))
        enqueue(conn, "reminder", "rem:1", {"x": 1}, DUE, DUE - timedelta(days=1), app_key="helpdesk")
    db.dispose()


def hashes(url: str) -> dict:
    """Each table's content hash; global search's entries by what they say, not their ids, which
    SQLite lays out its own way when the entries come from PostgreSQL (store/search_index.py)."""
    db = Database(url)
    try:
        out = {t.name: table_hash(db, t) for t in metadata.sorted_tables if t.name != "search_entries"}
        with db.read() as conn:
            out["search_entries"] = sorted(conn.execute(select(
                search_entries.c.record_id, search_entries.c.app_key, search_entries.c.entity_key,
                search_entries.c.field_key, search_entries.c.text)).all())
        return out
    finally:
        db.dispose()


def test_sqlite_to_sqlite_copy_is_verified_table_by_table(tmp_path):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    target = f"sqlite:///{tmp_path / 'b.db'}"
    fill(source)
    result = run(source, tmp_path, "copy", "--to", target, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "records" in result.output and "Copied and verified" in result.output
    assert "DIFFERS" not in result.output
    assert hashes(source) == hashes(target)
    db = Database(target)
    with db.read() as conn:
        job = conn.execute(select(jobs)).one()
        assert job.status == "pending" and job.due_at.replace(tzinfo=timezone.utc) == DUE
        assert conn.execute(select(users.c.manager_id).where(users.c.email == "rep@example.com")).scalar() == 3
    db.dispose()


def test_copy_refuses_a_target_with_rows(tmp_path):
    source = f"sqlite:///{tmp_path / 'a.db'}"
    fill(source)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    fill(target)
    result = run(source, tmp_path, "copy", "--to", target)
    assert result.exit_code == 1 and "not empty" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not PG_URL, reason="needs FORMLOOM_TEST_DATABASE_URL (PostgreSQL)")
def test_sqlite_to_postgres_and_back(tmp_path):
    schema = f"formloom_copy_{uuid.uuid4().hex[:8]}"
    admin = Database(PG_URL)
    with admin.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    pg = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)
    try:
        source = f"sqlite:///{tmp_path / 'a.db'}"
        fill(source)
        result = run(source, tmp_path, "copy", "--to", pg, "--batch-size", "3")
        assert result.exit_code == 0, result.output
        assert hashes(source) == hashes(pg)
        target = Database(pg)
        app, _version = AppCatalog(target).get("helpdesk")
        with target.write() as conn:            # ids continue after the copied ones
            new = create_record(conn, app, app.entity("client"), {"name": "After the move"}, actor_id=None)
            assert new.id == 7
            conn.execute(records.delete().where(records.c.id == new.id))
            conn.execute(events.delete().where(events.c.record_id == new.id))
        target.dispose()
        back = f"sqlite:///{tmp_path / 'back.db'}"
        result = run(pg, tmp_path, "copy", "--to", back)
        assert result.exit_code == 0, result.output
        assert hashes(back) == hashes(source)
    finally:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
