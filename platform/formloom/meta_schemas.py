"""The meta-schemas, generated from the registries.

What a field document may say is decided by the field types themselves (their
`settings`, fields/settings.py); this module turns the registries into the
JSON Schema files in definitions/schemas/. The validator assembles these
schemas from the registries when it loads them (definitions/schema_check.py),
so an extension's entries are known at once; the files stay committed so
reviewers read them, and a test holds the committed bytes equal to what
`generate()` gives: after changing a type, run `formloom schemas` to rewrite them
(docs/extension-points.md says why).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .definitions.schema_check import SCHEMAS_DIR

#: field.schema.json's definitions that are no type's own (keys, labels, conditions, options...).
FIELD_SHARED_DEFS: dict[str, Any] = {
    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
    "key_list": {"type": "array", "items": {"$ref": "#/$defs/key"}, "uniqueItems": True},
    "role_list": {"description": "Roles of the app (the designer offers them as checkboxes)",
                  "$ref": "#/$defs/key_list"},
    "label": {
        "type": ["string", "object"], "minLength": 1, "maxLength": 10000,
        "properties": {"en": {"type": "string", "maxLength": 10000}, "zh": {"type": "string", "maxLength": 10000}},
        "additionalProperties": False, "minProperties": 1,
    },
    "logic": {"$comment": "JSON Logic; its operators and variables are checked by formloom.conditions"},
    "duration": {"type": "string", "minLength": 2, "maxLength": 64},
    "formula": {"type": "string", "minLength": 1, "maxLength": 2000,
                "$comment": "today's syntax or the spreadsheet one; checked by formloom.formulas"},
    "iso_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                 "x-message": "must be a date written YYYY-MM-DD"},
    "options": {
        "type": "array", "minItems": 1,
        "items": {
            "type": ["string", "object"], "minLength": 1, "maxLength": 200, "required": ["value"],
            "properties": {
                "value": {"type": "string", "minLength": 1, "maxLength": 200},
                "label": {"$ref": "#/$defs/label"},
                "color": {"type": "string", "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
                          "x-message": "must be a colour written #rgb or #rrggbb"},
                "retired": {"type": "boolean",
                            "description": "Kept and shown on records that hold it, no longer offered for new values"},
            },
            "additionalProperties": False,
        },
    },
}


def _if_type(name: str, ref: str) -> dict:
    return {"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": {"$ref": ref}}


def field_schema() -> dict:
    """field.schema.json: the type enum, one if/then per type and each type's document schema."""
    from .fields import FIELD_TYPES
    types = list(FIELD_TYPES.values())
    top_only = [t.name for t in types if not t.column_allowed]
    listed = ", ".join(top_only[:-1]) + f" and {top_only[-1]}" if len(top_only) > 1 else "".join(top_only)
    column = {"$ref": "#", "properties": {"type": {
        "not": {"enum": top_only},
        "x-message": f"cannot be used for a subtable column ({listed} fields must be top-level fields)"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://formloom.dev/schemas/field.schema.json",
        "title": "Formloom field",
        "description": "One field of an entity. Each type allows the common keys plus its own (see docs/documents.md).",
        "type": "object",
        "required": ["key", "type", "label"],
        "properties": {"type": {"enum": [t.name for t in types]}},
        "allOf": [_if_type(t.name, f"#/$defs/type_{t.name}") for t in types],
        "$defs": {**FIELD_SHARED_DEFS, "column": column,
                  **{f"type_{t.name}": t.document_schema() for t in types}},
    }


# -- workflow.schema.json ------------------------------------------------------------------------------

_F = "field.schema.json#/$defs/"

#: The parts of a workflow document no registry describes: the document, stages, rules.
WORKFLOW_STATIC_DEFS: dict[str, Any] = {
    "stage": {
        "type": "object", "required": ["key", "label"],
        "properties": {
            "key": {"$ref": _F + "key"}, "label": {"$ref": _F + "label"},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "color": {"type": "string", "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$",
                      "x-message": "must be a colour written #rgb or #rrggbb"},
            "terminal": {"enum": ["won", "lost"]},
            "from": {"type": "array", "minItems": 1, "uniqueItems": True,
                     "items": {"type": "string", "pattern": "^([a-z][a-z0-9_]{0,62}|\\*)$",
                               "x-message": 'must be a stage key, or "*" for any stage'}},
            "rot_after": {"$ref": _F + "duration"},
            "required": {"$ref": _F + "key_list"}, "readonly": {"$ref": _F + "key_list"},
            "hidden": {"$ref": _F + "key_list"},
            "gate": {"$ref": "#/$defs/gate"},
        },
        "additionalProperties": False,
    },
    "rule": {
        "type": "object", "required": ["key", "trigger", "actions"],
        "properties": {
            "key": {"$ref": _F + "key"}, "label": {"$ref": _F + "label"}, "enabled": {"type": "boolean"},
            "trigger": {"$ref": "#/$defs/trigger"}, "condition": {"$ref": _F + "logic"},
            "repeat": {"type": "object", "required": ["every"],
                       "properties": {"every": {"$ref": _F + "duration"}, "max": {"type": "integer", "minimum": 1}},
                       "additionalProperties": False},
            "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
        },
        "additionalProperties": False,
    },
}


def _entry_schema(entry: Any) -> dict:
    """A trigger's or action's document schema: "type" and its settings, nothing else."""
    schema = {
        "type": "object",
        "required": ["type", *(s.name for s in entry.settings if s.required)],
        "properties": {"type": {"const": entry.name}, **{s.name: s.schema for s in entry.settings}},
        "additionalProperties": False,
    }
    return {**schema, **getattr(entry, "schema_extra", {})}


def _choice(prefix: str, entries: list) -> dict:
    return {"type": "object", "required": ["type"], "properties": {"type": {"enum": [e.name for e in entries]}},
            "allOf": [_if_type(e.name, f"#/$defs/{prefix}_{e.name}") for e in entries]}


def gate_schema() -> dict:
    """A stage's gate: one key per registered requirement kind (workflow/gates.py)."""
    from .workflow.gates import GATE_REQUIREMENTS
    return {"type": "object", "properties": {k.name: k.schema for k in GATE_REQUIREMENTS.values()},
            "additionalProperties": False}


def recipient_schema() -> dict:
    """A recipient as written in an action's `to`: one of the registered kinds (automation/recipients.py)."""
    from .automation import recipients
    return {"type": "string", "pattern": recipients.pattern(), "x-message": recipients.syntax_hint()}


def workflow_schema() -> dict:
    """workflow.schema.json: trigger and action enums, if/thens and definitions from the registries."""
    from .automation import ACTIONS, TRIGGERS
    triggers, actions = list(TRIGGERS.values()), list(ACTIONS.values())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://formloom.dev/schemas/workflow.schema.json",
        "title": "Formloom workflow",
        "type": "object",
        "required": ["key", "entity"],
        "properties": {
            "key": {"$ref": _F + "key"}, "entity": {"$ref": _F + "key"}, "label": {"$ref": _F + "label"},
            "skip": {"enum": ["check", "allow", "deny"]},
            "reopen_roles": {"$ref": _F + "key_list"},
            "kanban": {"type": "object",
                       "properties": {"sum": {"$ref": _F + "key"}, "card_fields": {"$ref": _F + "key_list"}},
                       "additionalProperties": False},
            "stages": {"type": "array", "items": {"$ref": "#/$defs/stage"}},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
        },
        "additionalProperties": False,
        "$defs": {
            "stage": WORKFLOW_STATIC_DEFS["stage"],
            "gate": gate_schema(),
            "rule": WORKFLOW_STATIC_DEFS["rule"],
            "trigger": _choice("trigger", triggers),
            "action": _choice("action", actions),
            "recipient": recipient_schema(),
            **{f"trigger_{t.name}": _entry_schema(t) for t in triggers},
            **{f"action_{a.name}": _entry_schema(a) for a in actions},
        },
    }


#: file name -> the function building it. Schemas not listed here are written by hand.
def dashboard_schema() -> dict:
    from .dashboards.schema import dashboard_schema as build
    return build()


GENERATED: dict[str, Callable[[], dict]] = {
    "dashboard.schema.json": dashboard_schema,
    "field.schema.json": field_schema,
    "workflow.schema.json": workflow_schema,
}


def registries() -> dict[str, list]:
    """Every extension point's entries, by what an entry is called ("field type", "trigger", ...)."""
    from .automation import ACTIONS, TRIGGERS
    from .automation.recipients import RECIPIENTS
    from .fields import FIELD_TYPES
    from .workflow.approvers import APPROVER_KINDS
    from .workflow.gates import GATE_REQUIREMENTS
    return {"field type": list(FIELD_TYPES.values()), "trigger": list(TRIGGERS.values()),
            "action": list(ACTIONS.values()), "recipient": list(RECIPIENTS.values()),
            "gate requirement": list(GATE_REQUIREMENTS.values()), "approver": list(APPROVER_KINDS.values())}


def signature() -> tuple:
    """What the generated schemas depend on: changes when an entry is registered or removed."""
    from .automation import ACTIONS, TRIGGERS
    from .automation.recipients import RECIPIENTS
    from .fields import FIELD_TYPES
    from .workflow.gates import GATE_REQUIREMENTS
    from .dashboards.kinds import MEASURE_KINDS, WIDGET_KINDS
    return tuple(tuple((name, id(entry)) for name, entry in registry.items())
                 for registry in (FIELD_TYPES, TRIGGERS, ACTIONS, RECIPIENTS, GATE_REQUIREMENTS,
                                  WIDGET_KINDS, MEASURE_KINDS))


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate(directory: Path = SCHEMAS_DIR, docs: Path | None = None) -> dict[Path, str]:
    """path -> the text the generated file must hold: the schemas, and the docs page when `docs` is given."""
    texts = {directory / name: render(build()) for name, build in GENERATED.items()}
    if docs is not None:
        from .extension_docs import render as render_docs
        texts[docs] = render_docs()
    return texts


def stale(directory: Path = SCHEMAS_DIR, docs: Path | None = None) -> list[Path]:
    """The generated files whose committed text differs from what the registries give."""
    return [path for path, text in generate(directory, docs).items()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


def write(directory: Path = SCHEMAS_DIR, docs: Path | None = None) -> list[Path]:
    """Rewrite the generated files that changed; returns them."""
    texts = generate(directory, docs)
    changed = [path for path, text in texts.items()
               if not path.is_file() or path.read_text(encoding="utf-8") != text]
    for path in changed:
        path.write_text(texts[path], encoding="utf-8")
    return changed
