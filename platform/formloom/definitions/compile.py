"""Compiling validated documents into the immutable model (the one place a document is interpreted).

Defaults the documents leave out are filled here (text max_length 200, money in
CNY, percent 0..100, ...: each field type's settings say which), so no later
layer has to know them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any, Mapping

from .model import (
    AppDef, EntityDef, FieldDef, GateConditionDef, GateDef, GateRelatedDef, Label, OptionDef,
    PlacedFieldDef, PoolDef, RuleDef, SectionDef, StageDef, WorkflowDef, freeze, thaw,
)



def content_hash(app_doc: Mapping, workflow_docs: Mapping[str, Mapping]) -> str:
    """sha256 of the canonical JSON of the app and its workflows: equal documents, equal hash."""
    canonical = json.dumps({"app": app_doc, "workflows": dict(workflow_docs)}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def compile_app(app_doc: dict, workflow_docs: Mapping[str, dict],
                archived: Mapping[str, list[dict]] | None = None) -> AppDef:
    """An AppDef from documents that `validate_app` / `validate_workflow` accepted.

    `workflow_docs` maps workflow key -> document; `archived` maps entity key ->
    the field documents archived from it (kept with their data, restorable)."""
    archived = archived or {}
    return AppDef(
        key=app_doc["key"],
        label=Label.of(app_doc["label"], fallback=app_doc["key"]),
        description=_label_or_none(app_doc.get("description")),
        version=app_doc["version"],
        timezone=app_doc["timezone"],
        roles=tuple(app_doc["roles"]),
        role_labels=freeze({role: Label.of(raw, fallback=role) for role, raw in app_doc.get("role_labels", {}).items()}),
        admin_role=app_doc.get("admin_role", "admin"),
        holidays=tuple(app_doc.get("holidays", ())),
        working_days=tuple(app_doc.get("working_days", (1, 2, 3, 4, 5))),
        entities=resolve_rollups(tuple(compile_entity(e, archived.get(e["key"], ())) for e in app_doc["entities"])),
        workflows=freeze({doc["key"]: compile_workflow(doc) for doc in workflow_docs.values()}),
        content_hash=content_hash(app_doc, workflow_docs),
    )


def resolve_rollups(entities: tuple[EntityDef, ...]) -> tuple[EntityDef, ...]:
    """Rollup fields learn what their result is from the field they roll up (a rollup's document
    names another entity's field, so only the whole app can say): `value_type` in `extra`, and the
    currency and decimal places of a rolled-up money or number field, so the result shows as it does."""
    by_key = {e.key: e for e in entities}
    out = []
    for entity in entities:
        if not any(f.type == "rollup" for f in entity.fields):
            out.append(entity)
            continue
        fields = []
        for f in entity.fields:
            if f.type == "rollup":
                source = by_key.get(f.extra.get("source"))
                rolled = source.field(f.extra.get("field")) if source and f.extra.get("field") else None
                count = f.extra.get("function") == "count" or rolled is None
                value_type = "number" if count else rolled.type
                f = replace(f, currency=None if count else rolled.currency,
                            precision=0 if count else rolled.precision,
                            extra=freeze({**thaw(f.extra), "value_type": value_type}))
            fields.append(f)
        out.append(replace(entity, fields=tuple(fields)))
    return tuple(out)


def compile_entity(doc: Mapping, archived_fields: list[dict] | tuple = ()) -> EntityDef:
    return EntityDef(
        key=doc["key"],
        label=Label.of(doc["label"], fallback=doc["key"]),
        plural=_label_or_none(doc.get("plural")),
        title=doc["title"],
        workflow=doc.get("workflow"),
        icon=doc.get("icon"),
        list_columns=tuple(doc.get("list_columns", ())),
        permissions=freeze(doc.get("permissions", {})),
        fields=tuple(compile_field(f) for f in doc["fields"]),
        archived_fields=tuple(compile_field(f, archived=True) for f in archived_fields),
        subtitle=doc.get("subtitle"),
        hidden_on_create=frozenset(doc.get("hidden_on_create", ())),
        archived=bool(doc.get("archived", False)),
        pool=_compile_pool(doc.get("pool")),
        calendar_fields=tuple(doc.get("calendar_fields", ())),
        search_fields=tuple(doc.get("search_fields", ())),
        layout=tuple(compile_section(sec) for sec in (doc.get("layout") or {}).get("sections", ())),
    )


def compile_section(doc: Mapping) -> SectionDef:
    return SectionDef(
        key=doc["key"],
        title=Label.of(doc.get("title"), fallback=doc["key"]),
        description=_label_or_none(doc.get("description")),
        columns=doc.get("columns", 1),
        collapsed=doc.get("collapsed", False),
        fields=tuple(PlacedFieldDef(key=item) if isinstance(item, str) else
                     PlacedFieldDef(key=item["key"], create=item.get("create", True), edit=item.get("edit", True),
                                    detail=item.get("detail", True))
                     for item in doc.get("fields", ())),
    )


def _compile_pool(doc: Mapping | None) -> PoolDef | None:
    if not doc:
        return None
    return PoolDef(roles=tuple(doc.get("roles", ())), limit=doc.get("limit"),
                   claim_stage=doc.get("claim_stage"), return_stage=doc.get("return_stage"))


def compile_field(doc: Mapping, archived: bool = False) -> FieldDef:
    from ..fields import FIELD_TYPES        # the types say what a document may leave out (their settings' defaults)
    settings = {**FIELD_TYPES[doc["type"]].compiled_defaults(), **doc}
    return FieldDef(
        key=doc["key"],
        type=doc["type"],
        label=Label.of(doc.get("label"), fallback=doc["key"]),
        required=settings.get("required", False),
        default=freeze(settings.get("default")),
        help=_label_or_none(settings.get("help")),
        placeholder=_label_or_none(settings.get("placeholder")),
        min=settings.get("min"),
        max=settings.get("max"),
        max_length=settings.get("max_length"),
        pattern=settings.get("pattern"),
        unique=settings.get("unique", False),
        indexed=settings.get("indexed"),
        visible_if=freeze(settings.get("visible_if")),
        required_if=freeze(settings.get("required_if")),
        options=tuple(compile_option(o) for o in settings.get("options", ())),
        entity=settings.get("entity"),
        multiple=settings.get("multiple", False),
        match=freeze(settings["match"]) if settings.get("match") else None,
        formula=settings.get("formula"),
        precision=settings.get("precision"),
        currency=settings.get("currency"),
        format=settings.get("format"),
        scale=settings.get("scale"),
        columns=tuple(compile_field(c) for c in settings.get("columns", ())),
        min_rows=settings.get("min_rows"),
        max_rows=settings.get("max_rows"),
        hidden_for=frozenset(settings.get("hidden_for", ())),
        readonly_for=frozenset(settings.get("readonly_for", ())),
        archived=archived,
        extra=freeze({k: v for k, v in settings.items() if k not in _FIELD_ATTRIBUTES}),
    )


#: The document keys FieldDef has an attribute for; any other setting lands in `FieldDef.extra`.
_FIELD_ATTRIBUTES = frozenset(FieldDef.__dataclass_fields__) | {"type", "key"}


def compile_option(doc: str | Mapping) -> OptionDef:
    if isinstance(doc, str):
        return OptionDef(value=doc, label=Label.of(doc))
    return OptionDef(value=doc["value"], label=Label.of(doc.get("label"), fallback=doc["value"]),
                     color=doc.get("color"), retired=bool(doc.get("retired", False)))


def compile_workflow(doc: Mapping) -> WorkflowDef:
    return WorkflowDef(
        key=doc["key"],
        entity=doc["entity"],
        label=_label_or_none(doc.get("label")),
        skip=doc.get("skip", "check"),
        reopen_roles=tuple(doc.get("reopen_roles", ())),
        kanban=freeze(doc.get("kanban", {})),
        stages=tuple(compile_stage(s) for s in doc.get("stages", ())),   # none: a rules-only workflow
        rules=tuple(compile_rule(r) for r in doc.get("rules", ())),
    )


def compile_stage(doc: Mapping) -> StageDef:
    gate = doc.get("gate", {})
    return StageDef(
        key=doc["key"],
        label=Label.of(doc.get("label"), fallback=doc["key"]),
        probability=doc.get("probability", 0),
        color=doc.get("color"),
        terminal=doc.get("terminal"),
        from_stages=tuple(doc["from"]) if "from" in doc else None,
        rot_after=doc.get("rot_after"),
        required=tuple(doc.get("required", ())),
        readonly=tuple(doc.get("readonly", ())),
        hidden=tuple(doc.get("hidden", ())),
        gate=GateDef(
            require=tuple(gate.get("require", ())),
            conditions=tuple(GateConditionDef(rule=freeze(c["rule"]),
                                              message=Label.of(c.get("message"), fallback="This condition is not met"))
                             for c in gate.get("conditions", ())),
            related=tuple(_compile_related(r) for r in gate.get("related", ())),
            roles=tuple(gate.get("roles", ())),
            extra=freeze({k: v for k, v in gate.items() if k not in ("require", "conditions", "related", "roles")}),
        ),
    )


def _compile_related(doc: Mapping) -> GateRelatedDef:
    minimum = doc.get("min", 1)
    fallback = f"Needs at least {minimum} related {doc['entity']} record{'s' if minimum != 1 else ''}"
    return GateRelatedDef(
        entity=doc["entity"],
        via=doc["via"],
        min=minimum,
        message=Label.of(doc.get("message"), fallback=fallback),
        where=freeze(doc.get("where")),
        since=doc.get("since"),
    )


def compile_rule(doc: Mapping) -> RuleDef:
    return RuleDef(
        key=doc["key"],
        trigger=freeze(doc["trigger"]),
        actions=tuple(freeze(a) for a in doc["actions"]),
        label=_label_or_none(doc.get("label")),
        condition=freeze(doc.get("condition")),
        repeat=freeze(doc["repeat"]) if "repeat" in doc else None,
        enabled=doc.get("enabled", True),
    )


def _label_or_none(raw: Any) -> Label | None:
    return None if raw is None else Label.of(raw)
