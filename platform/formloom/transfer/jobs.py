"""Long imports as jobs: a row in the platform's `jobs` table (kind "import") holds
what to import and how far it got; the web starts a thread for it at once, and the
worker machinery resumes it if that process dies.

Choice: the existing jobs table and worker were reused rather than a new table. A
web-started import is inserted as "running" under a lease (so no worker takes it
while it runs); "skip bad rows" imports commit the progress and the next row to
start from in the same transaction as each batch, so a worker that claims the job
after the lease expired resumes exactly there (and with upsert a re-run never
duplicates). An all-or-nothing import commits nothing until the end, so a resumed
one starts over. While a job runs in this process its live progress is kept in
memory (an all-or-nothing import holds the write transaction, so its progress
cannot be written to the database meanwhile); afterwards the row has the result.
Cancelling is a flag checked every 200 rows: an all-or-nothing import rolls back,
a skip-bad-rows import stops after its batch.
"""
from __future__ import annotations

import csv
import logging
import secrets
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from ..auth.users import load_actor
from ..automation.worker import JOB_KINDS
from ..store.tables import jobs
from .export import neutralise
from .importer import ImportOptions, ImportResult, prepare

log = logging.getLogger("formloom.transfer")
KIND = "import"
LEASE = timedelta(minutes=10)
LONG_LEASE = timedelta(hours=2)       # all-or-nothing: the lease cannot be renewed mid-transaction
SHOWN_ERRORS = 500

_live: dict[int, dict] = {}
_cancel: set[int] = set()
_lock = threading.Lock()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_job(db, *, user_id: int, app_key: str, entity_key: str, path: Path, filename: str, sheet: str | None,
               mapping: dict[int, str], options: ImportOptions, lang: str) -> int:
    payload = {"user_id": user_id, "entity_key": entity_key, "path": str(path), "filename": filename, "sheet": sheet,
               "mapping": {str(k): v for k, v in mapping.items()}, "lang": lang,
               "options": {"mode": options.mode, "dry_run": options.dry_run, "upsert_by": options.upsert_by,
                           "run_rules": options.run_rules, "override_reason": options.override_reason,
                           "child_sheets": dict(options.child_sheets or {})},
               "progress": {"total": 0, "done": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0},
               "errors": [], "next_row": 0}
    now = _now()
    lease = LEASE if options.mode == "skip-bad-rows" and not options.dry_run else LONG_LEASE
    with db.write() as conn:
        return conn.execute(insert(jobs).values(
            kind=KIND, idempotency_key=f"import:{secrets.token_hex(12)}", app_key=app_key, payload=payload,
            due_at=now, status="running", attempts=1, lease_until=now + lease, locked_by="web", created_at=now,
        )).inserted_primary_key[0]


def job_row(db, job_id: int):
    with db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.kind == KIND)).first()


def view(db, job_id: int) -> dict | None:
    """What a progress page shows: status, counts, the first errors; live while running here."""
    row = job_row(db, job_id)
    if row is None:
        return None
    payload = dict(row.payload or {})
    with _lock:
        live = _live.get(job_id)
    progress = dict(live) if live is not None and row.status == "running" else dict(payload.get("progress") or {})
    return {"id": row.id, "status": row.status, "app_key": row.app_key, "payload": payload, "progress": progress,
            "errors": payload.get("errors") or [], "error": row.last_error,
            "cancelling": job_id in _cancel and row.status == "running"}


def cancel(db, job_id: int) -> None:
    with _lock:
        running_here = job_id in _live
        _cancel.add(job_id)
    if not running_here:          # nothing in this process runs it: mark it so no worker resumes it
        with db.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(("running", "pending")))
                         .values(status="cancelled", finished_at=_now(), lease_until=None))


def start_thread(db, catalog, job_id: int) -> threading.Thread:
    thread = threading.Thread(target=run, args=(db, catalog, job_id), name=f"formloom-import-{job_id}", daemon=True)
    thread.start()
    return thread


def run(db, catalog, job_id: int, token: str = "web") -> str:
    """Run (or resume) job `job_id`; returns its final status."""
    row = job_row(db, job_id)
    if row is None or row.status not in ("running", "pending"):
        return row.status if row is not None else "missing"
    payload = dict(row.payload)
    options = ImportOptions(**payload["options"])
    start_after = int(payload.get("next_row") or 0) if options.mode == "skip-bad-rows" else 0
    with _lock:
        _live[job_id] = dict(payload.get("progress") or {})
    errors: list[dict] = list(payload.get("errors") or []) if start_after else []

    def on_progress(conn, result: ImportResult, last_row: int) -> None:
        progress = result.progress()
        if start_after:            # a resumed job: add what earlier runs did
            for key in ("created", "updated", "skipped", "failed"):
                progress[key] += int((payload.get("progress") or {}).get(key, 0))
            progress["done"] += int((payload.get("progress") or {}).get("done", 0))
        with _lock:
            _live[job_id] = progress
        if conn is not None and last_row:
            shown = (errors + [e.as_dict() for e in result.errors])[:SHOWN_ERRORS]
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                payload={**payload, "progress": progress, "errors": shown, "next_row": last_row},
                lease_until=_now() + LEASE))

    try:
        with db.read() as conn:
            actor = load_actor(conn, payload["user_id"])
        if actor is None:
            raise PermissionError("the user who started this import is no longer active")
        importer = prepare(db, catalog, row.app_key, payload["entity_key"], Path(payload["path"]), payload["filename"],
                           actor=actor, lang=payload.get("lang", "en"), sheet=payload.get("sheet"),
                           mapping={int(k): v for k, v in payload["mapping"].items()}, options=options,
                           on_progress=on_progress, cancelled=lambda: job_id in _cancel)
        result = importer.run(start_after=start_after)
        status = "cancelled" if result.cancelled else "done"
        with _lock:
            progress = dict(_live.get(job_id) or result.progress())
        shown = (errors + [e.as_dict() for e in result.errors])[:SHOWN_ERRORS]
        bad = _write_bad_rows(Path(payload["path"]), job_id, importer.table.headers, result.bad_rows,
                              append=bool(start_after))
        with db.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status=status, finished_at=_now(), lease_until=None,
                payload={**payload, "progress": {**progress, "committed": result.committed},
                         "errors": shown, "bad_rows": str(bad) if bad else None,
                         "next_row": payload.get("next_row", 0)}))
        return status
    except Exception as error:        # the job row says what went wrong; the thread never dies silently
        log.exception("import job %s failed", job_id)
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        with db.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                status="failed", finished_at=_now(), lease_until=None, last_error=message[:4000]))
        return "failed"
    finally:
        with _lock:
            _live.pop(job_id, None)
            _cancel.discard(job_id)


def _write_bad_rows(source: Path, job_id: int, headers: list[str], bad_rows: list, append: bool) -> Path | None:
    """The rows that failed, as they were, with an error column: fix them and import this file."""
    if not bad_rows:
        return None
    target = source.with_name(f"{source.stem}.job{job_id}.bad.csv")
    new = not (append and target.exists())
    with target.open("a" if not new else "w", encoding="utf-8-sig" if new else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        if new:
            writer.writerow([*headers, "error"])
        for _number, cells, message in bad_rows:
            writer.writerow([neutralise(c) for c in cells] + [neutralise(message)])
    return target


def _run_claimed(db, catalog, job, token, now, settings) -> str:
    """The worker's handler: resume a job whose process died (its lease expired)."""
    return run(db, catalog, job.id, token)


JOB_KINDS.setdefault(KIND, _run_claimed)
