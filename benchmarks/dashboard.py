"""The CRM sales dashboard over a large table, against hand-written SQL.

    python -m benchmarks.dashboard [--rows 100000] [--db sqlite|postgres|both] [--iters 15]
                                   [--keep DIR] [--clock wall|cpu]

--keep DIR keeps the loaded SQLite file (and the setup's ids) in DIR and re-uses it when it holds
as many rows: a 1M load takes most of an hour, and a before/after comparison should not pay it
twice (the re-used database is upgraded first, so a new migration's backfill runs on it).
--clock cpu times the engine and the baseline with this process's CPU clock: on a shared machine
other processes' load then no longer lands in the numbers (SQLite runs in-process, so its work is
counted; a PostgreSQL server's is not, so prefer wall time there).

Loads ROWS opportunities (with their customers, contacts and follow-ups) into both
Formloom's records table and the baseline's typed tables (benchmarks.data), then times:

- **pipeline_vs_sql_manager / _rep**: count and sum(amount) per stage plus the win
  rate, as a manager (the CRM lets managers read every opportunity) and as a sales
  rep (own records) see them, through the dashboard engine (dashboards.measures.
  run_widget: one grouped query for the bar, one for the ratio, the policy's scope
  clause in SQL) vs the same two questions written by hand on bl_opportunity
  (`WHERE owner_id = rep OR created_by = rep` for the rep), with the baseline's own
  indexes and again with a covering index (stage, owner_id, created_by, amount);
  answers checked equal.
- **dashboard_full**: every widget of app_templates/crm/dashboards/sales.json as the
  manager, period "this year" and "all time", with the time of each widget.
- **dashboard_1m_vs_sql** (= pipeline_vs_sql_manager's ratio) and **dashboard_full_1m**
  (= dashboard_full_all), the issue's names, at --rows (1M in a full run).

Engine and baseline are timed alternately (one of each per round), so a shared machine's
load falls on both alike.

Writes benchmarks/results/dashboard-<db>.json and prints a summary. No storage is
changed for the benchmark: the engine reads the typed slot columns the CRM's install
assigned to the fields its dashboards aggregate (store.slots; the bulk loader fills
them for its rows as `formloom slots rebuild` does).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("BENCH_PG_DATABASE", "formloom_bench_dashboard")

from . import env  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


CLOCK = time.perf_counter


def _median_ms(fn, n: int) -> float:
    fn()
    samples = []
    for _ in range(n):
        t0 = CLOCK()
        fn()
        samples.append(CLOCK() - t0)
    return statistics.median(samples) * 1000


def _paired_ms(a, b, n: int) -> tuple[float, float]:
    """Medians of `a` and `b` run alternately, so a shared machine's load falls on both alike."""
    a(), b()
    sa, sb = [], []
    for _ in range(n):
        for fn, samples in ((a, sa), (b, sb)):
            t0 = CLOCK()
            fn()
            samples.append(CLOCK() - t0)
    return statistics.median(sa) * 1000, statistics.median(sb) * 1000


BAR = {"key": "bar", "type": "bar", "entity": "opportunity", "group": {"by": "$stage"},
       "measures": [{"agg": "count"}, {"agg": "sum", "field": "amount"}]}
RATE = {"key": "rate", "type": "number", "entity": "opportunity",
        "measures": [{"agg": "ratio", "of": {"agg": "count", "filter": {"==": [{"var": "$stage"}, "won"]}},
                      "per": {"agg": "count", "filter": {"in": [{"var": "$stage"}, ["won", "lost"]]}}}]}


def the_manager(conn):
    from formloom.auth.users import load_actor
    return next(a for uid in range(1, 20) if (a := load_actor(conn, uid)) and "manager" in a.roles_in("crm"))


def pipeline_pair(flask_app, viewer, where: str = ""):
    """(engine, hand-written SQL): count and sum(amount) per stage and the win rate as `viewer`
    sees them, each returning ({stage: (count, sum)}, rate). `where` is the baseline's scope."""
    from formloom.dashboards.measures import Viewer, run_widget
    from formloom.dashboards.model import compile_widget
    from formloom.dashboards.periods import resolve_period
    from zoneinfo import ZoneInfo
    db = flask_app.extensions["formloom.db"]
    app, _version_id = flask_app.extensions["formloom.catalog"].get("crm")
    zone = ZoneInfo(app.timezone)
    today = datetime.now(zone).date()
    bar, rate = compile_widget(BAR), compile_widget(RATE)

    def formloom_once():
        with db.read() as conn:
            v = Viewer(conn, app, viewer, resolve_period("all", today, zone), today)
            by = {r.key: (int(r.values[0]), round(r.values[1] or 0, 2)) for r in run_widget(v, bar).rows}
            return by, run_widget(v, rate).value

    sql_by = f"SELECT stage, count(*), sum(amount) FROM bl_opportunity {where} GROUP BY stage"
    sql_rate = (f"SELECT sum(CASE WHEN stage = 'won' THEN 1 ELSE 0 END), "
                f"sum(CASE WHEN stage IN ('won', 'lost') THEN 1 ELSE 0 END) FROM bl_opportunity {where}")

    def baseline_once():
        with db.engine.connect() as conn:
            by = {r[0]: (int(r[1]), round(float(r[2] or 0), 2)) for r in conn.exec_driver_sql(sql_by)}
            won, closed = conn.exec_driver_sql(sql_rate).one()
        return by, (won / closed if closed else None)

    formloom_once.sql = [sql_by, sql_rate]
    return formloom_once, baseline_once


def full_dashboard(flask_app, viewer, period: str, per_widget: dict, per_widget_samples: dict | None = None):
    """Every widget of the CRM's sales dashboard as `viewer` over `period`; each widget's
    milliseconds land in `per_widget` (the last run) and, with `per_widget_samples`, every run's
    (wall, CPU) milliseconds per widget: one run's times are noise on a shared machine."""
    per_widget_samples = {} if per_widget_samples is None else per_widget_samples
    from formloom.dashboards.catalog import dashboards_of
    from formloom.dashboards.measures import Viewer, run_widget
    from formloom.dashboards.periods import resolve_period
    from zoneinfo import ZoneInfo
    db = flask_app.extensions["formloom.db"]
    app, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    zone = ZoneInfo(app.timezone)
    today = datetime.now(zone).date()
    with db.read() as conn:
        dashboard = dashboards_of(conn, version_id)["sales"]

    def full():
        with db.read() as conn:
            v = Viewer(conn, app, viewer, resolve_period(period, today, zone), today)
            for w in dashboard.widgets:
                t, c = time.perf_counter(), time.process_time()
                run_widget(v, w)
                per_widget[w.key] = (time.perf_counter() - t) * 1000
                per_widget_samples.setdefault(w.key, []).append(((time.perf_counter() - t) * 1000,
                                                                 (time.process_time() - c) * 1000))
    return full


def _loaded(kind: str, rows: int, keep: Path | None) -> tuple[str, Path, dict, dict]:
    """(url, workdir, setup info, load stats): a fresh database loaded with `rows`, or the one kept
    in `keep` by an earlier run with the same rows (upgraded to this tree's migrations)."""
    marker = keep / f"{kind}-{rows}.json" if keep else None
    if marker is not None and kind == "sqlite" and marker.exists() and (keep / "bench.db").exists():
        from formloom.store.migrate import upgrade
        kept = json.loads(marker.read_text())
        url = f"sqlite:///{keep / 'bench.db'}"
        t0 = time.perf_counter()
        upgrade(url)
        print(f"[{kind}] re-using {rows:,} opportunities in {keep} (upgraded in {time.perf_counter() - t0:.0f}s)",
              flush=True)
        return url, keep, kept["info"], dict(kept["load"], reused=True)
    workdir = keep if keep is not None and kind == "sqlite" else Path(tempfile.mkdtemp(prefix="dash-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = env.fresh_database(kind, workdir)
    info = env.setup(url, workdir)
    owners = [info["admin_id"]] + info["owners"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    t0 = time.perf_counter()
    load = env.load_tranche(url, 0, rows, owners, now)
    print(f"[{kind}] loaded {rows:,} opportunities in {time.perf_counter() - t0:.0f}s", flush=True)
    if marker is not None and kind == "sqlite":
        marker.write_text(json.dumps({"info": info, "load": load}, default=str))
    return url, workdir, info, load


def run(kind: str, rows: int, iters: int, keep: Path | None = None) -> dict:
    from formloom.auth.users import load_actor

    url, workdir, info, load = _loaded(kind, rows, keep)
    flask_app = env.formloom_app(url, workdir)
    db = flask_app.extensions["formloom.db"]
    out: dict = {"db": kind, "rows": rows, "load": load,
                 "clock": "cpu" if CLOCK is time.process_time else "wall", "loadavg_before": os.getloadavg()}
    with db.read() as conn:
        manager = the_manager(conn)
        rep = load_actor(conn, info["owners"][0])
    for name, viewer, where in (("manager", manager, ""),       # the CRM's managers read all opportunities
                                ("rep", rep, f"WHERE owner_id = {int(rep.id)} OR created_by = {int(rep.id)}")):
        formloom_once, baseline_once = pipeline_pair(flask_app, viewer, where)
        sql_by, sql_rate = formloom_once.sql
        f_by, f_rate = formloom_once()
        b_by, b_rate = baseline_once()
        agree = all(f_by.get(k, (0, 0))[0] == b_by[k][0] and abs(f_by.get(k, (0, 0))[1] - b_by[k][1]) < 0.5
                    for k in b_by) and abs((f_rate or 0) - (b_rate or 0)) < 1e-9
        f_ms, b_ms = _paired_ms(formloom_once, baseline_once, iters)
        # the fairest hand-written side: the same question over a covering index on the typed columns
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS bl_opp_dash ON bl_opportunity "
                                 "(stage, owner_id, created_by, amount)")
            conn.exec_driver_sql("ANALYZE bl_opportunity")
        f2_ms, c_ms = _paired_ms(formloom_once, baseline_once, iters)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX bl_opp_dash")
        out[f"pipeline_vs_sql_{name}"] = {"formloom_ms": f_ms, "sql_ms": b_ms, "ratio": f_ms / b_ms,
                                          "sql_covering_index_ms": c_ms, "formloom_ms_paired_with_covering": f2_ms,
                                          "ratio_vs_covering": f2_ms / c_ms,
                                          "answers_agree": agree, "sql": [sql_by, sql_rate]}
        print(f"[{kind}] pipeline + win rate as {name}: engine {f_ms:.1f} ms, hand SQL {b_ms:.1f} ms "
              f"(ratio {f_ms / b_ms:.2f}), hand SQL with a covering index {c_ms:.1f} ms (ratio {f2_ms / c_ms:.2f}), "
              f"answers agree: {agree}", flush=True)

    out["dashboard_1m_vs_sql"] = out["pipeline_vs_sql_manager"]["ratio"]     # the issue's name, at --rows
    for period in ("this_year", "all"):
        per_widget: dict = {}
        samples: dict = {}
        total = _median_ms(full_dashboard(flask_app, manager, period, per_widget, samples), max(3, iters // 3))
        medians = {k: (round(statistics.median(w for w, _c in runs), 1), round(statistics.median(c for _w, c in runs), 1))
                   for k, runs in samples.items()}
        out[f"dashboard_full_{period}"] = {"ms": total, "widgets_ms_last_run": dict(per_widget),
                                           "widgets_ms_median": {k: w for k, (w, _c) in medians.items()},
                                           "widgets_cpu_ms_median": {k: c for k, (_w, c) in medians.items()}}
        print(f"[{kind}] per widget, median wall / CPU ms: " + ", ".join(
            f"{k} {w:.0f}/{c:.0f}" for k, (w, c) in sorted(medians.items(), key=lambda kv: -kv[1][1])), flush=True)
        print(f"[{kind}] whole sales dashboard as manager, {period}: {total:.0f} ms "
              f"(slowest: {max(per_widget, key=per_widget.get)} {max(per_widget.values()):.0f} ms)", flush=True)
    # the issue's name, at --rows: every widget of the manager's dashboard over every record
    out["dashboard_full_1m"] = {"ms": out["dashboard_full_all"]["ms"], "period": "all", "rows": rows}
    try:
        from formloom.store.slots import mapping
    except ImportError:             # a tree before typed slots (a before/after comparison)
        out["slots"] = None
    else:
        with db.read() as conn:
            out["slots"] = mapping(conn, "crm")
    out["loadavg_after"] = os.getloadavg()
    flask_app.extensions["formloom.db"].dispose()
    if keep is None or kind != "sqlite":
        env.drop_database(kind, url)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--iters", type=int, default=15)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the loaded SQLite database in this folder and re-use it on the next run")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    RESULTS.mkdir(exist_ok=True)
    for kind in (("sqlite", "postgres") if args.db == "both" else (args.db,)):
        result = run(kind, args.rows, args.iters, args.keep)
        (RESULTS / f"dashboard-{kind}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
