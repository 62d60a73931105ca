"""Global search: one query across every entity the reader may read, by title and
by the text fields they may see, scoped in SQL by the same clause as the lists.

Matching is case-insensitive substring (`lower(x) LIKE '%q%'`, escaped), so CJK
text is found by any part of it on both SQLite and PostgreSQL; no index serves a
leading wildcard, so each entity's query is capped at `per_entity + 1` rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import field_type
from ..store.expressions import raw_value
from ..store.query import scoped
from ..store.tables import records

MAX_QUERY = 100
PER_ENTITY = 5


@dataclass(frozen=True)
class SearchGroup:
    app: AppDef
    entity: EntityDef
    hits: list[tuple[int, str]]      # (record id, title)
    has_more: bool


def searchable_fields(actor: Actor, app: AppDef, entity: EntityDef) -> list[FieldDef]:
    """Text fields the reader may see: those whose type filters by `contains`, and typed, not computed."""
    return [f for f in policy.visible_fields(actor, app, entity)
            if not f.archived and "contains" in field_type(f.type).operators and not field_type(f.type).computed]


def _matches(dialect: str, fields: Iterable[FieldDef], q: str):
    needle = q.casefold()
    clauses = [func.lower(records.c.title).contains(needle, autoescape=True)]
    clauses += [func.lower(raw_value(dialect, f.key)).contains(needle, autoescape=True) for f in fields]
    return or_(*clauses)


def global_search(conn: Connection, apps: Iterable[AppDef], actor: Actor, q: str,
                  per_entity: int = PER_ENTITY) -> list[SearchGroup]:
    q = " ".join((q or "").split())[:MAX_QUERY]
    if not q:
        return []
    out = []
    for app in apps:
        if not policy.is_member(actor, app):
            continue
        for entity in app.entities:
            if policy.scope(actor, "read", app, entity) == "none" and not policy.conditional_grants(
                    actor, "read", app, entity):
                continue
            where = _matches(conn.dialect.name, searchable_fields(actor, app, entity), q)
            rows = conn.execute(select(records.c.id, records.c.title)
                                .where(scoped(conn, app, entity, actor), where)
                                .order_by(records.c.updated_at.desc(), records.c.id.desc())
                                .limit(per_entity + 1)).all()
            if rows:
                out.append(SearchGroup(app, entity, [(r.id, r.title) for r in rows[:per_entity]],
                                       len(rows) > per_entity))
    return out
