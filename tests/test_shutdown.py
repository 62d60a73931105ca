"""SIGTERM stops `formloom run` and `formloom worker` promptly on SQLite and on PostgreSQL,
even with a large backlog of events: the worker stops after the event or job at hand,
claimed jobs not started go back to the queue, and requests in flight get their answers.

The commands run as real subprocesses; a stop is awaited by polling, with a generous bound."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

import formloom
from formloom.auth.users import create_user
from formloom.store.apps import AppCatalog
from formloom.store.db import Database
from formloom.store.records import create_record
from formloom.store.tables import events, jobs, metadata

from .automation.conftest import install
from .conftest import PG_URL

UTC = timezone.utc
BACKLOG = 30_000            # events; far more than a worker handles between two polls
STOP_BOUND = 25.0           # seconds: generous; the old behaviour waited 30 s on the worker thread
TOUCHED = {"key": "touched", "trigger": {"type": "record_updated"},
           "actions": [{"type": "notify", "to": ["owner"], "message": "{{ record.subject }} changed"}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request, tmp_path, _migrated_sqlite):
    if request.param == "sqlite":
        path = tmp_path / "formloom.db"
        shutil.copy(_migrated_sqlite, path)
        return f"sqlite:///{path}"
    if not PG_URL:
        pytest.skip("PostgreSQL variant: set FORMLOOM_TEST_DATABASE_URL to run it")
    url = request.getfixturevalue("_migrated_postgres")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], url: str, tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=url, FORMLOOM_INSTANCE=str(tmp_path / "instance"), SECRET_KEY="s",
               PYTHONPATH=str(Path(formloom.__file__).resolve().parent.parent))
    env.pop("SMTP_URL", None)
    with open(tmp_path / f"{args[0]}.log", "wb") as log:       # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "formloom", *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _stops_after_sigterm(proc: subprocess.Popen, tmp_path: Path) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        _wait_for(lambda: proc.poll() is not None, STOP_BOUND, "the process to exit after SIGTERM")
    except AssertionError:
        proc.kill()
        proc.wait()
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
        raise AssertionError(f"still running {STOP_BOUND}s after SIGTERM; output:\n{logs}") from None
    return proc.returncode


def _backlog(url: str) -> Database:
    """The support app with a rule on every update, a ticket, and BACKLOG unprocessed updates of it."""
    db = Database(url)
    install(db, [TOUCHED])
    app = AppCatalog(db).app("support")
    with db.write() as conn:
        ann = create_user(conn, "ann@example.com", "long-enough-1", roles=[("support", "agent")])
        ticket = create_record(conn, app, app.entity("ticket"), {"subject": "Printer"}, actor_id=ann, owner_id=ann)
        now = datetime.now(UTC)
        row = {"app_key": "support", "entity_key": "ticket", "record_id": ticket.id, "type": "record_updated",
               "payload": {"actor": ann, "fields": ["subject"], "stage": ticket.stage}, "depth": 0,
               "created_at": now}
        for _ in range(0, BACKLOG, 5000):
            conn.execute(insert(events), [row] * 5000)
    return db


def _processed(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(events)
                            .where(events.c.processed_at.is_not(None))).scalar_one()


def _livez(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_run_stops_on_sigterm_in_the_middle_of_a_large_backlog(backend_url, tmp_path):
    db = _backlog(backend_url)
    port = _free_port()
    proc = _start(["run", "--port", str(port)], backend_url, tmp_path)
    try:
        _wait_for(lambda: _livez(port), 60, "the server to answer /livez")
        _wait_for(lambda: _processed(db) > 0, 60, "the background worker to start on the backlog")
        assert _processed(db) < BACKLOG // 2, "the backlog must still be there when the signal comes"
        assert _stops_after_sigterm(proc, tmp_path) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()


def test_worker_stops_on_sigterm_in_the_middle_of_a_large_backlog(backend_url, tmp_path):
    db = _backlog(backend_url)
    proc = _start(["worker"], backend_url, tmp_path)
    try:
        _wait_for(lambda: _processed(db) > 0, 60, "the worker to start on the backlog")
        assert _processed(db) < BACKLOG // 2, "the backlog must still be there when the signal comes"
        assert _stops_after_sigterm(proc, tmp_path) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()


def test_a_stopped_worker_releases_the_jobs_it_claimed_but_did_not_start(backend_url, tmp_path):
    db = Database(backend_url)
    install(db, [])
    now = datetime.now(UTC) - timedelta(minutes=1)
    with db.write() as conn:
        conn.execute(insert(jobs), [{"kind": "email", "idempotency_key": f"mail-{i}", "app_key": "support",
                                     "payload": {"to": ["x@example.com"], "subject": "s", "body": "b"},
                                     "due_at": now, "status": "pending", "attempts": 0, "created_at": now}
                                    for i in range(20_000)])
    proc = _start(["worker"], backend_url, tmp_path)
    try:
        def done() -> int:
            with db.read() as conn:
                return conn.execute(select(func.count()).select_from(jobs).where(jobs.c.status == "done")).scalar_one()
        _wait_for(lambda: done() > 0, 60, "the worker to start on the jobs")
        assert done() < 10_000, "the jobs must still be there when the signal comes"
        assert _stops_after_sigterm(proc, tmp_path) == 0
        with db.read() as conn:
            running = conn.execute(select(func.count()).select_from(jobs).where(jobs.c.status == "running")).scalar_one()
            recounted = conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.status == "pending", jobs.c.attempts != 0)).scalar_one()
        assert running == 0 and recounted == 0          # released as if never claimed
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()


# -- the graceful server, in process --------------------------------------------------------------

def test_requests_in_flight_finish_and_new_connections_are_refused_once_stopping():
    from formloom import serving

    entered, release = threading.Event(), threading.Event()

    def slow_app(environ, start_response):
        entered.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"finished " * 1000]

    port = _free_port()
    stop = threading.Event()
    stopped = []
    server = threading.Thread(target=lambda: (serving.serve(slow_app, host="127.0.0.1", port=port, threads=2,
                                                            stop=stop, on_stop=lambda: stopped.append(True)),
                                              stopped.append("returned")), daemon=True)
    server.start()
    _wait_for(lambda: _connects(port), 10, "the server to listen")
    answers = []
    client = threading.Thread(target=lambda: answers.append(
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20).read()), daemon=True)
    client.start()
    assert entered.wait(10)
    stop.set()                                          # what SIGTERM does
    _wait_for(lambda: not _connects(port), 10, "the listening socket to close")
    assert stopped == [True]                            # on_stop ran before the drain
    release.set()
    client.join(10)
    server.join(10)
    assert answers == [b"finished " * 1000]             # the request in flight got its whole answer
    assert stopped == [True, "returned"]


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
