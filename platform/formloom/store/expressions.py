"""SQL expressions over record fields, identical in queries and in the
expression indexes, so the database can match one to the other.

Keys are validated against `^[a-z][a-z0-9_]{0,62}$` by the definitions layer;
`_literal_key` re-checks before a key is written into SQL as a literal (a
literal, not a bind parameter, because SQLite only matches partial and
expression indexes against literal text).
"""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import ColumnElement, Float, Numeric, and_, cast, column, func, literal_column
from sqlalchemy.sql.elements import TextClause
from sqlalchemy import text

from ..definitions.model import FieldDef
from ..fields import field_type
from .tables import JsonDoc, records

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
NUMERIC_KINDS = frozenset({"number"})


def _literal_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a valid key: {key!r}")
    return key


def raw_value(dialect: str, key: str, data: ColumnElement = records.c.data) -> ColumnElement:
    """The field's value as the database sees it in the JSON document (text on PostgreSQL)."""
    key = _literal_key(key)
    if dialect == "postgresql":
        return data.op("->>")(literal_column(f"'{key}'"))
    return func.json_extract(data, literal_column(f"'$.{key}'"))


def field_expr(dialect: str, f: FieldDef, data: ColumnElement = records.c.data) -> ColumnElement:
    """The value typed for comparison and sorting (numbers as numbers, dates as ISO text)."""
    value = raw_value(dialect, f.key, data)
    kind = field_type(f.type).field_sql_kind(f)
    if kind == "number":
        return cast(value, Numeric if dialect == "postgresql" else Float)
    return value


def entity_clause(app_key: str, entity_key: str) -> TextClause:
    """`app_key = '..' AND entity_key = '..'` as literal text, so partial indexes apply."""
    return text(f"records.app_key = '{_literal_key(app_key)}' AND records.entity_key = '{_literal_key(entity_key)}'")


def index_name(app_key: str, entity_key: str, field_key: str) -> str:
    name = f"ixf_{app_key}_{entity_key}_{field_key}"
    if len(name) <= 60:
        return name
    return "ixf_" + hashlib.sha1(name.encode()).hexdigest()[:24]


def create_index_sql(dialect: str, app_key: str, entity_key: str, f: FieldDef) -> str:
    """DDL for a partial expression index on one field of one entity (live records only)."""
    # unqualified column: index expressions may not name the table; both databases
    # still match it against the qualified expression in queries
    expr = field_expr(dialect, f, column("data", JsonDoc)).compile(dialect=_dialect(dialect), compile_kwargs={"literal_binds": True})
    where = (f"app_key = '{_literal_key(app_key)}' AND entity_key = '{_literal_key(entity_key)}' "
             f"AND deleted_at IS NULL")
    # a reference also orders by recency: related lists ask "newest 20 pointing at record N"
    columns = f"({expr}), updated_at" if f.type == "reference" and not f.multiple else f"({expr})"
    return (f"CREATE INDEX IF NOT EXISTS {index_name(app_key, entity_key, f.key)} "
            f"ON records ({columns}) WHERE {where}")


def statistics_name(app_key: str, entity_key: str, field_key: str) -> str:
    return "stx" + index_name(app_key, entity_key, field_key)[3:]


def create_statistics_sql(dialect: str, app_key: str, entity_key: str, f: FieldDef) -> str | None:
    """PostgreSQL (14+) only: statistics on the field's expression. The planner ignores what
    ANALYZE gathers for *partial* expression indexes, so without these it guesses 0.5% for
    `source = 'referral'` and picks that index plus a sort of every match over walking the
    sort field's index. SQLite takes what it needs from ANALYZE of the indexes."""
    if dialect != "postgresql":
        return None
    expr = field_expr(dialect, f, column("data", JsonDoc)).compile(dialect=_dialect(dialect), compile_kwargs={"literal_binds": True})
    return (f"CREATE STATISTICS IF NOT EXISTS {statistics_name(app_key, entity_key, f.key)} "
            f"ON ({expr}) FROM records")


def _dialect(name: str):
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.dialect()
    from sqlalchemy.dialects import sqlite
    return sqlite.dialect()


def live(app_key: str, entity_key: str) -> ColumnElement[bool]:
    return and_(entity_clause(app_key, entity_key), records.c.deleted_at.is_(None))
