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
#: how long one batch may hold its write transaction before committing what it handled. On
#: PostgreSQL a long batch kept requests' `SELECT ... FOR UPDATE` queued behind it (a PATCH
#: unanswered for 60 s under 16 clients); on SQLite the transaction holds the database's one
#: write lock (16 busy API clients measured writes waiting 3-7 s behind 200-event batches).
BATCH_SECONDS = 0.1
#: SQLite lets one writer in at a time, and a writer kept waiting polls for the lock (at most
#: every 100 ms, until its busy timeout). A worker going through a backlog in back-to-back
#: transactions takes the lock again before that poll comes: web writes waited out their busy
#: timeout (503) for as long as the backlog lasted (seen growing 10k records to 100k through the
#: bulk API with a worker running). So on SQLite the batch after one cut short by BATCH_SECONDS
#: starts SQLITE_YIELD_SECONDS later, one poll interval in which a waiting writer gets in.
#: PostgreSQL locks rows, not the database: no pause there.
SQLITE_YIELD_SECONDS = 0.1


def process_events(db: Database, catalog, now: datetime | None = None, settings: Settings | None = None,
                   *, app_key: str | None = None, should_stop: Callable[[], bool] | None = None,
                   clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep) -> int:
    """Handle every unprocessed event (and the events that handling writes); returns how many.
    `should_stop` is asked before each event: a stopping worker commits what it handled
    and leaves the rest of a backlog for the next worker. A batch commits after BATCH_SECONDS
    of work, and on SQLite the next one waits SQLITE_YIELD_SECONDS, so web writes are not starved."""
    settings = settings or Settings.from_env()
    cut_short = False
    total = 0
    for _ in range(MAX_BATCHES):
        if should_stop is not None and should_stop():
            break
        if cut_short and db.is_sqlite:
            pause(SQLITE_YIELD_SECONDS)
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        started = clock()
        with db.write() as conn:
            handled = process_batch(conn, catalog, moment, settings, app_key=app_key, should_stop=should_stop,
                                    deadline=started + BATCH_SECONDS, clock=clock)
        cut_short = clock() - started >= BATCH_SECONDS
        total += handled
        if handled == 0:
            break
    return total


def process_batch(conn: Connection, catalog, now: datetime, settings: Settings, *, limit: int = BATCH,
                  app_key: str | None = None, should_stop: Callable[[], bool] | None = None,
                  deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> int:
    """Up to `limit` events in the caller's transaction; past `deadline` (by `clock`) the rest
    wait for the next batch, after others had their turn."""
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
        if deadline is not None and handled and clock() >= deadline:
            break                    # likewise: the transaction held its locks long enough
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
