"""Meaning checks over an entity's form layout: the sections name real fields, each field once.

The schema pass has already said what shape a layout takes; here a layout is
checked against its entity, so a typo or a field dragged into two sections is
reported at the exact place it is written."""
from __future__ import annotations

from typing import Iterator

from .document_parts import entities_of, fields_by_key, indexed, indexed_dicts, item_key, repeated_keys
from .problems import Problem
from .subject import Subject, for_kind
from .wording import did_you_mean


def placed_key(item: object) -> object:
    """The field key of a layout entry: the key itself, or {"key": ...}."""
    return item if isinstance(item, str) else item_key(item)


def needs_asking(f: dict) -> bool:
    """A required field without a default: a new record cannot be saved from a form that leaves it out."""
    return f.get("required") is True and f.get("default") in (None, "")


@for_kind("app")
def layout_fields(s: Subject) -> Iterator[Problem]:
    """Section keys are unique; every placed field exists, is placed once, and a field every
    new record needs is not left off the new-record form."""
    for ei, entity in entities_of(s.doc):
        layout = entity.get("layout")
        if not isinstance(layout, dict):
            continue
        name, fields = entity.get("key"), fields_by_key(entity)
        sections = indexed_dicts(layout.get("sections"))
        for si, key, first in repeated_keys(sections, item_key):
            yield s.problem("entities", ei, "layout", "sections", si, "key",
                            message=f"The section key {key!r} is used twice in the layout of entity {name!r} "
                                    f"(sections {first + 1} and {si + 1}).")
        seen: dict[str, str] = {}
        for si, section in sections:
            here = section.get("key")
            for pi, item in indexed(section.get("fields")):
                key = placed_key(item)
                if not isinstance(key, str):
                    continue
                at = ("entities", ei, "layout", "sections", si, "fields", pi)
                if key not in fields:
                    yield s.problem(*at, message=f"The section {here!r} places the field {key!r}, which is not a "
                                                 f"field of entity {name!r}{did_you_mean(key, fields)}.")
                    continue
                if key in seen:
                    where = "twice" if seen[key] == here else f"in the sections {seen[key]!r} and {here!r}"
                    yield s.problem(*at, message=f"The field {key!r} of entity {name!r} is placed {where}; "
                                                 "a field belongs to one section.")
                    continue
                seen[key] = here
                if isinstance(item, dict) and item.get("create") is False and needs_asking(fields[key]):
                    yield s.problem(*at, "create",
                                    message=f"The field {key!r} of entity {name!r} is required and has no default, "
                                            "so a new record could never be saved from a form that leaves it out; "
                                            "show it on create or give it a default.")
