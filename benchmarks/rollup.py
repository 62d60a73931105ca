"""`rollup_write_overhead`: creating a follow-up with its customer's rollups kept vs without.

Two copies of the CRM in one database: `crm` as shipped (the customer's activity in the
last 30 days is a rollup of follow-ups, re-counted in the follow-up's transaction) and
`crm_plain`, the same documents without the rollup. Each has the same customers, each
customer already holding `--per-customer` follow-ups (the re-count reads them all). Creating
one follow-up (store.records.create_record in its own transaction) is timed in alternating
blocks on both, so drift on a loaded machine hits both sides alike; the ratio is
median(with) / median(without).

    python -m benchmarks.rollup [--db sqlite|postgres] [--n 300] [--clock cpu|wall] [--pg-database NAME]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import env

GOAL = 1.3


def _plain(app_doc: dict) -> dict:
    """The CRM without its rollup fields (and the places that show them)."""
    doc = copy.deepcopy(app_doc)
    doc["key"] = "crm_plain"
    for entity in doc["entities"]:
        gone = {f["key"] for f in entity["fields"] if f.get("type") == "rollup"}
        if not gone:
            continue
        entity["fields"] = [f for f in entity["fields"] if f["key"] not in gone]
        entity["list_columns"] = [c for c in entity.get("list_columns", []) if c not in gone]
        for section in (entity.get("layout") or {}).get("sections", []):
            section["fields"] = [f for f in section["fields"]
                                 if (f if isinstance(f, str) else f["key"]) not in gone]
    return doc


def measure(kind: str, workdir: Path, n: int = 300, customers: int = 50, per_customer: int = 10,
            block: int = 10, clock=time.perf_counter, pg_database: str | None = None) -> dict:
    from formloom.resources import template_dir
    from formloom.store.apps import AppCatalog
    from formloom.store.db import Database
    from formloom.store.install import install_documents, read_template
    from formloom.store.migrate import upgrade
    from formloom.store.records import NewRecord, create_record, create_records

    url = env.fresh_database(kind, workdir, pg_database)
    upgrade(url)
    db = Database(url)
    try:
        app_doc, workflows, _source = read_template(template_dir("crm"))
        install_documents(db, app_doc, workflows)
        install_documents(db, _plain(app_doc), workflows)
        catalog = AppCatalog(db)
        apps = {"with": catalog.get("crm")[0], "without": catalog.get("crm_plain")[0]}
        now = datetime.now(timezone.utc).replace(microsecond=0)
        targets: dict[str, list[int]] = {}
        for side, app in apps.items():
            with db.write() as conn:
                made = create_records(conn, app, app.entity("customer"),
                                      [NewRecord({"name": f"Customer {i}", "industry": "manufacturing"})
                                       for i in range(customers)], actor_id=None, now=now)
                ids = [r.id for r in made]
                create_records(conn, app, app.entity("follow_up"),
                               [NewRecord(_follow_up(ids[i % customers], now - timedelta(days=i % 45)))
                                for i in range(customers * per_customer)], actor_id=None, now=now)
            targets[side] = ids
        samples: dict[str, list[float]] = {"with": [], "without": []}
        done = 0
        while done < n:
            for side in ("with", "without") if (done // block) % 2 == 0 else ("without", "with"):
                app = apps[side]
                for i in range(done, min(done + block, n)):
                    values = _follow_up(targets[side][i % customers], now - timedelta(days=i % 45))
                    started = clock()
                    with db.write() as conn:
                        create_record(conn, app, app.entity("follow_up"), values, actor_id=None)
                    samples[side].append(clock() - started)
            done += block
        with db.read() as conn:
            from formloom.store.rollups import differences
            agree = differences(conn, apps["with"]) == []
        med = {side: statistics.median(s) * 1000 for side, s in samples.items()}
        return {"n": n, "customers": customers, "follow_ups_per_customer_before": per_customer,
                "with_rollup_median_ms": med["with"], "without_rollup_median_ms": med["without"],
                "ratio": med["with"] / med["without"], "goal": GOAL, "rollups_equal_recount": agree,
                "clock": "cpu" if clock is time.thread_time else "wall"}
    finally:
        db.dispose()
        env.drop_database(kind, url, pg_database)


def _follow_up(customer_id: int, when: datetime) -> dict:
    return {"subject": "Call", "customer": customer_id, "kind": "call",
            "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "summary": "Talked about the renewal."}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rollup")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=300, help="follow-ups created on each side")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="cpu")
    parser.add_argument("--pg-database", default=f"{env.PG_DB}_rollup",
                        help="the PostgreSQL database dropped and created for the run")
    args = parser.parse_args(argv)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    with tempfile.TemporaryDirectory(prefix="formloom-bench-rollup-") as tmp:
        print(json.dumps(measure(args.db, Path(tmp), args.n, clock=clock, pg_database=args.pg_database), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
