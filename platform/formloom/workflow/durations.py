"""Time in a stage, stored on the stage-history row that left it, recomputed from the history.

Every move writes `seconds_in_previous` (how long the record sat in the stage it left) in
its own transaction, so a dashboard's "days in stage" is one aggregate over the history
rows, never a self-join pairing each move with the one before. This module is the proof
and the repair: the value a row should hold is the time between it and the record's
previous history row (ordered by `at`, then id), never negative, whole seconds. A row
with no earlier row (where the record started, or history that begins mid-life) has
nothing to recompute from and is left as it is.

`differences` and `rebuild` serve `formloom history check|rebuild`; `backfill` serves the
migration that fills rows written without the value (bulk loads around the engine).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import Connection, bindparam, select, update

from ..store.tables import records, stage_history

#: Rows fixed per UPDATE batch.
BATCH = 1000


def expected_seconds(at: datetime, previous_at: datetime) -> int:
    """What a move writes (workflow.moves.write_move_trail): whole seconds, never negative."""
    return max(0, int((_aware(at) - _aware(previous_at)).total_seconds()))


def _walk(conn: Connection, app_key: str | None) -> Iterator[tuple[int, int, int | None, int]]:
    """(row id, record id, stored seconds, recomputed seconds) of every history row that has a
    previous row on its record, streamed in (record, at, id) order."""
    stmt = (select(stage_history.c.id, stage_history.c.record_id, stage_history.c.at,
                   stage_history.c.seconds_in_previous)
            .order_by(stage_history.c.record_id, stage_history.c.at, stage_history.c.id))
    if app_key is not None:
        stmt = stmt.where(stage_history.c.record_id.in_(select(records.c.id).where(records.c.app_key == app_key)))
    last_record, last_at = None, None
    for row in conn.execute(stmt.execution_options(yield_per=5000)):     # streamed, whatever the size
        if row.record_id == last_record:
            yield row.id, row.record_id, row.seconds_in_previous, expected_seconds(row.at, last_at)
        last_record, last_at = row.record_id, row.at


def differences(conn: Connection, app_key: str | None = None) -> list[tuple[int, int, int | None, int]]:
    """(row id, record id, stored, recomputed) of every history row whose time in the previous
    stage differs from its history."""
    return [d for d in _walk(conn, app_key) if d[2] != d[3]]


def rebuild(conn: Connection, app_key: str | None = None, *, only_missing: bool = False) -> int:
    """Write the recomputed time on every row that differs (with `only_missing`, only on rows
    that hold none); how many rows changed."""
    fixes = [{"row_id": row_id, "seconds": want} for row_id, _rid, stored, want in _walk(conn, app_key)
             if stored != want and (stored is None or not only_missing)]
    stmt = update(stage_history).where(stage_history.c.id == bindparam("row_id")).values(
        seconds_in_previous=bindparam("seconds"))
    for i in range(0, len(fixes), BATCH):
        conn.execute(stmt, fixes[i:i + BATCH])
    return len(fixes)


def backfill(conn: Connection) -> int:
    """Fill the rows that hold no time although an earlier row says when the stage was entered."""
    return rebuild(conn, only_missing=True)


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
