"""The list's scale ratio alone (list_1m_vs_10k's list, at 10k and at --large rows), by CPU and
wall clock, with the plans: for checking a change to indexes without the whole of `make bench`
(on 2026-11-30 `run.py --quick` stopped at an api_update 409 before its scale part, on main too).

    python -m benchmarks.list_scale [--large 100000]
"""
import argparse
import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import data as D
from . import env
from . import run as R

def timing(client, path, n):
    for _ in range(3):
        client.request("GET", path)
    cpu, wall = [], []
    for _ in range(n):
        c0, w0 = time.thread_time(), time.perf_counter()
        status, _ = client.request("GET", path)
        cpu.append(time.thread_time() - c0); wall.append(time.perf_counter() - w0)
        assert status == 200
    return {"cpu": R.stats(cpu), "wall": R.stats(wall)}

parser = argparse.ArgumentParser(prog="python -m benchmarks.list_scale")
parser.add_argument("--large", type=int, default=100_000)
large = parser.parse_args().large
out = {}
with tempfile.TemporaryDirectory(prefix="formloom-bench-") as tmp:
    workdir = Path(tmp)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    url = env.fresh_database("sqlite", workdir)
    info = env.setup(url, workdir)
    owners = [info["admin_id"]] + info["owners"]
    env.load_tranche(url, 0, D.FIRST, owners, now)
    for size, have in ((D.FIRST, None), (large, D.FIRST)):
        if have is not None:
            env.load_tranche(url, have, size, owners, now)
        fapp = env.formloom_app(url, workdir)
        client = R.InProcess(fapp); client.login("/apps/crm/opportunity/new")
        out[size] = timing(client, R.F_LIST, 60)
        out[f"explain_{size}"] = R.explain_list(fapp, client, R.F_LIST)
        fapp.extensions["formloom.db"].dispose()
out["large_vs_10k_cpu"] = out[large]["cpu"]["median_ms"] / out[D.FIRST]["cpu"]["median_ms"]
out["large_vs_10k_wall"] = out[large]["wall"]["median_ms"] / out[D.FIRST]["wall"]["median_ms"]
print(json.dumps(out, indent=1, default=str))
