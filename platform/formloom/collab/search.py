"""Global search: one query per entity the reader may read, by title and by the text
fields they may see, scoped in SQL by the same clause as the lists.

Matching is case-insensitive substring, so CJK text is found by any part of it. The
index in store/search_index.py serves it: a query of 3 or more characters is looked up
by trigrams (SQLite FTS5, PostgreSQL pg_trgm) among the entries of the fields the
reader may see; a shorter one has no trigram and is matched by LIKE over the same
entries, record by record in recency order, stopping at `per_entity + 1` matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import column, exists, literal_column, select, table, text
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..store import search_index
from ..store.query import scoped
from ..store.tables import records, search_entries

MAX_QUERY = 100
PER_ENTITY = 5


@dataclass(frozen=True)
class SearchGroup:
    app: AppDef
    entity: EntityDef
    hits: list[tuple[int, str]]      # (record id, title)
    has_more: bool


def searchable_fields(actor: Actor, app: AppDef, entity: EntityDef) -> list[FieldDef]:
    """The indexed fields the reader may see (the title is always searched: it is what
    every list and picker shows of a record)."""
    visible = {f.key for f in policy.visible_fields(actor, app, entity)}
    return [f for f in search_index.indexed_fields(entity) if f.key in visible]


TRIGRAM = 3
_fts = table("search_fts", column("rowid"))


def _like_pattern(needle: str) -> str:
    return "%" + needle.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _matches(dialect: str, app: AppDef, entity: EntityDef, keys: list[str], needle: str):
    """Records of `entity` with an entry of one of `keys` containing `needle` (casefolded)."""
    e = search_entries
    of_fields = (e.c.app_key == app.key, e.c.entity_key == entity.key, e.c.field_key.in_(keys))
    if len(needle) < TRIGRAM:
        return exists().where(e.c.record_id == records.c.id, e.c.field_key.in_(keys),
                              e.c.text.like(_like_pattern(needle), escape="/"))
    if dialect == "sqlite":
        phrase = '"' + needle.replace('"', '""') + '"'
        hits = (select(e.c.record_id).select_from(_fts.join(e, e.c.id == literal_column("search_fts.rowid")))
                .where(text("search_fts MATCH :phrase").bindparams(phrase=phrase), *of_fields))
    else:
        hits = select(e.c.record_id).where(e.c.text.like(_like_pattern(needle), escape="/"), *of_fields)
    return records.c.id.in_(hits)


def global_search(conn: Connection, apps: Iterable[AppDef], actor: Actor, q: str,
                  per_entity: int = PER_ENTITY) -> list[SearchGroup]:
    q = " ".join((q or "").split())[:MAX_QUERY]
    if not q:
        return []
    needle = search_index.folded(q) or ""
    out = []
    for app in apps:
        if not policy.is_member(actor, app):
            continue
        for entity in app.entities:
            if (policy.scope(actor, "read", app, entity) == "none"
                    and not policy.conditional_grants(actor, "read", app, entity)
                    and not policy.sees_pool(actor, app, entity)):
                continue
            keys = [search_index.TITLE] + [f.key for f in searchable_fields(actor, app, entity)]
            where = _matches(conn.dialect.name, app, entity, keys, needle)
            rows = conn.execute(select(records.c.id, records.c.title)
                                .where(scoped(conn, app, entity, actor), where)
                                .order_by(records.c.updated_at.desc(), records.c.id.desc())
                                .limit(per_entity + 1)).all()
            if rows:
                out.append(SearchGroup(app, entity, [(r.id, r.title) for r in rows[:per_entity]],
                                       len(rows) > per_entity))
    return out
