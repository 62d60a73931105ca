"""Reference fields that depend on other fields of the same record (`match`).

`"match": {"company": "company"}` on a reference to people means: only a person
whose `company` is this record's `company`. The same pairs give the picker its SQL
filter (`match_clauses`, over what the form holds right now) and the save its check
(`match_problems`, over what would be stored), so the two cannot disagree. A pair
whose field on this side is empty constrains nothing; a referenced field holding
several values matches when it contains the value.
"""
from __future__ import annotations

from typing import Any, Collection, Iterator, Mapping

from sqlalchemy import ColumnElement, Connection, select

from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import FieldProblem, field_type
from ..i18n import translate
from .tables import records


def pairs(app: AppDef, entity: EntityDef, f: FieldDef) -> Iterator[tuple[FieldDef, FieldDef]]:
    """(the referenced entity's field, this entity's field) for each usable pair of `f.match`."""
    target = app.entity(f.entity) if f.entity else None
    if target is None or not f.match:
        return
    for their_key, own_key in f.match.items():
        theirs, own = target.field(their_key), entity.field(own_key)
        if theirs is not None and own is not None:
            yield theirs, own


def _empty(f: FieldDef, value: Any) -> bool:
    return field_type(f.type).is_empty(value)


def match_clauses(dialect: str, app: AppDef, entity: EntityDef, f: FieldDef,
                  values: Mapping[str, Any]) -> list[ColumnElement[bool]] | None:
    """SQL conditions on the referenced records for the picker, from the form's `values`
    (already typed); None when a value cannot match anything (the picker offers nothing)."""
    from .query import Filter, QueryError, coerce_filter_value, filter_clause   # query builds on records.py

    clauses = []
    for theirs, own in pairs(app, entity, f):
        value = values.get(own.key)
        if _empty(own, value):
            continue
        try:       # a JSON list (several values) is matched by membership of the typed value
            wanted = value if theirs.multiple else coerce_filter_value(theirs, "eq", value)
            clauses.append(filter_clause(dialect, theirs, Filter(theirs.key, "eq", wanted)))
        except QueryError:
            return None
    return clauses


def _matches(theirs: FieldDef, stored: Any, wanted: Any) -> bool:
    if isinstance(stored, list):
        return wanted in stored
    return stored == wanted


def match_problems(conn: Connection, app: AppDef, entity: EntityDef, data: Mapping[str, Any],
                   changed: Collection[str] | None, lang: str,
                   known: Mapping[tuple[str, int], Any] | None = None) -> list[FieldProblem]:
    """A problem for each reference field whose chosen record(s) do not match this record's
    values. Only fields that changed, or whose matched fields changed, are checked
    (`changed=None`: all of them, as on create). `known` holds rows a batch already read
    ((entity key, id) -> row or None, see records.prefetch_references); when every chosen
    id is there as a live row it is used instead of a query."""
    problems: list[FieldProblem] = []
    for f in entity.fields:
        if f.type != "reference" or not f.match or f.archived:
            continue
        found = [(theirs, own) for theirs, own in pairs(app, entity, f) if not _empty(own, data.get(own.key))]
        if not found or (changed is not None and f.key not in changed
                         and not any(own.key in changed for _t, own in found)):
            continue
        raw = data.get(f.key)
        ids = [i for i in (raw if isinstance(raw, list) else [raw]) if isinstance(i, int)]
        if not ids:
            continue
        if known is not None and all(known.get((f.entity, i)) is not None for i in ids):
            rows = {i: known[f.entity, i].data or {} for i in ids}
        else:
            rows = {r.id: r.data or {} for r in conn.execute(
                select(records.c.id, records.c.data).where(records.c.id.in_(ids), records.c.app_key == app.key,
                                                           records.c.entity_key == f.entity))}
        wrong = [(theirs, own) for theirs, own in found for i in ids
                 if i in rows and not _matches(theirs, rows[i].get(theirs.key), data.get(own.key))]
        if wrong:
            theirs, own = wrong[0]
            target = app.entity(f.entity)
            problems.append(FieldProblem(
                f.key, "/" + f.key, "mismatch",
                translate(lang, "Choose a %(entity)s whose %(their_field)s is the chosen %(field)s.",
                          entity=target.label.get(lang), their_field=theirs.label.get(lang),
                          field=own.label.get(lang))))
    return problems
