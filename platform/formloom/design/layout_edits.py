"""The layout editor's changes to an entity's `layout`, as small pure functions.

Like design.edits, each returns a changed deep copy and checks no meaning (the
draft is validated as a whole afterwards). A field entry is written as its bare
key while it is shown everywhere, and as {"key", "create"/"edit"/"detail": false}
otherwise, so documents stay as short as people would write them.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Iterable, Mapping

from ..definitions.layout_checks import placed_key
from ..definitions.model import LAYOUT_MODES
from .edits import EditError, _entity, _move

_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def placed_entry(key: str, shown: Mapping[str, bool]) -> str | dict:
    """A layout entry for a field shown in the modes `shown` says (missing modes: shown)."""
    hidden = {mode: False for mode in LAYOUT_MODES if shown.get(mode, True) is False}
    return {"key": key, **hidden} if hidden else key


def sections_of(entity: dict) -> list[dict]:
    layout = entity.get("layout")
    return list(layout.get("sections") or []) if isinstance(layout, dict) else []


def set_layout(doc: dict, entity_key: str, sections: list[dict]) -> dict:
    """The entity's layout replaced by `sections`; no sections: no layout (one plain column)."""
    out = copy.deepcopy(doc)
    entity = _entity(out, entity_key)
    if sections:
        entity["layout"] = {"sections": copy.deepcopy(sections)}
    else:
        entity.pop("layout", None)
    return out


def new_section_key(sections: Iterable[dict], title: Any) -> str:
    """A key made from the English title (or "section"), numbered when taken."""
    text = title.get("en") if isinstance(title, dict) else title
    base = _KEY_CHARS.sub("_", str(text or "").lower()).strip("_")[:40]
    if not base or not base[0].isalpha():
        base = "section"
    taken = {s.get("key") for s in sections}
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def add_section(sections: list[dict], title: Any) -> list[dict]:
    out = copy.deepcopy(sections)
    out.append({"key": new_section_key(out, title), "title": title or {"en": "New section"}, "columns": 1,
                "fields": []})
    return out


def _section_index(sections: list[dict], key: str) -> int:
    for i, section in enumerate(sections):
        if section.get("key") == key:
            return i
    raise EditError(f"There is no section {key!r} in this layout.")


def move_section(sections: list[dict], key: str, delta: int) -> list[dict]:
    out = copy.deepcopy(sections)
    _move(out, _section_index(out, key), delta)
    return out


def remove_section(sections: list[dict], key: str) -> list[dict]:
    """The section goes; its fields fall back to the trailing section of unplaced fields."""
    out = copy.deepcopy(sections)
    del out[_section_index(out, key)]
    return out


def move_placed(sections: list[dict], field_key: str, delta: int) -> list[dict]:
    """A field one place up or down within its section."""
    out = copy.deepcopy(sections)
    for section in out:
        keys = [placed_key(item) for item in section.get("fields", [])]
        if field_key in keys:
            _move(section["fields"], keys.index(field_key), delta)
            return out
    raise EditError(f"The field {field_key!r} is not in a section.")


def forget_field(entity: dict, field_key: str) -> None:
    """Take an archived field out of the entity's layout (in place): a layout names live fields only."""
    for section in sections_of(entity):
        section["fields"] = [item for item in section.get("fields", []) if placed_key(item) != field_key]
