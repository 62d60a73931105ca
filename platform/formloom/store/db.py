"""Engine set-up and transactions.

SQLite is the embedded default: WAL for concurrent readers, foreign keys on,
and write transactions opened with BEGIN IMMEDIATE so two writers queue on the
busy timeout instead of failing mid-transaction with "database is locked".
PostgreSQL needs nothing special here.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None          # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        immediate = conn.get_execution_options().get("formloom_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """One engine per app; `read()` and `write()` hand out a connection inside a transaction."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(formloom_write=True) as conn:
            with conn.begin():
                yield conn

    def analyze(self, table: str | None = None) -> None:
        """Refresh the planner's statistics (after an install or a bulk load). Without them
        SQLite picks indexes by rule of thumb, e.g. an equality filter's index followed by
        sorting every match, where the sort field's index would read only one page."""
        sql = "ANALYZE" if table is None else f"ANALYZE {table}"
        if table is not None and not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        if self.is_postgres:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(sql)
            return
        with self.write() as conn:
            conn.exec_driver_sql(sql)

    def dispose(self) -> None:
        self.engine.dispose()
