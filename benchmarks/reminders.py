"""Reminder throughput (issue 16): in-app notify jobs fired per second by one worker
(`reminder_throughput_per_s`, goal >= 3,000), and by two worker processes at once on
PostgreSQL (`reminder_throughput_2_workers_pg`, against one worker in the same run).

The jobs are the due "proposal_silence_48h" reminders `run.reminder_sweep` made (their
rule notifies the owner and the managers in the app). Between rounds they are re-armed:
pending again, their notifications and run logs deleted, so every round fires the same
work. Each figure is the median of its rounds; CPU seconds are the firing thread's own
(one worker in-process), which a loaded machine disturbs far less than the wall clock.
"""
from __future__ import annotations

import multiprocessing
import statistics
import time
from datetime import datetime

RULE = "proposal_silence_48h"


def rearm(db, rule_key: str = RULE, record_ids: list[int] | None = None) -> int:
    """The rule's reminder jobs (of `record_ids` only, when given) pending again, with their
    notifications and run logs deleted: the next run fires the same work again."""
    from sqlalchemy import delete, update
    from formloom.automation.tables import rule_runs
    from formloom.store.tables import jobs, notifications
    which = [jobs.c.rule_key == rule_key] + ([jobs.c.record_id.in_(record_ids)] if record_ids is not None else [])
    runs = [rule_runs.c.rule_key == rule_key] + ([rule_runs.c.record_id.in_(record_ids)] if record_ids is not None else [])
    notes = [notifications.c.idempotency_key.like(f"%:{rule_key}:%")] + (
        [notifications.c.record_id.in_(record_ids)] if record_ids is not None else [])
    with db.write() as conn:
        n = conn.execute(update(jobs).where(*which).values(
            status="pending", locked_by=None, lease_until=None, attempts=0, finished_at=None,
            last_error=None)).rowcount
        conn.execute(delete(rule_runs).where(*runs))
        conn.execute(delete(notifications).where(*notes))
    return n


def one_worker(flask_app, now: datetime, rounds: int = 3) -> dict:
    """`rounds` timed run_once calls over the same re-armed jobs, in this thread."""
    from formloom.automation import run_once
    db = flask_app.extensions["formloom.db"]
    catalog = flask_app.extensions["formloom.catalog"]
    out = []
    for _ in range(rounds):
        jobs = rearm(db)
        t0, c0 = time.perf_counter(), time.thread_time()
        ran = run_once(db, catalog, now=now)
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        out.append({"jobs": jobs, "ran": ran, "seconds": wall, "cpu_seconds": cpu})
    return {"rounds": out, "per_s": statistics.median(r["ran"] / r["seconds"] for r in out),
            "per_cpu_s": statistics.median(r["ran"] / r["cpu_seconds"] for r in out)}


def _work(url: str, now_iso: str, worker_id: str, start, results) -> None:
    from formloom.automation import run_once
    from formloom.store.apps import AppCatalog
    from formloom.store.db import Database
    db = Database(url)
    catalog = AppCatalog(db)
    now = datetime.fromisoformat(now_iso)
    catalog.installed_versions()          # compiled before the clock starts, as in a running worker
    start.wait(60)
    total, c0 = 0, time.process_time()
    while True:
        ran = run_once(db, catalog, now, worker_id=worker_id)
        total += ran
        if ran == 0:
            break
    results.put((worker_id, total, time.perf_counter(), time.process_time() - c0))
    db.dispose()


def workers(flask_app, url: str, now: datetime, n: int, rounds: int = 3) -> dict:
    """`n` worker processes draining the same re-armed jobs at once; wall clock from the
    start signal to the last worker done. Median of `rounds`."""
    ctx = multiprocessing.get_context("spawn")
    db = flask_app.extensions["formloom.db"]
    out = []
    for _ in range(rounds):
        jobs = rearm(db)
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_work, args=(url, now.isoformat(), f"bench{i}", start, results))
                 for i in range(n)]
        for p in procs:
            p.start()
        time.sleep(3.0)                   # every child imported and compiled the app
        t0 = time.perf_counter()
        start.set()
        got = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
        ran = sum(g[1] for g in got)
        wall = max(g[2] for g in got) - t0
        out.append({"jobs": jobs, "ran": ran, "seconds": wall, "by_worker": [g[1] for g in got],
                    "cpu_seconds": [g[3] for g in got]})
    return {"workers": n, "rounds": out, "per_s": statistics.median(r["ran"] / r["seconds"] for r in out)}
