"""The edits the designer makes to a draft's app document, as small pure functions.

Each takes the app document and returns a changed deep copy; none checks
meaning (the draft is validated as a whole after every edit). Keys are never
changed: renaming is relabelling. Removing a field from the document is how
it is archived: publishing keeps its values, and putting it back restores it.
"""
from __future__ import annotations

import copy
from typing import Any

from ..errors import FormloomError, NotFoundError


class EditError(FormloomError):
    """An edit that cannot be made at all (an unknown entity or field, a duplicate key)."""

    status = 422
    code = "invalid"


def _entity(doc: dict, entity_key: str) -> dict:
    for entity in doc.get("entities", []):
        if entity.get("key") == entity_key:
            return entity
    raise NotFoundError(f"There is no entity {entity_key!r} in this app.")


def _field_index(entity: dict, field_key: str) -> int:
    for i, f in enumerate(entity.get("fields", [])):
        if f.get("key") == field_key:
            return i
    raise NotFoundError(f"There is no field {field_key!r} in {entity.get('key')!r}.")


def _move(items: list, index: int, delta: int) -> None:
    target = max(0, min(len(items) - 1, index + delta))
    items.insert(target, items.pop(index))


def entity_index(doc: dict, entity_key: str) -> int:
    return [e.get("key") for e in doc.get("entities", [])].index(_entity(doc, entity_key)["key"])


def field_index(doc: dict, entity_key: str, field_key: str) -> int:
    return _field_index(_entity(doc, entity_key), field_key)


# -- fields ------------------------------------------------------------------------------------------

def add_field(doc: dict, entity_key: str, field_doc: dict) -> dict:
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    if any(f.get("key") == field_doc.get("key") for f in entity.get("fields", [])):
        raise EditError(f"{entity_key!r} already has a field with the key {field_doc.get('key')!r}.")
    entity.setdefault("fields", []).append(copy.deepcopy(field_doc))
    return out


def replace_field(doc: dict, entity_key: str, field_key: str, field_doc: dict) -> dict:
    """Change a field's settings; its key and type stay (a type change is its own edit)."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    i = _field_index(entity, field_key)
    entity["fields"][i] = {**copy.deepcopy(field_doc), "key": field_key}
    return out


def change_type(doc: dict, entity_key: str, field_key: str, type_name: str, allowed: set[str]) -> dict:
    """Give the field another type, keeping the settings the new type also takes (`allowed`).
    Stored values are converted on publish, and the impact preview says first which would not be."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    i = _field_index(entity, field_key)
    entity["fields"][i] = {**{k: v for k, v in entity["fields"][i].items() if k in allowed}, "type": type_name}
    return out


def move_field(doc: dict, entity_key: str, field_key: str, delta: int) -> dict:
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    _move(entity["fields"], _field_index(entity, field_key), delta)
    return out


def order_fields(doc: dict, entity_key: str, keys: list[str]) -> dict:
    """Put the fields in the order given (drag and drop sends the whole order); fields not named keep
    their place after those named."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    by_key = {f["key"]: f for f in entity["fields"]}
    named = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
    entity["fields"] = named + [f for f in entity["fields"] if f not in named]
    return out


def archive_field(doc: dict, entity_key: str, field_key: str) -> dict:
    """Take the field out of the document; publishing archives it with its values.
    Lists of columns and the layout that named it forget it (they name fields only)."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    del entity["fields"][_field_index(entity, field_key)]
    if field_key in (entity.get("list_columns") or []):
        entity["list_columns"] = [k for k in entity["list_columns"] if k != field_key]
    from .layout_edits import forget_field      # (layout_edits builds on this module)
    forget_field(entity, field_key)
    return out


def restore_field(doc: dict, entity_key: str, field_doc: dict) -> dict:
    return add_field(doc, entity_key, field_doc)


# -- entities ----------------------------------------------------------------------------------------

ENTITY_SETTINGS = ("label", "plural", "title", "list_columns", "icon", "subtitle", "search_fields")


def add_entity(doc: dict, key: str, label: Any, title_label: Any) -> dict:
    """A new entity with one text field, its title (an entity needs at least one field)."""
    out = copy.deepcopy(doc)
    if any(e.get("key") == key for e in out.get("entities", [])):
        raise EditError(f"This app already has an entity with the key {key!r}.")
    out.setdefault("entities", []).append({
        "key": key, "label": label, "title": "name",
        "fields": [{"key": "name", "type": "text", "label": title_label, "required": True, "max_length": 200}],
    })
    return out


def update_entity(doc: dict, entity_key: str, changes: dict) -> dict:
    """Set (or, given None, remove) the entity's own settings; keys and fields are not touched here."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    for name, value in changes.items():
        if name not in ENTITY_SETTINGS:
            raise EditError(f"{name!r} is not an entity setting the designer changes.")
        if value in (None, "", []):
            entity.pop(name, None)
        else:
            entity[name] = copy.deepcopy(value)
    return out


def set_entity_archived(doc: dict, entity_key: str, archived: bool) -> dict:
    """Archive an entity (hidden from all but the app's admins, records kept) or bring it back."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    if archived:
        entity["archived"] = True
    else:
        entity.pop("archived", None)
    return out


def move_entity(doc: dict, entity_key: str, delta: int) -> dict:
    out = copy.deepcopy(doc)
    _move(out["entities"], entity_index(out, entity_key), delta)
    return out


def set_permissions(doc: dict, entity_key: str, permissions: dict) -> dict:
    """Replace the entity's grants role by role; a `read_if` already there is kept."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    before = entity.get("permissions") or {}
    merged = {}
    for role, grant in permissions.items():
        kept = {k: v for k, v in (before.get(role) or {}).items() if k == "read_if"}
        grant = {**{k: v for k, v in grant.items() if v not in (None, False, "none")}, **kept}
        if grant:
            merged[role] = grant
    entity["permissions"] = merged
    if not merged:
        entity.pop("permissions")
    return out
