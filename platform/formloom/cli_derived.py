"""The one shape of `formloom <what> check|rebuild [APP]` for data the engine derives from
records and keeps beside them (search entries, typed slots, time in stage).

Every write keeps such data in step; these commands are for rows written around the engine
(a restore of an old dump, a hand-made bulk load, an interrupted upgrade). They share how an
app is chosen, which transaction each side runs in, how errors print and what the exit code
says, so that a new kind of derived data adds two functions rather than a third copy.
"""
from __future__ import annotations

from typing import Callable

import click

# check(conn, app) prints what differs and returns how many things differ.
Check = Callable[[object, object], int]
# rebuild(conn, app) writes the data again and prints what it did.
Rebuild = Callable[[object, object], None]


def derived_group(name: str, help_text: str, *, check: Check, rebuild: Rebuild,
                  check_help: str, rebuild_help: str, advice: str | None = None) -> click.Group:
    """A click group with `check` (read-only, exit 1 if anything differs) and `rebuild`
    (one write transaction per app). The callables are imported lazily by their callers so
    that `formloom --help` stays fast."""

    @click.group(name=name, help=help_text)
    def group() -> None:
        pass

    @group.command(name="check", help=check_help)
    @click.argument("app_key", required=False)
    def check_command(app_key: str | None) -> None:
        from .cli import _apps_named, _database, _one_line_errors

        @_one_line_errors
        def run() -> int:
            db = _database()
            differing = 0
            for app in _apps_named(db, app_key):
                with db.read() as conn:
                    differing += check(conn, app)
            return differing
        if run():
            if advice:
                click.echo(advice, err=True)
            raise click.exceptions.Exit(1)

    @group.command(name="rebuild", help=rebuild_help)
    @click.argument("app_key", required=False)
    def rebuild_command(app_key: str | None) -> None:
        from .cli import _apps_named, _database, _one_line_errors

        @_one_line_errors
        def run() -> None:
            db = _database()
            for app in _apps_named(db, app_key):
                with db.write() as conn:
                    rebuild(conn, app)
        run()

    return group
