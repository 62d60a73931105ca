"""A record's pending reminders are found through the record, not by walking every pending
reminder: the worker asks for them on every batch of events, and with tens of thousands of
reminders pending, a walk by status made one worker handle 5 events a second (issue 16).
SQLite must choose the record's index before the jobs table was ever analyzed, as it is
right after an install; PostgreSQL, whose planner goes by row estimates, once the engine
refreshed its statistics as it does when the records grow."""
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, text

from formloom.automation.reminders import REMINDER, pending_query
from formloom.store.statistics import refresh_statistics
from formloom.store.tables import jobs


def _plan(conn, statement) -> str:
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
    return "\n".join(str(row[-1] if conn.dialect.name == "sqlite" else row[0])
                     for row in conn.execute(text(prefix + str(compiled))))


def test_pending_reminders_of_a_batch_are_read_through_the_record_index(desk_factory):
    desk = desk_factory()
    db = desk.db
    desk.create(subject="one record, so the engine has something to analyze")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with db.write() as conn:
        conn.execute(insert(jobs), [
            {"kind": REMINDER, "idempotency_key": f"r:{i}", "app_key": "desk", "rule_key": "due",
             "record_id": i // 4, "payload": {}, "due_at": now + timedelta(days=i % 30),
             "status": "pending", "attempts": 0, "created_at": now} for i in range(4000)])
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar() == 0 \
                or conn.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'jobs'")).scalar() == 0
    if db.is_postgres:
        assert refresh_statistics(db)
    with db.read() as conn:
        for ids in ([7], list(range(100, 116))):
            plan = _plan(conn, pending_query("desk", ids))
            assert re.search(r"\bix_jobs_record\b", plan), plan
            rows = conn.execute(pending_query("desk", ids)).all()
            assert sorted({r.record_id for r in rows}) == ids
            assert len(rows) == 4 * len(ids) + sum(1 for r in rows if r.rule_key != "due")
