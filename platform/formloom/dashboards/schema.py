"""The dashboard meta-schema, generated from the widget and measure registries
(dashboards.kinds) and the period, bucket and format vocabularies, so a widget
kind registered by an extension (or one that learns to take series) is known to
`formloom validate` with no hand edit (formloom.meta_schemas writes the file)."""
from __future__ import annotations

from typing import Any

from .kinds import MEASURE_KINDS, WIDGET_KINDS, series_kinds
from .model import FORMATS, SOURCES
from .periods import BUCKETS, PERIODS

_KEY = {"$ref": "field.schema.json#/$defs/key"}
_LABEL = {"$ref": "field.schema.json#/$defs/label"}
_VARIABLE = {"type": "string", "pattern": "^\\$?[a-z][a-z0-9_]{0,62}$"}


def _measure() -> dict:
    return {
        "type": "object", "required": ["agg"],
        "properties": {
            "key": _KEY, "label": _LABEL, "agg": {"enum": list(MEASURE_KINDS)}, "field": _VARIABLE,
            "filter": {"type": "object"}, "of": {"$ref": "#/$defs/measure"}, "per": {"$ref": "#/$defs/measure"},
            "weighted": {"type": "boolean", "description": "Sum or average the field times the probability of "
                                                           "the record's stage (weighted pipeline)"},
        },
        "additionalProperties": False,
    }


def _series() -> dict:
    return {
        "type": "object", "required": ["key", "entity", "measures", "date"],
        "description": "One series of a chart over time buckets: its own entity, measure, filter and date, "
                       "in the widget's bucket and the dashboard's period and owner filter",
        "properties": {
            "key": _KEY, "label": _LABEL, "entity": _KEY,
            "measures": {"type": "array", "items": {"$ref": "#/$defs/measure"}, "minItems": 1, "maxItems": 1},
            "filter": {"type": "object"}, "date": _VARIABLE,
        },
        "additionalProperties": False,
    }


def _widget() -> dict:
    most_measures = max((k.measures for k in WIDGET_KINDS.values()), default=1)
    most_series = max((k.series for k in WIDGET_KINDS.values()), default=0)
    properties: dict[str, Any] = {
        "key": _KEY, "label": _LABEL, "type": {"enum": list(WIDGET_KINDS)}, "entity": _KEY,
        "source": {"enum": list(SOURCES)},
        "measures": {"type": "array", "items": {"$ref": "#/$defs/measure"}, "maxItems": most_measures},
        "group": {"$ref": "#/$defs/group"}, "across": {"$ref": "#/$defs/group"}, "filter": {"type": "object"},
        "date": _VARIABLE, "compare": {"type": "boolean"},
        "target": {"type": "object", "required": ["value"],
                   "properties": {"value": {"type": "number"}, "better": {"enum": ["higher", "lower"]}},
                   "additionalProperties": False},
        "format": {"enum": list(FORMATS)},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "columns": {"$ref": "field.schema.json#/$defs/key_list"},
        "sort": {"type": "string", "pattern": "^-?\\$?[a-z][a-z0-9_]{0,62}$"},
        "mine": {"type": "boolean"},
        "width": {"enum": [1, 2, 3]},
        "related": {"type": "object", "description": "The records that point at this widget's records "
                                                     "($related_count, $first_related_hours, $last_activity_days "
                                                     "count them)",
                    "required": ["entity", "via"], "properties": {"entity": _KEY, "via": _KEY},
                    "additionalProperties": False},
    }
    widget: dict[str, Any] = {"type": "object", "required": ["key", "type"], "properties": properties,
                              "additionalProperties": False}
    if most_series:
        properties["series"] = {"type": "array", "items": {"$ref": "#/$defs/series"}, "minItems": 1,
                                "maxItems": most_series,
                                "description": "Compare several entities' measures over the same time buckets "
                                               f"({', '.join(series_kinds())} widgets); instead of 'entity'"}
        widget["anyOf"] = [{"required": ["entity"]}, {"required": ["series"]}]
    else:
        widget["required"].append("entity")
    return widget


def dashboard_schema() -> dict:
    defs = {"measure": _measure(), "widget": _widget(),
            "group": {"type": "object",
                      "properties": {"by": _VARIABLE, "bucket": {"enum": list(BUCKETS)}},
                      "additionalProperties": False}}
    if "series" in defs["widget"]["properties"]:
        defs["series"] = _series()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://formloom.dev/schemas/dashboard.schema.json",
        "title": "Formloom dashboard",
        "description": "A dashboard of an app (dashboards/<key>.json in the app's template folder).",
        "type": "object", "required": ["key", "label", "roles", "widgets"],
        "properties": {
            "key": _KEY, "label": _LABEL, "description": _LABEL, "roles": {"$ref": "field.schema.json#/$defs/key_list"},
            "period": {"enum": [p for p in PERIODS if p != "custom"]},
            "owner": {"enum": ["me", "team"], "description": "The owner filter the dashboard opens with (the "
                      "viewer's own numbers, or their team's); absent: everyone the viewer may see"},
            "widgets": {"type": "array", "items": {"$ref": "#/$defs/widget"}, "minItems": 1, "maxItems": 40},
        },
        "additionalProperties": False,
        "$defs": defs,
    }
