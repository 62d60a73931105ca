"""`formloom search rebuild [APP]` and `formloom search check [APP]`: global search's
index (store/search_index.py) written again from the records, or compared with them.

The index is kept in step by every write; a rebuild is for what writes around the
engine (a restore of an older backup, a bulk load straight into the table) and for
PostgreSQL after an administrator installs pg_trgm (the rebuild creates the index).
"""
from __future__ import annotations

import click


@click.group()
def search() -> None:
    """Global search's index."""



@search.command()
@click.argument("app_key", required=False)
def rebuild(app_key: str | None) -> None:
    """Write the index of APP (default: every app) again from its records."""
    from .cli import _apps_named, _database, _one_line_errors
    from .store import search_index

    @_one_line_errors
    def run() -> None:
        db = _database()
        for app in _apps_named(db, app_key):
            with db.write() as conn:
                problem = search_index.create_text_index(conn)
                written = search_index.rebuild(conn, app)
            click.echo(f"Rebuilt the search index of {app.key!r}: {written} entries.")
            if problem:
                click.echo(f"warning: search runs unindexed: {problem}", err=True)
    run()


@search.command()
@click.argument("app_key", required=False)
def check(app_key: str | None) -> None:
    """Compare the index of APP (default: every app) with its records; exit 1 if they differ."""
    from .cli import _apps_named, _database, _one_line_errors
    from .store import search_index

    @_one_line_errors
    def run() -> None:
        db = _database()
        wrong = 0
        for app in _apps_named(db, app_key):
            with db.read() as conn:
                found = search_index.differences(conn, app)
            for line in found[:20]:
                click.echo(f"{app.key}: {line}")
            wrong += len(found)
            click.echo(f"{app.key!r}: {len(found)} record(s) differ from the index.")
        if wrong:
            click.echo("Run `formloom search rebuild` to write the index again.", err=True)
            raise click.exceptions.Exit(1)
    run()
