"""Whole-instance backup and restore.

SQLite: the online backup API copies a consistent snapshot while the app keeps
running (readers and writers are not stopped). PostgreSQL: `pg_dump` in its
custom format, a consistent snapshot too (one transaction); without pg_dump on
the PATH the command says so in one line instead of half-doing it.

Restore goes onto an empty database only (no rows in any platform table): a
restore never merges into, or silently replaces, an instance in use.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from ..errors import FormloomError
from .db import Database
from .tables import metadata

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(FormloomError):
    """A backup or restore cannot be made (no pg_dump, a non-empty target, a foreign file)."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    kind: str            # "sqlite" | "pg_dump"
    rows: int            # rows in the platform tables of the database read or written


def platform_rows(db: Database) -> int:
    """Rows in the platform tables that exist in `db` (0 for a database without them)."""
    present = set(inspect(db.engine).get_table_names())
    total = 0
    with db.read() as conn:
        for table in metadata.sorted_tables:
            if table.name in present:
                total += conn.execute(select(func.count()).select_from(table)).scalar_one()
    return total


def backup(url: str, path: Path) -> Outcome:
    path = Path(path)
    if path.exists() and path.is_dir():
        raise BackupError(f"{path} is a folder; name the backup file to write.")
    db = Database(url)
    try:
        rows = platform_rows(db)
        if db.is_sqlite:
            _sqlite_backup(db, path)
            return Outcome(path, "sqlite", rows)
        if db.is_postgres:
            _pg_dump(url, path)
            return Outcome(path, "pg_dump", rows)
        raise BackupError(f"Backups are made for SQLite and PostgreSQL only, not {db.engine.dialect.name}.")
    finally:
        db.dispose()


def restore(url: str, path: Path) -> Outcome:
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"There is no backup file at {path}.")
    with path.open("rb") as fh:
        head = fh.read(16)
    db = Database(url)
    try:
        if (existing := platform_rows(db)):
            raise BackupError(f"The database is not empty ({existing} rows in its tables); "
                              "restore only onto an empty database.", hint="Create a new database and restore there.")
        if db.is_sqlite:
            if not head.startswith(SQLITE_MAGIC):
                raise BackupError(f"{path} is not a SQLite backup.")
            _sqlite_restore(db, path)
        elif db.is_postgres:
            if not head.startswith(PG_MAGIC):
                raise BackupError(f"{path} is not a pg_dump backup (custom format).")
            _pg_restore(url, path)
        else:
            raise BackupError(f"Restores are made for SQLite and PostgreSQL only, not {db.engine.dialect.name}.")
    finally:
        db.dispose()
    from .migrate import upgrade          # a backup of an older version: bring it to this version's schema
    upgrade(url)
    db = Database(url)
    try:
        return Outcome(path, "sqlite" if db.is_sqlite else "pg_dump", platform_rows(db))
    finally:
        db.dispose()


def _sqlite_backup(db: Database, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        with db.engine.connect() as conn:
            source = conn.connection.dbapi_connection
            source.backup(target, pages=1024)
    finally:
        target.close()
    partial.replace(path)          # a crash mid-copy never leaves a half file under the chosen name


def _sqlite_restore(db: Database, path: Path) -> None:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if source.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] != 1:
            raise BackupError(f"{path} is a SQLite file but not a Formloom backup.")
        with db.engine.connect() as conn:
            source.backup(conn.connection.dbapi_connection, pages=1024)
    finally:
        source.close()


def _libpq(url: str) -> tuple[str, list[str]]:
    """The libpq URL for pg_dump/pg_restore, and `--schema` when the URL pins a search_path."""
    parsed = make_url(url)
    options = parsed.query.get("options", "")
    extra = []
    if isinstance(options, str) and options.startswith("-csearch_path="):
        extra = ["--schema", options.split("=", 1)[1]]
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return plain, extra


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed, so a PostgreSQL backup cannot be made here.",
                          hint=f"Install the PostgreSQL client tools ({name}) matching the server's version.")
    return found


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()] or lines
        raise BackupError(f"{what} failed: {errors[0] if errors else f'exit status {done.returncode}'}")


def _pg_dump(url: str, path: Path) -> None:
    conninfo, extra = _libpq(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}", *extra,
          f"--dbname={conninfo}"], "pg_dump")


def _pg_restore(url: str, path: Path) -> None:
    conninfo, _schema = _libpq(url)     # a dump of one schema creates that schema itself
    _trigram_extension(url)
    # the target may hold empty platform tables (`formloom init`): they are replaced
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={conninfo}", str(path)], "pg_restore")


def _trigram_extension(url: str) -> None:
    """Global search's indexes use pg_trgm, which a dump of Formloom's schema does not carry
    (extensions belong to the database): create it in the target first where the role may.
    Where it may not, pg_restore names what is missing."""
    from .search_index import CREATE_TRGM
    target = Database(url)
    try:
        with target.engine.begin() as conn:
            conn.exec_driver_sql(CREATE_TRGM)
    except Exception as exc:        # noqa: BLE001 -- no right to create extensions: pg_restore says what it lacks
        log.warning("pg_trgm could not be created before the restore: %s", str(exc).splitlines()[0])
    finally:
        target.dispose()
