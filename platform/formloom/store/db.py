"""Engine set-up and transactions.

SQLite is the embedded default: WAL for concurrent readers, foreign keys on,
and write transactions opened with BEGIN IMMEDIATE so two writers queue on the
busy timeout instead of failing mid-transaction with "database is locked".

On a server database a pooled connection can die while it waits in the pool (the
server restarted, an operator ended the backend); handing it out would fail the
next request. SQLAlchemy's `pool_pre_ping` guards against that with a round trip
on every checkout, a quarter of an API write's round trips on PostgreSQL (issue
16), most of them for a connection checked in a few milliseconds before.
`_check_on_checkout` keeps the guard at no cost for a busy pool: a server that
ends a connection says so (an error message, then end of file), which makes the
idle socket readable, so a readable socket, or a connection idle longer than
PING_AFTER_IDLE seconds (a silent drop is more likely after a long pause), is
pinged, and a failed ping makes the pool replace every connection it holds.
"""
from __future__ import annotations

import select
import time
from collections import namedtuple
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, Engine, Select, create_engine, event, exc

#: seconds a pooled connection may sit unused before its next checkout pings it anyway
PING_AFTER_IDLE = 5.0
#: SQLite's page cache per connection, in KiB (its default is 2,000). A filtered list page
#: with its bounded count walks an entity's covering index and a page of table rows, which is
#: more than 2 MB at 10,000 records: with the default, every request read most of those pages
#: again from the operating system (~0.4 ms of a 5 ms list page, issue 16). The cache only
#: grows as pages are read, and is dropped with the connection: each pooled connection may
#: hold this much (a process whose four threads listed every entity of a 10k-record CRM: 119 MB
#: with the default, 145 MB with 8 MB, 151 MB with 16 MB, which was no faster).
SQLITE_CACHE_KIB = 8_000
_LAST_USED = "formloom_last_used"


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _tune_sqlite(engine)
        return engine
    engine = create_engine(url, **kwargs)
    _check_on_checkout(engine)
    return engine


def _check_on_checkout(engine: Engine, idle_limit: float = PING_AFTER_IDLE) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        idle = time.monotonic() - record.info.get(_LAST_USED, 0.0)
        if idle <= idle_limit and not _has_input(dbapi_conn):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                # the others most likely died with it (a restart): replace them all
                raise exc.InvalidatePoolError(str(error)) from error
            raise


def _has_input(dbapi_conn) -> bool:
    """Whether the server sent something to a connection nobody is using: a connection
    between requests has nothing to read unless the server is ending it (or, rarely,
    sent a notice). Without a socket to look at, assume so: the ping decides."""
    try:
        fd = dbapi_conn.fileno()
        if hasattr(select, "poll"):                # select() refuses descriptors past 1023
            poller = select.poll()
            poller.register(fd, select.POLLIN)     # a hang-up or an error is reported too
            return bool(poller.poll(0))
        return bool(select.select([fd], [], [], 0)[0])
    except Exception:              # no socket (a closed or unusual driver connection)
        return True


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None          # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")      # negative: KiB, not pages
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        immediate = conn.get_execution_options().get("formloom_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def read_together(conn: Connection, reads: Sequence[tuple[Select, dict]]) -> list[list[Any]]:
    """The rows of each (SELECT, parameters) in `reads`, read in the connection's transaction.

    On PostgreSQL they are sent as one pipeline, with the BEGIN that opens the transaction
    when it is its first statement, and answered in one round trip; a request that must read
    a few independent things first (an API token and the installed apps) pays one wait and
    one backend wake-up for all of them instead of one each (issue 16). Elsewhere they run
    one after the other. Rows have the statement's column names as attributes, and values
    as the columns' types give them, as `conn.execute` would; `before_cursor_execute`
    listeners hear each statement, so statement counts stay true."""
    if conn.dialect.name != "postgresql" or len(reads) < 2:
        return [conn.execute(statement, params).all() for statement, params in reads]
    dialect = conn.dialect
    driver = conn.connection.driver_connection
    prepared = [(_pipelined(statement, dialect), params) for statement, params in reads]
    cursors: list = []
    sql = None
    try:
        with driver.pipeline(), _begin_in_pipeline(driver) as begin:
            if begin is not None:
                cursors.append(begin)
            for (sql, bind, _shape), params in prepared:
                values = bind(params)
                if conn.dispatch.before_cursor_execute:
                    conn.dispatch.before_cursor_execute(conn, None, sql, values, None, False)
                cursor = driver.cursor()
                cursor.execute(sql, values)
                cursors.append(cursor)
        if len(cursors) > len(prepared):
            cursors.pop(0).close()
        out = []
        for cursor, ((_sql, _bind, (row_type, processors)), _params) in zip(cursors, prepared):
            out.append([row_type(*[value if process is None else process(value)
                                   for value, process in zip(row, processors)]) for row in cursor.fetchall()])
    except dialect.loaded_dbapi.Error as error:
        # as conn.execute would: SQLAlchemy's exception, a dead connection invalidated
        conn._handle_dbapi_exception(error, sql, None, None, None)
    finally:
        for cursor in cursors:
            cursor.close()
    return out


@contextmanager
def _begin_in_pipeline(driver) -> Iterator[Any]:
    """Queue the transaction's BEGIN with the pipeline's statements. psycopg sends its own
    BEGIN in a pipeline as a round trip of its own (it syncs to learn the new transaction
    status), which is the round trip `read_together` is for; so, for a plain transaction
    (no isolation level, read-only or deferrable set on the connection) not begun yet, the
    pipeline sends BEGIN itself while psycopg is told it need not (its `_autocommit`, the
    attribute its public `autocommit` reads, only for these statements; without it, psycopg
    begins as usual). Yields the BEGIN's cursor, or None when psycopg begins."""
    plain = (not driver.autocommit and getattr(driver, "_autocommit", None) is False
             and driver.isolation_level is None and driver.read_only is None and driver.deferrable is None
             and driver.info.transaction_status == _IDLE)
    if not plain:
        yield None
        return
    driver._autocommit = True
    try:
        cursor = driver.cursor()
        cursor.execute("BEGIN")
        yield cursor
    finally:
        driver._autocommit = False


_IDLE = 0              # psycopg.pq.TransactionStatus.IDLE: no transaction open
_PIPELINED: dict[tuple[int, str], tuple] = {}


def _pipelined(statement: Select, dialect) -> tuple:
    """The driver's SQL of `statement`, how to bind its parameters, its row shape and its
    columns' result processors; worked out once per statement object (they are built once)."""
    key = (id(statement), dialect.name)
    found = _PIPELINED.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect)
        columns = list(statement.selected_columns)
        row_type = namedtuple("Row", [c.key for c in columns])
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]

        convert = compiled._bind_processors           # what SQLAlchemy applies to parameters itself

        def bind(params: dict, compiled=compiled, convert=convert) -> dict:
            values = compiled.construct_params(params)
            return {k: convert[k](v) if k in convert else v for k, v in values.items()}

        found = _PIPELINED[key] = (statement, (compiled.string, bind, (row_type, processors)))
    return found[1]


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
