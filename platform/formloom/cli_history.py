"""`formloom history check|rebuild [APP]`: the time in stage each stage-history row stores
(workflow.durations), compared with or recomputed from the history itself. Every move
writes it; rebuild is for rows written around the engine (a hand-made bulk load, a restore
of an old dump) and check is the proof a dashboard's "days in stage" can be trusted.
"""
from __future__ import annotations

import click


@click.group()
def history() -> None:
    """Stage history (the time each record spent in a stage)."""


@history.command()
@click.argument("app_key", required=False)
def check(app_key: str | None) -> None:
    """List the history rows whose time in stage differs from the history (exit 1 if any)."""
    from .cli import _apps_named, _database, _one_line_errors
    from .workflow.durations import differences

    @_one_line_errors
    def run() -> int:
        db = _database()
        bad = 0
        for app in _apps_named(db, app_key):
            with db.read() as conn:
                found = differences(conn, app.key)
            for row_id, record_id, stored, want in found[:50]:
                click.echo(f"{app.key} record {record_id}: history row {row_id} says {stored!r} s in the previous "
                           f"stage, the history gives {want} s")
            click.echo(f"{app.key}: {len(found)} history row(s) differ")
            bad += len(found)
        return bad
    if run():
        raise click.exceptions.Exit(1)


@history.command()
@click.argument("app_key", required=False)
def rebuild(app_key: str | None) -> None:
    """Recompute the time in stage of every history row of APP (default: every app)."""
    from .cli import _apps_named, _database, _one_line_errors
    from .workflow.durations import rebuild as rebuild_durations

    @_one_line_errors
    def run() -> None:
        db = _database()
        for app in _apps_named(db, app_key):
            with db.write() as conn:
                n = rebuild_durations(conn, app.key)
            click.echo(f"{app.key}: corrected {n} history row(s)")
    run()
