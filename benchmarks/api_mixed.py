"""`api_mixed_16_clients` (issue 16): many API clients at once against a real server.

    python -m benchmarks.api_mixed [--db sqlite|postgres|both] [--clients 16] [--seconds 20]
                                   [--rounds 3] [--setups run,waitress:16,gunicorn:2x8] [--json FILE]

Sixteen client processes, each with one keep-alive HTTP connection and a Bearer token,
send requests for a bounded time to a server on loopback over the CRM opportunity at
10,000 rows: 80% reads (40% the README's filtered list, 40% one record of the 2,000 hot
ones) and 20% writes (8% create, 8% PATCH with the version last seen of one of 32 shared
records, 4% a stage move back and forth of one of the client's own 8 records). A 409 or
428 is a version conflict, expected when clients PATCH the same records: counted, never an
error; the client reads the record again (a read) and goes on. An error is an answer
>= 500 or a broken connection; any other refusal (4xx) is "unexpected", a harness or app
bug.

The same load runs against the hand-written baseline API under the same server setup,
each setup interleaved with the baseline, for `--rounds` rounds; figures are medians of the
rounds. A setup is `run` (`formloom run` as shipped: 8 threads and its embedded worker; the
baseline in the same server loop with 8 threads), `waitress:T` (T threads) or
`gunicorn:PxT` (P processes x T threads, gthread workers; gunicorn must be importable). For
`waitress:T` and `gunicorn:PxT` Formloom's events are processed by one `formloom worker`
process beside the server, as a production deployment would run it. Server CPU seconds
(server processes and that worker) per request are reported too: on a shared machine they
move less than wall-clock figures.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import data as D
from . import env
from .api_ops import JsonHttp, baseline_api_side, formloom_api_side

L0 = D.Layout(0, D.FIRST)
#: the mix: (share, operation); shares add up to 1
MIX = [(0.40, "list"), (0.40, "get"), (0.08, "create"), (0.08, "patch"), (0.04, "move")]
READS, WRITES = ("list", "get", "reread"), ("create", "patch", "move")
#: records every client PATCHes (so that clients collide), and each client's own moving records
PATCH_POOL = range(D.MOVE_END - 32, D.MOVE_END)
MOVES_PER_CLIENT = 8
STAGES = ("initial_contact", "needs_confirmed")
DEFAULT_SETUPS = ["run", "waitress:16", "gunicorn:2x8"]
#: what `make bench` runs (gunicorn is not a dependency): the shipped default
BENCH_SETUPS = ["run"]
#: the PostgreSQL database the run creates and drops (one per engineer on a shared server)
PG_DATABASE = os.environ.get("BENCH_APIMIX_PG_DATABASE", "formloom_bench_apimix")


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# -- servers --------------------------------------------------------------------------------------------------

@dataclass
class Setup:
    name: str
    server: str            # run | waitress | gunicorn
    processes: int = 1
    threads: int = 8

    @classmethod
    def parse(cls, text: str) -> "Setup":
        text = text.strip()
        if text == "run":
            return cls("run", "run", 1, 8)
        kind, _, size = text.partition(":")
        if kind == "waitress" and size.isdigit():
            return cls(text, "waitress", 1, int(size))
        if kind == "gunicorn" and "x" in size:
            p, t = size.split("x", 1)
            if p.isdigit() and t.isdigit():
                return cls(text, "gunicorn", int(p), int(t))
        raise ValueError(f"a setup is run, waitress:THREADS or gunicorn:PROCESSESxTHREADS, not {text!r}")


def server_env(url: str, workdir: Path) -> dict:
    paths = [str(env.ROOT / "platform"), str(env.ROOT)]
    if extra := os.environ.get("BENCH_EXTRA_PYTHONPATH"):     # e.g. where gunicorn was installed
        paths.append(extra)
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": env.SECRET, "FORMLOOM_INSTANCE": str(workdir / "instance"),
            "FORMLOOM_ENV": "production", "PYTHONPATH": os.pathsep.join(paths)}


def gunicorn_available(environ: dict) -> bool:
    return subprocess.run([sys.executable, "-c", "import gunicorn"], env=environ, capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_commands(setup: Setup, side: str, port: int) -> list[list[str]]:
    """The processes of one setup: the server, and for Formloom outside `run` one worker."""
    py = sys.executable
    if setup.server == "run" and side == "formloom":
        return [[py, "-m", "formloom", "run", "--port", str(port), "--threads", str(setup.threads)]]
    if setup.server in ("run", "waitress"):
        server = [py, "-m", "benchmarks.mixed_serve", side, str(setup.threads), str(port)]
    else:
        server = [py, "-m", "gunicorn", "--workers", str(setup.processes), "--threads", str(setup.threads),
                  "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                  "--graceful-timeout", "10", f"benchmarks.mixed_serve:{side}()"]
    return [server] + ([[py, "-m", "formloom", "worker"]] if side == "formloom" else [])


def wait_ready(port: int, procs: list[subprocess.Popen], logs: list, path: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p, log_file in zip(procs, logs):
            if p.poll() is not None:
                log_file.seek(0)
                raise RuntimeError(f"server exited ({p.returncode}): {log_file.read()[-3000:]}")
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=0.5)
            conn.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path)
            if c.getresponse().status < 500:
                c.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready after {timeout}s")


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their live children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for root in pids:
        for p in process_tree(root):
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
    return total / tick


def start(commands: list[list[str]], environ: dict) -> tuple[list[subprocess.Popen], list]:
    """Start the processes, each with its stderr going to a file of its own, never to a pipe
    read only at the end: a server that logs more than a pipe holds (64 KiB) would block in
    write() and stall every request (as `formloom run` did, a 60 s stall once per run)."""
    logs = [tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") for _ in commands]
    procs = [subprocess.Popen(cmd, cwd=env.ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=log_file)
             for cmd, log_file in zip(commands, logs)]
    return procs, logs


def stop(procs: list[subprocess.Popen], logs: list) -> list[str]:
    """SIGTERM, then wait; what the processes printed to stderr (tracebacks of 500s land there)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    errs = []
    for f in logs:
        f.seek(0)
        errs.append(f.read())
        f.close()
    return errs


# -- clients --------------------------------------------------------------------------------------------------

def pick(rng: random.Random) -> str:
    x, acc = rng.random(), 0.0
    for share, op in MIX:
        acc += share
        if x < acc:
            return op
    return MIX[-1][1]


def client_loop(side_name: str, port: int, token: str, index: int, start_at: float, seconds: float,
                results) -> None:
    """One client: learn the versions it starts from, wait for the common start, then send
    requests until the end; put its samples on `results`."""
    side = (formloom_api_side if side_name == "formloom" else baseline_api_side)([])
    rng = random.Random(f"{side_name}-{index}")
    client = JsonHttp(port, token)
    versions, stages = {}, {}
    own = [side.record_id(D.MOVE_START + index * MOVES_PER_CLIENT + k) for k in range(MOVES_PER_CLIENT)]
    try:
        for rid in own + [side.record_id(i) for i in PATCH_POOL]:
            status, body = client.request("GET", f"{side.collection}/{rid}")
            if status == 200:
                record = json.loads(body)
                versions[rid], stages[rid] = record["version"], record["stage"]
    except OSError as failure:
        results.put({"index": index, "fatal": f"{type(failure).__name__}: {failure}"})
        return
    samples: list[tuple[str, int, float]] = []      # (op, status, seconds); status 0 = connection failed
    first_bodies: dict[str, str] = {}
    moved, n = 0, 0
    time.sleep(max(0.0, start_at - time.monotonic()))
    client.conn.close()
    client = JsonHttp(port, token)      # a fresh connection: a server may close one idle while we waited
    end = start_at + seconds
    while time.monotonic() < end:
        op = pick(rng)
        n += 1
        rid = None
        if op == "list":
            method, path, body = "GET", side.list_path, None
        elif op == "get":
            method, path, body = "GET", f"{side.collection}/{side.record_id(rng.randrange(D.HOT))}", None
        elif op == "create":
            method, path, body = "POST", side.collection, side.create_body(index * 1_000_000 + n)
        elif op == "patch":
            rid = side.record_id(rng.choice(PATCH_POOL))
            method, path = "PATCH", f"{side.collection}/{rid}"
            body = {"data": {"amount": f"{120000 + n % 5000}.25", "need": n % 101}, "version": versions.get(rid, 1)}
        else:
            rid = own[moved % len(own)]
            moved += 1
            target = STAGES[1] if stages.get(rid) == STAGES[0] else STAGES[0]
            method, path, body = "POST", f"{side.collection}/{rid}/stage", {"to": target, "version": versions.get(rid, 1)}
        t0 = time.perf_counter()
        try:
            status, payload = client.request(method, path, body)
        except (OSError, http.client.HTTPException) as failure:     # a broken connection is an error; reconnect
            samples.append((op, 0, time.perf_counter() - t0))
            first_bodies.setdefault(f"{op} connection", f"{type(failure).__name__}: {failure}")
            client = JsonHttp(port, token)
            continue
        samples.append((op, status, time.perf_counter() - t0))
        if status >= 400:
            first_bodies.setdefault(f"{op} {status}", payload[:400].decode(errors="replace"))
        if rid is not None and status == 200:
            record = json.loads(payload)
            versions[rid], stages[rid] = record["version"], record["stage"]
        elif rid is not None and status in (409, 428):        # someone else changed it: read it again
            t0 = time.perf_counter()
            try:
                status, payload = client.request("GET", f"{side.collection}/{rid}")
            except (OSError, http.client.HTTPException) as failure:
                samples.append(("reread", 0, time.perf_counter() - t0))
                first_bodies.setdefault("reread connection", f"{type(failure).__name__}: {failure}")
                client = JsonHttp(port, token)
                continue
            samples.append(("reread", status, time.perf_counter() - t0))
            if status == 200:
                record = json.loads(payload)
                versions[rid], stages[rid] = record["version"], record["stage"]
    results.put({"index": index, "samples": samples, "bodies": first_bodies})


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def summarize(samples: list[tuple[str, int, float]], seconds: float) -> dict:
    lat = sorted(s for _op, _st, s in samples)
    by_class = {}
    for name, ops in (("reads", READS), ("writes", WRITES)):
        x = sorted(s for op, _st, s in samples if op in ops)
        by_class[name] = {"n": len(x), "p50_ms": (percentile(x, 0.5) or 0) * 1000, "p99_ms": (percentile(x, 0.99) or 0) * 1000}
    statuses: dict[str, int] = {}
    for _op, st, _s in samples:
        statuses[str(st)] = statuses.get(str(st), 0) + 1
    errors = sum(1 for _op, st, _s in samples if st == 0 or st >= 500)
    conflicts = sum(1 for _op, st, _s in samples if st in (409, 428))
    unexpected = sum(1 for _op, st, _s in samples if 400 <= st < 500 and st not in (409, 428))
    by_op = {}
    for name in sorted({op for op, _st, _s in samples}):
        x = sorted(s for op, _st, s in samples if op == name)
        by_op[name] = {"n": len(x), "p50_ms": percentile(x, 0.5) * 1000, "p99_ms": percentile(x, 0.99) * 1000}
    return {"by_op": by_op, "requests": len(samples), "seconds": seconds, "req_per_s": len(samples) / seconds if seconds else None,
            "p50_ms": (percentile(lat, 0.5) or 0) * 1000, "p99_ms": (percentile(lat, 0.99) or 0) * 1000,
            "errors": errors, "conflicts": conflicts, "unexpected": unexpected, "statuses": statuses, **by_class}


def load(side: str, port: int, token: str, clients: int, seconds: float) -> dict:
    """`clients` processes against the server on `port` for `seconds`; one summary."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.monotonic() + 2.0 + 0.15 * clients       # time for every client to read its versions
    procs = [ctx.Process(target=client_loop, args=(side, port, token, k, start_at, seconds, results), daemon=True)
             for k in range(clients)]
    for p in procs:
        p.start()
    got = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    fatal = [g["fatal"] for g in got if "fatal" in g]
    if fatal:
        raise RuntimeError(f"{side}: a client could not start: {fatal[0]}")
    samples = [s for g in got for s in g["samples"]]
    late = max(0.0, time.monotonic() - start_at - seconds)
    bodies: dict[str, str] = {}
    for g in got:
        for k, v in g["bodies"].items():
            bodies.setdefault(k, v)
    out = summarize(samples, seconds)
    out["first_refusals"] = bodies
    out["finished_late_s"] = late
    return out


def one_run(setup: Setup, side: str, url: str, workdir: Path, token: str, clients: int, seconds: float) -> dict:
    port = free_port()
    environ = server_env(url, workdir)
    commands = server_commands(setup, side, port)
    procs, logs = start(commands, environ)
    try:
        wait_ready(port, procs, logs, "/livez" if side == "formloom" else "/login")
        cpu0 = cpu_seconds([p.pid for p in procs])
        out = load(side, port, token, clients, seconds)
        out["server_cpu_s"] = cpu_seconds([p.pid for p in procs]) - cpu0     # includes the versions read first
        out["server_cpu_ms_per_req"] = out["server_cpu_s"] / max(out["requests"], 1) * 1000
    finally:
        stderr = stop(procs, logs)
    out["server_stderr_bytes"] = sum(len(e.encode()) for e in stderr)
    if keep := os.environ.get("BENCH_APIMIX_STDERR_DIR"):      # to read what a server logged under load
        for i, e in enumerate(stderr):
            Path(keep, f"{side}-{setup.name.replace(':', '_')}-{i}-{time.strftime('%H%M%S')}.log").write_text(e)
    tracebacks = [e[-2500:] for e in stderr if "Traceback" in e or "database is locked" in e]
    if tracebacks:
        out["server_stderr"] = tracebacks
    return out


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def measure(kind: str, url: str, workdir: Path, tokens: dict, setups: list[Setup], *, clients: int = 16,
            seconds: float = 20.0, rounds: int = 3) -> dict:
    """Every setup against both APIs, interleaved (setup by setup, Formloom then baseline), rounds times."""
    environ = server_env(url, workdir)
    usable = []
    for s in setups:
        if s.server == "gunicorn" and not gunicorn_available(environ):
            log(f"[{kind}] {s.name}: gunicorn is not importable (pip install gunicorn, or BENCH_EXTRA_PYTHONPATH); skipped")
            continue
        usable.append(s)
    runs: dict = {s.name: {"formloom": [], "baseline": []} for s in usable}
    failed: list[str] = []
    for r in range(rounds):
        for s in usable:
            for side in ("formloom", "baseline"):
                try:
                    x = one_run(s, side, url, workdir, tokens[side], clients, seconds)
                except (RuntimeError, OSError, queue.Empty) as failure:   # a server that did not start, a client lost
                    failed.append(f"round {r + 1} {s.name} {side}: {type(failure).__name__}: {str(failure)[:600]}")
                    log(f"[{kind}] {failed[-1]}")
                    continue
                runs[s.name][side].append(x)
                log(f"[{kind}] round {r + 1} {s.name:14s} {side:8s} {x['req_per_s']:7.1f} req/s  "
                    f"p50 {x['p50_ms']:6.1f} ms  p99 {x['p99_ms']:7.1f} ms  errors {x['errors']}  "
                    f"conflicts {x['conflicts']}  unexpected {x['unexpected']}  "
                    f"cpu {x['server_cpu_ms_per_req']:.2f} ms/req")
    out: dict = {"failed_runs": failed, "clients": clients, "seconds": seconds, "rounds": rounds, "mix": dict((op, share) for share, op in MIX),
                 "setups": {}}
    for name, sides in runs.items():
        if not sides["formloom"] or not sides["baseline"]:
            continue
        summary = {}
        for side, rs in sides.items():
            summary[side] = {k: median_of(rs, k) for k in ("req_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_req")}
            summary[side].update(errors=sum(r["errors"] for r in rs), conflicts=sum(r["conflicts"] for r in rs),
                                 unexpected=sum(r["unexpected"] for r in rs), requests=sum(r["requests"] for r in rs),
                                 reads_p99_ms=median_of([r["reads"] for r in rs], "p99_ms"),
                                 writes_p99_ms=median_of([r["writes"] for r in rs], "p99_ms"),
                                 writes_p50_ms=median_of([r["writes"] for r in rs], "p50_ms"))
        f, b = summary["formloom"], summary["baseline"]
        summary["throughput_ratio"] = f["req_per_s"] / b["req_per_s"] if b["req_per_s"] else None
        summary["p50_ratio"] = f["p50_ms"] / b["p50_ms"] if b["p50_ms"] else None
        summary["cpu_per_req_ratio"] = (f["server_cpu_ms_per_req"] / b["server_cpu_ms_per_req"]
                                        if b["server_cpu_ms_per_req"] else None)
        summary["runs"] = sides
        out["setups"][name] = summary
    return out


def prepare(kind: str, workdir: Path) -> tuple[str, dict]:
    """A fresh database with the CRM, the users and 10,000 opportunities (benchmarks.data)."""
    url = env.fresh_database(kind, workdir, PG_DATABASE)
    info = env.setup(url, workdir)
    env.load_tranche(url, 0, D.FIRST, [info["admin_id"]] + info["owners"], datetime.now(timezone.utc).replace(microsecond=0))
    return url, info


def run_kind(kind: str, setups: list[Setup], clients: int, seconds: float, rounds: int, workdir: Path) -> dict:
    log(f"[{kind}] preparing 10,000 opportunities")
    url, info = prepare(kind, workdir)
    try:
        return measure(kind, url, workdir, info["api_tokens"], setups, clients=clients, seconds=seconds, rounds=rounds)
    finally:
        env.drop_database(kind, url, PG_DATABASE)


def lines(result: dict) -> list[str]:
    """Markdown for latest.md and the results note: one row per database, setup and side."""
    L = ["| db | setup | API | req/s | p50 ms | p99 ms | reads p99 | writes p99 | server CPU ms/req | errors (>=500) | "
         "conflicts (409/428) | other 4xx | req/s F/B |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for db, x in result.items():
        for name, s in x["setups"].items():
            for side in ("formloom", "baseline"):
                y = s[side]
                ratio = f"{s['throughput_ratio']:.2f}" if side == "formloom" and s["throughput_ratio"] else ""
                L.append(f"| {db} | {name} | {side} | {y['req_per_s']:.1f} | {y['p50_ms']:.1f} | {y['p99_ms']:.1f} | "
                         f"{y['reads_p99_ms']:.1f} | {y['writes_p99_ms']:.1f} | {y['server_cpu_ms_per_req']:.2f} | "
                         f"{y['errors']} | {y['conflicts']} | {y['unexpected']} | {ratio} |")
    return L


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_mixed")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setups", default=",".join(DEFAULT_SETUPS))
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args(argv)
    setups = [Setup.parse(s) for s in args.setups.split(",") if s.strip()]
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    result = {}
    with tempfile.TemporaryDirectory(prefix="formloom-apimix-") as tmp:
        for kind in kinds:
            result[kind] = run_kind(kind, setups, args.clients, args.seconds, args.rounds, Path(tmp))
    load_avg = os.getloadavg()
    print("\n".join(lines(result)))
    print(f"load average at the end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"load_average_end": load_avg, "results": result}, indent=1, default=str) + "\n")
    return 1 if any(s[side]["errors"] for x in result.values() for s in x["setups"].values()
                    for side in ("formloom", "baseline")) else 0


if __name__ == "__main__":
    sys.exit(main())
