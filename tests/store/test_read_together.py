"""Reading a few independent things at the start of a transaction (store.db.read_together):
the rows are what `conn.execute` gives, each statement is heard by the engine's listeners, and
on PostgreSQL they are read inside the caller's transaction, which the pipeline began and
which commits and rolls back as any other (SQLite: the statements run one after the other)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, event, func, insert, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError

from formloom.store.db import read_together
from formloom.store.tables import apps

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
BY_KEY = select(apps.c.key, apps.c.installed_at).where(apps.c.key == bindparam("key"))
ALL_KEYS = select(apps.c.key).order_by(apps.c.key)


@pytest.fixture
def installed(db):
    with db.write() as conn:
        conn.execute(insert(apps), [{"key": key, "installed_at": NOW, "updated_at": NOW} for key in ("crm", "desk")])
    return db


def test_the_rows_are_those_each_statement_reads_on_its_own(installed):
    reads = [(BY_KEY, {"key": "desk"}), (ALL_KEYS, {}), (BY_KEY, {"key": "none"})]
    with installed.read() as conn:
        together = read_together(conn, reads)
    with installed.read() as conn:
        alone = [conn.execute(statement, params).all() for statement, params in reads]
    assert [[tuple(r) for r in rows] for rows in together] == [[tuple(r) for r in rows] for rows in alone]
    assert together[0][0].key == "desk"
    assert together[0][0].installed_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    assert [r.key for r in together[1]] == ["crm", "desk"] and together[2] == []


def test_every_statement_is_heard_by_the_engines_listeners(installed):
    heard = []

    def note(_conn, _cursor, statement, *_rest):
        heard.append(statement)

    event.listen(installed.engine, "before_cursor_execute", note)
    try:
        with installed.read() as conn:
            read_together(conn, [(BY_KEY, {"key": "crm"}), (ALL_KEYS, {})])
    finally:
        event.remove(installed.engine, "before_cursor_execute", note)
    reads = [s for s in heard if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2 and all("apps" in s for s in reads)


def test_the_reads_are_part_of_the_transaction_that_then_writes_and_commits(installed):
    with installed.write() as conn:
        read_together(conn, [(BY_KEY, {"key": "crm"}), (ALL_KEYS, {})])
        conn.execute(insert(apps).values(key="kept", installed_at=NOW, updated_at=NOW))
    with installed.read() as conn:
        assert conn.execute(select(func.count()).select_from(apps).where(apps.c.key == "kept")).scalar() == 1


def test_a_transaction_begun_by_the_reads_rolls_back_whole(installed):
    conn = installed.engine.connect()
    conn.begin()
    read_together(conn, [(BY_KEY, {"key": "crm"}), (ALL_KEYS, {})])
    conn.execute(insert(apps).values(key="gone", installed_at=NOW, updated_at=NOW))
    conn.close()                                       # not committed: rolled back
    with installed.read() as conn:
        assert conn.execute(select(apps.c.key).where(apps.c.key == "gone")).first() is None


def test_on_postgresql_the_reads_see_one_snapshot_with_what_follows(installed):
    if not installed.is_postgres:
        pytest.skip("PostgreSQL: one transaction id for the pipeline and the statements after it")
    transaction_id = select(func.txid_current().label("id"))
    with installed.read() as conn:
        (first,), _keys = read_together(conn, [(transaction_id, {}), (ALL_KEYS, {})])
        assert conn.execute(text("SELECT txid_current()")).scalar() == first.id
        assert conn.execute(text("SELECT xact_start = statement_timestamp() FROM pg_stat_activity "
                                 "WHERE pid = pg_backend_pid()")).scalar() is False


def test_a_failing_read_fails_the_transaction_and_the_connection_recovers(installed):
    bad = select(literal_column("x")).select_from(table("no_such_table"))
    with pytest.raises(DBAPIError):
        with installed.read() as conn:
            read_together(conn, [(ALL_KEYS, {}), (bad, {})])
    with installed.read() as conn:
        assert [r.key for r in read_together(conn, [(ALL_KEYS, {}), (ALL_KEYS, {})])[0]] == ["crm", "desk"]
