"""A claimed batch of reminders fires in one transaction, and still exactly once: a worker
killed mid-batch leaves nothing of the batch behind, a firing that fails is retried alone,
and the batch writes what firing one by one writes."""
import multiprocessing
import os
import signal
from datetime import timedelta

from sqlalchemy import event

from formloom.automation import run_once, worker as worker_module
from formloom.store.tables import jobs

from .conftest import SETTINGS, at, rule
from . import procs

SPAWN = multiprocessing.get_context("spawn")
DUE = "2026-03-03T08:00:00Z"


def desk_with_reminders(desk_factory, count):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"})])
    records = [desk.create(subject=f"T{i}", due="2026-03-03") for i in range(count)]
    desk.process()
    return desk, records


def test_a_worker_killed_mid_batch_leaves_nothing_and_the_batch_fires_once_later(desk_factory, database_url):
    desk, _records = desk_with_reminders(desk_factory, 5)
    now = at(DUE)
    ready = SPAWN.Event()
    child = SPAWN.Process(target=procs.die_mid_batch, args=(database_url, now.isoformat(), SETTINGS, ready, 3))
    child.start()
    assert ready.wait(60), "the doomed worker never reached the middle of its batch"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert desk.notes_for("ann") == [] and desk.runs("due_soon") == []   # three fired, none committed
    desk.travel(now)
    assert desk.work() == 0                                  # the whole batch is still leased
    desk.travel(now + timedelta(seconds=SETTINGS.lease_seconds + 1))
    assert desk.work() == 5
    assert [(j.status, j.attempts) for j in desk.rows(jobs, jobs.c.kind == "reminder")] == [("done", 2)] * 5
    assert len(desk.notes_for("ann")) == 5 and len(desk.runs("due_soon")) == 5


def test_a_firing_that_fails_is_retried_alone_and_the_rest_of_its_batch_commits(desk_factory, monkeypatch):
    desk, records = desk_with_reminders(desk_factory, 3)
    broken = records[1].id
    original = worker_module.fire_reminder

    def fire(conn, app, job, now, settings):
        status = original(conn, app, job, now, settings)      # its notification is queued first...
        if job.record_id == broken:
            raise RuntimeError("the mail merge fell over")      # ...and must not be written
        return status

    monkeypatch.setattr(worker_module, "fire_reminder", fire)
    desk.travel(DUE)
    assert desk.work() == 3
    by_record = {j.record_id: j for j in desk.rows(jobs, jobs.c.kind == "reminder")}
    assert {r: j.status for r, j in by_record.items()} == {records[0].id: "done", broken: "pending",
                                                           records[2].id: "done"}
    assert "mail merge" in by_record[broken].last_error
    assert sorted(n.record_id for n in desk.notes_for("ann")) == [records[0].id, records[2].id]
    assert sorted(r.record_id for r in desk.runs("due_soon")) == [records[0].id, records[2].id]

    monkeypatch.setattr(worker_module, "fire_reminder", original)
    desk.travel(at(DUE) + timedelta(seconds=SETTINGS.backoff_cap + 1))
    assert desk.work() == 1
    assert sorted(n.record_id for n in desk.notes_for("ann")) == sorted(r.id for r in records)


def test_a_batch_writes_what_firing_one_by_one_writes_in_one_commit(desk_factory):
    desk, records = desk_with_reminders(desk_factory, 8)
    assert desk.work() == 0                            # nothing due yet; the app's reminders are in sync
    desk.travel(DUE)
    commits = {"singly": 0, "batched": 0}

    def counted(name, settings):
        listener = lambda conn: commits.__setitem__(name, commits[name] + 1)    # noqa: E731
        event.listen(desk.db.engine, "commit", listener)
        try:
            return run_once(desk.db, desk.catalog, settings=settings, max_batches=1)
        finally:
            event.remove(desk.db.engine, "commit", listener)

    singly = counted("singly", SETTINGS.but(batch_size=4, batch_reminders=False))
    first = {n.record_id for n in desk.notes_for("ann")}
    batched = counted("batched", SETTINGS.but(batch_size=4))
    assert (singly, batched, len(first)) == (4, 4, 4)
    notes = desk.notes_for("ann")
    titles = {r.id: f"T{i}" for i, r in enumerate(records)}

    def shape(group):       # the same text but for the record's title
        return sorted((n.subject.replace(titles[n.record_id], "#"), n.body.replace(titles[n.record_id], "#"))
                      for n in notes if (n.record_id in first) == group)
    assert shape(True) == shape(False) and len(notes) == 8
    assert sorted(r.outcome for r in desk.runs("due_soon")) == ["fired"] * 8
    assert commits["batched"] == commits["singly"] - 4 + 1      # one commit for the batch, not one per job


def _record_reads(desk, settings):
    """One batched run's reads of the records table by id: (many at once, one each); the
    reminders' own, not those of the events their firings wrote (read as a batch of events)."""
    from unittest import mock
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)    # noqa: E731
    event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        with mock.patch("formloom.automation.worker.process_events", lambda *args, **kwargs: 0):
            ran = run_once(desk.db, desk.catalog, settings=settings, max_batches=1)
    finally:
        event.remove(desk.db.engine, "before_cursor_execute", listener)
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM records" in s]
    return ran, sum("records.id IN" in s for s in reads), sum("records.id = " in s for s in reads)


def test_a_batch_of_message_only_rules_reads_its_records_in_one_query(desk_factory):
    desk, records = desk_with_reminders(desk_factory, 6)
    desk.travel(DUE)
    assert _record_reads(desk, SETTINGS.but(batch_size=10)) == (6, 1, 0)
    assert sorted(n.record_id for n in desk.notes_for("ann")) == sorted(r.id for r in records)


def test_a_batch_whose_rules_change_records_reads_each_record_when_it_fires(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"},
                              {"type": "set_field", "field": "subject", "value": "{{ record.subject }}!"},
                              {"type": "notify", "to": ["owner"], "message": {"en": "{{ record.subject }}"}})])
    records = [desk.create(subject=f"T{i}", due="2026-03-03") for i in range(3)]
    desk.process()
    desk.travel(DUE)
    ran, together, one_each = _record_reads(desk, SETTINGS.but(batch_size=10))
    assert (ran, together) == (3, 0) and one_each >= 3      # a firing may change what the next one reads
    assert sorted(n.body for n in desk.notes_for("ann")) == [f"T{i}!" for i in range(3)]
    assert len(records) == 3


def test_batched_messages_that_read_labels_get_them_and_plain_lookups_render_the_same(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"},
                              {"type": "notify", "to": ["owner"], "subject": {"en": "{{ record.subject }}"},
                               "message": {"en": "{{ record.subject }} is due {{ record.labels.due }}"}})])
    desk.create(subject="Printer", due="2026-03-03")
    desk.process()
    desk.travel(DUE)
    assert desk.work(SETTINGS.but(batch_size=10)) == 1
    [note] = desk.notes_for("ann")
    assert (note.subject, note.body) == ("Printer", "Printer is due 3 Mar 2026")   # the label, as people read it


def _savepoints(desk, settings):
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)    # noqa: E731
    event.listen(desk.db.engine, "before_cursor_execute", listener)
    try:
        ran = run_once(desk.db, desk.catalog, settings=settings, max_batches=1)
    finally:
        event.remove(desk.db.engine, "before_cursor_execute", listener)
    return ran, sum(s.lstrip().upper().startswith("SAVEPOINT") for s in seen)


def test_firings_that_only_queue_notifications_take_no_savepoint(desk_factory):
    desk, records = desk_with_reminders(desk_factory, 4)
    desk.travel(DUE)
    assert _savepoints(desk, SETTINGS.but(batch_size=10)) == (4, 0)
    assert sorted(n.record_id for n in desk.notes_for("ann")) == sorted(r.id for r in records)


def test_firings_that_write_rows_of_their_own_keep_a_savepoint_each(desk_factory):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"},
                              {"type": "notify", "to": ["owner"]}, {"type": "email", "to": ["owner"]})])
    for i in range(3):
        desk.create(subject=f"T{i}", due="2026-03-03")
    desk.process()
    desk.travel(DUE)
    ran, savepoints = _savepoints(desk, SETTINGS.but(batch_size=10))
    assert ran == 3 and savepoints >= 3
