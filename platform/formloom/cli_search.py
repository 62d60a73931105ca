"""`formloom search rebuild [APP]` and `formloom search check [APP]`: global search's
index (store/search_index.py) written again from the records, or compared with them.

The index is kept in step by every write; a rebuild is for what writes around the
engine (a restore of an older backup, a bulk load straight into the table) and for
PostgreSQL after an administrator installs pg_trgm (the rebuild creates the index).
"""
from __future__ import annotations

import click

from .cli_derived import derived_group


def _check(conn, app) -> int:
    from .store import search_index
    found = search_index.differences(conn, app)
    for line in found[:20]:
        click.echo(f"{app.key}: {line}")
    click.echo(f"{app.key!r}: {len(found)} record(s) differ from the index.")
    return len(found)


def _rebuild(conn, app) -> None:
    from .store import search_index
    problem = search_index.create_text_index(conn)
    written = search_index.rebuild(conn, app)
    click.echo(f"Rebuilt the search index of {app.key!r}: {written} entries.")
    if problem:
        click.echo(f"warning: search runs unindexed: {problem}", err=True)


search = derived_group(
    "search", "Global search's index.", check=_check, rebuild=_rebuild,
    check_help="Compare the index of APP (default: every app) with its records; exit 1 if they differ.",
    rebuild_help="Write the index of APP (default: every app) again from its records.",
    advice="Run `formloom search rebuild` to write the index again.")
