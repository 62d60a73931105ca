"""Automation: rules fired by record events, durable reminders, and the worker.

The functions the rest of Formloom calls:

- `process_events(db, catalog, now=None)` after a web write commits (fires event rules,
  keeps reminders in step); the worker also calls it on every pass;
- `run_worker_once(db, catalog, now=None)` (`formloom worker --once`),
  `run_forever(db, catalog)` (`formloom worker`, stops on SIGTERM),
  `start_background_worker(flask_app)` (`formloom run`), `Worker` (the thread);
- `due_reminders(conn, at, app_key=None, catalog=None)` (`formloom reminders due`);
- `resync_app(conn, app, now=None)` after the rules changed (the worker also does this
  by itself when it sees a new published version);
- admin pages: `run_log`, `pending_reminders`, `dead_letters`, `retry_job`, `webhook_secret`,
  `outbox`; the bell: `unread_count`, `notifications_for`, `mark_read`, `mark_all_read`.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, select

from ..store.tables import outbox_mail
from . import actions, reminders, rules   # noqa: F401 -- registers the built-in triggers and actions
from .actions import ACTIONS, MAX_DEPTH
from .channels.inapp import mark_all_read, mark_read, notifications_for, unread_count
from .events import process_events
from .reminders import DueReminder, due_reminders, pending_reminders, resync_app
from .rules import TRIGGERS, RegistryError
from .settings import Settings
from .tables import automation_state, rule_runs
from .worker import Worker, dead_letters, retry_job, run_forever, run_once, start_background_worker, webhook_secret

run_worker_once = run_once


def run_log(conn: Connection, app_key: str | None = None, *, rule_key: str | None = None,
            record_id: int | None = None, limit: int = 100) -> list[dict]:
    """Rule runs, newest first: {id, app_key, rule_key, record_id, trigger, outcome, late, duration_ms, message, at}."""
    query = select(rule_runs)
    if app_key:
        query = query.where(rule_runs.c.app_key == app_key)
    if rule_key:
        query = query.where(rule_runs.c.rule_key == rule_key)
    if record_id is not None:
        query = query.where(rule_runs.c.record_id == record_id)
    rows = conn.execute(query.order_by(rule_runs.c.id.desc()).limit(limit))
    return [dict(r._mapping) | {"at": _aware(r.at)} for r in rows]


def outbox(conn: Connection, limit: int = 100) -> list[dict]:
    """Mail kept because no SMTP_URL is configured, newest first."""
    rows = conn.execute(select(outbox_mail).order_by(outbox_mail.c.id.desc()).limit(limit))
    return [dict(r._mapping) | {"created_at": _aware(r.created_at)} for r in rows]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


__all__ = [
    "ACTIONS", "MAX_DEPTH", "TRIGGERS", "DueReminder", "RegistryError", "Settings", "Worker", "automation_state",
    "dead_letters", "due_reminders", "mark_all_read", "mark_read", "notifications_for", "outbox",
    "pending_reminders", "process_events", "resync_app", "retry_job", "rule_runs", "run_forever", "run_log",
    "run_once", "run_worker_once", "start_background_worker", "unread_count", "webhook_secret",
]
