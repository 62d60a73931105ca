"""What a reference picker offers, and what a new form fills in from the record it
was opened from.

The picker searches the referenced entity within the actor's read scope, narrowed by
the field's `match` over the values the form holds right now (htmx sends the matched
inputs with the search; a field the form does not show comes from the stored record),
so it offers exactly what the save will accept (store/reference_match.py). Entries
whose titles collide get a second line: the entity's `subtitle` field, else its first
reference field, else the record number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import select

from ..auth import policy
from ..auth.users import reports_of
from ..definitions.model import EntityDef, FieldDef
from ..errors import NotFoundError
from ..fields import field_type
from ..store.query import search_titles
from ..store.records import get_record
from ..store.reference_match import match_clauses, pairs
from ..store.tables import records
from .display import lookups_for, show
from .helpers import Place, current_actor, lang

RECORD_ARG = "_record"
MAX_ID = 2**53                 # larger ids do not exist (and would overflow a BIGINT)


def record_id_arg(raw: str | None) -> int | None:
    """A record id from a query argument, or None (no 500 for "abc" or a 30-digit number)."""
    if not raw or not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw)


@dataclass(frozen=True)
class PickerMatch:
    id: int
    title: str
    subtitle: str | None = None


def form_values(conn, place: Place, f: FieldDef) -> dict[str, Any]:
    """The values of the fields `f.match` reads: posted by the form, else stored on the
    record being edited (when the actor may read it)."""
    stored: dict[str, Any] = {}
    record_id = record_id_arg(request.args.get(RECORD_ARG))
    if record_id is not None:
        try:
            record = get_record(conn, place.app, place.entity, record_id)
        except NotFoundError:      # gone or never there: judge by what the form sent
            record = None
        if record is not None and policy.can(current_actor(), "read", place.app, place.entity, record,
                                             team_of=lambda user_id: reports_of(conn, user_id)):
            stored = record.data
    values = {}
    for _theirs, own in pairs(place.app, place.entity, f):
        if own.key in request.args:
            values[own.key] = field_type(own.type).from_form(own, request.args.get(own.key))
        else:
            values[own.key] = stored.get(own.key)
    return values


def picker_matches(conn, place: Place, f: FieldDef, target: EntityDef, q: str, limit: int) -> list[PickerMatch]:
    where = match_clauses(conn.dialect.name, place.app, place.entity, f, form_values(conn, place, f)) \
        if f.match else []
    if where is None:
        return []
    found = search_titles(conn, place.app, target, current_actor(), q, limit, where=where)
    counts: dict[str, int] = {}
    for _id, title in found:
        counts[title] = counts.get(title, 0) + 1
    twins = [i for i, title in found if counts[title] > 1]
    subtitles = _subtitles(conn, place, target, twins) if twins else {}
    return [PickerMatch(i, title, subtitles.get(i)) for i, title in found]


def subtitle_field(entity: EntityDef) -> FieldDef | None:
    if entity.subtitle:
        return entity.field(entity.subtitle)
    return next((f for f in entity.fields if f.type == "reference" and not f.archived and f.key != entity.title), None)


def _subtitles(conn, place: Place, target: EntityDef, ids: list[int]) -> dict[int, str]:
    f = subtitle_field(target)
    rows = {r.id: r.data or {} for r in conn.execute(select(records.c.id, records.c.data)
                                                     .where(records.c.id.in_(ids)))}
    visible = f is not None and policy.field_access(current_actor(), place.app, f) != "hidden"
    out: dict[int, str] = {}
    if visible:
        lookups = lookups_for(conn, place.app, [f], list(rows.values()), actor=current_actor())
        for i, data in rows.items():
            shown = show(place.app, f, data.get(f.key), lang(), lookups)
            text = shown.text or ", ".join(t for _href, t in shown.links)
            if text:
                out[i] = text
    seen: dict[str, int] = {}
    for i in ids:
        seen[out.get(i, "")] = seen.get(out.get(i, ""), 0) + 1
    for i in ids:                    # still alike: the record number tells them apart
        if seen[out.get(i, "")] > 1:
            out[i] = f"{out[i]} · #{i}" if out.get(i) else f"#{i}"
    return out


# -- a new form opened from a record -----------------------------------------------------

def prefill_references(conn, place: Place, writable: set[str]) -> dict[str, int]:
    """For a new form opened with `?<reference>=<id>`: the other empty reference fields the
    referenced record can answer, each from its one reference to the same entity (the one
    with the same key when there are several): a task opened from a case gets the case's
    company. Only from a record the actor may read."""
    app, entity, actor = place.app, place.entity, current_actor()
    out: dict[str, int] = {}
    for f in entity.fields:
        source_id = record_id_arg(request.args.get(f.key))
        source_entity = app.entity(f.entity) if f.type == "reference" and f.entity else None
        if source_entity is None or f.multiple or f.key not in writable or source_id is None:
            continue
        try:
            source = get_record(conn, app, source_entity, source_id)
        except NotFoundError:
            continue
        if not policy.can(actor, "read", app, source_entity, source, team_of=lambda user_id: reports_of(conn, user_id)):
            continue
        for g in entity.fields:
            if g.type != "reference" or g.multiple or g.key == f.key or g.key not in writable \
                    or request.args.get(g.key) or g.key in out:
                continue
            same = [h for h in source_entity.fields
                    if h.type == "reference" and not h.multiple and not h.archived and h.entity == g.entity]
            pick = next((h for h in same if h.key == g.key), None) or (same[0] if len(same) == 1 else None)
            value = source.data.get(pick.key) if pick is not None else None
            if isinstance(value, int) and not isinstance(value, bool):
                out[g.key] = value
    return out
