"""The worker's speed on an event backlog (issue 16, `event_backlog_after_100k_writes`): how
many events per second one worker handles, measured in-process on its own CPU clock.

    python -m benchmarks.event_backlog --db sqlite|postgres [--first 10000] [--records 2000] [--updates 500]

A fresh database with the CRM and `first` bulk-loaded opportunities; then `records` more are
created through `POST /api/v1/crm/opportunity/bulk` (1,000 a request, as api_scale grows the
CRM) and `updates` of them PATCHed through the API (in-process client), which leaves one event
per write unprocessed. `process_events` then drains that backlog in this thread, asking
`refresh_if_moved` between rounds as the worker's loop does: events per
CPU second (this process; on PostgreSQL plus the backend's CPU, read from /proc), events per
wall second, and statements per event (counted by a cursor listener: independent of load).

`--updates 0` leaves the event mix of api_scale's bulk growth (bulk creates of opportunities
only, the entity it grows, and the events its rules write): iterate on that, then check the
mixed default.

What the processing wrote (notifications, reminder jobs by status, run logs by outcome) is
printed as counts, so two code versions run on the same data can be checked to agree.
Compare base and branch by running this alternately from each tree (PYTHONPATH=platform).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event as sa_event, func, select, text

from . import env
from .api_ops import JsonInProcess
from .api_scale import BULK_ITEMS, bulk_item


def backend_cpu(engine) -> float:
    """CPU seconds of this process's PostgreSQL backends so far (0 on SQLite)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    total = 0.0
    with engine.connect() as conn:
        pids = [r[0] for r in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))]
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def outcome(db) -> dict:
    from formloom.automation.tables import rule_runs
    from formloom.store.tables import events, jobs, notifications
    with db.read() as conn:
        return {
            "notifications": conn.execute(select(func.count()).select_from(notifications)).scalar_one(),
            "jobs": dict(Counter(f"{r.kind}:{r.status}" for r in conn.execute(select(jobs.c.kind, jobs.c.status)))),
            "rule_runs": dict(Counter(f"{r.rule_key}:{r.outcome}" for r in conn.execute(
                select(rule_runs.c.rule_key, rule_runs.c.outcome)))),
            "unprocessed": conn.execute(select(func.count()).select_from(events)
                                        .where(events.c.processed_at.is_(None))).scalar_one(),
        }


def run(kind: str, first: int, records: int, updates: int, pg_database: str, profile: bool = False) -> dict:
    from formloom.automation import Settings, process_events
    from formloom.automation.worker import STATISTICS_CHECK_SECONDS
    from formloom.store.statistics import refresh_if_moved
    from formloom.store.tables import events

    workdir = Path(tempfile.mkdtemp(prefix="event-backlog-"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    url = env.fresh_database(kind, workdir, pg_database)
    info = env.setup(url, workdir)
    owners = [info["admin_id"]] + info["owners"]
    env.load_tranche(url, 0, first, owners, now)
    flask_app = env.formloom_app(url, workdir)
    db = flask_app.extensions["formloom.db"]
    catalog = flask_app.extensions["formloom.catalog"]
    client = JsonInProcess(flask_app, info["api_tokens"]["formloom"])
    created: list[int] = []
    for start in range(first, first + records, BULK_ITEMS):
        body = {"items": [bulk_item(i, owners, now) for i in range(start, min(first + records, start + BULK_ITEMS))]}
        status, payload = client.request("POST", "/api/v1/crm/opportunity/bulk", body)
        if status != 200:
            raise RuntimeError(f"bulk: {status} {payload[:400]!r}")
        created += [item["id"] for item in json.loads(payload)["results"]]
    for n, rid in enumerate(created[:updates]):
        status, payload = client.request("PATCH", f"/api/v1/crm/opportunity/{rid}",
                                         {"data": {"amount": f"{120000 + n % 5000}.25", "need": n % 101},
                                          "version": 1})
        if status != 200:
            raise RuntimeError(f"patch: {status} {payload[:400]!r}")
    with db.read() as conn:
        backlog = conn.execute(select(func.count()).select_from(events).where(events.c.processed_at.is_(None))).scalar_one()
        catalog.app("crm", conn)               # compiled before the clock starts, as in a running worker
    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    settings = Settings.from_env()
    sa_event.listen(db.engine, "before_cursor_execute", count)
    b0 = backend_cpu(db.engine)
    c0, t0 = time.process_time(), time.perf_counter()
    handled = 0
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    statistics_due = 0.0
    while True:
        got = process_events(db, catalog, settings=settings)
        handled += got
        if got == 0:
            break
        if time.monotonic() >= statistics_due:       # as the worker's loop does (Worker.run_round)
            statistics_due = time.monotonic() + STATISTICS_CHECK_SECONDS
            refresh_if_moved(db)
    if profiler is not None:
        import pstats
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(os.environ.get("PROFILE_FILTER", ""), 40)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    sa_event.remove(db.engine, "before_cursor_execute", count)
    backend = backend_cpu(db.engine) - b0
    result = {"db": kind, "first": first, "records": records, "updates": updates, "backlog": backlog,
              "handled": handled, "cpu_s": round(cpu, 3), "backend_cpu_s": round(backend, 3), "wall_s": round(wall, 3),
              "events_per_cpu_s": round(handled / (cpu + backend), 1) if handled else None,
              "events_per_wall_s": round(handled / wall, 1) if handled else None,
              "statements_per_event": round(statements[0] / handled, 2) if handled else None,
              "load_average": list(os.getloadavg()), "outcome": outcome(db)}
    db.dispose()
    if kind == "postgres":
        env.drop_database(kind, url, pg_database)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=2_000)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print the drain's profile to stderr")
    parser.add_argument("--pg-database", default=f"{env.PG_DB}_events")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.db, args.first, args.records, args.updates, args.pg_database, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
