"""Which column of a file feeds which field: proposed from the headers, changed by the
person, and kept per entity so the next file from the same source maps itself.

A header matches a field when it equals (ignoring case, spaces, "*" and ":") the
field's key or its label in any language. Besides fields, a column may feed the
record's stage (`$stage`) or owner (`$owner`), and a subtable's column (`lines.qty`,
matched by "<table> <column>" or the column's own key or label): rows sharing a key
then make one record's subtable rows (transfer/subtables.py). Computed fields are
never targets.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import Connection, select, update

from ..automation.jobs import insert_ignore
from ..automation.tables import automation_state
from ..definitions.model import AppDef, EntityDef, FieldDef

STAGE, OWNER = "$stage", "$owner"
SPECIAL_NAMES = {STAGE: ("stage", "阶段", "销售阶段", "状态阶段"), OWNER: ("owner", "负责人", "所有者", "owner email")}
NOT_IMPORTABLE = ("formula", "auto_number")


def normal(text: str) -> str:
    return re.sub(r"[\s*:：_\-]+", "", str(text or "")).casefold()


def importable_fields(entity: EntityDef, allowed: Iterable[str] | None = None) -> list[FieldDef]:
    keys = None if allowed is None else set(allowed)
    return [f for f in entity.fields if f.type not in NOT_IMPORTABLE and (keys is None or f.key in keys)]


def targets(app: AppDef, entity: EntityDef, fields: list[FieldDef]) -> dict[str, str]:
    """Every target a column may map to -> its names (for matching)."""
    out: dict[str, list[str]] = {f.key: [f.key, *f.label.texts.values()] for f in fields if f.type != "subtable"}
    for f in fields:
        if f.type == "subtable":
            for c in f.columns:
                out[f"{f.key}.{c.key}"] = [f"{f.key}.{c.key}", *(f"{t} {ct}" for t in (f.key, *f.label.texts.values())
                                                               for ct in (c.key, *c.label.texts.values()))]
    for f in fields:                # a column's own name, after every field's (a field of that name wins)
        if f.type == "subtable":
            for c in f.columns:
                out[f"{f.key}.{c.key}"] += [c.key, *c.label.texts.values()]
    workflow = app.workflow_for(entity.key)
    if workflow and workflow.stages:
        out[STAGE] = list(SPECIAL_NAMES[STAGE])
    out[OWNER] = list(SPECIAL_NAMES[OWNER])
    return out


def propose(app: AppDef, entity: EntityDef, headers: list[str], fields: list[FieldDef],
            saved: dict[str, str] | None = None) -> dict[int, str]:
    """Column index -> target, from a saved mapping first, then from names; each target once."""
    names = {target: {normal(n) for n in ns} for target, ns in targets(app, entity, fields).items()}
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for i, header in enumerate(headers):
        wanted = (saved or {}).get(normal(header))
        if wanted in names and wanted not in taken:
            chosen[i] = wanted
            taken.add(wanted)
    for i, header in enumerate(headers):
        if i in chosen:
            continue
        key = normal(header)
        for target, ns in names.items():
            if target not in taken and key and key in ns:
                chosen[i] = target
                taken.add(target)
                break
    return chosen


def _state_key(app_key: str, entity_key: str) -> str:
    return f"import_mapping:{app_key}:{entity_key}"


def load_saved(conn: Connection, app_key: str, entity_key: str) -> dict[str, str]:
    value = conn.execute(select(automation_state.c.value)
                         .where(automation_state.c.key == _state_key(app_key, entity_key))).scalar()
    return dict(value or {})


def save(conn: Connection, app_key: str, entity_key: str, headers: list[str], mapping: dict[int, str]) -> None:
    """Remember header -> target for this entity (merged over what was saved before)."""
    now = datetime.now(timezone.utc)
    key = _state_key(app_key, entity_key)
    value = {**load_saved(conn, app_key, entity_key),
             **{normal(headers[i]): target for i, target in mapping.items() if i < len(headers)}}
    if not insert_ignore(conn, automation_state, {"key": key, "value": value, "updated_at": now}, "key"):
        conn.execute(update(automation_state).where(automation_state.c.key == key).values(value=value, updated_at=now))
