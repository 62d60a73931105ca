"""What a widget knows about its entity beyond the entity itself: the records that point
at each of its records (a widget's `related`: which entity, through which reference
field) and the probabilities of its workflow's stages.

The SQL of a variable is built from the entity it is asked about (variables.expression),
so a widget's entity is handed on as a `WidgetEntity`: the same entity, carrying these
two things, and every function that takes an entity takes it unchanged. Its variables:

- `$related_count`: how many live related records point at the record;
- `$first_related_hours`: hours from the record's creation to its first related record
  (none yet: no value);
- `$last_activity_days`: days since the newest related record, or since the record was
  created when it has none (the age of its last activity, e.g. for stale deals);
- `$probability`: the probability (0-100) of the record's stage, from its workflow.
"""
from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import Mapping

from ..definitions.model import AppDef, EntityDef
from .model import WidgetDef

RELATED_VARIABLES = ("$related_count", "$first_related_hours", "$last_activity_days")
STAGE_VARIABLES = ("$probability",)


@dataclass(frozen=True)
class WidgetEntity(EntityDef):
    app_key: str = ""
    related_entity: EntityDef | None = None     # the entity whose records point at this one's
    related_via: str | None = None              # ... through this reference field of theirs
    probabilities: Mapping[str, float] | None = None


def widget_entity(app: AppDef, widget: WidgetDef) -> EntityDef:
    """The widget's entity, carrying its related records and stage probabilities."""
    entity = app.entity(widget.entity)
    workflow = app.workflow_for(entity.key)
    related = app.entity(widget.related.entity) if widget.related is not None else None
    return WidgetEntity(**{f.name: getattr(entity, f.name) for f in dc_fields(EntityDef)}, app_key=app.key,
                        related_entity=related, related_via=widget.related.via if related is not None else None,
                        probabilities={s.key: float(s.probability) for s in workflow.stages
                                       if getattr(s, "probability", None) is not None} if workflow else None)
