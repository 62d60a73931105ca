"""`formloom slots rebuild|check [APP]`: the typed slot columns (store.slots) recomputed
from the JSON documents, or compared with them. Every write keeps them; rebuild is for
rows written around the engine (a restore, a hand-made bulk load, an interrupted upgrade).
"""
from __future__ import annotations

import click


@click.group()
def slots() -> None:
    """Typed copies of aggregated fields (the JSON documents stay the truth)."""


@slots.command()
@click.argument("app_key", required=False)
def rebuild(app_key: str | None) -> None:
    """Recompute the slots of every record of APP (default: every app) from its JSON."""
    from .cli import _apps_named, _database, _one_line_errors
    from .store.slots import rebuild as rebuild_slots

    @_one_line_errors
    def run() -> None:
        db = _database()
        for app in _apps_named(db, app_key):
            with db.write() as conn:
                n = rebuild_slots(conn, app)
            click.echo(f"{app.key}: rebuilt the slots of {n} record(s)")
    run()


@slots.command()
@click.argument("app_key", required=False)
def check(app_key: str | None) -> None:
    """Count the records whose slots differ from their JSON (exit 1 if any)."""
    from .cli import _apps_named, _database, _one_line_errors
    from .store.slots import mapping, mismatches

    @_one_line_errors
    def run() -> int:
        db = _database()
        bad = 0
        for app in _apps_named(db, app_key):
            with db.read() as conn:
                n, held = mismatches(conn, app), mapping(conn, app.key)
            fields = ", ".join(f"{e}.{k}={s}" for e, m in sorted(held.items()) for k, s in sorted(m.items()))
            click.echo(f"{app.key}: {n} record(s) differ; slots: {fields or 'none'}")
            bad += n
        return bad
    if run():
        raise click.exceptions.Exit(1)
