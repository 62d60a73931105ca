"""`index_write_overhead` (issue 16): what every write pays for indexes nobody queries by.

    python -m benchmarks.indexes [--db sqlite|postgres|both] [--creates N] [--bulk N] [--rounds R]

One database with the CRM and the benchmark's first 10,000 opportunities (benchmarks/data.py),
measured in two states, alternately, round after round: "policy" (the indexes the app's
queries use: store/index_policy.py) and "automatic" (before issue 16: every single-valued
number, money, date, datetime, select, checkbox and reference field, plus those marked
indexed — 17 on the opportunity instead of 6). The extra indexes are created or dropped
between rounds, untimed; everything else (rows, statistics, caches) is the same database.

Timed, by this thread's CPU time (in-process, SQLite: all of a request's work is in this
thread; on PostgreSQL the server's share is not counted, so its ratio understates the cost):
- `api_create`: N single creates, POST /api/v1/crm/opportunity, the JSON API's body;
- `bulk_create`: N creates through POST /api/v1/crm/opportunity/bulk, 1,000 per request
  (the path imports write through);
- `sql_insert`: the database's share alone: N stored opportunity rows inserted again by one
  executemany, rolled back (what the indexes cost with none of the engine's Python around it).
`index_write_overhead` is automatic / policy, the median over rounds for each.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import data as D
from . import env
from .api_ops import JsonInProcess, formloom_api_side


def legacy_fields(app):
    """The rule before issue 16: a field was indexed for its type alone."""
    from formloom.fields import field_type
    for entity in app.entities:
        for f in entity.fields:
            if (f.indexed or field_type(f.type).indexed_by_default) and not f.multiple and not f.archived:
                yield entity, f


def extra_indexes(app) -> list[tuple]:
    from formloom.store.index_policy import wanted_indexes
    wanted = {(w.entity.key, w.field.key) for w in wanted_indexes(app)}
    return [(e, f) for e, f in legacy_fields(app) if (e.key, f.key) not in wanted and e.key == "opportunity"]


def set_state(db, app, extra: list[tuple], automatic: bool) -> None:
    from formloom.store.expressions import create_index_sql, index_name
    dialect = db.engine.dialect.name
    with db.write() as conn:
        for entity, f in extra:
            if automatic:
                conn.exec_driver_sql(create_index_sql(dialect, app.key, entity.key, f))
            else:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index_name(app.key, entity.key, f.key)}")
    if automatic:
        from formloom.store.statistics import refresh_statistics
        refresh_statistics(db)


def bulk_bodies(app, customers: list[int], contact_of: dict, n: int, per: int, tag: str) -> list[bytes]:
    sources = [o.value for o in app.entity("opportunity").field("source").options]
    today = datetime.now(timezone.utc).date()
    bodies = []
    for start in range(0, n, per):
        items = []
        for k in range(start, min(start + per, n)):
            customer = customers[k % len(customers)]
            items.append({"data": {
                "name": f"Index deal {tag} {k}", "customer": customer, "decision_maker": contact_of.get(customer),
                "amount": f"{1000 + (k * 7919) % 2_000_000}.50", "source": sources[k % len(sources)],
                "expected_close": (today + timedelta(days=k % 200)).isoformat(), "need": k % 101,
                "budget_fit": (k * 3) % 101, "authority": (k * 7) % 101, "timing": (k * 11) % 101,
                "competitor_count": k % 5, "risk": "low", "budget_confirmed": bool(k % 2),
                "proposal_date": (today - timedelta(days=k % 90)).isoformat()}})
        bodies.append(json.dumps({"items": items}).encode())
    return bodies


def sql_insert(db, rows: list[dict]) -> float:
    """CPU seconds to insert `rows` into records in one statement, then roll back."""
    from formloom.store.tables import records
    with db.engine.connect() as conn:
        tx = conn.begin()
        t0 = time.thread_time()
        conn.execute(records.insert(), rows)
        spent = time.thread_time() - t0
        tx.rollback()
    return spent


def run(kind: str, creates: int, bulk: int, rounds: int, workdir: Path, pg_database: str | None = None) -> dict:
    from sqlalchemy import select
    from formloom.store.index_catalog import field_indexes
    from formloom.store.tables import records
    now = datetime.now(timezone.utc).replace(microsecond=0)
    pg_database = pg_database or env.PG_DB + "_ix"
    url = env.fresh_database(kind, workdir, pg_database)
    info = env.setup(url, workdir)
    env.load_tranche(url, 0, D.FIRST, [info["admin_id"]] + info["owners"], now)
    fapp = env.formloom_app(url, workdir)
    db = fapp.extensions["formloom.db"]
    app, _v = fapp.extensions["formloom.catalog"].get("crm")
    extra = extra_indexes(app)
    side = formloom_api_side([])
    client = JsonInProcess(fapp, info["api_tokens"]["formloom"])
    with db.read() as conn:
        customers = conn.execute(select(records.c.id).where(
            records.c.app_key == "crm", records.c.entity_key == "customer", records.c.deleted_at.is_(None))
            .order_by(records.c.id).limit(400)).scalars().all()
        contact_of = {}
        for r in conn.execute(select(records.c.id, records.c.data).where(
                records.c.app_key == "crm", records.c.entity_key == "contact").order_by(records.c.id).limit(4000)):
            contact_of.setdefault(r.data.get("customer"), r.id)
    with db.read() as conn:
        template = [dict(r._mapping) for r in conn.execute(select(records).where(
            records.c.app_key == "crm", records.c.entity_key == "opportunity").order_by(records.c.id).limit(2000))]
    for row in template:
        row.pop("id")
    headers = {"Authorization": f"Bearer {info['api_tokens']['formloom']}", "Content-Type": "application/json"}
    samples = {state: {"api_create_ms": [], "api_create_wall_ms": [], "bulk_rows_per_cpu_s": [],
                       "bulk_rows_per_wall_s": [], "sql_rows_per_cpu_s": []} for state in ("policy", "automatic")}
    present = {}
    n = 0
    try:
        for r in range(rounds):
            order = ("policy", "automatic") if r % 2 == 0 else ("automatic", "policy")
            for state in order:
                set_state(db, app, extra, state == "automatic")
                with db.read() as conn:
                    present[state] = len(field_indexes(conn, "crm"))
                for _ in range(5):          # warm-up after the DDL (plans, caches)
                    client.request("POST", side.collection, side.create_body(900_000 + n))
                    n += 1
                times, walls = [], []
                for _ in range(creates):
                    body = side.create_body(n)
                    n += 1
                    t0, w0 = time.thread_time(), time.perf_counter()
                    status, payload = client.request("POST", side.collection, body)
                    times.append(time.thread_time() - t0)
                    walls.append(time.perf_counter() - w0)
                    if status != 201:
                        raise RuntimeError(f"create: {status} {payload[:300]!r}")
                samples[state]["api_create_ms"].append(statistics.median(times) * 1000)
                samples[state]["api_create_wall_ms"].append(statistics.median(walls) * 1000)
                bodies = bulk_bodies(app, customers, contact_of, bulk, 1000, f"{state}{r}")
                test_client = fapp.test_client()
                c0, w0 = time.thread_time(), time.perf_counter()
                for body in bodies:
                    response = test_client.post("/api/v1/crm/opportunity/bulk", data=body, headers=headers)
                    if response.status_code not in (200, 201):
                        raise RuntimeError(f"bulk: {response.status_code} {response.data[:300]!r}")
                samples[state]["bulk_rows_per_cpu_s"].append(bulk / (time.thread_time() - c0))
                samples[state]["bulk_rows_per_wall_s"].append(bulk / (time.perf_counter() - w0))
                samples[state]["sql_rows_per_cpu_s"].append(len(template) / sql_insert(db, template))
                print(time.strftime("%H:%M:%S"), kind, "round", r, state,
                      f"create {samples[state]['api_create_ms'][-1]:.2f} ms",
                      f"bulk {samples[state]['bulk_rows_per_cpu_s'][-1]:.0f} rows/cpu-s",
                      f"sql {samples[state]['sql_rows_per_cpu_s'][-1]:.0f} rows/cpu-s", file=sys.stderr, flush=True)
    finally:
        db.dispose()
        env.drop_database(kind, url, pg_database)
    med = {state: {k: statistics.median(v) for k, v in s.items()} for state, s in samples.items()}
    return {
        "extra_indexes_on_opportunity": [f.key for _e, f in extra],
        "indexes_on_opportunity": {"policy": sum(1 for e, _f in legacy_fields(app) if e.key == "opportunity")
                                   - len(extra), "automatic": sum(1 for e, _f in legacy_fields(app)
                                                                  if e.key == "opportunity")},
        "field_indexes_of_the_app": present, "rounds": rounds, "creates_per_round": creates, "bulk_rows_per_round": bulk, "clock": "thread CPU",
        "samples": samples, "median": med,
        "index_write_overhead": {
            "api_create": med["automatic"]["api_create_ms"] / med["policy"]["api_create_ms"],
            "bulk_create": med["policy"]["bulk_rows_per_cpu_s"] / med["automatic"]["bulk_rows_per_cpu_s"],
            "sql_insert": med["policy"]["sql_rows_per_cpu_s"] / med["automatic"]["sql_rows_per_cpu_s"],
            "api_create_wall": med["automatic"]["api_create_wall_ms"] / med["policy"]["api_create_wall_ms"],
            "bulk_create_wall": med["policy"]["bulk_rows_per_wall_s"] / med["automatic"]["bulk_rows_per_wall_s"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.indexes")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--creates", type=int, default=100)
    parser.add_argument("--bulk", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--write-latest", action="store_true",
                        help="also record the result as index_write_overhead in benchmarks/results/latest.json")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(prefix="formloom-bench-") as tmp:
        out = {kind: run(kind, args.creates, args.bulk, args.rounds, Path(tmp)) for kind in kinds}
    print(json.dumps(out, indent=1))
    if args.write_latest:
        write_latest(out)
    return 0


def write_latest(out: dict) -> None:
    """Put this run beside `make bench`'s figures (latest.json), saying when, where and at what load."""
    import os
    from .run import RESULTS, source_state
    path = RESULTS / "latest.json"
    latest = json.loads(path.read_text()) if path.exists() else {}
    latest["index_write_overhead"] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "source": source_state(),
        "load_average": os.getloadavg(), "command": "python -m benchmarks.indexes " + " ".join(sys.argv[1:]),
        "by_db": {kind: {"ratios": r["index_write_overhead"], "median": r["median"],
                         "indexes_on_opportunity": r["indexes_on_opportunity"], "rounds": r["rounds"]}
                  for kind, r in out.items()}}
    path.write_text(json.dumps(latest, indent=2, default=str) + "\n")     # as run.py writes it


if __name__ == "__main__":
    sys.exit(main())
