"""`formloom rollups rebuild [APP]`: recompute rollup fields from their related records.

The store keeps rollups up to date on every write (store/rollups.py); this is the
repair and the proof: after it, every rollup equals a recount, and `--check` says
whether anything had drifted without changing it.
"""
from __future__ import annotations

import click


@click.group()
def rollups() -> None:
    """Rollup fields (counts, sums, latest values of related records)."""


@rollups.command()
@click.argument("app_key", required=False)
@click.option("--check", is_flag=True, help="Only list the stored values that differ from a recount; exit 1 if any.")
def rebuild(app_key: str | None, check: bool) -> None:
    """Recompute the rollups of APP (or of every installed app)."""
    from .cli import _apps_named, _database, _one_line_errors
    from .store import rollups as maintained

    @_one_line_errors
    def run() -> None:
        db = _database()
        apps = _apps_named(db, app_key)
        drifted = changed = 0
        for app in apps:
            with db.write() as conn:
                if check:
                    found = maintained.differences(conn, app)
                    for record_id, key, stored, recount in found:
                        click.echo(f"{app.key} record {record_id}: {key} is {stored!r}, a recount gives {recount!r}")
                    drifted += len(found)
                else:
                    changed += maintained.rebuild(conn, app)
        if check:
            click.echo(f"{drifted} rollup value(s) differ from a recount.", err=True)
            if drifted:
                raise click.exceptions.Exit(1)
        else:
            click.echo(f"{changed} record(s) updated in {len(apps)} app(s).")

    run()
