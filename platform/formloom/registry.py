"""The one shape of every extension point's registry: name -> entry, in registration
order, refusing a second entry under a name already taken.

Field types, triggers, actions, recipients, gate requirement kinds and approver kinds
each keep a `Registry`; their own `register_*`/`unregister_*` functions are thin
wrappers, so the rule (no silent replacement, removal for tests) is written once.
A Registry is a dict: lookups, iteration order and `monkeypatch.setitem` work as before.
This module imports nothing else of ours.
"""
from __future__ import annotations

from typing import Any, TypeVar

E = TypeVar("E")


class RegistryError(Exception):
    """An entry could not be registered (its name is taken, or it has none)."""


class Registry(dict[str, E]):
    """Entries of one extension point by name; `what` names an entry in messages ("action type")."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def add(self, entry: E, name: str | None = None) -> E:
        """Register `entry` under `name` (default: its `name`); a taken name is refused."""
        name = name if name is not None else getattr(entry, "name", "")
        if not name:
            raise RegistryError(f"{entry!r} has no name")
        if name in self:
            raise RegistryError(f"duplicate {self.what} {name!r}")
        self[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget `name` (tests that register an entry of their own clean up with this)."""
        self.pop(name, None)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self)!r})"

    def __reduce__(self) -> Any:        # a dict subclass with state: copy/pickle keep both
        return (_rebuild, (self.what, list(self.items())))


def _rebuild(what: str, items: list) -> Registry:
    registry: Registry = Registry(what)
    registry.update(items)
    return registry
