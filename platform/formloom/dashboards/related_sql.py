"""The SQL of the variables dashboards.related describes: correlated subqueries over the
records that point at each counted record, and the stage's probability as a CASE."""
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
    if name == "$related_count":
        return select(func.count()).where(*where).scalar_subquery()
    if name == "$first_related_hours":
        first = select(func.min(rel.c.created_at)).where(*where).scalar_subquery()
        return days_between(dialect, records.c.created_at, first) * literal(24.0)
    last = func.coalesce(select(func.max(rel.c.created_at)).where(*where).scalar_subquery(), records.c.created_at)
    return days_between(dialect, last, literal(datetime.now(timezone.utc), UtcDateTime))


def days_between(dialect: str, earlier: ColumnElement, later: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / literal(86400.0)
    return func.julianday(later) - func.julianday(earlier)
