"""A worker going through a backlog of events leaves room for web writes on SQLite: its
transactions end after BATCH_SECONDS and the next starts SQLITE_YIELD_SECONDS later
(a waiting writer's poll interval) while other connections write; when a pause shows
nobody does, only every SQLITE_PAUSE_EVERY-th batch pauses. Every event is still handled
once, in order; on PostgreSQL, which locks rows and not the database, nothing is cut or
spaced out."""
from formloom.automation import process_events
from formloom.automation.events import BATCH_SECONDS, SQLITE_PAUSE_EVERY, SQLITE_YIELD_SECONDS
from formloom.store.tables import events

from .conftest import SETTINGS, rule


class Ticking:
    """A monotonic clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_long_backlog_is_handled_in_spaced_out_transactions_on_sqlite_and_in_one_on_postgresql(desk_factory):
    desk = desk_factory([rule("hello", {"type": "record_created"},
                              {"type": "notify", "to": ["owner"], "message": "{{ record.title }}"})])
    tickets = [desk.create(subject=f"T{i}") for i in range(12)]
    pauses: list[float] = []
    handled = process_events(desk.db, desk.catalog, settings=SETTINGS, clock=Ticking(BATCH_SECONDS / 4),
                             pause=pauses.append)
    assert handled == 12
    assert sorted(n.record_id for n in desk.notes_for("ann")) == [t.id for t in tickets]   # each once
    assert desk.rows(events, events.c.processed_at.is_(None)) == []
    if desk.db.is_sqlite:
        assert pauses and set(pauses) == {SQLITE_YIELD_SECONDS}     # cut, and the first cut pauses
    else:
        assert pauses == []


class Counting:
    """A pause that counts the batches before it, and may let another connection write in it."""

    def __init__(self, write=None):
        self.batches, self.gaps, self.write = 0, [], write

    def batch(self, *args, **kwargs):
        self.batches += 1

    def __call__(self, seconds: float) -> None:
        self.gaps.append(self.batches)
        self.batches = 0
        if self.write is not None:
            self.write()


def _backlog(desk_factory, n: int):
    from formloom.automation import events as outbox

    desk = desk_factory([rule("hello", {"type": "record_created"},
                              {"type": "notify", "to": ["owner"], "message": "{{ record.title }}"})])
    for i in range(n):
        desk.create(subject=f"T{i}")
    return desk, outbox


def test_on_sqlite_a_pause_nobody_wrote_in_leaves_the_next_batches_back_to_back(desk_factory, monkeypatch):
    desk, outbox = _backlog(desk_factory, 60)
    if not desk.db.is_sqlite:
        return
    pause = Counting()
    real = outbox.process_batch
    monkeypatch.setattr(outbox, "process_batch", lambda *a, **k: (pause.batch(), real(*a, **k))[1])
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=Ticking(BATCH_SECONDS / 4),
                          pause=pause) == 60
    # writers are assumed until the first pause shows none: then a pause every SQLITE_PAUSE_EVERY batches
    assert pause.gaps[0] == 1 and pause.gaps[1:] and set(pause.gaps[1:]) == {SQLITE_PAUSE_EVERY}
    assert len(desk.notes_for("ann")) == 60


def test_on_sqlite_once_another_connection_writes_in_a_pause_every_batch_pauses(desk_factory, monkeypatch):
    desk, outbox = _backlog(desk_factory, 30)
    if not desk.db.is_sqlite:
        return
    pause = Counting(write=lambda: desk.create("note", text="a web write", ticket=1))
    real = outbox.process_batch
    monkeypatch.setattr(outbox, "process_batch", lambda *a, **k: (pause.batch(), real(*a, **k))[1])
    process_events(desk.db, desk.catalog, settings=SETTINGS, clock=Ticking(BATCH_SECONDS / 4), pause=pause)
    assert len(pause.gaps) >= 3 and set(pause.gaps) == {1}
    assert len(desk.notes_for("ann")) == 30


def test_a_short_backlog_is_one_transaction_without_a_pause(desk_factory):
    desk = desk_factory([rule("hello", {"type": "record_created"},
                              {"type": "notify", "to": ["owner"], "message": "{{ record.title }}"})])
    for i in range(3):
        desk.create(subject=f"T{i}")
    pauses: list[float] = []
    assert process_events(desk.db, desk.catalog, settings=SETTINGS, clock=Ticking(0.001), pause=pauses.append) == 3
    assert pauses == []
    assert len(desk.notes_for("ann")) == 3


def test_keeping_a_records_reminders_in_step_reads_its_pending_reminders_once_whatever_the_rules(desk_factory):
    from sqlalchemy import event as sa_event

    desk = desk_factory([rule(f"due_{n}", {"type": "date_field", "field": "due", "at": f"0{n}:00"}) for n in (7, 8, 9)])
    ticket = desk.create(due="2026-03-03")
    desk.process()
    assert len(desk.pending()) == 3
    desk.update(ticket, due="2026-03-04")
    reads = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            reads.append(statement)

    sa_event.listen(desk.db.engine, "before_cursor_execute", seen)
    try:
        desk.process()
    finally:
        sa_event.remove(desk.db.engine, "before_cursor_execute", seen)
    assert len(reads) == 1
    assert sorted(j.due_at.day for j in desk.pending()) == [4, 4, 4]     # all three moved to the new date


def test_a_backlog_longer_than_one_rounds_batches_asks_for_the_next_round_at_once(desk_factory, monkeypatch):
    """After MAX_BATCHES (due jobs get their turn) the worker is told events are left: it goes round
    again at once instead of idling its poll interval in the middle of a backlog."""
    desk, outbox = _backlog(desk_factory, 12)
    monkeypatch.setattr(outbox, "MAX_BATCHES", 2)
    more: list[bool] = []
    ticking = dict(settings=SETTINGS, clock=Ticking(BATCH_SECONDS / 2), pause=lambda s: None,
                   on_more=lambda: more.append(True))
    first = process_events(desk.db, desk.catalog, **ticking)
    assert 0 < first < 12 and more == [True]
    while process_events(desk.db, desk.catalog, **ticking):
        pass
    assert desk.rows(events, events.c.processed_at.is_(None)) == []
    more.clear()
    assert process_events(desk.db, desk.catalog, **ticking) == 0 and more == []   # nothing left: nothing asked
    assert len(desk.notes_for("ann")) == 12


def test_a_worker_round_that_left_events_wakes_the_worker(desk_factory, monkeypatch):
    from formloom.automation import Worker

    desk, outbox = _backlog(desk_factory, 3)
    monkeypatch.setattr(outbox, "MAX_BATCHES", 1)
    worker = Worker(desk.db, desk.catalog, SETTINGS, interval=60)
    worker.run_round()
    assert worker.wake.is_set()
    worker.wake.clear()
    worker.run_round()                 # the round found nothing left
    assert not worker.wake.is_set()
    assert len(desk.notes_for("ann")) == 3
