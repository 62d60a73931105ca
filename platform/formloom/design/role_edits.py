"""Edits to an app document's roles and what people read for them.

A role's key is what permissions, gates, pools and rules name, so it never changes
once made; its label (en/zh) is only what people read and may change at will.
Removing a role is refused here only for the admin role; whether anything else in
the documents still names it is the validator's to say (web/designer_roles.py
compares the draft's problems before and after)."""
from __future__ import annotations

import copy
from typing import Any

from .edits import EditError


def set_role_labels(doc: dict, labels: dict[str, Any]) -> dict:
    """Labels for the roles given (None clears one: the key shows again); others are kept."""
    out = copy.deepcopy(doc)
    roles = out.get("roles", [])
    merged = dict(out.get("role_labels") or {})
    for role, label in labels.items():
        if role not in roles:
            raise EditError(f"This app has no role {role!r}.")
        if label:
            merged[role] = label
        else:
            merged.pop(role, None)
    if merged:
        out["role_labels"] = {role: merged[role] for role in roles if role in merged}
    else:
        out.pop("role_labels", None)
    return out


def add_role(doc: dict, key: str, label: Any) -> dict:
    out = copy.deepcopy(doc)
    if key in out.get("roles", []):
        raise EditError(f"This app already has a role with the key {key!r}.")
    out.setdefault("roles", []).append(key)
    return set_role_labels(out, {key: label}) if label else out


def remove_role(doc: dict, key: str) -> dict:
    out = copy.deepcopy(doc)
    if key not in out.get("roles", []):
        raise EditError(f"This app has no role {key!r}.")
    if key == out.get("admin_role", "admin"):
        raise EditError("The administrators' role cannot be removed: someone must be able to design the app.")
    out["roles"] = [r for r in out["roles"] if r != key]
    labels = {r: v for r, v in (out.get("role_labels") or {}).items() if r != key}
    if labels:
        out["role_labels"] = labels
    else:
        out.pop("role_labels", None)
    return out
