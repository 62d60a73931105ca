"""Arranging an entity's fields by its layout: the one function the record form (new and
edit), the detail page and the public form all use, so the three never disagree.

A layout groups fields into titled sections and says, per field, whether it is
shown on the new-record form, the edit form and the detail page. Fields placed
in no section follow in a trailing, untitled section; an entity without a
layout gets just that one section, which is today's single column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, TypeVar

from .definitions.model import LAYOUT_MODES, EntityDef, PlacedFieldDef, SectionDef

T = TypeVar("T")


@dataclass(frozen=True)
class Group(Generic[T]):
    """The items (form fields, shown values...) of one section, in layout order."""

    section: SectionDef | None            # None: the trailing section of unplaced fields
    items: tuple[T, ...]

    @property
    def columns(self) -> int:
        return self.section.columns if self.section is not None else 1

    @property
    def key(self) -> str:
        return self.section.key if self.section is not None else "_rest"


#: id(entity) -> (the entity, field key -> its first placement): a page asks for every field
#: of an entity, and walking the layout for each one was quadratic in its fields. The entity
#: is held, so its id is never another's while it is kept; compiled entities never change.
_PLACED: dict[int, tuple[EntityDef, dict[str, PlacedFieldDef]]] = {}
PLACED_CACHE_SIZE = 1_000


def placement(entity: EntityDef, key: str) -> PlacedFieldDef | None:
    found = _PLACED.get(id(entity))
    if found is None or found[0] is not entity:
        placed: dict[str, PlacedFieldDef] = {}
        for section in entity.layout:
            for p in section.fields:
                placed.setdefault(p.key, p)
        if len(_PLACED) >= PLACED_CACHE_SIZE:
            _PLACED.clear()
        found = _PLACED[id(entity)] = (entity, placed)
    return found[1].get(key)


def shows(entity: EntityDef, key: str, mode: str) -> bool:
    """Whether a field is offered in `mode` ("create", "edit" or "detail"). The entity's
    `hidden_on_create` still keeps a field off the new-record form."""
    if mode not in LAYOUT_MODES:
        raise ValueError(mode)
    if mode == "create" and key in entity.hidden_on_create:
        return False
    placed = placement(entity, key)
    return placed is None or placed.shown_in(mode)


def arrange(entity: EntityDef, items: Iterable[T], mode: str | None,
            key_of: Callable[[T], str] = lambda item: item.key) -> list[Group[T]]:
    """`items` (whatever the page shows per field) grouped by the entity's sections, leaving out
    what the layout does not show in `mode`; empty sections are dropped. Mode None leaves
    nothing out (a public form shows the fields its admin chose)."""
    by_key = {key_of(item): item for item in items if mode is None or shows(entity, key_of(item), mode)}
    groups: list[Group[T]] = []
    for section in entity.layout:
        placed = tuple(by_key.pop(p.key) for p in section.fields if p.key in by_key)
        if placed:
            groups.append(Group(section, placed))
    if by_key:
        groups.append(Group(None, tuple(by_key.values())))
    return groups
