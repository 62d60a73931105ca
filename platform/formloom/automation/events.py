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

from ..definitions.model import AppDef
from ..store.db import Database
from ..store.records import RECORD_COLUMNS, record_from_row
from ..store.rollups import fed_by
from ..store.tables import events, records
from .actions import MAX_DEPTH, MESSAGE_ACTIONS, RuleContext, fire_rule, log_run
from .batch import Batch, batch, current as current_batch, flush, remembered
from .reminders import RELATED_PREFETCHED, prefetch_for_events, sync_needed, sync_record
from .rules import Event, all_rules, matching_rules, rules_for
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
#: ... but only while other connections write. Whether one did is seen at the next batch's start
#: (SQLite's data_version moves with every other connection's commit): a pause in which nobody
#: wrote means nobody was waiting, and the batches go on back to back, pausing only every
#: SQLITE_PAUSE_EVERY-th, so that a writer arriving meanwhile waits at most that many batches;
#: once one got in, every batch pauses again. (Draining a bulk load after it ended, the worker
#: paused half of the time for nobody.)
SQLITE_PAUSE_EVERY = 3


def process_events(db: Database, catalog, now: datetime | None = None, settings: Settings | None = None,
                   *, app_key: str | None = None, should_stop: Callable[[], bool] | None = None,
                   clock: Callable[[], float] = time.monotonic, pause: Callable[[float], None] = time.sleep,
                   on_more: Callable[[], None] | None = None) -> int:
    """Handle every unprocessed event (and the events that handling writes); returns how many.
    `should_stop` is asked before each event: a stopping worker commits what it handled
    and leaves the rest of a backlog for the next worker. A batch commits after BATCH_SECONDS
    of work, and on SQLite the next one waits SQLITE_YIELD_SECONDS, so web writes are not starved.
    After MAX_BATCHES (due jobs get their turn) events may be left: `on_more` is then called
    (the worker goes round again at once instead of waiting its poll interval)."""
    settings = settings or Settings.from_env()
    cut_short = False
    total = 0
    writers = _Writers()
    for _ in range(MAX_BATCHES):
        if should_stop is not None and should_stop():
            break
        if cut_short and db.is_sqlite and writers.wants_pause():
            pause(SQLITE_YIELD_SECONDS)
            writers.paused()
        moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        started = clock()
        try:
            with db.write() as conn:
                if db.is_sqlite:
                    writers.look(conn)
                handled = process_batch(conn, catalog, moment, settings, app_key=app_key, should_stop=should_stop,
                                        deadline=started + BATCH_SECONDS, clock=clock)
                if db.is_sqlite:
                    writers.seen(conn)
        except Exception as exc:
            # taken back whole; handled again event by event, each in its savepoint, up to the
            # event that failed (which is then logged and marked processed like any other)
            reached = exc.reached if isinstance(exc, EventFailed) else BATCH
            log.exception("a batch of events failed as a whole; handling its %s event(s) one by one", reached)
            with db.write() as conn:
                handled = process_batch(conn, catalog, moment, settings, limit=reached, app_key=app_key,
                                        should_stop=should_stop, clock=clock, batched=False)
        cut_short = clock() - started >= BATCH_SECONDS
        total += handled
        if handled == 0:
            break
    else:
        if on_more is not None:
            on_more()
    return total


class _Writers:
    """Whether other connections write to the SQLite database while the worker goes through a
    backlog (SQLITE_PAUSE_EVERY). Until a pause shows otherwise, they are assumed to."""

    def __init__(self) -> None:
        self.active = True
        self.after_pause = False
        self.unpaused = 0               # batches cut short since the last pause
        self.version: tuple | None = None   # (DBAPI connection, its data_version) at the last batch's end

    def wants_pause(self) -> bool:
        self.unpaused += 1
        return self.active or self.unpaused >= SQLITE_PAUSE_EVERY

    def paused(self) -> None:
        self.after_pause, self.unpaused = True, 0

    def look(self, conn: Connection) -> None:
        """At a batch's start: did anyone else commit since the last batch ended? Another
        connection's commit moves data_version; a web thread sharing the worker's pool may
        have written through this very connection, which moves its total_changes."""
        now = _version(conn)
        wrote = self.version is None or self.version[0] is not now[0] or self.version[1:] != now[1:]
        self.active = wrote if self.after_pause else (self.active or wrote)
        self.after_pause = False

    def seen(self, conn: Connection) -> None:
        self.version = _version(conn)


def _version(conn: Connection) -> tuple:
    dbapi = conn.connection.dbapi_connection
    return dbapi, conn.exec_driver_sql("PRAGMA data_version").scalar(), getattr(dbapi, "total_changes", None)


class EventFailed(Exception):
    """An event of a batch failed; `reached`: how many of the batch's events were taken on."""

    def __init__(self, reached: int) -> None:
        super().__init__(f"event {reached} of the batch failed")
        self.reached = reached


def process_batch(conn: Connection, catalog, now: datetime, settings: Settings, *, limit: int = BATCH,
                  app_key: str | None = None, should_stop: Callable[[], bool] | None = None,
                  deadline: float | None = None, clock: Callable[[], float] = time.monotonic,
                  batched: bool = True) -> int:
    """Up to `limit` events in the caller's transaction; past `deadline` (by `clock`) the rest
    wait for the next batch, after others had their turn.

    `batched` (the worker's way): what every event asks is asked once for the batch (the app,
    the records, their pending reminders and no_related clocks), run logs, in-app
    notifications and new reminders are written with one statement each, and the events are
    marked processed with one. Events of an entity nothing listens to (no rule of the current
    version reacts to them or keeps reminders from them) are marked processed unread. An
    event has no savepoint of its own (two statements per event, half of a batch's): one that
    fails raises EventFailed and the caller takes the batch back and handles it again with
    `batched=False`, event by event, each in its savepoint (the fallback)."""
    query = select(events).where(events.c.processed_at.is_(None)).order_by(events.c.id).limit(limit)
    if app_key:
        query = query.where(events.c.app_key == app_key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if not batched:
        return _handle_rows(conn, catalog, rows, now, settings, should_stop, deadline, clock, None)
    with batch() as b:
        b.reminders = {}
        return _handle_rows(conn, catalog, rows, now, settings, should_stop, deadline, clock, b)


def _handle_rows(conn: Connection, catalog, rows, now: datetime, settings: Settings,
                 should_stop: Callable[[], bool] | None, deadline: float | None, clock: Callable[[], float],
                 b: Batch | None) -> int:
    handled: list[int] = []
    read_to, chunk = 0, PREFETCH_FIRST
    for at, row in enumerate(rows):
        if should_stop is not None and should_stop():
            break                    # the rest stay unprocessed (and unlocked once this commits)
        if deadline is not None and handled and clock() >= deadline:
            break                    # likewise: the transaction held its locks long enough
        saved = row.created_at
        if saved is not None and saved.tzinfo is None:
            saved = saved.replace(tzinfo=timezone.utc)
        event = Event(row.id, row.app_key, row.entity_key, row.record_id, row.type, dict(row.payload or {}),
                      row.depth or 0, saved)
        if b is not None and not _listened_to(conn, catalog, event):
            handled.append(row.id)
            continue
        if b is not None and at >= read_to:
            read_to, chunk = at + chunk, min(2 * chunk, len(rows))
            _prefetch(conn, catalog, rows[at:read_to])
        if b is not None:
            try:
                handle_event(conn, catalog, event, now, settings)
            except Exception as exc:     # the batch is taken back and handled event by event
                raise EventFailed(at + 1) from exc
        else:
            try:
                with conn.begin_nested():
                    handle_event(conn, catalog, event, now, settings)
            except Exception:   # one broken event never blocks the outbox
                log.exception("event %s (%s on record %s) could not be handled",
                              event.id, event.type, event.record_id)
        if b is not None and b.memo.pop(("forgot",), False):
            # what was read ahead was dropped (a rule wrote): the next events' records are read
            # again together, after that write, instead of one by one
            read_to, chunk = at + 1, PREFETCH_AFTER_WRITE
        if b is None:
            conn.execute(update(events).where(events.c.id == row.id).values(processed_at=now))
        handled.append(row.id)
    if b is not None:
        flush(conn, b)
        for start in range(0, len(handled), 500):
            conn.execute(update(events).where(events.c.id.in_(handled[start:start + 500])).values(processed_at=now))
    return len(handled)


def _app(conn: Connection, catalog, app_key: str):
    """The app's current version, once per batch; None when it was removed."""
    try:
        return remembered(("app", app_key), lambda: catalog.app(app_key, conn))
    except Exception:
        return None


#: (app key, content hash, entity key) -> whether anything handles that entity's events
_LISTENED: dict[tuple[str, str, str], bool] = {}


def listened_to(app: AppDef, entity_key: str) -> bool:
    """Whether an event of `entity_key` can matter under this version of the app: an enabled rule
    of its workflows (event-triggered, or a time trigger kept as reminders per record), or a
    no_related rule whose clock its records restart. Decided at processing time, so an event
    written before a rule was published is handled by that rule."""
    key = (app.key, app.content_hash, entity_key)
    if app.content_hash and key in _LISTENED:
        return _LISTENED[key]
    found = app.entity(entity_key) is not None and (
        any(rule.trigger.get("type") != "schedule" for _w, rule in rules_for(app, entity_key))
        or any(rule.trigger.get("type") == "no_related" and rule.trigger.get("entity") == entity_key
               for _w, rule in all_rules(app)))
    if app.content_hash:
        _LISTENED[key] = found
    return found


def _listened_to(conn: Connection, catalog, event: Event) -> bool:
    app = _app(conn, catalog, event.app_key)
    return app is not None and listened_to(app, event.entity_key)


#: A batch reads ahead for this many events, then twice as many each time: a batch cut short by
#: BATCH_SECONDS (a loaded machine) has not read much more than it handled.
PREFETCH_FIRST = 16
#: After a rule wrote, the read-ahead starts again this small: writes come every few events
#: (a rule assigning one new record in four), and what is read ahead of a write is dropped.
PREFETCH_AFTER_WRITE = 8


def _prefetch(conn: Connection, catalog, rows) -> None:
    """The records of the next events, their pending reminders and no_related clocks, one
    statement each (per app and entity) instead of one per event."""
    wanted: dict[tuple[str, str], set[int]] = {}
    synced: dict[tuple[str, str], set[int]] = {}     # the records whose reminders an event syncs
    for row in rows:
        if row.record_id is not None and (row.app_key, row.entity_key) not in wanted:
            app = _app(conn, catalog, row.app_key)
            if app is None or not listened_to(app, row.entity_key):
                continue
        if row.record_id is not None:
            wanted.setdefault((row.app_key, row.entity_key), set()).add(row.record_id)
            app = _app(conn, catalog, row.app_key)
            if sync_needed(app, row.entity_key, row.type, row.payload):
                synced.setdefault((row.app_key, row.entity_key), set()).add(row.record_id)
    if not wanted:
        return
    b = current_batch()
    ids = sorted(i for i in set().union(*wanted.values()) if ("event_record", i) not in b.memo)
    kept = b.memo.setdefault(("prefetched",), [])
    found = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(*RECORD_COLUMNS).where(records.c.id.in_(ids[start:start + 500]))):
            found[row.id] = record_from_row(row)
    for record_id in ids:
        record = found.get(record_id)
        b.memo[("event_record", record_id)] = record
        kept.append(("event_record", record_id))
        if record is not None:
            b.memo[("record", record.app_key, record_id)] = record
            kept.append(("record", record.app_key, record_id))
    for (app_key, entity_key), record_ids in synced.items():
        present = [i for i in record_ids if b.memo.get(("event_record", i)) is not None]
        prefetch_for_events(conn, _app(conn, catalog, app_key), entity_key, present)


def _forget_records(b: Batch, clocks: bool = True) -> None:
    """Drop what the batch read ahead of records (and, unless `clocks` is False, their
    no_related clocks): a rule changed records."""
    for key in b.memo.pop(("prefetched",), ()):
        b.memo.pop(key, None)
    if clocks:
        for key in b.memo.pop(RELATED_PREFETCHED, ()):
            b.memo.pop(key, None)
    b.memo[("forgot",)] = True


def _forget_written(b: Batch, app: AppDef, entity_key: str, record_id: int, clocks: bool) -> None:
    """Drop what the batch read ahead that a firing writing only its own record (`record_id`)
    may have changed: that record, and the records of every entity its rollups count toward
    (store.rollups rewrites those parents, up the chain); the no_related clocks if `clocks`."""
    parents = rollup_parents(app, entity_key)
    kept = []
    for key in b.memo.get(("prefetched",), ()):
        value = b.memo.get(key)
        if key[-1] == record_id or (value is not None and value.entity_key in parents):
            b.memo.pop(key, None)
        else:
            kept.append(key)
    b.memo[("prefetched",)] = kept
    if clocks:
        for key in b.memo.pop(RELATED_PREFETCHED, ()):
            b.memo.pop(key, None)


def rollup_parents(app: AppDef, entity_key: str) -> frozenset[str]:
    """The entities whose rollups a write to `entity_key` may re-count, directly or up the chain."""
    found: set[str] = set()
    todo = [entity_key]
    while todo:
        for plan in fed_by(app, todo.pop()):
            if plan.parent.key not in found:
                found.add(plan.parent.key)
                todo.append(plan.parent.key)
    return frozenset(found)


#: Actions that change at most the firing's own record's fields or owner, and only through
#: the store's writes (which log the change and write its event).
_OWN_RECORD_ACTIONS = frozenset({"assign", "set_field"})


def writes_own_record_only(rule) -> bool:
    """Whether the rule's actions send messages, assign, or set fields of the record itself
    (no `on`): then a firing changes no record but its own and that record's rollup parents."""
    return all(spec.get("type") in MESSAGE_ACTIONS
               or (spec.get("type") in _OWN_RECORD_ACTIONS and not spec.get("on")) for spec in rule.actions)


def keeps_clocks(app: AppDef, entity_key: str, rule) -> bool:
    """Whether a firing of `rule` on a record of `entity_key` leaves every no_related clock as it
    was. A clock is the newest live record of the counted entity pointing to a record: only
    creating, deleting or re-pointing records of a counted entity moves it, which a rule
    writing its own record only cannot do when `entity_key` is counted by no no_related rule."""
    if any(other.trigger.get("type") == "no_related" and other.trigger.get("entity") == entity_key
           for _w, other in all_rules(app)):
        return False
    return writes_own_record_only(rule)


def handle_event(conn: Connection, catalog, event: Event, now: datetime, settings: Settings) -> None:
    b = current_batch()
    if b is not None:
        app = _app(conn, catalog, event.app_key)
        if app is None:
            return
    else:
        try:
            app = catalog.app(event.app_key, conn)
        except Exception:
            return   # the app was removed
    entity = app.entity(event.entity_key)
    if entity is None:
        return
    record = None
    if event.record_id is not None:
        if b is not None and ("event_record", event.record_id) in b.memo:
            record = b.memo[("event_record", event.record_id)]
        else:
            row = conn.execute(select(*RECORD_COLUMNS).where(records.c.id == event.record_id)).first()
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
        if b is not None and ctx.wrote:       # its actions may have changed this record, or others
            if writes_own_record_only(rule):
                _forget_written(b, app, entity.key, record.id, clocks=not keeps_clocks(app, entity.key, rule))
            else:
                _forget_records(b)
        if ctx.record is not None:
            record = ctx.record
    if event.record_id is not None and sync_needed(app, entity.key, event.type, event.payload):
        # in a batch, the record as the rules left it (re-read after each write), not read again
        fresh = b is not None and record is not None and record.app_key == app.key and record.entity_key == entity.key
        sync_record(conn, app, entity.key, record if fresh else event.record_id, now)
