"""Import and export benchmarks (issue 15), each in a child process so its peak RSS is its own.

    python -m benchmarks.transfer import --url URL --n 100000 --workdir DIR
    python -m benchmarks.transfer bulk --url URL --n 10000 --per 1000 --workdir DIR
    python -m benchmarks.transfer export --url URL --fmt csv|xlsx --workdir DIR
    python -m benchmarks.transfer suite --db sqlite|postgres [--import-rows N] [--export-rows N]

suite (`make bench-transfer`): a fresh database with the CRM and the benchmark's users,
the first 10,000 opportunities bulk-loaded, `import_rows_per_s` over --import-rows rows,
`bulk_create_10k_s` (--bulk-rows opportunities through the bulk API, 1,000 per request), then the opportunities grown to --export-rows and exported as CSV and XLSX
(`export_1m_s` at the default 1,000,000); written to benchmarks/results/transfer-<db>.json.
Wall-clock rates are given with the process's CPU seconds beside them: on a shared machine
the wall clock also counts other people's work.

import: writes a CSV of N CRM opportunities as people write them (customer and decision
maker by title, source by its label, money with a currency sign and thousands separators,
dates with slashes) and imports it through `formloom.transfer` as the admin: conversion,
validation, formulas, policy, references resolved, audit rows (via "import: ..."), outbox
events, in skip-bad-rows mode (batches of 500). The rate counts rows per second of the
import itself (not writing the CSV). The imported records are then retired (soft-deleted,
untimed) so the rest of the benchmark sees the same live data as the baseline.

export: streams every live opportunity the admin sees (the list's query, default sort)
as CSV (generator) or XLSX (write-only workbook) into a temporary file; reports rows,
seconds and peak RSS.
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["Opportunity name", "客户", "Decision maker", "Amount", "Source channel", "预计成交日期", "Need",
          "Budget fit", "Authority", "Timing", "Competitors", "Budget confirmed"]


def _peak_mb() -> float:
    """This process's own peak RSS: VmHWM (its memory map's high-water mark). ru_maxrss is not
    used: on Linux it also counts the parent's resident set copied at fork, before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cmd_import(args) -> dict:
    from sqlalchemy import select, update
    from formloom.auth.users import load_actor, user_id_by_email
    from formloom.store.apps import AppCatalog
    from formloom.store.db import Database
    from formloom.store.tables import records
    from formloom.transfer.importer import ImportOptions, prepare
    from . import env
    db = Database(args.url)
    catalog = AppCatalog(db)
    app, _version = catalog.get("crm")
    with db.read() as conn:
        admin = load_actor(conn, user_id_by_email(conn, env.ADMIN_EMAIL))
        customers = conn.execute(select(records.c.title).where(
            records.c.app_key == "crm", records.c.entity_key == "customer", records.c.deleted_at.is_(None))
            .order_by(records.c.id).limit(500)).scalars().all()
        contacts = {r.data.get("customer"): r.title for r in conn.execute(select(records).where(
            records.c.app_key == "crm", records.c.entity_key == "contact", records.c.deleted_at.is_(None))
            .order_by(records.c.id).limit(2000))}
        ids = {r.title: r.id for r in conn.execute(select(records.c.id, records.c.title).where(
            records.c.app_key == "crm", records.c.entity_key == "customer", records.c.title.in_(customers)))}
    sources = [o.label.get("en") for o in app.entity("opportunity").field("source").options]
    path = Path(args.workdir) / "import-bench.csv"
    today = datetime.now(timezone.utc).date()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for k in range(args.n):
            customer = customers[k % len(customers)]
            cents = 1_000_00 + (k * 7919) % 2_000_000_00
            writer.writerow([f"Imported deal {k}", customer, contacts.get(ids.get(customer), ""),
                             f"¥{cents // 100:,}.{cents % 100:02d}", sources[k % len(sources)],
                             (today + timedelta(days=k % 200)).strftime("%Y/%m/%d"), k % 101, (k * 3) % 101,
                             (k * 7) % 101, (k * 11) % 101, k % 5, "是" if k % 2 else "否"])
    importer = prepare(db, catalog, "crm", "opportunity", path, path.name, actor=admin,
                       options=ImportOptions(mode="skip-bad-rows"))
    assert len(importer.mapping) == len(HEADER), importer.mapping
    t0, c0 = time.perf_counter(), time.process_time()
    result = importer.run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_mb()
    with db.write() as conn:        # retire them (untimed): the rest of the benchmark keeps its data
        conn.execute(update(records).where(records.c.app_key == "crm", records.c.entity_key == "opportunity",
                                           records.c.title.like("Imported deal %"))
                     .values(deleted_at=datetime.now(timezone.utc)))
    db.dispose()
    path.unlink()
    return {"rows": args.n, "created": result.created, "failed": result.failed, "seconds": seconds,
            "rows_per_s": args.n / seconds, "cpu_seconds": cpu, "rows_per_cpu_s": args.n / cpu, "peak_rss_mb": peak,
            "first_errors": [e.as_dict() for e in result.errors[:3]]}


def _cmd_bulk(args) -> dict:
    """`bulk_create_10k_s`: --n CRM opportunities created through POST /api/v1/crm/opportunity/bulk
    in requests of --per items, in-process (the Flask test client: the whole WSGI app, token
    authentication, JSON parsing, the body's check, policy, validation, formulas, references
    read through the policy, audit rows, outbox events, one transaction per request; no
    socket). The bodies are encoded before the clock starts: that is the client's work."""
    from sqlalchemy import select, update
    from formloom.app import create_app
    from formloom.auth.tokens import create_token
    from formloom.auth.users import user_id_by_email
    from formloom.store.tables import records
    from . import env
    flask_app = create_app(env.formloom_config(args.url, Path(args.workdir)))
    db = flask_app.extensions["formloom.db"]
    app, _version = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        admin = user_id_by_email(conn, env.ADMIN_EMAIL)
        token = create_token(conn, admin, "bench-bulk")[1]
        customers = conn.execute(select(records.c.id).where(
            records.c.app_key == "crm", records.c.entity_key == "customer", records.c.deleted_at.is_(None))
            .order_by(records.c.id).limit(500)).scalars().all()
        contact_of = {}
        for r in conn.execute(select(records.c.id, records.c.data).where(
                records.c.app_key == "crm", records.c.entity_key == "contact", records.c.deleted_at.is_(None))
                .order_by(records.c.id).limit(5000)):
            contact_of.setdefault(r.data.get("customer"), r.id)
    sources = [o.value for o in app.entity("opportunity").field("source").options]
    today = datetime.now(timezone.utc).date()
    bodies = []
    for start in range(0, args.n, args.per):
        items = []
        for k in range(start, min(start + args.per, args.n)):
            customer = customers[k % len(customers)]
            cents = 1_000_00 + (k * 7919) % 2_000_000_00
            items.append({"data": {
                "name": f"Bulk deal {k}", "customer": customer, "decision_maker": contact_of.get(customer),
                "amount": f"{cents // 100}.{cents % 100:02d}", "source": sources[k % len(sources)],
                "expected_close": (today + timedelta(days=k % 200)).isoformat(), "need": k % 101,
                "budget_fit": (k * 3) % 101, "authority": (k * 7) % 101, "timing": (k * 11) % 101,
                "competitor_count": k % 5, "budget_confirmed": bool(k % 2)}})
        bodies.append(json.dumps({"items": items}).encode())
    client = flask_app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    created, statuses = 0, []
    t0, c0 = time.perf_counter(), time.process_time()
    for body in bodies:
        response = client.post("/api/v1/crm/opportunity/bulk", data=body, headers=headers)
        statuses.append(response.status_code)
        created += (response.get_json() or {}).get("created", 0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_mb()
    with db.write() as conn:        # retire them (untimed): the rest of the benchmark keeps its data
        conn.execute(update(records).where(records.c.app_key == "crm", records.c.entity_key == "opportunity",
                                           records.c.title.like("Bulk deal %"))
                     .values(deleted_at=datetime.now(timezone.utc)))
    db.dispose()
    return {"rows": args.n, "per_request": args.per, "created": created, "statuses": sorted(set(statuses)),
            "how": "in-process (Flask test client)", "seconds": seconds, "cpu_seconds": cpu,
            "rows_per_s": args.n / seconds, "peak_rss_mb": peak}


def _cmd_export(args) -> dict:
    import tempfile
    from formloom.auth.users import load_actor, user_id_by_email
    from formloom.store.apps import AppCatalog
    from formloom.store.db import Database
    from formloom.store.query import ListQuery
    from formloom.transfer.export import csv_stream, export_columns, export_rows, xlsx_file
    from . import env
    db = Database(args.url)
    app, _version = AppCatalog(db).get("crm")
    entity = app.entity("opportunity")
    with db.read() as conn:
        admin = load_actor(conn, user_id_by_email(conn, env.ADMIN_EMAIL))
    keys = list(entity.default_columns) + ["owner", "stage"]
    columns = export_columns(app, entity, admin, keys, "zh")
    counted = {"rows": -1}

    def rows():
        for row in export_rows(db, app, entity, admin, ListQuery(), columns, "zh"):
            counted["rows"] += 1
            yield row

    t0, c0 = time.perf_counter(), time.process_time()
    size = 0
    if args.fmt == "csv":
        with tempfile.TemporaryFile() as out:
            for chunk in csv_stream(rows()):
                out.write(chunk)
                size += len(chunk)
    else:
        with xlsx_file(rows()) as out:
            out.seek(0, 2)
            size = out.tell()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    db.dispose()
    return {"format": args.fmt, "cpu_seconds": cpu, "rows": counted["rows"], "columns": len(columns), "bytes": size,
            "seconds": seconds, "rows_per_s": counted["rows"] / seconds if seconds else None,
            "peak_rss_mb": _peak_mb()}


def run_child(cmd: str, url: str, workdir: Path, **options) -> dict:
    argv = [sys.executable, "-m", "benchmarks.transfer", cmd, "--url", url, "--workdir", str(workdir)]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cmd_suite(args) -> dict:
    import tempfile
    from . import data as D
    from . import env
    import os
    out: dict = {"db": args.db, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="formloom-transfer-") as tmp:
        workdir = Path(tmp)
        url = env.fresh_database(args.db, workdir)
        info = env.setup(url, workdir)
        owners = [info["admin_id"]] + info["owners"]
        now = datetime.now(timezone.utc).replace(microsecond=0)
        have = D.FIRST
        env.load_tranche(url, 0, have, owners, now)
        out["import"] = run_child("import", url, workdir, n=args.import_rows)
        print(json.dumps({"import": out["import"]}), file=sys.stderr, flush=True)
        out["bulk"] = run_child("bulk", url, workdir, n=args.bulk_rows, per=1000)
        print(json.dumps({"bulk": out["bulk"]}), file=sys.stderr, flush=True)
        if args.export_rows > have:
            out["load"] = env.load_tranche(url, have, args.export_rows, owners, now)
        for fmt in ("csv", "xlsx"):
            out[f"export_{fmt}"] = run_child("export", url, workdir, fmt=fmt)
            print(json.dumps({fmt: out[f"export_{fmt}"]}), file=sys.stderr, flush=True)
        env.drop_database(args.db, url)
    out["load_average_at_end"] = os.getloadavg()
    out["import_rows_per_s"] = out["import"].get("rows_per_s")
    out["bulk_create_10k_s" if args.bulk_rows == 10_000 else "bulk_create_s"] = out["bulk"].get("seconds")
    out["export_rows"] = out["export_csv"].get("rows")
    name = "export_1m_s" if args.export_rows >= 1_000_000 else "export_s"
    out[name] = {fmt: out[f"export_{fmt}"].get("seconds") for fmt in ("csv", "xlsx")}
    target = ROOT / "benchmarks" / "results" / f"transfer-{args.db}.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("import")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--workdir", required=True)
    p = sub.add_parser("bulk")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--per", type=int, default=1000)
    p.add_argument("--workdir", required=True)
    p = sub.add_parser("export")
    p.add_argument("--url", required=True)
    p.add_argument("--fmt", choices=["csv", "xlsx"], default="csv")
    p.add_argument("--workdir", required=True)
    p = sub.add_parser("suite")
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--import-rows", type=int, default=100_000)
    p.add_argument("--bulk-rows", type=int, default=10_000)
    p.add_argument("--export-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    result = {"import": _cmd_import, "bulk": _cmd_bulk, "export": _cmd_export, "suite": _cmd_suite}[args.cmd](args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
