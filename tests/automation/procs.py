"""Worker processes for the multi-process tests (importable, for the spawn start method)."""
from __future__ import annotations

import time
from datetime import datetime

from formloom.automation import run_once
from formloom.store.apps import AppCatalog
from formloom.store.db import Database


def work_until_idle(url: str, now_iso: str, worker_id: str, settings, barrier=None) -> int:
    """Run until two passes find nothing. With a `barrier`, the first batch claimed waits
    there until every other worker has claimed one too, so that all of them take part
    however fast the first to start would have drained the queue alone."""
    if barrier is not None:
        _meet_after_first_claim(barrier)
    db = Database(url)
    catalog = AppCatalog(db)
    now = datetime.fromisoformat(now_iso)
    total = 0
    idle = 0
    while idle < 2:
        ran = run_once(db, catalog, now, settings, worker_id=worker_id)
        total += ran
        idle = idle + 1 if ran == 0 else 0
    db.dispose()
    return total


def _meet_after_first_claim(barrier) -> None:
    from formloom.automation import worker

    original = worker.claim_jobs
    met = []

    def claim_then_meet(*args, **kwargs):
        token, claimed = original(*args, **kwargs)
        if claimed and not met:
            met.append(True)
            barrier.wait(60)
        return token, claimed

    worker.claim_jobs = claim_then_meet


def die_inside_a_reminder(url: str, now_iso: str, settings, ready) -> None:
    """Fire a reminder, then hang before the transaction commits (to be killed)."""
    from formloom.automation import worker

    original = worker.fire_reminder

    def fire_and_hang(*args, **kwargs):
        original(*args, **kwargs)
        ready.set()
        time.sleep(120)

    worker.fire_reminder = fire_and_hang
    db = Database(url)
    run_once(db, AppCatalog(db), datetime.fromisoformat(now_iso), settings, worker_id="doomed")


def die_mid_batch(url: str, now_iso: str, settings, ready, fired_before_dying: int) -> None:
    """Fire a few reminders of a claimed batch, then hang before the batch commits (to be killed)."""
    from formloom.automation import worker

    original = worker.fire_reminder
    fired = []

    def fire_then_hang(*args, **kwargs):
        status = original(*args, **kwargs)
        fired.append(status)
        if len(fired) == fired_before_dying:
            ready.set()
            time.sleep(120)
        return status

    worker.fire_reminder = fire_then_hang
    db = Database(url)
    run_once(db, AppCatalog(db), datetime.fromisoformat(now_iso), settings, worker_id="doomed")
