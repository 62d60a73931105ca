"""The field indexes Formloom made for an app, as the database itself lists them.

The database is asked rather than the documents: an index made by an earlier version of
the app (or of the engine's policy) is still there until a publish drops it, and only the
database knows what exists and how big it is. Field indexes are named `ixf_...`
(store/expressions.py) and carry the app's key as a literal in their WHERE clause.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from .expressions import _literal_key


@dataclass(frozen=True)
class ExistingIndex:
    name: str
    definition: str


def _belongs(definition: str, app_key: str) -> bool:
    # SQLite keeps the DDL as written (app_key = 'crm'); PostgreSQL prints ((app_key)::text = 'crm'::text)
    pattern = rf"app_key\)?(?:::text)?\s*=\s*'{re.escape(_literal_key(app_key))}'"
    return re.search(pattern, definition or "") is not None


def field_indexes(conn: Connection, app_key: str) -> list[ExistingIndex]:
    """The app's field indexes on `records`, by name."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                 "AND tablename = 'records' AND indexname LIKE 'ixf\\_%' ORDER BY indexname")).all()
    else:
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' "
                                 "AND name LIKE 'ixf\\_%' ESCAPE '\\' ORDER BY name")).all()
    return [ExistingIndex(name, definition) for name, definition in rows if _belongs(definition, app_key)]


def index_sizes(conn: Connection, names: list[str]) -> dict[str, int]:
    """Bytes each index takes, where the database can tell (PostgreSQL always; SQLite when
    built with the dbstat table, which it usually is). Missing names are left out."""
    if not names:
        return {}
    try:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(text("SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
                                     "WHERE c.relkind = 'i' AND c.relname = ANY(:names) "
                                     "AND c.relnamespace = current_schema()::regnamespace"),
                                {"names": list(names)}).all()
        else:
            marks = ", ".join(f":n{i}" for i in range(len(names)))
            rows = conn.execute(text(f"SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ({marks}) GROUP BY name"),
                                {f"n{i}": n for i, n in enumerate(names)}).all()
    except Exception:       # no dbstat in this SQLite build: sizes are unknown, not an error
        return {}
    return {name: int(size or 0) for name, size in rows}
