"""`python -m soak [--quick] [--only sqlite|postgres]`: run the reliability scenarios on
SQLite, and on PostgreSQL when FORMLOOM_SOAK_PG_URL (default: the local test database)
answers; print one table of figures; exit 1 when an integrity figure is not zero."""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from . import scenarios
from .harness import Backend, Site, postgres_reachable

PG_URL = os.environ.get("FORMLOOM_SOAK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def run_backend(backend: Backend, quick: bool) -> list[scenarios.Result]:
    scale = 0.4 if quick else 1.0
    site = Site.prepare(backend)
    try:
        return [
            scenarios.lost_updates(site, writers=16, increments=max(5, int(25 * scale))),
            scenarios.server_killed(site, burst=max(60, int(300 * scale))),
            scenarios.worker_killed(site, tickets=max(50, int(200 * scale))),
            *cuts(site, quick),
        ]
    finally:
        site.db.dispose()


def cuts(site: Site, quick: bool) -> list[scenarios.Result]:
    """PostgreSQL: its connections cut. SQLite: the file made read-only, then locked for
    longer than the busy timeout (a shorter lock only makes writers wait)."""
    if site.backend.pg_schema:
        return [scenarios.database_cut(site, "pg_terminate_backend", cut=2 if quick else 4)]
    return [scenarios.database_cut(site, "read-only file", cut=2 if quick else 4),
            scenarios.database_cut(site, "exclusive lock", cut=33)]


def table(columns: list[str], results: dict[str, list[scenarios.Result]]) -> str:
    """One row per figure, one column per backend."""
    order: list[tuple[str, str]] = []
    values: dict[tuple[str, str, str], object] = {}
    for backend, found in results.items():
        for result in found:
            scenario = result.scenario.split(" (")[0]
            for name, value in result.figures:
                if (scenario, name) not in order:
                    order.append((scenario, name))
                values[(backend, scenario, name)] = value
            values[(backend, scenario, "method")] = result.scenario
    width = max(len(name) for _s, name in order) + 2
    out, last = [], None
    header = "figure".ljust(width) + "".join(c.rjust(24) for c in columns)
    out.append(header)
    out.append("-" * len(header))
    for scenario, name in order:
        if scenario != last:
            methods = [values[(c, scenario, "method")] for c in columns if (c, scenario, "method") in values]
            out.append(f"[{' / '.join(dict.fromkeys(methods))}]")
            last = scenario
        cells = "".join(str(values.get((c, scenario, name), "-")).rjust(24) for c in columns)
        out.append(name.ljust(width) + cells)
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts and a shorter outage")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one database only")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, list[scenarios.Result]] = {}
    backends = []
    if args.only in (None, "sqlite"):
        backends.append(("SQLite", Backend.sqlite))
    if args.only in (None, "postgres"):
        if postgres_reachable(PG_URL):
            backends.append(("PostgreSQL", lambda: Backend.postgres(PG_URL)))
        else:
            print(f"PostgreSQL at {PG_URL.split('@')[-1]} does not answer: SQLite only.", file=sys.stderr)
    for name, make in backends:
        backend = make()
        print(f"soak: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = run_backend(backend, args.quick)
        finally:
            backend.drop()
    print(f"Formloom soak: {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
          f"{time.monotonic() - started:.0f} s")
    print(table(list(results), results))
    problems = [p for found in results.values() for r in found for p in r.problems]
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("OK: every integrity figure is zero." if not problems else f"{len(problems)} problem(s).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
