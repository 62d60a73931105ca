"""The four soak scenarios. Each is bounded in time and count, talks to the server over
loopback only, and returns its figures as an ordered list of (name, value) pairs;
`problems` are the figures that must be zero for the run to pass."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .harness import Client, Server, Site, Worker

TICKETS = "/api/v1/helpdesk/ticket"


@dataclass
class Result:
    scenario: str
    figures: list[tuple[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: object, must_be_zero: bool = False) -> None:
        self.figures.append((name, value))
        if must_be_zero and value:
            self.problems.append(f"{self.scenario}: {name} = {value}")


def _status_key(status: int | None) -> str:
    return "conn-error" if status is None else str(status)


# -- 1. concurrent writers with version checks -------------------------------------------

def lost_updates(site: Site, writers: int = 16, increments: int = 25, seconds: float = 60) -> Result:
    """`writers` threads each add 1 to one ticket's counter `increments` times: read,
    PATCH with the version read, retry on 409. Every 200 is one increment the server
    promised; the final value must equal their number (a lost update is a promise broken)."""
    result = Result("concurrent writers")
    server = Server(site)
    try:
        status, created = Client(server.port, site.token).call(
            "POST", TICKETS, {"data": {"subject": "Shared counter", "hours_spent": 0}})
        assert status == 201, (status, created)
        path = f"{TICKETS}/{created['id']}"
        acked, statuses, lock = Counter(), Counter(), threading.Lock()
        deadline = time.monotonic() + seconds

        def write(n: int) -> None:
            client = Client(server.port, site.token)
            done = 0
            while done < increments and time.monotonic() < deadline:
                try:
                    _s, record = client.call("GET", path)
                    status, _body = client.call("PATCH", path, {"data": {"hours_spent":
                                                                         record["data"]["hours_spent"] + 1},
                                                                "version": record["version"]})
                except OSError:
                    status = None
                with lock:
                    statuses[_status_key(status)] += 1
                    if status == 200:
                        acked["ok"] += 1
                if status == 200:
                    done += 1
            client.close()

        started = time.monotonic()
        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        final = Client(server.port, site.token).call("GET", path)[1]["data"]["hours_spent"]
        audited = site.scalar("SELECT count(*) FROM audit WHERE record_id = :id AND action = 'update'",
                              id=created["id"])
        result.add("writers", writers)
        result.add("acknowledged updates (200)", acked["ok"])
        result.add("version conflicts (409)", statuses["409"])
        result.add("lost updates", acked["ok"] - final, must_be_zero=True)
        result.add("audit rows != acknowledged", abs(audited - acked["ok"]), must_be_zero=True)
        result.add("5xx answers", sum(v for k, v in statuses.items() if k.startswith("5")), must_be_zero=True)
        result.add("updates/s", round(acked["ok"] / elapsed, 1))
    finally:
        server.stop()
    return result


# -- 2. kill -9 of the server mid-burst -------------------------------------------------------

def server_killed(site: Site, writers: int = 8, burst: int = 300, seconds: float = 30) -> Result:
    """`writers` threads create tickets; after `burst` acknowledged creates (or `seconds`)
    the server gets SIGKILL. After a restart every acknowledged ticket must be there with
    its subject, every stored ticket must have exactly one "create" audit row at version 1,
    and no audit row may point at nothing."""
    result = Result("server kill -9 mid-burst")
    earlier = {row[0] for row in site.rows("SELECT id FROM records")}
    server = Server(site)
    acked: dict[int, str] = {}
    statuses, lock = Counter(), threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def write(n: int) -> None:
        client = Client(server.port, site.token, timeout=10)
        i = 0
        while not stop.is_set() and time.monotonic() < deadline:
            subject = f"burst {n}-{i}"
            i += 1
            try:
                status, body = client.call("POST", TICKETS, {"data": {"subject": subject, "severity": "s3"}})
            except OSError:
                with lock:
                    statuses["conn-error"] += 1
                time.sleep(0.05)
                continue
            with lock:
                statuses[_status_key(status)] += 1
                if status == 201:
                    acked[body["id"]] = subject
        client.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    while len(acked) < burst and time.monotonic() < deadline:
        time.sleep(0.01)
    killed_at_acked = len(acked)
    server.kill9()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    restarted = Server(site)
    try:
        restart_seconds = time.monotonic() - restarted.started
        stored = {i: data for i, data in site.rows("SELECT id, data FROM records WHERE app_key = 'helpdesk' "
                                                     "AND entity_key = 'ticket'") if i not in earlier}
        missing = [i for i in acked if i not in stored]
        wrong = [i for i, subject in acked.items() if i in stored and _subject(stored[i]) != subject]
        creates = dict(site.rows("SELECT record_id, count(*) FROM audit WHERE action = 'create' "
                                 "AND entity_key = 'ticket' AND record_version = 1 GROUP BY record_id"))
        unaudited = [i for i in stored if creates.get(i) != 1]
        orphans = site.scalar("SELECT count(*) FROM audit a WHERE NOT EXISTS "
                              "(SELECT 1 FROM records r WHERE r.id = a.record_id)")
        status, _ = Client(restarted.port, site.token).call("POST", TICKETS, {"data": {"subject": "after restart"}})
        result.add("acknowledged creates", len(acked))
        result.add("acknowledged when killed", killed_at_acked)
        result.add("stored, not acknowledged (in flight)", len(stored) - len(set(stored) & set(acked)))
        result.add("acknowledged but missing", len(missing), must_be_zero=True)
        result.add("stored with other values", len(wrong), must_be_zero=True)
        result.add("records without one create audit", len(unaudited), must_be_zero=True)
        result.add("audit rows without a record", orphans, must_be_zero=True)
        result.add("write after restart", status)
        if status != 201:
            result.problems.append(f"{result.scenario}: a write after the restart answered {status}")
        result.add("restart to first answer (s)", round(restart_seconds, 1))
        result.add("connection errors seen by clients", statuses["conn-error"])
    finally:
        restarted.stop()
    return result


def _subject(data) -> str | None:
    if isinstance(data, str):
        import json
        data = json.loads(data)
    return data.get("subject")


# -- 3. kill -9 of a worker mid-batch -----------------------------------------------------------

def worker_killed(site: Site, tickets: int = 200, lead: float = 6, lease: float = 4, seconds: float = 90) -> Result:
    """`tickets` tickets get a call-back time `lead` seconds ahead, so one reminder each
    falls due at once. A worker turns them into reminders and starts firing; when some but
    not all have fired it gets SIGKILL, and a second worker finishes (taking over the
    killed one's claimed jobs after their `lease`). Every reminder must fire exactly once."""
    from formloom.store.records import create_record
    result = Result("worker kill -9 mid-batch")
    app = _helpdesk(site)
    callback = (datetime.now(timezone.utc) + timedelta(seconds=lead)).isoformat()
    with site.db.write() as conn:
        ids = [create_record(conn, app, app.entity("ticket"), {"subject": f"call back {i}", "callback_at": callback},
                             actor_id=site.admin_id, owner_id=site.admin_id).id for i in range(tickets)]
    count_sql = ("SELECT count(*) FROM notifications WHERE app_key = 'helpdesk' AND record_id IN "
                 f"({','.join(str(i) for i in ids)})")
    deadline = time.monotonic() + seconds
    first = Worker(site, lease)
    fired_at_kill = 0
    while time.monotonic() < deadline:
        fired_at_kill = site.scalar(count_sql)
        if fired_at_kill > 0:
            break
        time.sleep(0.01)
    first.kill9()
    fired_at_kill = site.scalar(count_sql)
    running = site.scalar("SELECT count(*) FROM jobs WHERE kind = 'reminder' AND status = 'running'")
    second = Worker(site, lease)
    try:
        while time.monotonic() < deadline:
            pending = site.scalar("SELECT count(*) FROM jobs WHERE kind = 'reminder' "
                                  "AND status IN ('pending', 'running')")
            if pending == 0 and site.scalar(count_sql) >= tickets:
                break
            time.sleep(0.2)
    finally:
        second.stop()
    per_record = Counter(dict(site.rows(
        "SELECT record_id, count(*) FROM notifications WHERE app_key = 'helpdesk' GROUP BY record_id")))
    result.add("reminders due at once", tickets)
    result.add("fired before the kill", fired_at_kill)
    result.add("claimed (running) at the kill", running)
    result.add("never fired", sum(1 for i in ids if per_record[i] == 0), must_be_zero=True)
    result.add("fired more than once", sum(1 for i in ids if per_record[i] > 1), must_be_zero=True)
    return result


def _helpdesk(site: Site):
    from formloom.store.apps import AppCatalog
    return AppCatalog(site.db).app("helpdesk")


# -- 4. the database cut and restored ---------------------------------------------------------

#: how each kind of outage is made, and the name its figures are shown under
CUTS = {
    "pg_terminate_backend": "database cut (pg_terminate_backend every 50 ms)",
    "read-only file": "database file made read-only (chmod 444)",
    "exclusive lock": "database locked past the 30 s busy timeout",
}


def database_cut(site: Site, method: str, writers: int = 4, before: float = 2, cut: float = 4,
                 after: float = 6) -> Result:
    """Writers create tickets before, during and after an outage of `cut` seconds, made by
    `method`: PostgreSQL, every connection of the server terminated again and again;
    SQLite, the file made read-only (the server runs without root's power to ignore file
    modes), or the file held under an exclusive lock by another process. Counts the answers
    during the outage by status and the time from the restore to the first acknowledged write."""
    result = Result(CUTS[method])
    server = Server(site)
    phase = {"name": "before"}
    statuses: dict[str, Counter] = {"before": Counter(), "cut": Counter(), "after": Counter()}
    first_ok_after: list[float] = []
    lock, stop = threading.Lock(), threading.Event()
    restored_at: list[float] = []

    def write(n: int) -> None:
        client = Client(server.port, site.token, timeout=60)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _body = client.call("POST", TICKETS, {"data": {"subject": f"outage {n}-{i}"}})
            except OSError:
                status = None
                time.sleep(0.05)
            with lock:
                statuses[phase["name"]][_status_key(status)] += 1
                if status == 201 and phase["name"] == "after" and not first_ok_after:
                    first_ok_after.append(time.monotonic())

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    try:
        time.sleep(before)
        with lock:
            phase["name"] = "cut"
        with _outage(site, method, cut):
            pass
        with lock:
            phase["name"] = "after"
            restored_at.append(time.monotonic())
        time.sleep(after)
    finally:
        stop.set()
        for t in threads:
            t.join()
        health = Client(server.port, None).call("GET", "/healthz")[0]
        server.stop()
    during = statuses["cut"]
    result.add("writes before the cut (201)", statuses["before"]["201"])
    result.add("answers during the cut", sum(during.values()))
    for label, codes in (("2xx", lambda k: k[0] == "2"), ("500", lambda k: k == "500"),
                         ("503", lambda k: k == "503"), ("other 4xx/5xx", lambda k: k[0] in "45" and k not in
                                                          ("500", "503")),
                         ("connection errors", lambda k: k == "conn-error")):
        result.add(f"  during the cut: {label}", sum(v for k, v in during.items() if codes(k)))
    # reported, not judged: outage handling (503 + Retry-After) is its own item of work
    result.add("5xx answers (any phase)", sum(v for c in statuses.values() for k, v in c.items() if k[0] == "5"))
    recovered = round(first_ok_after[0] - restored_at[0], 2) if first_ok_after else None
    result.add("restore to first acknowledged write (s)", recovered)
    if recovered is None:
        result.problems.append(f"{result.scenario}: no write succeeded after the restore")
    result.add("writes after the restore (201)", statuses["after"]["201"])
    result.add("non-2xx after recovery", sum(v for k, v in statuses["after"].items() if k != "201")
               if recovered is not None else None)
    result.add("/healthz at the end", health)
    return result


class _outage:
    """Context manager: the database is unusable to the server for `seconds`, then restored."""

    def __init__(self, site: Site, method: str, seconds: float):
        self.site, self.method, self.seconds = site, method, seconds

    def __enter__(self):
        backend = self.site.backend
        end = time.monotonic() + self.seconds
        if self.method == "pg_terminate_backend":
            from sqlalchemy import text
            from formloom.store.db import Database
            admin = Database(backend.pg_admin_url)
            with admin.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                while time.monotonic() < end:
                    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                                 {"name": backend.pg_schema})
                    time.sleep(0.05)
            admin.dispose()
        elif self.method == "read-only file":
            paths = [p for p in backend.workdir.glob("soak.db*")]
            modes = {p: p.stat().st_mode for p in paths}
            for p in paths:
                p.chmod(0o444)
            time.sleep(self.seconds)
            for p, mode in modes.items():
                p.chmod(mode)
        else:
            holder = sqlite3.connect(str(backend.sqlite_path), timeout=30, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            time.sleep(self.seconds)
            holder.execute("ROLLBACK")
            holder.close()
        return self

    def __exit__(self, *exc):
        return False
