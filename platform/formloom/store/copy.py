"""Moving a whole instance to another database: SQLite to PostgreSQL (how a team
outgrows the one-file default) or back.

Every platform table is copied in foreign-key order, in batches by primary key,
each batch one transaction on the target; then each table is counted and hashed
on both sides (rows in primary-key order, values normalised so that SQLite's
naive UTC datetimes and PostgreSQL's aware ones, or JSON and JSONB key order,
hash alike) and the two are compared. Jobs keep their due times, statuses and
idempotency keys, so a pending reminder fires once, after the switch, from the
new database. The target must be empty; the source is only read.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from sqlalchemy import DateTime, Integer, Table, bindparam, func, select, text, update

from .backup import BackupError, platform_rows
from .db import Database
from .migrate import current_revision, head_revision, upgrade
from .tables import metadata

BATCH_SIZE = 2000


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_hash: str
    target_hash: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_hash == self.target_hash


def _tables() -> list[Table]:
    return list(metadata.sorted_tables)


def _self_references(table: Table) -> list[str]:
    """Columns pointing at their own table (users.manager_id): filled in after every row exists."""
    return [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]


def _order(table: Table) -> list:
    return list(table.primary_key.columns)


def _for_target(table: Table, row: dict, postgres: bool) -> dict:
    out = dict(row)
    for column in table.columns:
        value = out.get(column.name)
        if isinstance(column.type, DateTime) and isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=timezone.utc)          # SQLite hands back naive UTC
            value = value.astimezone(timezone.utc)
            out[column.name] = value if postgres else value.replace(tzinfo=None)
        elif isinstance(value, float) and postgres:
            out[column.name] = Decimal(repr(value))    # a number slot (NUMERIC there): the exact value
        elif isinstance(value, Decimal) and not postgres:
            out[column.name] = float(value)            # a number slot (REAL on SQLite)
    return out


def _batches(db: Database, table: Table, size: int) -> Iterator[list[dict]]:
    """Rows in primary-key order, `size` at a time (keyset paging on single-column keys)."""
    keys = _order(table)
    if len(keys) == 1:
        key = keys[0]
        last = None
        while True:
            query = select(table).order_by(key).limit(size)
            if last is not None:
                query = query.where(key > last)
            with db.read() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                return
            yield rows
            last = rows[-1][key.name]
    else:
        offset = 0
        while True:
            with db.read() as conn:
                rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(*keys).limit(size).offset(offset))]
            if not rows:
                return
            yield rows
            offset += len(rows)


def _reset_sequences(target: Database) -> None:
    """PostgreSQL: the next id of each table continues after the copied ones."""
    with target.write() as conn:
        for table in _tables():
            keys = _order(table)
            if len(keys) != 1 or keys[0].name != "id" or not keys[0].autoincrement \
                    or not isinstance(keys[0].type, Integer):     # a text id (files) has no sequence
                continue
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                f"(SELECT MAX(id) IS NOT NULL FROM {table.name}))"))


def copy_instance(source_url: str, target_url: str, *, batch_size: int = BATCH_SIZE,
                  progress: Callable[[str, int, int], None] | None = None) -> list[TableCheck]:
    """Copy every platform table from `source_url` to the empty database at `target_url`,
    then verify counts and content hashes; returns one TableCheck per table."""
    source, target = Database(source_url), Database(target_url)
    try:
        if source.url == target.url:
            raise BackupError("The source and the target are the same database.")
        head = head_revision(source_url)
        if current_revision(source.engine) != head:
            raise BackupError("The source database is not at this version's schema; run `formloom init` on it first.")
        upgrade(target_url)
        if (existing := platform_rows(target)):
            raise BackupError(f"The target database is not empty ({existing} rows in its tables); "
                              "copy only into an empty database.")
        postgres = target.is_postgres
        for table in _tables():
            with source.read() as conn:
                total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            later = _self_references(table)
            done = 0
            deferred: list[dict] = []
            for rows in _batches(source, table, batch_size):
                values = [_for_target(table, r, postgres) for r in rows]
                if later:
                    deferred += [{"_id": v["id"], **{c: v[c] for c in later}} for v in values if
                                 any(v[c] is not None for c in later)]
                    values = [{**v, **{c: None for c in later}} for v in values]
                with target.write() as conn:
                    conn.execute(table.insert(), values)
                done += len(rows)
                if progress:
                    progress(table.name, done, total)
            if deferred:
                stmt = update(table).where(table.c.id == bindparam("_id")).values(
                    **{c: bindparam(c) for c in later})
                with target.write() as conn:
                    for start in range(0, len(deferred), batch_size):
                        conn.execute(stmt, deferred[start:start + batch_size])
            if progress and total == 0:
                progress(table.name, 0, 0)
        if postgres:
            _reset_sequences(target)
        checks = verify(source, target)
        if not postgres and source.is_postgres:     # SQLite lays search entries' ids out its own way
            # (store/search_index.py); from SQLite they arrive in that layout already
            from .search_index import rebuild_all
            with target.write() as conn:
                rebuild_all(conn)
        return checks
    finally:
        source.dispose()
        target.dispose()


# -- verifying ----------------------------------------------------------------------------------------

def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):      # number slots: NUMERIC on PostgreSQL, REAL on SQLite
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def table_hash(db: Database, table: Table, batch_size: int = BATCH_SIZE) -> tuple[int, str]:
    """(rows, sha256) of the table's content in primary-key order, the same on any database."""
    digest = hashlib.sha256()
    names = [c.name for c in table.columns]
    count = 0
    for rows in _batches(db, table, batch_size):
        for row in rows:
            digest.update(json.dumps([_normal(row[n]) for n in names], sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode())
            digest.update(b"\n")
            count += 1
    return count, digest.hexdigest()


def verify(source: Database, target: Database) -> list[TableCheck]:
    out = []
    for table in _tables():
        s_rows, s_hash = table_hash(source, table)
        t_rows, t_hash = table_hash(target, table)
        out.append(TableCheck(table.name, s_rows, t_rows, s_hash, t_hash))
    return out
