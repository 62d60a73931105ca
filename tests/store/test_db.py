"""The connection pool on a server database: a connection the server ended while it sat
in the pool is replaced before anyone uses it, and a busy pool hands connections out
without a round trip to check each one (PostgreSQL; SQLite has no server to end them)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from formloom.store import db as store_db
from formloom.store.db import make_engine


@pytest.fixture
def pg_engine(database_url):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: set FORMLOOM_TEST_DATABASE_URL")
    name = f"formloom-pool-{uuid.uuid4().hex[:8]}"          # only this engine's connections are ended
    url = make_url(database_url).update_query_dict({"application_name": name})
    engine = make_engine(url.render_as_string(hide_password=False))
    engine.formloom_test_name = name
    yield engine
    engine.dispose()


@pytest.fixture
def pings(pg_engine, monkeypatch):
    """How many times the pool pinged a connection."""
    count = [0]
    real = pg_engine.dialect.do_ping

    def counted(dbapi_conn):
        count[0] += 1
        return real(dbapi_conn)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counted)
    return count


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def end_backends(database_url: str, application_name: str) -> int:
    """The server ends the connections, as a restart or an operator would; returns when they are gone."""
    admin = make_engine(database_url)
    try:
        with admin.connect() as conn:
            ended = conn.execute(text("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                      "WHERE application_name = :name"), {"name": application_name}).scalar_one()
            conn.commit()
        return ended
    finally:
        admin.dispose()


def test_a_connection_in_use_again_at_once_is_not_pinged(pg_engine, pings):
    first = backend_pid(pg_engine)
    assert [backend_pid(pg_engine) for _ in range(3)] == [first] * 3
    assert pings[0] == 0


def test_a_connection_the_server_ended_is_replaced_before_use(pg_engine, database_url, pings):
    first = backend_pid(pg_engine)
    assert end_backends(database_url, pg_engine.formloom_test_name) == 1
    second = backend_pid(pg_engine)
    assert second != first
    assert pings[0] == 1                     # the ended connection's socket said so: it was checked


def test_a_connection_idle_past_the_limit_is_pinged_and_kept_when_alive(pg_engine, pings, monkeypatch):
    first = backend_pid(pg_engine)
    now = store_db.time.monotonic()
    monkeypatch.setattr(store_db.time, "monotonic", lambda: now + store_db.PING_AFTER_IDLE + 1)
    assert backend_pid(pg_engine) == first
    assert pings[0] == 1


def _pragmas(engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("cache_size", "journal_mode", "synchronous", "foreign_keys")}


def test_a_sqlite_connection_keeps_a_list_pages_pages_in_its_cache(tmp_path):
    """SQLite's default page cache (2 MB) is smaller than what a filtered list page with its
    count reads at 10,000 records, so each request read those pages again from the operating
    system; each connection is given SQLITE_CACHE_KIB (a negative cache_size is in KiB)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        assert _pragmas(engine)["cache_size"] == -store_db.SQLITE_CACHE_KIB
        assert store_db.SQLITE_CACHE_KIB > 2_000
    finally:
        engine.dispose()


def test_the_benchmark_baseline_connects_to_sqlite_as_formloom_does(tmp_path):
    """The baseline app's connection settings are Formloom's (benchmarks/baseline_app.py says
    so): a setting only one side had would make the comparison unfair."""
    from benchmarks.baseline_app import make_engine as baseline_engine
    ours, theirs = make_engine(f"sqlite:///{tmp_path / 'a.db'}"), baseline_engine(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert _pragmas(ours) == _pragmas(theirs)
    finally:
        ours.dispose()
        theirs.dispose()
