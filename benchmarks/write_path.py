"""The API write path on PostgreSQL against SQLite, in process (issue 16: "bring api_update
and api_create on PostgreSQL within 1.5x of SQLite"; statements and round trips per write).

    python -m benchmarks.write_path setup --db sqlite|postgres --dir DIR
    python -m benchmarks.write_path measure --dir DIR [--rounds 3] [--n 100] [--label base]
    python -m benchmarks.write_path trips --dir DIR [--label base]      (PostgreSQL, strace)

`setup` makes one database per kind at 10k opportunities (benchmarks.data) and writes
DIR/info.json. `measure` runs whichever `formloom` is on PYTHONPATH (so a copy of main and
a branch can be measured against the same database, alternating, in the same minutes) and
prints one JSON line per run:

- CPU per request: this process (Flask, the engine and the test client, the same client on
  both sides) on the process CPU clock, plus on PostgreSQL the CPU of this process's
  backends (read from /proc by the pids `pg_stat_activity` lists for its application_name),
  per round of `n` creates then `n` updates; the median of the rounds.
- Statements, transactions and commits per request as SQLAlchemy sees them, over 20
  requests of each kind; pool pings and psycopg's own BEGINs are invisible there.
- `trips`: round trips per request, what a request pays in latency and in backend
  wake-ups, counted as the answers the process read from the server (strace, Linux).

Wall time per request is printed too (`--synchronous-commit off` is what the durable commit
costs, which the CPU clocks do not show). No worker runs: the request's own cost is
measured; the events the writes queue are processed between rounds, untimed, so the
outbox does not grow.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from . import data as D, env
from .api_ops import L0, UPDATE_POOL, JsonInProcess, formloom_api_side, one_api

APP_NAME = "formloom_write_path"
OPS = ("api_create", "api_update")
COUNTED = 20                   # requests per op whose statements (and round trips) are counted
MARK = "write_path-mark"


def setup(kind: str, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    url = env.fresh_database(kind, workdir, os.environ.get("WRITE_PATH_PG_DB", "pgwrite_probe"))
    info = env.setup(url, workdir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    env.load_tranche(url, 0, D.FIRST, [info["admin_id"]] + info["owners"], now)
    info.update(url=url, kind=kind)
    (workdir / "info.json").write_text(json.dumps(info))
    return info


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    def __init__(self, url: str | None):
        self.engine = create_engine(url) if url else None

    def seconds(self) -> float:
        if self.engine is None:
            return 0.0
        with self.engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                {"a": APP_NAME}).scalars().all()
        return sum(proc_cpu(p) for p in pids)


def measure(workdir: Path, rounds: int, n: int, label: str, trace_marks: bool = False,
            synchronous_commit: str | None = None) -> dict:
    from formloom.automation.events import process_events
    from .run import StatementCounter
    info = json.loads((workdir / "info.json").read_text())
    kind, url = info["kind"], info["url"]
    app_url = url + (f"?application_name={APP_NAME}" if kind == "postgres" else "")
    if kind == "postgres" and synchronous_commit:      # what an operator's ALTER DATABASE ... SET would do
        app_url += f"&options=-csynchronous_commit%3D{synchronous_commit}"
    fapp = env.formloom_app(app_url, workdir)
    db, catalog = fapp.extensions["formloom.db"], fapp.extensions["formloom.catalog"]
    client = JsonInProcess(fapp, info["api_tokens"]["formloom"])
    side = formloom_api_side([])
    base_n = int(time.time() * 1000) % 10_000_000 * 10        # creates stay distinct across runs
    k = [base_n]

    def settle() -> None:
        """The worker's share, untimed: its rules change records too, so versions are read after."""
        process_events(db, catalog)
        ids = [L0.f_opp(i) for i in UPDATE_POOL]
        with db.read() as conn:
            rows = conn.execute(text("SELECT id, version FROM records WHERE id IN (%s)" % ",".join(map(str, ids))))
            side.versions.update({r.id: r.version for r in rows})

    def run(op: str, count: int) -> None:
        for _ in range(count):
            k[0] += 1
            one_api(op, side, client, k[0])

    settle()
    for op in OPS:                                               # warm-up: compiles, caches, pool
        run(op, 10)
    settle()
    backend = BackendCpu(url if kind == "postgres" else None)
    cpu: dict[str, list[float]] = {op: [] for op in OPS}
    backend_cpu: dict[str, list[float]] = {op: [] for op in OPS}
    wall: dict[str, list[float]] = {op: [] for op in OPS}
    for _ in range(rounds):
        for op in OPS:
            b0, p0 = backend.seconds(), time.process_time()
            w0 = time.perf_counter()
            run(op, n)
            w1 = time.perf_counter()
            p1, b1 = time.process_time(), backend.seconds()
            wall[op].append((w1 - w0) / n * 1000)
            cpu[op].append((p1 - p0) / n * 1000)
            backend_cpu[op].append((b1 - b0) / n * 1000)
            settle()
    counts = {}
    for op in OPS:
        with StatementCounter(db.engine) as statements:
            if trace_marks:
                os.write(2, f"{MARK} start {op}\n".encode())
            run(op, COUNTED)
            if trace_marks:
                os.write(2, f"{MARK} end {op}\n".encode())
        c = statements.counts
        counts[op] = {"statements": c["statements"] / COUNTED, "transactions": c["begins"] / COUNTED,
                      "commits": c["commits"] / COUNTED}
        settle()
    db.dispose()
    if backend.engine is not None:
        backend.engine.dispose()
    out = {"label": label, "kind": kind, "synchronous_commit": synchronous_commit, "n": n, "rounds": rounds,
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    for op in OPS:
        out[op] = {"python_cpu_ms": statistics.median(cpu[op]), "backend_cpu_ms": statistics.median(backend_cpu[op]),
                   "cpu_ms": statistics.median(a + b for a, b in zip(cpu[op], backend_cpu[op])),
                   "rounds_cpu_ms": [round(a + b, 3) for a, b in zip(cpu[op], backend_cpu[op])],
                   "wall_ms": statistics.median(wall[op]), **counts[op]}
    return out


def round_trips(workdir: Path, label: str) -> dict:
    """Round trips per request, counted where they happen: `measure` runs under strace, and
    every recvfrom() that returned data between its marks is one answer waited for (a ping,
    a BEGIN, a statement, a pipeline's batch, a COMMIT). Linux with strace only."""
    trace = workdir / f"strace-{os.getpid()}.txt"
    subprocess.run(["strace", "-f", "-e", "trace=recvfrom,write", "-o", str(trace), sys.executable, "-m",
                    "benchmarks.write_path", "measure", "--dir", str(workdir), "--rounds", "1", "--n", "1",
                    "--label", label, "--trace-marks"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counts: dict[str, int] = {}
    current = None
    for line in trace.read_text().splitlines():
        if MARK in line and "write(2" in line:
            found = re.search(MARK + r" (start|end) (\w+)", line)
            current = found.group(2) if found and found.group(1) == "start" else None
            if current:
                counts[current] = 0
        elif current and "recvfrom(" in line and "EAGAIN" not in line and "resumed" not in line:
            counts[current] += 1
    trace.unlink()
    return {"label": label, **{op: n / COUNTED for op, n in counts.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    s.add_argument("--dir", type=Path, required=True)
    m = sub.add_parser("measure")
    m.add_argument("--dir", type=Path, required=True)
    m.add_argument("--rounds", type=int, default=3)
    m.add_argument("--n", type=int, default=100)
    m.add_argument("--label", default="")
    m.add_argument("--trace-marks", action="store_true", help="mark the counted requests for `trips`")
    m.add_argument("--synchronous-commit", choices=["on", "off"],
                   help="PostgreSQL: the server's setting for the app's sessions")
    t = sub.add_parser("trips")
    t.add_argument("--dir", type=Path, required=True)
    t.add_argument("--label", default="")
    args = parser.parse_args(argv)
    if args.cmd == "setup":
        setup(args.db, args.dir)
        print(json.dumps({"ok": True}))
    elif args.cmd == "trips":
        print(json.dumps(round_trips(args.dir, args.label)))
    else:
        print(json.dumps(measure(args.dir, args.rounds, args.n, args.label, args.trace_marks,
                                 args.synchronous_commit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
