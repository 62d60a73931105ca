"""The worker: atomic claims, leases, crashes, several processes, graceful stop."""
import multiprocessing
import os
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from formloom.automation import Worker, resync_app
from formloom.automation.tables import rule_runs
from formloom.automation.worker import backoff_seconds, claim_jobs
from formloom.store.tables import jobs, notifications, records

from ..conftest import PG_URL
from .conftest import SETTINGS, at, rule
from . import procs

SPAWN = multiprocessing.get_context("spawn")


def reminder_desk(desk_factory, count=1):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"})])
    for i in range(count):
        desk.create(subject=f"T{i}", due="2026-03-03")
    desk.process()
    return desk


def test_two_claims_never_take_the_same_job(desk_factory):
    desk = reminder_desk(desk_factory, 3)
    now = at("2026-03-03T08:00:00Z")
    _, first = claim_jobs(desk.db, now, worker_id="a", limit=2)
    _, second = claim_jobs(desk.db, now, worker_id="b", limit=2)
    _, third = claim_jobs(desk.db, now, worker_id="c", limit=2)
    assert len(first) == 2 and len(second) == 1 and third == []
    assert not {j.id for j in first} & {j.id for j in second}


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    low = [backoff_seconds(n, SETTINGS, rand=lambda: 0.0) for n in (1, 2, 3, 10)]
    high = [backoff_seconds(n, SETTINGS, rand=lambda: 1.0) for n in (1, 2, 3, 10)]
    assert low == [5.0, 10.0, 20.0, 300.0] and high == [10.0, 20.0, 40.0, 600.0]


def test_a_worker_killed_mid_job_loses_its_lease_and_the_job_completes_once(desk_factory, database_url):
    desk = reminder_desk(desk_factory)
    now = at("2026-03-03T08:00:00Z")
    ready = SPAWN.Event()
    child = SPAWN.Process(target=procs.die_inside_a_reminder, args=(database_url, now.isoformat(), SETTINGS, ready))
    child.start()
    assert ready.wait(30), "the doomed worker never reached its job"
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    desk.travel(now)
    assert desk.work() == 0                                  # the lease has not expired yet
    desk.travel(now + timedelta(seconds=SETTINGS.lease_seconds + 1))
    assert desk.work() == 1
    [job] = desk.rows(jobs, jobs.c.kind == "reminder")
    assert (job.status, job.attempts) == ("done", 2)
    assert len(desk.notes_for("ann")) == 1 and len(desk.runs("due_soon")) == 1


def test_background_worker_thread_runs_and_stops_gracefully(db, desk_factory, clock):
    desk = reminder_desk(desk_factory)
    desk.travel("2026-03-03T08:00:00Z")
    worker = Worker(desk.db, desk.catalog, SETTINGS, interval=0.05)
    worker.start()
    deadline = time.monotonic() + 10
    while not desk.notes_for("ann") and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop(timeout=10)
    assert not worker.is_alive()
    assert len(desk.notes_for("ann")) == 1


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set FORMLOOM_TEST_DATABASE_URL (e.g. "
                                       "postgresql+psycopg://postgres@127.0.0.1:5432/test)")
def test_two_worker_processes_fire_a_thousand_reminders_exactly_once(desk_factory, database_url):
    desk = desk_factory([rule("due_soon", {"type": "date_field", "field": "due", "at": "09:00"})])
    now = desk.now()
    with desk.db.write() as conn:
        conn.execute(insert(records), [{
            "app_key": "support", "entity_key": "ticket", "data": {"subject": f"T{i}", "due": "2026-03-03"},
            "title": f"T{i}", "stage": "new", "stage_entered_at": now, "owner_id": desk.users["ann"],
            "created_by": desk.users["ann"], "updated_by": None, "created_at": now, "updated_at": now,
            "version": 1} for i in range(1000)])
        assert resync_app(conn, desk.app, now) == 1000
    due = at("2026-03-03T08:00:00Z")
    with SPAWN.Manager() as manager, SPAWN.Pool(2) as pool:
        barrier = manager.Barrier(2)
        counts = pool.starmap(procs.work_until_idle, [(database_url, due.isoformat(), f"w{i}", SETTINGS, barrier)
                                                      for i in range(2)])
    assert sum(counts) == 1000 and all(c > 0 for c in counts), counts
    with desk.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(jobs).where(jobs.c.status == "done")).scalar() == 1000
        assert conn.execute(select(func.count()).select_from(notifications)).scalar() == 1000
        runs = conn.execute(select(rule_runs.c.record_id, func.count()).group_by(rule_runs.c.record_id)).all()
    assert len(runs) == 1000 and {n for _, n in runs} == {1}
