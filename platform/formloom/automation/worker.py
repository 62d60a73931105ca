"""The worker: claims due jobs atomically, runs them, retries with backoff, and
dead-letters what keeps failing.

Claiming is one UPDATE that moves due rows to "running" under a fresh token and
a lease: on PostgreSQL its subquery takes the rows FOR UPDATE SKIP LOCKED, so
two workers never claim the same row and never wait on each other; on SQLite the
write transaction is BEGIN IMMEDIATE, so claims are serialized. A job whose
lease expired (its worker died) is claimed again.

Running is fenced by the token: a job's effects and its "done" commit together
only while the row is still ours, so a job whose lease was taken over by another
worker is not finished twice. Reminders (database effects only) run inside one
transaction: exactly once. Email and webhooks talk to the outside world outside
any transaction and are marked done afterwards: at least once, with the same
Message-ID / Idempotency-Key on a resend.
"""
from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import Connection, and_, or_, select, update

from ..store.db import Database
from ..store.statistics import refresh_if_moved
from ..store.tables import jobs
from .actions import describe_error
from .batch import batch, flush, remembered
from .channels import DeliveryError, PermanentError, TemporaryError
from .channels.email import build_message, message_id_for, send_smtp, store_in_outbox
from .channels.webhook import post
from .events import process_events
from .jobs import insert_ignore
from .reminders import REMINDER, fire_reminder, prefetch_records, resync_app, writes_only_to_batch
from .settings import Settings
from .tables import automation_state

log = logging.getLogger("formloom.automation")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


# -- claiming ---------------------------------------------------------------------------------------

def claim_jobs(db: Database, now: datetime, *, worker_id: str, limit: int = 50,
               lease_seconds: float = 300.0) -> tuple[str, list[Any]]:
    """Take up to `limit` due jobs (pending and due, or running with an expired lease)."""
    token = f"{worker_id}:{secrets.token_hex(6)}"[:100]
    claimable = or_(and_(jobs.c.status == "pending", jobs.c.due_at <= now),
                    and_(jobs.c.status == "running", jobs.c.lease_until < now))
    with db.write() as conn:
        ids = select(jobs.c.id).where(claimable).order_by(jobs.c.due_at, jobs.c.id).limit(limit)
        if conn.dialect.name == "postgresql":
            # lock first, then update what was locked: a LIMIT inside UPDATE ... IN (subquery)
            # may be evaluated more than once by PostgreSQL and take more than `limit` rows
            chosen = conn.execute(ids.with_for_update(skip_locked=True)).scalars().all()
            if not chosen:
                return token, []
            target = jobs.c.id.in_(chosen)
        else:
            target = jobs.c.id.in_(ids.scalar_subquery())
        conn.execute(update(jobs).where(target, claimable).values(
            status="running", locked_by=token, lease_until=now + timedelta(seconds=lease_seconds),
            attempts=jobs.c.attempts + 1))
        rows = conn.execute(select(jobs).where(jobs.c.locked_by == token, jobs.c.status == "running")
                            .order_by(jobs.c.due_at, jobs.c.id)).all()
    return token, rows


def _still_ours(conn: Connection, job_id: int, token: str) -> bool:
    """Lock the row (PostgreSQL) and check nobody took it over."""
    return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.locked_by == token,
                                           jobs.c.status == "running")
                        .values(locked_by=token)).rowcount == 1


def _finish(conn: Connection, job_id: int, token: str, status: str, now: datetime, error: str | None = None) -> bool:
    return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.locked_by == token,
                                           jobs.c.status == "running")
                        .values(status=status, finished_at=now, lease_until=None, last_error=error)).rowcount == 1


def release_jobs(db: Database, token: str, job_ids: list[int]) -> int:
    """Give claimed jobs that were not started back to the queue (a stopping worker), as if never
    claimed: pending, unlocked, the attempt not counted. Only rows still ours are touched."""
    if not job_ids:
        return 0
    with db.write() as conn:
        return conn.execute(update(jobs).where(jobs.c.id.in_(job_ids), jobs.c.locked_by == token,
                                               jobs.c.status == "running")
                            .values(status="pending", locked_by=None, lease_until=None,
                                    attempts=jobs.c.attempts - 1)).rowcount


def backoff_seconds(attempts: int, settings: Settings, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(attempts-1), capped."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * (2 ** max(0, attempts - 1)))
    return ceiling / 2 + rand() * ceiling / 2


def _failed(db: Database, job: Any, token: str, error: Exception, now: datetime, settings: Settings) -> str:
    with db.write() as conn:
        return _failed_in(conn, job, token, error, now, settings)


def _failed_in(conn: Connection, job: Any, token: str, error: Exception, now: datetime, settings: Settings) -> str:
    """Record a failed attempt in the caller's transaction: retry later, or give up."""
    message = describe_error(error)[:4000]
    permanent = isinstance(error, DeliveryError) and error.permanent
    if permanent:
        status, values = "failed", {"status": "failed", "finished_at": now}
    elif job.attempts >= settings.max_attempts:
        status, values = "dead", {"status": "dead", "finished_at": now}
    else:
        status = "pending"
        values = {"status": "pending", "due_at": now + timedelta(seconds=backoff_seconds(job.attempts, settings))}
    conn.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.locked_by == token, jobs.c.status == "running")
                 .values(lease_until=None, last_error=message, **values))
    level = logging.WARNING if status != "pending" else logging.INFO
    log.log(level, "job %s (%s) attempt %s failed (%s): %s", job.id, job.kind, job.attempts, status, message)
    return status


# -- running one job -----------------------------------------------------------------------------------

def run_job(db: Database, catalog, job: Any, token: str, now: datetime, settings: Settings) -> str:
    """Run one claimed job; returns its new status."""
    if job.attempts > settings.max_attempts:   # its workers keep dying: give up
        with db.write() as conn:
            _finish(conn, job.id, token, "dead", now, f"gave up after {job.attempts - 1} attempts")
        return "dead"
    handler = JOB_KINDS.get(job.kind)
    try:
        if handler is None:
            raise PermanentError(f"no handler for jobs of kind {job.kind!r}")
        return handler(db, catalog, job, token, now, settings)
    except _LostLease:
        log.info("job %s was taken over by another worker", job.id)
        return "lost"
    except Exception as exc:
        if not isinstance(exc, DeliveryError):
            log.exception("job %s (%s) failed", job.id, job.kind)
        return _failed(db, job, token, exc, now, settings)


class _LostLease(Exception):
    """Another worker claimed this job after our lease expired."""


def _run_reminder(db, catalog, job, token, now, settings) -> str:
    with db.write() as conn:
        if not _still_ours(conn, job.id, token):
            raise _LostLease()
        app = catalog.app(job.app_key, conn)
        status = fire_reminder(conn, app, job, now, settings)
        _finish(conn, job.id, token, status, now, None if status == "done" else "no longer due")
    return status


def _run_reminder_batch(db: Database, catalog, claimed: list[Any], token: str, now: datetime,
                        settings: Settings) -> None:
    """Fire a claimed batch of reminders in one transaction: one fence for the batch (the rows
    still ours, locked on PostgreSQL), each firing in a savepoint (one that fails is rolled
    back alone and retried later, as a single job would be; a firing that writes only rows
    the batch queues needs none, see reminders.writes_only_to_batch), the batch's notifications in one
    INSERT, one UPDATE per outcome, one commit. Effects and "done" commit together, so a
    crash anywhere before the commit leaves every job of the batch to be claimed again when
    its lease expires, with nothing of it written: exactly once, as job by job.

    If the batch's transaction itself fails (the database refused the commit), its jobs are
    run one by one, each in its own transaction."""
    ids = [job.id for job in claimed]
    try:
        with batch() as b, db.write() as conn:
            fence = select(jobs.c.id).where(jobs.c.id.in_(ids), jobs.c.locked_by == token, jobs.c.status == "running")
            if conn.dialect.name == "postgresql":
                fence = fence.with_for_update()
            ours = set(conn.execute(fence).scalars())
            prefetch_records(conn, lambda key: remembered(("app", key), lambda: catalog.app(key, conn)),
                             [job for job in claimed if job.id in ours and job.attempts <= settings.max_attempts])
            outcomes: dict[tuple[str, str | None], list[int]] = {}
            for job in claimed:
                if job.id not in ours:
                    log.info("job %s was taken over by another worker", job.id)
                    continue
                if job.attempts > settings.max_attempts:   # its workers keep dying: give up
                    outcomes.setdefault(("dead", f"gave up after {job.attempts - 1} attempts"), []).append(job.id)
                    continue
                mark = b.mark()
                try:
                    app = remembered(("app", job.app_key), lambda: catalog.app(job.app_key, conn))
                    if writes_only_to_batch(app, job):
                        status = fire_reminder(conn, app, job, now, settings)
                    else:
                        with conn.begin_nested():
                            status = fire_reminder(conn, app, job, now, settings)
                except Exception as exc:
                    b.drop_since(mark)
                    log.exception("job %s (%s) failed", job.id, job.kind)
                    _failed_in(conn, job, token, exc, now, settings)
                    continue
                outcomes.setdefault((status, None if status == "done" else "no longer due"), []).append(job.id)
            flush(conn, b)
            for (status, error), done in outcomes.items():
                conn.execute(update(jobs).where(jobs.c.id.in_(done), jobs.c.locked_by == token,
                                                jobs.c.status == "running")
                             .values(status=status, finished_at=now, lease_until=None, last_error=error))
    except Exception:
        log.exception("a batch of %s reminders failed as a whole; running them one by one", len(claimed))
        for job in claimed:
            run_job(db, catalog, job, token, now, settings)


def _run_email(db, catalog, job, token, now, settings) -> str:
    payload = job.payload or {}
    msg = build_message(settings.mail_from, payload["to"], payload.get("subject", ""), payload.get("body", ""),
                        message_id_for(job.idempotency_key), now)
    if not settings.smtp_url:
        with db.write() as conn:
            if not _still_ours(conn, job.id, token):
                raise _LostLease()
            store_in_outbox(conn, msg, payload.get("body", ""), now)
            _finish(conn, job.id, token, "done", now)
        return "done"
    send_smtp(settings.smtp_url, msg, timeout=settings.smtp_timeout)
    with db.write() as conn:
        _finish(conn, job.id, token, "done", now)
    return "done"


def _run_webhook(db, catalog, job, token, now, settings) -> str:
    payload = job.payload or {}
    ref = payload.get("secret_ref")
    if ref:
        secret = settings.secret(ref)
        if not secret:
            raise PermanentError(f"the webhook secret {ref!r} is not configured "
                                 f"(set FORMLOOM_SECRET_{ref.upper()})")
    else:
        with db.write() as conn:
            secret = webhook_secret(conn, job.app_key or "", now)
    post(payload["url"], payload["body"].encode(), secret=secret, idempotency_key=job.idempotency_key,
         timeout=settings.webhook_timeout, allow_private=settings.webhook_allow_private,
         allow=settings.webhook_allow)
    with db.write() as conn:
        _finish(conn, job.id, token, "done", now)
    return "done"


def _run_bulk_edit(db, catalog, job, token, now, settings) -> str:
    """A large bulk edit (formloom.bulk_edit), batch by batch with its progress."""
    from ..bulk_edit import run_bulk_job
    return run_bulk_job(db, catalog, job, token, now, settings)


def _run_approval_timeout(db, catalog, job, token, now, settings) -> str:
    """A step of an approval request timed out: escalate or reject (workflow.approvals)."""
    from ..workflow.approvals import run_timeout
    with db.write() as conn:
        if not _still_ours(conn, job.id, token):
            raise _LostLease()
        status = run_timeout(conn, catalog.app(job.app_key, conn), job.payload or {}, now)
        _finish(conn, job.id, token, status, now, None if status == "done" else "the request moved on")
    return status


def _run_rollup_window(db, catalog, job, token, now, settings) -> str:
    """A related record left (or entered) a rollup's time window: re-count that record
    (store.rollups), which keeps the job pending for the next edge, if there is one."""
    from ..store.rollups import run_window_job
    with db.write() as conn:
        if not _still_ours(conn, job.id, token):
            raise _LostLease()
        _finish(conn, job.id, token, "done", now)
        run_window_job(conn, catalog.app(job.app_key, conn), job.payload or {}, job.record_id, now)
    return "done"


#: job kind -> handler(db, catalog, job, token, now, settings) -> status
JOB_KINDS: dict[str, Callable[..., str]] = {REMINDER: _run_reminder, "email": _run_email, "webhook": _run_webhook,
                                            "bulk_edit": _run_bulk_edit, "approval_timeout": _run_approval_timeout,
                                            "rollup_window": _run_rollup_window}


def webhook_secret(conn: Connection, app_key: str, now: datetime | None = None) -> str:
    """The app's webhook signing secret, created on first use (shown to admins)."""
    key = f"webhook_secret:{app_key}"
    insert_ignore(conn, automation_state, {"key": key, "value": {"secret": secrets.token_hex(32)},
                                           "updated_at": now or _utcnow()}, "key")
    return conn.execute(select(automation_state.c.value).where(automation_state.c.key == key)).scalar_one()["secret"]


# -- keeping reminders in step with published rules ---------------------------------------------------------

def sync_changed_apps(db: Database, catalog, now: datetime) -> int:
    """Resync the reminders of every app whose published version changed since the last sync, and
    cancel its approval requests into stages the new version removed (workflow.approvals)."""
    from ..workflow.approvals import cancel_stranded
    changed = 0
    with db.read() as conn:
        from ..store.tables import apps

        keys = conn.execute(select(apps.c.key, apps.c.current_version_id)
                            .where(apps.c.current_version_id.is_not(None))).all()
        synced = {r.key: r.value for r in conn.execute(
            select(automation_state).where(automation_state.c.key.like("synced:%")))}
    for app_key, version_id in keys:
        if (synced.get(f"synced:{app_key}") or {}).get("version") == version_id:
            continue
        with db.write() as conn:
            app = catalog.app(app_key, conn)
            changed += resync_app(conn, app, now)
            cancel_stranded(conn, app, now)
            key = f"synced:{app_key}"
            if not insert_ignore(conn, automation_state, {"key": key, "value": {"version": version_id},
                                                          "updated_at": now}, "key"):
                conn.execute(update(automation_state).where(automation_state.c.key == key)
                             .values(value={"version": version_id}, updated_at=now))
    return changed


# -- the loop ---------------------------------------------------------------------------------------------------

def run_once(db: Database, catalog, now: datetime | None = None, settings: Settings | None = None, *,
             worker_id: str | None = None, max_batches: int = 100,
             should_stop: Callable[[], bool] | None = None, on_more: Callable[[], None] | None = None) -> int:
    """Process pending events, then run every job due at `now`; returns how many jobs ran.
    Safe to call from any number of processes at once.

    `should_stop` is asked between events and between jobs (a claimed batch of reminders,
    one transaction, counts as one): once it answers True the job or batch at hand
    finishes, claimed jobs not yet started are released, and run_once returns. `on_more` is
    called when events were left for the next round (process_events' MAX_BATCHES)."""
    settings = settings or Settings.from_env()
    worker_id = worker_id or default_worker_id()
    stop = should_stop or (lambda: False)

    def moment() -> datetime:
        return (now or _utcnow()).astimezone(timezone.utc)

    process_events(db, catalog, now=moment(), settings=settings, should_stop=stop, on_more=on_more)
    if stop():
        return 0
    sync_changed_apps(db, catalog, moment())
    ran = 0
    for _ in range(max_batches):
        if stop():
            break
        token, claimed = claim_jobs(db, moment(), worker_id=worker_id, limit=settings.batch_size,
                                    lease_seconds=settings.lease_seconds)
        if not claimed:
            break
        reminders = [job for job in claimed if job.kind == REMINDER]
        if reminders and settings.batch_reminders:
            if stop():
                released = release_jobs(db, token, [j.id for j in claimed])
                log.info("stopping: released %s claimed job(s) not started", released)
                return ran
            _run_reminder_batch(db, catalog, reminders, token, moment(), settings)
            ran += len(reminders)
            claimed = [job for job in claimed if job.kind != REMINDER]
        for i, job in enumerate(claimed):
            if stop():
                released = release_jobs(db, token, [j.id for j in claimed[i:]])
                log.info("stopping: released %s claimed job(s) not started", released)
                return ran
            run_job(db, catalog, job, token, moment(), settings)
            ran += 1
        process_events(db, catalog, now=moment(), settings=settings, should_stop=stop, on_more=on_more)
    return ran


#: How often a worker asks whether the planner's statistics went stale (a cheap query).
STATISTICS_CHECK_SECONDS = 10.0


class Worker(threading.Thread):
    """`run_once` every `interval` seconds until `stop()`; the current job always finishes."""

    def __init__(self, db: Database, catalog, settings: Settings | None = None, *, interval: float | None = None,
                 worker_id: str | None = None, statistics_every: float = STATISTICS_CHECK_SECONDS):
        super().__init__(name="formloom-worker", daemon=True)
        self.db, self.catalog = db, catalog
        self.settings = settings or Settings.from_env()
        self.interval = interval if interval is not None else self.settings.poll_interval
        self.worker_id = worker_id or default_worker_id()
        self._halt = threading.Event()
        self.wake = threading.Event()      # set() to run now (e.g. after a web write)
        self.runs = 0
        self.statistics_every = statistics_every
        self._statistics_due = 0.0         # time.monotonic() of the next statistics check

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.run_round()
            except Exception:
                if self._halt.is_set():
                    break
                log.exception("worker run failed; trying again in %ss", self.interval)
            self.runs += 1
            self.wake.wait(self.interval)
            self.wake.clear()

    def run_round(self) -> int:
        """One pass of the loop: events and due jobs, then (at most every `statistics_every`
        seconds) the planner's statistics if the data moved since they were taken."""
        # a backlog longer than one round's batches: the next round starts at once, not after
        # the poll interval (2 s idle every ~13 s of a drain, seen growing 10k records to 100k)
        ran = run_once(self.db, self.catalog, settings=self.settings, worker_id=self.worker_id,
                       should_stop=self._halt.is_set, on_more=self.wake.set)
        if not self._halt.is_set() and time.monotonic() >= self._statistics_due:
            self._statistics_due = time.monotonic() + self.statistics_every
            if refresh_if_moved(self.db):
                log.info("planner statistics refreshed: row counts moved since the last analyze")
        return ran

    def request_stop(self) -> None:
        """Ask the thread to stop after the event or job at hand (safe from a signal handler)."""
        self._halt.set()
        self.wake.set()

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Stop after the event or job at hand; True when the thread ended within `timeout`.
        If it did not (a slow delivery), it is a daemon: its claimed jobs are left to their lease."""
        self.request_stop()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        return not self.is_alive()


def start_background_worker(flask_app, settings: Settings | None = None) -> Worker:
    """The embedded default: a worker thread in the web process (`formloom run`)."""
    db = flask_app.extensions["formloom.db"]
    catalog = flask_app.extensions["formloom.catalog"]
    worker = Worker(db, catalog, settings or Settings.from_mapping(flask_app.config))
    flask_app.extensions["formloom.worker"] = worker
    worker.start()
    return worker


STOP_GRACE_SECONDS = 20.0     # after SIGTERM, how long the job at hand may take before the process exits anyway


def run_forever(db: Database, catalog, settings: Settings | None = None, *, install_signals: bool = True,
                grace: float = STOP_GRACE_SECONDS) -> None:
    """`formloom worker`: run until SIGTERM/SIGINT, finishing the event or job at hand first.
    Claimed jobs not started are released; if the job at hand outlasts `grace` (a slow
    delivery), the process exits anyway and that job is left to its lease."""
    worker = Worker(db, catalog, settings)
    if install_signals:
        def _stop(signum, frame):
            log.info("signal %s: stopping after the current job", signum)
            worker.request_stop()
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    worker.start()
    deadline = None
    while worker.is_alive():
        worker.join(0.2)
        if worker.stopping:
            deadline = deadline or time.monotonic() + grace
            if time.monotonic() > deadline:
                log.warning("the job at hand did not finish within %ss; leaving it to its lease", grace)
                return


# -- dead letters ---------------------------------------------------------------------------------------------

def dead_letters(conn: Connection, app_key: str | None = None, limit: int = 100) -> list[dict]:
    """Jobs that gave up (dead: retries exhausted; failed: a permanent failure), newest first."""
    query = select(jobs).where(jobs.c.status.in_(("dead", "failed")))
    if app_key:
        query = query.where(jobs.c.app_key == app_key)
    rows = conn.execute(query.order_by(jobs.c.finished_at.desc(), jobs.c.id.desc()).limit(limit))
    return [{"id": r.id, "kind": r.kind, "status": r.status, "app_key": r.app_key, "rule_key": r.rule_key,
             "record_id": r.record_id, "attempts": r.attempts, "last_error": r.last_error,
             "due_at": _aware(r.due_at), "finished_at": _aware(r.finished_at),
             "idempotency_key": r.idempotency_key} for r in rows]


def retry_job(conn: Connection, job_id: int, now: datetime | None = None) -> bool:
    """Put a dead or failed job back in the queue, due now, with fresh attempts."""
    return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(("dead", "failed")))
                        .values(status="pending", attempts=0, due_at=now or _utcnow(), finished_at=None,
                                lease_until=None, locked_by=None)).rowcount == 1
