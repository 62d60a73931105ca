"""Processing the events outbox, after the transaction that wrote them committed.

`process_events` reads unprocessed events in its own write transaction (so it
only ever sees committed changes), fires the event-triggered rules they match,
keeps the record's reminders in step, and marks the events processed, all in
that one transaction: an event is handled once, or not at all and retried.
Several processes may call it at once: on PostgreSQL each batch is claimed with
FOR UPDATE SKIP LOCKED, and SQLite write transactions are serialized anyway.

Rules changing records write new events, one level deeper; at MAX_DEPTH the
chain is stopped and logged (a loop between rules).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Connection, select, update

from ..store.db import Database
from ..store.records import record_from_row
from ..store.tables import events, records
from .actions import MAX_DEPTH, RuleContext, fire_rule, log_run
from .reminders import sync_record
from .rules import Event, matching_rules
from .settings import Settings

log = logging.getLogger("formloom.automation")

BATCH = 200
MAX_BATCHES = 100
#: how long one batch may hold its write transaction before committing what it handled: on
#: SQLite that transaction holds the database's one write lock, and requests' writes wait
#: behind it (16 busy API clients measured writes waiting 3-7 s behind 200-event batches)
BATCH_SECONDS = 0.1
#: on SQLite, the pause after a batch cut short by BATCH_SECONDS (a backlog remains): a writer
#: waiting in SQLite's busy handler retries every 100 ms once it has waited a while, and an
#: immediate BEGIN IMMEDIATE here would take the lock again before it looks
SQLITE_YIELD_SECONDS = 0.1


def process_events(db: Database, catalog, now: datetime | None = None, settings: Settings | None = None,
                   *, app_key: str | None = None, should_stop: Callable[[], bool] | None = None) -> int:
    """Handle every unprocessed event (and the events that handling writes); returns how many.
    `should_stop` is asked before each event: a stopping worker commits what it handled
    and leaves the rest of a backlog for the next worker."""
    settings = settings or Settings.from_env()
    total = 0
    for _ in range(MAX_BATCHES):
        if should_stop is not None and should_stop():
            break
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        deadline = time.perf_counter() + BATCH_SECONDS
        with db.write() as conn:
            handled = process_batch(conn, catalog, moment, settings, app_key=app_key, should_stop=should_stop,
                                    deadline=deadline)
        total += handled
        if handled == 0:
            break
        if db.is_sqlite and time.perf_counter() >= deadline:
            time.sleep(SQLITE_YIELD_SECONDS)     # let the requests' writes waiting on the lock in
    return total


def process_batch(conn: Connection, catalog, now: datetime, settings: Settings, *, limit: int = BATCH,
                  app_key: str | None = None, should_stop: Callable[[], bool] | None = None,
                  deadline: float | None = None) -> int:
    """Handle up to `limit` events in the caller's transaction; past `deadline` (a
    time.perf_counter() value) commit what was handled and leave the rest."""
    query = select(events).where(events.c.processed_at.is_(None)).order_by(events.c.id).limit(limit)
    if app_key:
        query = query.where(events.c.app_key == app_key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    handled = 0
    for row in rows:
        if should_stop is not None and should_stop():
            break                    # the rest stay unprocessed (and unlocked once this commits)
        if handled and deadline is not None and time.perf_counter() >= deadline:
            break                    # the next batch takes them, after others had their turn
        saved = row.created_at
        if saved is not None and saved.tzinfo is None:
            saved = saved.replace(tzinfo=timezone.utc)
        event = Event(row.id, row.app_key, row.entity_key, row.record_id, row.type, dict(row.payload or {}),
                      row.depth or 0, saved)
        try:
            with conn.begin_nested():
                handle_event(conn, catalog, event, now, settings)
        except Exception:   # one broken event never blocks the outbox
            log.exception("event %s (%s on record %s) could not be handled", event.id, event.type, event.record_id)
        conn.execute(update(events).where(events.c.id == row.id).values(processed_at=now))
        handled += 1
    return handled


def handle_event(conn: Connection, catalog, event: Event, now: datetime, settings: Settings) -> None:
    try:
        app = catalog.app(event.app_key, conn)
    except Exception:
        return   # the app was removed
    entity = app.entity(event.entity_key)
    if entity is None:
        return
    record = None
    if event.record_id is not None:
        row = conn.execute(select(records).where(records.c.id == event.record_id)).first()
        record = record_from_row(row) if row is not None else None
    for workflow, rule in matching_rules(app, event):
        ctx = RuleContext(conn=conn, app=app, rule=rule, workflow=workflow, entity=entity, record=record,
                          key=f"evt:{event.id}:{workflow.key}:{rule.key}", now=now,
                          settings=settings, depth=event.depth, trigger=event.type, event_at=event.created_at)
        if event.depth >= MAX_DEPTH:
            log.warning("rule %s not fired for record %s: rules triggered rules %s levels deep (a loop?)",
                        rule.key, event.record_id, event.depth)
            log_run(ctx, "skipped", f"stopped: rules triggered rules {event.depth} levels deep "
                                    f"(limit {MAX_DEPTH}); check these rules for a loop")
            continue
        if record is None or (record.deleted_at is not None and event.type != "record_deleted"):
            continue
        fire_rule(ctx)
        if ctx.record is not None:
            record = ctx.record
    if event.record_id is not None:
        sync_record(conn, app, entity.key, event.record_id, now)
