"""Profile one Formloom page with pyinstrument (pip install pyinstrument) on a fresh
SQLite database of 10,000 opportunities.

    python -m benchmarks.profile [list_filtered|detail_get|form_get|create_post|stage_move] [--n 50]
"""
from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from . import data as D
from . import env
from .run import F_LIST, L0, InProcess, formloom_side


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("op", choices=["list_filtered", "detail_get", "form_get", "create_post", "stage_move", "home"])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--all", action="store_true", help="show library frames too")
    args = parser.parse_args()
    from pyinstrument import Profiler
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = env.fresh_database("sqlite", work)
        info = env.setup(url, work)
        env.load_tranche(url, 0, D.FIRST, [info["admin_id"]] + info["owners"], datetime.now(timezone.utc))
        fapp = env.formloom_app(url, work)
        client = InProcess(fapp)
        client.login("/apps/crm/opportunity/new")
        pool = list(range(D.MOVE_START, D.MOVE_END))
        side = formloom_side(env.MOVE_ADAPTER)

        def once(k: int) -> None:
            if args.op == "list_filtered":
                client.request("GET", F_LIST)
            elif args.op == "detail_get":
                client.request("GET", f"/apps/crm/opportunity/{L0.f_opp(k % D.HOT)}")
            elif args.op == "home":
                client.request("GET", "/")
            elif args.op == "form_get":
                client.request("GET", "/apps/crm/opportunity/new")
            elif args.op == "create_post":              # the body `make bench` posts
                client.request("POST", "/apps/crm/opportunity/new", side.create_body(k))
            else:
                i = pool.pop()
                rule = env.stage_move_endpoint(fapp) or env.MOVE_ADAPTER
                client.request("POST", rule.replace("<app_key>", "crm").replace("<entity_key>", "opportunity")
                               .replace("<int:record_id>", str(L0.f_opp(i))), {"to": "needs_confirmed", "version": "1"})
        for k in range(5):
            once(k)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for k in range(args.n):
            once(k + 5)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=args.all))


if __name__ == "__main__":
    main()
