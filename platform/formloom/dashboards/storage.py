"""Typed storage for dashboards: one covering index per entity that dashboards
aggregate (SQLite and PostgreSQL).

The JSON document stays the only source of truth; the index holds the stage,
owner, creator, creation and stage-entry times and the typed values of the fields
the app's dashboards sum, average, group or filter by (their typed slot columns,
store.slots, assigned at install from `aggregated_fields`; the JSON expression of
a field left without a slot), for the live records of that entity. SQLite's planner does not pick
a partial expression index for a GROUP BY over every row by itself, so widget
queries over the records name it (`INDEXED BY`, always valid: their WHERE holds
the index's condition as literal text). The database maintains the index on
every write; reinstalling rebuilds it from the documents (`formloom install`).
PostgreSQL has the same index and picks it by itself (an index-only scan once VACUUM has
marked the pages all-visible: store.statistics); no hint there.
"""
from __future__ import annotations

import hashlib
import re
import weakref
from typing import Iterable, Mapping

from sqlalchemy import Connection, column, event, text

from ..definitions.model import AppDef, EntityDef, thaw
from ..store.expressions import _dialect, _literal_key, field_expr
from ..store.tables import JsonDoc
from .model import compile_dashboard

_known: dict[tuple[str, str], bool] = {}
_MARK = re.compile(r"^SELECT /\* (ixd_[a-z0-9_]+) \*/")
_hooked: "weakref.WeakSet" = weakref.WeakSet()


def index_name(app_key: str, entity_key: str) -> str:
    name = f"ixd_{_literal_key(app_key)}_{_literal_key(entity_key)}"
    return name if len(name) <= 60 else "ixd_" + hashlib.sha1(name.encode()).hexdigest()[:24]


def aggregated_fields(app: AppDef, dashboards: Mapping[str, dict]) -> dict[str, list[str]]:
    """Entity key -> the fields its record widgets aggregate, group by or filter on (typed, single-valued)."""
    found: dict[str, set[str]] = {}
    for doc in dashboards.values():
        for w in (part for widget in compile_dashboard(doc).widgets for part in widget.parts()):
            if w.source != "records" or w.type == "records":
                continue
            entity = app.entity(w.entity)
            keys = found.setdefault(w.entity, set())
            names = ([m.field for m in _flat(w.measures)] + ([w.group.by] if w.group else [])
                     + ([w.across.by] if w.across else []) + ([w.date] if w.date else [])
                     + _filter_vars(thaw(w.filter)) + [n for m in _flat(w.measures) for n in _filter_vars(thaw(m.filter))])
            for name in names:
                f = entity.field(name) if name and not name.startswith("$") else None
                if f is not None and not f.multiple and f.type not in ("multiselect", "subtable"):
                    keys.add(f.key)
    return {k: sorted(v) for k, v in found.items()}


def _filter_vars(logic) -> list[str]:
    """The variables a filter reads: held in the index too, or every filtered row would be
    read back from its document (a filtered count over a formula field took most of a widget)."""
    if isinstance(logic, Mapping):
        if "var" in logic and isinstance(logic["var"], str):
            return [logic["var"]]
        return [n for v in logic.values() for n in _filter_vars(v)]
    if isinstance(logic, (list, tuple)):
        return [n for v in logic for n in _filter_vars(v)]
    return []


def _flat(measures) -> Iterable:
    for m in measures:
        if m.agg == "ratio":
            yield from _flat((m.of, m.per))
        else:
            yield m


def create_sql(app_key: str, entity: EntityDef, keys: list[str], slots: Mapping[str, str] | None = None,
               dialect: str = "sqlite") -> str:
    """The covering index: a field's typed slot column where it has one (store.slots), else
    the expression over the JSON document that queries use for it."""
    slots = slots or {}
    exprs = [slots[k] if k in slots else f"({_json_expr(dialect, entity, k)})" for k in keys]
    # the scope (owner, creator), the stage and the timestamps periods apply to, then the typed values
    columns = ", ".join(["stage", "owner_id", "created_by", "created_at", "stage_entered_at", *exprs])
    return (f"CREATE INDEX {index_name(app_key, entity.key)} ON records ({columns}) "
            f"WHERE app_key = '{_literal_key(app_key)}' AND entity_key = '{_literal_key(entity.key)}' "
            f"AND deleted_at IS NULL")


def _json_expr(dialect: str, entity: EntityDef, key: str) -> str:
    return str(field_expr(dialect, entity.field(key), column("data", JsonDoc))
               .compile(dialect=_dialect(dialect), compile_kwargs={"literal_binds": True}))


def rebuild_indexes(conn: Connection, app: AppDef, dashboards: Mapping[str, dict]) -> list[str]:
    """Drop and create the app's dashboard indexes; returns the names created. On PostgreSQL
    the same index answers by an index-only scan (every column a plain one once the fields
    have slots), which reads a fraction of the pages a scan of the documents' rows does."""
    dialect = conn.dialect.name
    wanted = aggregated_fields(app, dashboards)
    from ..store.slots import mapping
    slots = mapping(conn, app.key)
    made = []
    for entity in app.entities:
        name = index_name(app.key, entity.key)
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        _known.pop((str(conn.engine.url), name), None)
        if entity.key in wanted:
            conn.exec_driver_sql(create_sql(app.key, entity, wanted[entity.key], slots.get(entity.key), dialect))
            made.append(name)
    return made


def hint_for(conn: Connection, app_key: str, entity_key: str) -> str | None:
    """The name of the entity's dashboard index when it has one (SQLite), else None."""
    if conn.dialect.name != "sqlite":
        return None
    name = index_name(app_key, entity_key)
    key = (str(conn.engine.url), name)
    if not _known.get(key):
        _known[key] = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :n"),
                                   {"n": name}).first() is not None
    return name if _known[key] else None


def use_index(conn: Connection, stmt, name: str):
    """`stmt` reading `records` through index `name`. SQLAlchemy renders no FROM hints for
    SQLite, so the statement carries the name in a leading comment and a cursor hook
    (installed once per engine) writes `INDEXED BY name` after its first `FROM records`."""
    engine = conn.engine
    if engine not in _hooked:
        event.listen(engine, "before_cursor_execute", _rewrite, retval=True)
        _hooked.add(engine)
    return stmt.prefix_with(f"/* {name} */")


def _rewrite(conn, cursor, statement, parameters, context, executemany):
    found = _MARK.match(statement)
    if found:
        statement = re.sub(r"\bFROM records\b", f"FROM records INDEXED BY {found.group(1)}", statement, count=1)
    return statement, parameters
