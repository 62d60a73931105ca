"""Global search: one query per entity the reader may read, by title and by the text
fields they may see, scoped in SQL by the same clause as the lists.

Matching is case-insensitive substring, so CJK text is found by any part of it. The
index in store/search_index.py serves it: a query of 3 or more characters is looked up
by trigrams (SQLite FTS5, PostgreSQL pg_trgm) among the entries of the fields the
reader may see; one of 1-2 characters by its bigram token (`search_index.gram`: a pair
of letters or numbers, or one non-ASCII letter such as a Chinese character), the LIKE
kept on the candidates so the results are LIKE's. What has no token (one ASCII
character, a pair with a space or punctuation) is matched by LIKE alone over the same
entries, newest first, stopping at `per_entity + 1` matches.

Order: on PostgreSQL the most recently changed records first; on SQLite the most
recently *indexed* text first (a record's entries are rewritten when its title or
searched text changes): that is the order FTS5 can walk and stop early in, which keeps
a common word fast on a million records.
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
_fts_rowid = literal_column("search_fts.rowid")
_grams = table("search_grams", column("rowid"))
_grams_rowid = literal_column("search_grams.rowid")


def _like_pattern(needle: str) -> str:
    return "%" + needle.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


#: PostgreSQL: a text matching fewer entries of an entity than this is "rare"
FEW = 1000


def _hits_postgres(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, keys: list[str], needle: str,
                   want: int) -> list[tuple[int, str]]:
    """A rare text: the entity's partial trigram index finds all its entries (fewer than
    FEW), and the newest records among them are picked. A common text (or 1-2 characters):
    the newest records are walked, each checked by its entries, until enough match; a
    common text matches early. Deciding first keeps the planner from guessing. A needle of
    1-2 characters is looked up by its bigram token in the entity's partial GIN index."""
    e = search_entries
    pattern = _like_pattern(needle)
    recency = (records.c.updated_at.desc(), records.c.id.desc())
    scope = scoped(conn, app, entity, actor)
    gram = search_index.gram(needle) if len(needle) < TRIGRAM else None
    # a short needle's token narrows the walk of a common one too: its entries come from the
    # entity's bigram index instead of a scan of every entry
    token = ([search_index.entity_clause(app.key, entity.key),
              text(f"{search_index.PG_GRAMS} @> ARRAY[CAST(:gram AS text)]").bindparams(gram=gram)]
             if gram is not None else [])
    if len(needle) >= TRIGRAM or gram is not None:
        few = conn.execute(select(e.c.record_id).where(
            search_index.entity_clause(app.key, entity.key), *token, e.c.field_key.in_(keys),
            e.c.text.like(pattern, escape="/")).limit(FEW)).scalars().all()
        if len(few) < FEW:
            if not few:
                return []
            query = select(records.c.id, records.c.title).where(scope, records.c.id.in_(sorted(set(few))))
            return [tuple(r) for r in conn.execute(query.order_by(*recency).limit(want))]
    match = exists().where(e.c.record_id == records.c.id, *token, e.c.field_key.in_(keys),
                           e.c.text.like(pattern, escape="/"))
    query = select(records.c.id, records.c.title).where(scope, match)
    return [tuple(r) for r in conn.execute(query.order_by(*recency).limit(want))]


def _hits(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, keys: list[str], needle: str,
          want: int) -> list[tuple[int, str]]:
    """Up to `want` (record id, title) of `entity` in the reader's scope with an entry of one
    of `keys` containing `needle` (casefolded)."""
    e = search_entries
    of_entity = (e.c.app_key == app.key, e.c.entity_key == entity.key, e.c.field_key.in_(keys))
    if conn.dialect.name != "sqlite":
        return _hits_postgres(conn, app, entity, actor, keys, needle, want)
    # the entity's id range, newest entry first (lowest id: store/search_index.py), stopping
    # when enough records match: FTS5 finds the entries of 3+ characters by trigrams, of 1-2
    # by their bigram token (LIKE kept on the candidates); needles without a token scan the
    # range's text with LIKE
    low, high = search_index.id_range(app.key, entity.key)
    gram = search_index.gram(needle) if len(needle) < TRIGRAM else None
    if gram is not None:
        query = (select(records.c.id, records.c.title)
                 .select_from(_grams.join(e, e.c.id == _grams_rowid).join(records, records.c.id == e.c.record_id))
                 .where(text("search_grams MATCH :token").bindparams(token=f'"{gram}"'),
                        _grams_rowid.between(low, high), e.c.text.like(_like_pattern(needle), escape="/"),
                        *of_entity, scoped(conn, app, entity, actor))
                 .order_by(_grams_rowid))
    elif len(needle) < TRIGRAM:
        query = (select(records.c.id, records.c.title)
                 .select_from(e.join(records, records.c.id == e.c.record_id))
                 .where(e.c.id.between(low, high), e.c.text.like(_like_pattern(needle), escape="/"),
                        *of_entity, scoped(conn, app, entity, actor))
                 .order_by(e.c.id))
    else:
        phrase = '"' + needle.replace('"', '""') + '"'
        query = (select(records.c.id, records.c.title)
                 .select_from(_fts.join(e, e.c.id == _fts_rowid).join(records, records.c.id == e.c.record_id))
                 .where(text("search_fts MATCH :phrase").bindparams(phrase=phrase), _fts_rowid.between(low, high),
                        *of_entity, scoped(conn, app, entity, actor))
                 .order_by(_fts_rowid))
    found: dict[int, str] = {}
    offset, batch = 0, want * 4         # a record matching in two fields comes twice
    while True:
        rows = conn.execute(query.limit(batch).offset(offset)).all()
        for row in rows:
            found.setdefault(row.id, row.title)
        if len(found) >= want or len(rows) < batch:
            return list(found.items())[:want]
        offset, batch = offset + batch, batch * 2


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
            rows = _hits(conn, app, entity, actor, keys, needle, per_entity + 1)
            if rows:
                out.append(SearchGroup(app, entity, rows[:per_entity], len(rows) > per_entity))
    return out
