"""A claimed batch of reminder jobs runs in one transaction (worker._run_reminder_batch);
while it runs, what its firings ask again and again is asked once, and their in-app
notifications are written together.

Inside one batch nothing the firings write changes what is remembered here (role
members, users and their roles, who reports to whom, a rule's parsed labels): actions
write records, notifications, jobs and run logs, never memberships or users. Outside a
batch (`current()` is None) every helper computes afresh, as before.

Notifications and run-log rows: `notify_user` and `log_run` append to the batch instead of
inserting; the worker `flush`es them (notifications with one INSERT ... ON CONFLICT DO
NOTHING, run logs with one executemany) in the same transaction as the jobs' "done", so
they are still written exactly once. A job whose firing failed drops the rows it had
queued (`mark` / `drop_since`), as its savepoint drops everything else it wrote.

A batch of events (automation.events) also keeps each record's pending reminders
(`reminders`, read once for the batch) and queues the reminders it creates (`jobs`, one
INSERT ... ON CONFLICT DO NOTHING at `flush`, as `enqueue` would have written them one by
one); each change to those is undone (`undo`) when the event that made it fails.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

from sqlalchemy import Connection, insert
from sqlalchemy.dialects import postgresql, sqlite

from ..store.tables import jobs, notifications
from .tables import rule_runs


class Batch:
    def __init__(self) -> None:
        self.memo: dict[Any, Any] = {}
        self.notifications: list[dict] = []
        self.rule_runs: list[dict] = []
        self.jobs: list[dict] = []
        #: (app key, record id) -> that record's pending reminders; None outside a batch of events
        self.reminders: dict[tuple[str, int], list] | None = None
        self.undo: list[Callable[[], None]] = []
        #: writes kept to the batch's end, the last one per key (a round-robin cursor moved by
        #: many assignments of a batch of events is written once, where it ended)
        self.deferred: dict[Any, tuple[Any, dict]] = {}

    def mark(self) -> tuple[int, int, int]:
        return len(self.notifications), len(self.rule_runs), len(self.undo)

    def drop_since(self, mark: tuple[int, int, int]) -> None:
        del self.notifications[mark[0]:]
        del self.rule_runs[mark[1]:]
        while len(self.undo) > mark[2]:
            self.undo.pop()()


_CURRENT: ContextVar[Batch | None] = ContextVar("formloom_reminder_batch", default=None)


def current() -> Batch | None:
    return _CURRENT.get()


@contextmanager
def batch() -> Iterator[Batch]:
    b = Batch()
    token = _CURRENT.set(b)
    try:
        yield b
    finally:
        _CURRENT.reset(token)


def remembered(key: Any, compute: Callable[[], Any]) -> Any:
    """`compute()`, once per batch for `key` (every time outside a batch)."""
    b = _CURRENT.get()
    if b is None:
        return compute()
    try:
        return b.memo[key]
    except KeyError:
        value = b.memo[key] = compute()
        return value


def flush(conn: Connection, b: Batch) -> int:
    """Write the batch's queued rows: its run logs, and its notifications (a key written
    before is skipped); returns how many notifications were offered."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    if b.jobs:
        conn.execute(dialect.insert(jobs).on_conflict_do_nothing(index_elements=["idempotency_key"]), b.jobs)
        b.jobs.clear()
    b.undo.clear()
    for statement, params in b.deferred.values():
        conn.execute(statement, params)
    b.deferred.clear()
    if b.rule_runs:
        conn.execute(insert(rule_runs), b.rule_runs)
        b.rule_runs.clear()
    rows, seen = [], set()
    for row in b.notifications:
        if row["idempotency_key"] not in seen:
            seen.add(row["idempotency_key"])
            rows.append(row)
    b.notifications.clear()
    if not rows:
        return 0
    conn.execute(dialect.insert(notifications).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows)
    return len(rows)
