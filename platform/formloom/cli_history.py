"""`formloom history check|rebuild [APP]`: the time in stage each stage-history row stores
(workflow.durations), compared with or recomputed from the history itself. Every move
writes it; rebuild is for rows written around the engine (a hand-made bulk load, a restore
of an old dump) and check is the proof a dashboard's "days in stage" can be trusted.
"""
from __future__ import annotations

import click

from .cli_derived import derived_group


def _check(conn, app) -> int:
    from .workflow.durations import differences
    found = differences(conn, app.key)
    for row_id, record_id, stored, want in found[:50]:
        click.echo(f"{app.key} record {record_id}: history row {row_id} says {stored!r} s in the previous "
                   f"stage, the history gives {want} s")
    click.echo(f"{app.key}: {len(found)} history row(s) differ")
    return len(found)


def _rebuild(conn, app) -> None:
    from .workflow.durations import rebuild
    click.echo(f"{app.key}: corrected {rebuild(conn, app.key)} history row(s)")


history = derived_group(
    "history", "Stage history (the time each record spent in a stage).", check=_check, rebuild=_rebuild,
    check_help="List the history rows whose time in stage differs from the history (exit 1 if any).",
    rebuild_help="Recompute the time in stage of every history row of APP (default: every app).")
