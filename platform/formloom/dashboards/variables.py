"""What a dashboard may count, sum, group and filter by, as SQL expressions.

Two sources of rows: `records` (one row per live record of the widget's entity)
and `history` (one row per stage change of those records, from the stage
history). Besides the entity's fields, each source offers a few variables
named with a `$`: the record's stage, owner and timestamps, and for the history
the stages left and entered, when, how long the record spent in the stage it
left ($duration_days) and how old it was then ($age_days: cycle length when
the stage entered is the won one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import ColumnElement, Float, cast, func, literal

from ..definitions.model import EntityDef
from ..fields import FIELD_TYPES, field_type
from ..store.expressions import field_expr, raw_value
from ..store.tables import records, stage_history

#: variable -> (kind, sources it exists in)
RECORD_VARIABLES = {
    "$stage": ("stage", ("records", "history")),
    "$owner": ("user", ("records", "history")),
    "$created": ("timestamp", ("records", "history")),
    "$updated": ("timestamp", ("records", "history")),
    "$stage_entered": ("timestamp", ("records", "history")),
    "$from_stage": ("stage", ("history",)),
    "$to_stage": ("stage", ("history",)),
    "$at": ("timestamp", ("history",)),
    "$duration_days": ("number", ("history",)),
    "$age_days": ("number", ("history",)),
    # dashboards.related: over the widget's `related` records, and the stage's probability
    "$related_count": ("number", ("records",)),
    "$first_related_hours": ("number", ("records",)),
    "$last_activity_days": ("number", ("records",)),
    "$probability": ("number", ("records", "history")),
}
GROUPABLE_KINDS = ("stage", "user", "select", "reference", "date", "datetime", "timestamp", "bool", "text")
DATE_KINDS = ("date", "datetime", "timestamp")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: str        # number | text | select | reference | user | date | datetime | timestamp | stage | bool


def variable_kind(entity_fields: dict, name: str, source: str) -> str | None:
    """The kind of `name` for a widget over `source`, or None if it does not exist there.
    `entity_fields` maps field keys to raw field documents (validation) or FieldDefs."""
    if name.startswith("$"):
        found = RECORD_VARIABLES.get(name)
        return found[0] if found and source in found[1] else None
    doc = entity_fields.get(name)
    if doc is None:
        return None
    ftype_name = doc.get("type") if isinstance(doc, dict) else doc.type
    multiple = doc.get("multiple") if isinstance(doc, dict) else doc.multiple
    ftype = FIELD_TYPES.get(ftype_name)
    if ftype is None:
        return None
    if multiple or ftype.sql_kind == "json":
        return "list"
    if ftype_name in ("select", "reference", "user"):
        return ftype_name
    return ftype.sql_kind


def expression(dialect: str, entity: EntityDef, name: str, slots: Mapping[str, str] | None = None) -> ColumnElement:
    """The SQL value of a variable or field (numbers typed as numbers). `slots` (field key ->
    column, store.slots) names the typed columns that hold the same values as the JSON does."""
    if name == "$stage":
        return records.c.stage
    if name == "$owner":
        return records.c.owner_id
    if name == "$created":
        return records.c.created_at
    if name == "$updated":
        return records.c.updated_at
    if name == "$stage_entered":
        return records.c.stage_entered_at
    if name == "$from_stage":
        return stage_history.c.from_stage
    if name == "$to_stage":
        return stage_history.c.to_stage
    if name == "$at":
        return stage_history.c.at
    if name == "$duration_days":
        return cast(stage_history.c.seconds_in_previous, Float) / literal(86400.0)
    if name == "$age_days":
        return _days_between(dialect, records.c.created_at, stage_history.c.at)
    if name in ("$related_count", "$first_related_hours", "$last_activity_days", "$probability"):
        from .related_sql import related_expression
        return related_expression(dialect, entity, name)
    f = entity.field(name)
    if f is None:
        raise KeyError(name)
    if slots and f.key in slots:
        return records.c[slots[f.key]]
    kind = field_type(f.type).field_sql_kind(f)
    if f.type in ("reference", "user"):
        return raw_value(dialect, f.key)
    if kind == "number":
        return field_expr(dialect, f)
    return raw_value(dialect, f.key)


def _days_between(dialect: str, earlier: ColumnElement, later: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier) / literal(86400.0)
    return func.julianday(later) - func.julianday(earlier)
