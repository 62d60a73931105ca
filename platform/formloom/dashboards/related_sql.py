"""The SQL of the variables dashboards.related describes: the records that point at each
counted record (correlated subqueries; on SQLite one grouped pass, _grouped), and the
stage's probability as a CASE."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, Float, case, cast, func, literal, null, select, text

from ..definitions.model import EntityDef
from ..store.expressions import _literal_key, field_expr
from ..store.tables import UtcDateTime, records


def related_expression(dialect: str, entity: EntityDef, name: str) -> ColumnElement:
    if name == "$probability":
        probabilities = getattr(entity, "probabilities", None) or {}
        if not probabilities:
            return cast(null(), Float)
        return case(*[(records.c.stage == k, literal(float(p))) for k, p in sorted(probabilities.items())],
                    else_=null())
    related, via_key = getattr(entity, "related_entity", None), getattr(entity, "related_via", None)
    via = related.field(via_key) if related is not None and via_key else None
    if via is None:
        raise KeyError(name)             # the checks ask for `related` before a widget uses these
    rel = records.alias("rel")
    # app and entity as literals, so the reference field's partial expression index applies
    where = (text(f"rel.app_key = '{_literal_key(getattr(entity, 'app_key', ''))}' "
                  f"AND rel.entity_key = '{_literal_key(related.key)}'"),
             rel.c.deleted_at.is_(None), field_expr(dialect, via, rel.c.data) == records.c.id)
    if dialect == "sqlite":
        count, first, last = _grouped(entity, related, via, rel, where[:2])
    else:
        count = select(func.count()).where(*where).scalar_subquery()
        first = select(func.min(rel.c.created_at)).where(*where).scalar_subquery()
        last = select(func.max(rel.c.created_at)).where(*where).scalar_subquery()
    if name == "$related_count":
        return count
    if name == "$first_related_hours":
        return days_between(dialect, records.c.created_at, first) * literal(24.0)
    last = func.coalesce(last, records.c.created_at)
    return days_between(dialect, last, literal(datetime.now(timezone.utc), UtcDateTime))


def days_between(dialect: str, earlier: ColumnElement, later: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / literal(86400.0)
    return func.julianday(later) - func.julianday(earlier)


def _grouped(entity: EntityDef, related: EntityDef, via, rel, where) -> tuple:
    """On SQLite: the related records counted once, grouped by the record they point at (a
    materialized CTE that SQLite looks up by an automatic index), instead of one probe of the
    reference's expression index per counted record. PostgreSQL keeps the correlated
    subqueries: it would scan a materialized CTE once per record."""
    # one CTE object per reference (a statement may read it twice; two of one name would clash),
    # keyed by the field's whole definition so a reinstall that changes it builds a new one
    try:
        key = (getattr(entity, "app_key", ""), entity.key, related.key, via)
        hash(key)
    except TypeError:
        key = (getattr(entity, "app_key", ""), entity.key, related.key, via.key, repr(via))
    cte = _ctes.get(key)
    if cte is None:
        ref = field_expr("sqlite", via, rel.c.data)
        cte = (select(ref.label("rid"), func.count().label("n"), func.min(rel.c.created_at).label("first"),
                      func.max(rel.c.created_at).label("last"))
               .where(*where, ref.is_not(None)).group_by(ref)
               .cte(f"rel_{_literal_key(related.key)}_{_literal_key(via.key)}").prefix_with("MATERIALIZED"))
        _ctes[key] = cte

    def one(column):
        return select(column).where(cte.c.rid == records.c.id).scalar_subquery()
    return func.coalesce(one(cte.c.n), 0), one(cte.c.first), one(cte.c.last)


_ctes: dict[tuple, object] = {}
