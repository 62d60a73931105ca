"""What the admin page about indexes shows: per entity, every index Formloom made with its
field(s), the reasons it exists and its size, and the fields people's saved views filter or
sort by that have no index (the candidates for `"indexed": true`).

Read from the database (what exists) and joined with the policy (why): an index the policy
no longer wants is listed as left from an earlier version until the next publish drops it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from sqlalchemy import Connection, select, text

from ..definitions.model import AppDef, EntityDef, FieldDef
from .apps import current_version
from .index_catalog import field_indexes, index_sizes
from .index_policy import IndexReason, indexable, wanted_indexes
from .tables import saved_views

#: list arguments that are not a field (store/query.py `parse_list_args`)
NOT_FIELDS = frozenset({"q", "sort", "limit", "offset", "cols", "owner", "stage", "page", "version", "partial"})


@dataclass(frozen=True)
class IndexEntry:
    name: str
    kind: str                                  # "field" | "dashboard" | "search" | "stale"
    fields: tuple[FieldDef, ...]
    reasons: tuple[IndexReason, ...] = ()
    size: int | None = None


@dataclass
class EntityIndexes:
    entity: EntityDef
    indexes: list[IndexEntry] = field(default_factory=list)
    unindexed_filters: list[tuple[FieldDef, int]] = field(default_factory=list)   # field, saved views using it


def view_fields(query: str) -> set[str]:
    """The field keys a saved list query filters or sorts by."""
    keys = set()
    for name, value in parse_qsl(query or "", keep_blank_values=True):
        if name == "sort":
            keys.add(value.lstrip("-"))
        elif name not in NOT_FIELDS:
            keys.add(name.partition("__")[0])
    return keys


def _dashboard_indexes(conn: Connection, app: AppDef) -> dict[str, IndexEntry]:
    from ..dashboards.storage import aggregated_fields, index_name
    live = current_version(conn, app.key)
    wanted = aggregated_fields(app, (live.documents.get("dashboards") or {}) if live else {})
    out = {}
    for entity in app.entities:
        keys = wanted.get(entity.key)
        if keys:
            fields = tuple(f for k in keys if (f := entity.field(k)) is not None)
            out[entity.key] = IndexEntry(index_name(app.key, entity.key), "dashboard", fields)
    return out


def _search_indexes(conn: Connection, app: AppDef) -> dict[str, IndexEntry]:
    if conn.dialect.name != "postgresql":
        return {}           # SQLite's search index is one table-wide index, not the app's
    from .search_index import indexed_fields, pg_index_name
    return {e.key: IndexEntry(pg_index_name(app.key, e.key), "search", tuple(indexed_fields(e))) for e in app.entities}


def _existing(conn: Connection, names: list[str]) -> set[str]:
    if not names:
        return set()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                 "AND indexname = ANY(:names)"), {"names": names}).scalars()
    else:
        marks = ", ".join(f":n{i}" for i in range(len(names)))
        rows = conn.execute(text(f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({marks})"),
                            {f"n{i}": n for i, n in enumerate(names)}).scalars()
    return set(rows)


def index_report(conn: Connection, app: AppDef) -> list[EntityIndexes]:
    wanted = {w.name(app.key): w for w in wanted_indexes(app)}
    present = field_indexes(conn, app.key)
    others = {**{f"d:{k}": v for k, v in _dashboard_indexes(conn, app).items()},
              **{f"s:{k}": v for k, v in _search_indexes(conn, app).items()}}
    made = _existing(conn, [e.name for e in others.values()])
    sizes = index_sizes(conn, [p.name for p in present] + sorted(made))
    by_entity = {e.key: EntityIndexes(e) for e in app.entities}
    present_names = {p.name for p in present}
    for name, w in wanted.items():
        if name in present_names:
            by_entity[w.entity.key].indexes.append(IndexEntry(name, "field", (w.field,), w.reasons, sizes.get(name)))
    for p in present:
        if p.name not in wanted:            # made by an earlier version or policy; the next publish drops it
            owner = next((e for e in app.entities if f"entity_key = '{e.key}'" in p.definition.replace(
                "(entity_key)::text", "entity_key").replace("'::text", "'")), None)
            if owner is not None:
                by_entity[owner.key].indexes.append(IndexEntry(p.name, "stale", (), (), sizes.get(p.name)))
    for key, entry in others.items():
        if entry.name in made:
            by_entity[key[2:]].indexes.append(IndexEntry(entry.name, entry.kind, entry.fields, (),
                                                         sizes.get(entry.name)))
    indexed = {(w.entity.key, w.field.key) for w in wanted.values()}
    counts: dict[str, Counter] = {e.key: Counter() for e in app.entities}
    for entity_key, query in conn.execute(select(saved_views.c.entity_key, saved_views.c.query)
                                          .where(saved_views.c.app_key == app.key)):
        if entity_key in counts:
            counts[entity_key].update(view_fields(query))
    for entity in app.entities:
        for key, n in sorted(counts[entity.key].items()):
            f = entity.field(key)
            if f is not None and indexable(f) and (entity.key, key) not in indexed:
                by_entity[entity.key].unindexed_filters.append((f, n))
    return list(by_entity.values())
