"""The planner's statistics kept fresh by the engine itself, with no operator.

Statistics gathered while an entity was small (or empty, right after an install) make the
planner pick an equality filter's index and sort every match, or on PostgreSQL scan a whole
entity to find one record. SQLite never analyzes by itself, and PostgreSQL only does with
autovacuum, which an engine cannot count on. So the engine analyzes `records` when some
entity's row count moved by more than a share since the last analyze (the worker asks
every little while, bulk loads and imports ask when they finish) and after an install on a
non-empty table (new indexes have no statistics at all).

Deciding is cheap: `statistics_marks` keeps, per entity, the rows counted at the last
analyze and the highest record id then, so the check counts only the records written since
(a primary-key range), never the whole table.

The reminders (`jobs`) grow apart from the records: several per record, queued by the worker
after the records were written, so an analyze the records' growth asked for saw few of them.
Their growth is read against what the planner itself believes (ANALYZE's row count), and counts
like an entity's.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, delete, func, insert, select, text

from .db import Database
from .tables import jobs, records, statistics_marks

#: An entity's rows must have grown by this share of what the last analyze counted ...
ANALYZE_SHARE = 0.2
#: ... and by at least this many rows (small tables are planned well by rule of thumb).
ANALYZE_MIN_ROWS = 500


def statistics_are_stale(conn: Connection, *, share: float = ANALYZE_SHARE,
                         min_rows: int = ANALYZE_MIN_ROWS) -> bool:
    """Whether records written since the last analyze moved some entity's row count by more
    than `share` (and at least `min_rows`)."""
    marks = {(m.app_key, m.entity_key): m for m in conn.execute(select(statistics_marks))}
    since = min((m.max_id for m in marks.values()), default=0)
    written = conn.execute(select(records.c.app_key, records.c.entity_key, func.count())
                           .where(records.c.id > since)
                           .group_by(records.c.app_key, records.c.entity_key))
    for app_key, entity_key, n in written:
        mark = marks.get((app_key, entity_key))      # every mark has the same max_id (_mark)
        before = mark.rows if mark is not None else 0
        if n >= max(min_rows, share * before):
            return True
    return False


#: Tables that grow apart from the records, each checked against the planner's own row count
#: and analyzed alone. A SQLite planner that still counts a few hundred reminders reads a
#: worker batch's pending ones by walking every reminder in id order (seen at 430k: 60 ms a
#: batch instead of 0.1, two thirds of the time a 90k-record bulk load's events took).
GROWING_APART = (jobs,)


def outgrown_tables(conn: Connection, *, share: float = ANALYZE_SHARE, min_rows: int = ANALYZE_MIN_ROWS) -> list[str]:
    """The GROWING_APART tables whose row count moved by more than `share` (and at least
    `min_rows`) beyond what the planner's statistics hold. Counting them is a walk of their
    smallest index (3 ms at 430k reminders on SQLite), so the worker can ask every little while."""
    moved = []
    for table in GROWING_APART:
        known = planner_rows(conn, table.name)
        now = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if abs(now - known) >= max(min_rows, share * known):
            moved.append(table.name)
    return moved


def planner_rows(conn: Connection, table: str) -> int:
    """How many rows of `table` the planner's statistics hold (0 before any ANALYZE saw it)."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                             {"t": table}).scalar()
        return max(int(found or 0), 0)          # -1: never analyzed
    if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None:
        return 0
    stats = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).scalars().all()
    return max((int(s.split()[0]) for s in stats if s and s.split()[0].isdigit()), default=0)


def refresh_statistics(db: Database, *, now: datetime | None = None) -> bool:
    """ANALYZE `records` (and the stage history) now (when it has rows) and remember what it saw; True when it ran.
    For an install, whose new indexes have no statistics, and a bulk load that knows it
    changed a lot. An empty table is not analyzed: statistics of nothing are what make
    plans collapse once rows arrive."""
    with db.read() as conn:
        if conn.execute(select(records.c.id).limit(1)).first() is None:
            return False
    _analyze(db, ANALYZED)
    _mark(db, now or datetime.now(timezone.utc))
    return True


def refresh_if_moved(db: Database, *, share: float = ANALYZE_SHARE, min_rows: int = ANALYZE_MIN_ROWS,
                     now: datetime | None = None) -> bool:
    """ANALYZE `records` when some entity's row count moved by more than `share` since the
    last analyze, and a GROWING_APART table that moved as much beyond its statistics; True
    when it ran. Called by the worker's loop and after bulk loads and imports; cheap when
    nothing moved (it reads only the records written since, and counts the reminders)."""
    with db.read() as conn:
        stale = statistics_are_stale(conn, share=share, min_rows=min_rows)
        outgrown = [] if stale else outgrown_tables(conn, share=share, min_rows=min_rows)
    if stale:
        _analyze(db, ANALYZED)
        _mark(db, now or datetime.now(timezone.utc))
    elif outgrown:
        _analyze(db, outgrown)
    return bool(stale or outgrown)


#: Analyzed together: a dashboard over the stage history joins it to `records`, and without
#: the history's size the planner walks every record of the entity to probe its history;
#: reminders grow with the records, and a PostgreSQL planner that still thinks `jobs` empty
#: reads a record's pending reminders by walking every pending one (the worker asks per batch).
ANALYZED = ("records", "stage_history", "jobs")


def _analyze(db: Database, tables) -> None:
    """ANALYZE `tables`; on PostgreSQL with VACUUM, whose visibility map lets the dashboards'
    covering indexes (dashboards.storage) answer by index-only scans instead of visiting every
    row's page, which autovacuum would only set some time after a bulk write."""
    if not db.is_postgres:
        for table in tables:
            db.analyze(table)
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")


def _mark(db: Database, now: datetime) -> None:
    with db.write() as conn:
        max_id = conn.execute(select(func.max(records.c.id))).scalar() or 0
        counts = conn.execute(select(records.c.app_key, records.c.entity_key, func.count())
                              .where(records.c.id <= max_id)
                              .group_by(records.c.app_key, records.c.entity_key)).all()
        conn.execute(delete(statistics_marks))
        if counts:
            conn.execute(insert(statistics_marks), [
                {"app_key": a, "entity_key": e, "rows": n, "max_id": max_id, "analyzed_at": now}
                for a, e, n in counts])
