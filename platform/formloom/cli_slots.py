"""`formloom slots rebuild|check [APP]`: the typed slot columns (store.slots) recomputed
from the JSON documents, or compared with them. Every write keeps them; rebuild is for
rows written around the engine (a restore, a hand-made bulk load, an interrupted upgrade).
"""
from __future__ import annotations

import click

from .cli_derived import derived_group


def _check(conn, app) -> int:
    from .store.slots import mapping, mismatches
    n, held = mismatches(conn, app), mapping(conn, app.key)
    fields = ", ".join(f"{e}.{k}={s}" for e, m in sorted(held.items()) for k, s in sorted(m.items()))
    click.echo(f"{app.key}: {n} record(s) differ; slots: {fields or 'none'}")
    return n


def _rebuild(conn, app) -> None:
    from .store.slots import rebuild
    click.echo(f"{app.key}: rebuilt the slots of {rebuild(conn, app)} record(s)")


slots = derived_group(
    "slots", "Typed copies of aggregated fields (the JSON documents stay the truth).",
    check=_check, rebuild=_rebuild,
    check_help="Count the records whose slots differ from their JSON (exit 1 if any).",
    rebuild_help="Recompute the slots of every record of APP (default: every app) from its JSON.")
