"""The JSON API at 100k opportunities against 10k, with the planner's statistics kept by
the engine alone, and the event backlog a real worker leaves behind (issue 16).

    python -m benchmarks.api_scale --db both [--rounds 3] [--n 40] [--client-writes 2000]

One database per kind. 10,000 opportunities are bulk loaded (benchmarks.data, which asks the
engine's `refresh_if_moved` like an import), then a waitress server (benchmarks.serve) and a
`formloom worker` process run against it for the whole measurement, as in production. Nothing
here runs ANALYZE: whatever statistics the planner has at 100k are the ones the engine took
(the bulk endpoint asks `refresh_if_moved` after each request; the worker every 10 s).

1. At 10k: api_create, api_list_filtered, api_update over HTTP (keep-alive, Bearer token), in
   `rounds` interleaved rounds of `n` requests each, wall clock per request.
2. Growth to 100k through `POST /api/v1/crm/opportunity/bulk` (1,000 items a request, the data
   of `benchmarks.data.opportunity`): the bulk endpoint is how a client loads this much, and it
   queues one event per record for the worker like single writes do. The backlog when the
   last bulk request returns, and how long the worker takes to drain it, are reported.
3. At 100k, once the worker drained the growth's backlog (or 15 minutes passed): the same
   three operations, same rounds.
4. `event_backlog_after_100k_writes`: `client_writes` single writes the way clients make them
   (POST one record / PATCH one record with its version, alternating, two keep-alive clients
   in parallel) at 100k; events still unprocessed when the last write returns, and the
   seconds until the worker drained them (goal: 0 within a minute).
5. Statements, round trips and commits per write (request and worker), in-process at 10k
   before the server and the worker start (once a backlog exists, the worker's share would
   count the backlog's events, not the measured writes').

Wall clock, because the server and the worker are other processes (a CPU clock here would count
the client only), and server CPU per request beside it; the load average is recorded before
and after each kind.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from . import data as D, env
from .api_ops import JsonHttp, JsonInProcess, L0, formloom_api_side, one_api

OPS = ["api_create", "api_list_filtered", "api_update"]
GOALS = {"api_list_100k_vs_10k": 1.2, "api_update_100k_vs_10k_pg": 1.2, "api_create_100k_vs_10k_pg": 1.2}
BACKLOG_GOAL_S = 60.0
PG_VS_SQLITE_GOAL = 1.5
BULK_ITEMS = 1000
#: the opportunity fields a client sends (computed fields, stage and references to other
#: tranches are the engine's)
SENT = ("name", "amount", "source", "expected_close", "need", "budget_fit", "authority", "timing",
        "competitor_count", "risk", "budget_confirmed", "needs_summary")


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- processes ----------------------------------------------------------------------------------------------

def start_worker(url: str, workdir: Path) -> subprocess.Popen:
    """`formloom worker`, the production command, in its own process."""
    environ = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": env.SECRET,
               "FORMLOOM_INSTANCE": str(workdir / "instance"), "FORMLOOM_ENV": "production",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(env.ROOT / "platform"), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "formloom", "worker"], cwd=env.ROOT, env=environ,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "worker.log", "w"))


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    from .run import start_server as start
    return start("formloom", url, workdir)


def tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text()[-n:]
    except OSError:
        return ""


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Backlog:
    """Unprocessed events, counted from outside the server and the worker."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM events WHERE processed_at IS NULL")).scalar_one()

    def drain_seconds(self, limit: float = 900.0) -> tuple[float | None, int]:
        """Seconds until no event is left (None if still some after `limit`), and the count then."""
        t0 = time.perf_counter()
        while True:
            left = self.count()
            if left == 0:
                return time.perf_counter() - t0, 0
            if time.perf_counter() - t0 > limit:
                return None, left
            time.sleep(0.5)

    def dispose(self) -> None:
        self.engine.dispose()


# -- measuring ----------------------------------------------------------------------------------------------

#: PATCHes answered 409 because the worker's rules changed the record after the client read
#: its version (a client would re-read and send again; only the accepted request is timed)
CONFLICTS = [0]


def one(op: str, side, client, n: int) -> float:
    if op != "api_update":
        return one_api(op, side, client, n)
    path, body, rid = side.next_update(n)
    for _ in range(5):
        t0 = time.perf_counter()
        status, payload = client.request("PATCH", path, body)
        elapsed = time.perf_counter() - t0
        if status == 200:
            side.versions[rid] = json.loads(payload)["version"]
            return elapsed
        if status != 409:
            break
        CONFLICTS[0] += 1
        body["version"] = json.loads(payload)["current_version"]
    raise RuntimeError(f"PATCH {path}: {status} {payload[:600]!r}")

def measure(side, client, rounds: int, n: int, cpu: "ServerCpu") -> dict:
    """`rounds` interleaved rounds (every op each round); per op the median of the rounds'
    medians (wall clock per request) and of the rounds' server CPU per request."""
    per_round: dict[str, list[float]] = {op: [] for op in OPS}
    per_cpu: dict[str, list[float]] = {op: [] for op in OPS}
    for r in range(rounds):
        for op in OPS:
            before = cpu.seconds()
            samples = [one(op, side, client, 1_000_000 + r * 10_000 + k) for k in range(n)]
            per_cpu[op].append((cpu.seconds() - before) / n * 1000)
            per_round[op].append(statistics.median(samples) * 1000)
    return {op: {"median_ms": statistics.median(v), "rounds_ms": [round(x, 3) for x in v], "n": n,
                 "server_cpu_ms": statistics.median(per_cpu[op]), "server_cpu_rounds_ms": [round(x, 3) for x in per_cpu[op]]}
            for op, v in per_round.items()}


CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_APP_NAME = "formloom_bench_server"


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class ServerCpu:
    """CPU the server spends: its process, and on PostgreSQL the backends of its connections
    (application_name SERVER_APP_NAME), where a plan that reads every row spends its time.
    Robust to the machine's load as wall clock is not (the worker runs beside it and is not counted)."""

    def __init__(self, pid: int, engine=None):
        self.pid, self.engine = pid, engine

    def seconds(self) -> float:
        total = proc_cpu(self.pid)
        if self.engine is not None:
            with self.engine.connect() as conn:
                pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                    {"a": SERVER_APP_NAME}).scalars().all()
            total += sum(proc_cpu(p) for p in pids)
        return total


def bulk_item(i: int, owners: list[int], now: datetime) -> dict:
    """Opportunity i as a client sends it (the bulk loader's distribution; customers of the first tranche)."""
    d = D.opportunity(i, owners, now)["data"]
    c = i % L0.nc
    item = {k: d[k] for k in SENT if d.get(k) is not None}
    item["name"] = f"{item['name']} (api)"
    item["customer"] = L0.f_customer(c)
    item["decision_maker"] = L0.f_contact(c)
    return {"data": item}


def grow(client: JsonHttp, have: int, to: int, owners: list[int], now: datetime) -> dict:
    refused: list[int] = []
    t0 = time.perf_counter()
    for start in range(have, to, BULK_ITEMS):
        body = {"items": [bulk_item(i, owners, now) for i in range(start, min(to, start + BULK_ITEMS))]}
        for attempt in range(5):
            status, payload = client.request("POST", "/api/v1/crm/opportunity/bulk", body)
            if status != 503:
                break
            refused.append(start)                  # all or nothing: nothing was written; send it again
            time.sleep(1)
        if status != 200:
            raise RuntimeError(f"bulk {start}: {status} {payload[:600]!r}")
    seconds = time.perf_counter() - t0
    return {"records": to - have, "requests": -(-(to - have) // BULK_ITEMS), "seconds": seconds,
            "records_per_s": (to - have) / seconds, "refused_503": refused}


def client_writes(side, port: int, token: str, total: int, clients: int = 2) -> dict:
    """`total` single writes over `clients` keep-alive connections: POST one record, PATCH one record."""
    failures: list[str] = []
    per = total // clients

    def run(c: int) -> None:
        client = JsonHttp(port, token)
        try:
            for k in range(per):
                # each client PATCHes its own half of the pool, so versions never race
                one("api_create" if k % 2 == 0 else "api_update", side[c], client, 2_000_000 + c * per + k)
        except Exception as problem:        # reported, not hidden
            failures.append(str(problem)[:300])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"writes": per * clients, "clients": clients, "seconds": time.perf_counter() - t0, "failures": failures}


def split_sides(clients: int) -> list:
    """One API side per client, each PATCHing its own records of the update pool."""
    from . import api_ops
    sides = []
    pool = list(api_ops.UPDATE_POOL)
    for c in range(clients):
        s = formloom_api_side([])
        mine = pool[c::clients]
        s.next_update = _updater(s, mine)
        sides.append(s)
    return sides


def _updater(side, pool: list[int]):
    def next_update(n: int):
        i = pool[side.counter[0] % len(pool)]
        side.counter[0] += 1
        rid = side.record_id(i)
        return (f"{side.collection}/{rid}", {"data": {"amount": f"{120000 + n % 5000}.25", "need": n % 101},
                                             "version": side.versions.get(rid, 1)}, rid)
    return next_update


def current_versions(url: str, ids: list[int]) -> dict[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, version FROM records WHERE id IN (%s)" % ",".join(map(str, ids))))
            return {r.id: r.version for r in rows}
    finally:
        engine.dispose()


def run_kind(kind: str, workdir: Path, *, rounds: int, n: int, large: int, writes: int) -> dict:
    from . import api_ops
    from .run import api_statements
    pg_database = f"{env.PG_DB}_api100k"
    CONFLICTS[0] = 0
    now = datetime.now(timezone.utc).replace(microsecond=0)
    out: dict = {"load_average_start": load_average(), "sizes": [D.FIRST, large]}
    url = env.fresh_database(kind, workdir, pg_database)
    log(f"[{kind}] setting up, bulk loading {D.FIRST:,} opportunities")
    info = env.setup(url, workdir)
    owners = [info["admin_id"]] + info["owners"]
    env.load_tranche(url, 0, D.FIRST, owners, now)
    token = info["api_tokens"]["formloom"]
    # statements per write first, at 10k with no backlog and no worker yet: what the worker's
    # processing of these writes' own events costs (later a backlog would be counted instead)
    log(f"[{kind}] statements per write (in-process, before the worker starts)")
    fapp = env.formloom_app(url, workdir)
    try:
        out["statements"] = api_statements(fapp, JsonInProcess(fapp, token), formloom_api_side([]))
    finally:
        fapp.extensions["formloom.db"].dispose()
    backlog = Backlog(url)
    server_url = url + (f"?application_name={SERVER_APP_NAME}" if kind == "postgres" else "")
    server, port = start_server(server_url, workdir)
    cpu = ServerCpu(server.pid, backlog.engine if kind == "postgres" else None)
    worker = start_worker(url, workdir)
    try:
        side = formloom_api_side([])
        client = JsonHttp(port, token)
        for k in range(5):                                     # warm-up (compiles, caches)
            for op in OPS:
                one(op, side, client, 900_000 + k)
        backlog.drain_seconds()
        log(f"[{kind}] at {D.FIRST:,}: {rounds} rounds x {n}")
        out["small"] = measure(side, client, rounds, n, cpu)
        log(f"[{kind}]   " + ", ".join(f"{op} {x['median_ms']:.2f} ms (server CPU {x['server_cpu_ms']:.2f})" for op, x in out["small"].items()))
        have = D.FIRST + 5 + rounds * n                        # the creates above also count
        log(f"[{kind}] growing to {large:,} through the bulk endpoint (worker running)")
        out["growth"] = grow(client, D.FIRST, large, owners, now)
        out["growth"]["backlog_at_end"] = backlog.count()
        out["growth"]["drain_s"], out["growth"]["left"] = backlog.drain_seconds()
        log(f"[{kind}]   {out['growth']['records']:,} in {out['growth']['seconds']:.1f} s; backlog "
            f"{out['growth']['backlog_at_end']:,} drained in {out['growth']['drain_s']} s")
        out["records_at_large"] = have + out["growth"]["records"]
        time.sleep(1)
        log(f"[{kind}] at {large:,}: {rounds} rounds x {n}")
        client = JsonHttp(port, token)
        out["large"] = measure(side, client, rounds, n, cpu)
        log(f"[{kind}]   " + ", ".join(f"{op} {x['median_ms']:.2f} ms (server CPU {x['server_cpu_ms']:.2f})" for op, x in out["large"].items()))
        log(f"[{kind}] {writes:,} single client writes at {large:,}")
        sides = split_sides(2)
        ids = [L0.f_opp(i) for i in api_ops.UPDATE_POOL]
        versions = current_versions(url, ids)
        for s in sides:
            s.versions.update(versions)
        cw = client_writes(sides, port, token, writes)
        cw["backlog_at_end"] = backlog.count()
        cw["drain_s"], cw["left"] = backlog.drain_seconds()
        out["client_writes"] = cw
        log(f"[{kind}]   {cw['writes']:,} writes in {cw['seconds']:.1f} s ({cw['writes'] / cw['seconds']:.0f}/s); "
            f"backlog {cw['backlog_at_end']:,}, drained in {cw['drain_s']} s; failures {len(cw['failures'])}")
    except Exception:
        log("server log:", tail(workdir / "server.log"), "worker log:", tail(workdir / "worker.log"))
        raise
    finally:
        stop(worker)
        stop(server)
        backlog.dispose()
    out["ratios_wall"] = {op: out["large"][op]["median_ms"] / out["small"][op]["median_ms"] for op in OPS}
    out["ratios"] = {op: out["large"][op]["server_cpu_ms"] / out["small"][op]["server_cpu_ms"] for op in OPS}
    out["load_average_end"] = load_average()
    out["update_conflicts_retried"] = CONFLICTS[0]
    env.drop_database(kind, url, pg_database)
    return out


def summary(found: dict) -> dict:
    """The four keys of issue 16 (and PostgreSQL against SQLite), from `run_kind`'s results."""
    sq, pg = found.get("sqlite"), found.get("postgres")
    keys: dict = {}
    if sq:
        keys["api_list_100k_vs_10k"] = sq["ratios"]["api_list_filtered"]
    if pg:
        keys["api_list_100k_vs_10k_pg"] = pg["ratios"]["api_list_filtered"]
        keys["api_update_100k_vs_10k_pg"] = pg["ratios"]["api_update"]
        keys["api_create_100k_vs_10k_pg"] = pg["ratios"]["api_create"]
    head = pg or sq
    if head:
        cw = head["client_writes"]
        keys["event_backlog_after_100k_writes"] = {
            "events": cw["backlog_at_end"], "drain_s": cw["drain_s"], "writes": cw["writes"],
            "db": "postgres" if pg else "sqlite",
            "by_db": {k: {"events": v["client_writes"]["backlog_at_end"], "drain_s": v["client_writes"]["drain_s"],
                          "bulk_growth_events": v["growth"]["backlog_at_end"],
                          "bulk_growth_drain_s": v["growth"]["drain_s"]} for k, v in found.items()},
            "goal": f"0 within {BACKLOG_GOAL_S:.0f} s"}
    if sq and pg:
        keys["pg_vs_sqlite"] = {f"{op}_{size}": pg[size][op]["median_ms"] / sq[size][op]["median_ms"]
                                for op in ("api_create", "api_update") for size in ("small", "large")}
        keys["pg_vs_sqlite_server_cpu"] = {f"{op}_{size}": pg[size][op]["server_cpu_ms"] / sq[size][op]["server_cpu_ms"]
                                           for op in ("api_create", "api_update") for size in ("small", "large")}
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_scale")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=40, help="requests per operation per round")
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--client-writes", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="combine the results of separate runs (e.g. --db sqlite and --db postgres) and exit")
    args = parser.parse_args(argv)
    if args.merge:
        found = {}
        for path in args.merge:
            found.update(json.loads(path.read_text())["details"])
        from .run import source_state
        text_ = json.dumps({"source": source_state(), "keys": summary(found), "details": found}, indent=1, default=str)
        if args.out:
            args.out.write_text(text_ + "\n")
        print(text_)
        return 0
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(prefix="formloom-api100k-") as tmp:
        found = {kind: run_kind(kind, Path(tmp), rounds=args.rounds, n=args.n, large=args.large,
                                writes=args.client_writes) for kind in kinds}
    from .run import source_state
    result = {"source": source_state(), "keys": summary(found), "details": found}
    text_ = json.dumps(result, indent=1, default=str)
    if args.out:
        args.out.write_text(text_ + "\n")
    print(text_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
