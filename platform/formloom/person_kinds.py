"""How recipients and approvers are written, read and checked: one way for both.

A notify action's `to` (automation.recipients) and an approval step's `approvers`
(workflow.approvers) name people the same way: a kind that takes nothing (`owner`,
`manager`) or a kind and its argument (`role:lead`, `field:reviewer`,
`user:gm@example.com`). Each keeps its own registry of kinds (they resolve people
from different places); the syntax, the schema pattern generated from a registry,
and the checks of a named role or user field are written here once.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterator, Mapping

from .definitions.wording import cap, unknown

#: An argument that names something of the app (a role, a field): a key.
KEY_ARGUMENT = "[a-z][a-z0-9_]{0,62}"
#: What an argument may look like, by the name a kind gives it (any other name: a key).
ARGUMENT_PATTERNS = {"ROLE": KEY_ARGUMENT, "FIELD": KEY_ARGUMENT, "EMAIL": "[^\\s@:]+@[^\\s@]+\\.[^\\s@]+"}


def parse_written(kinds: Mapping[str, Any], text: Any) -> tuple[Any, str | None] | None:
    """(kind, argument) for "role:lead" or (kind, None) for "owner"; None when `text` names no
    kind of `kinds`, or gives an argument to a kind that takes none (or none to one that does)."""
    if not isinstance(text, str):
        return None
    name, colon, argument = text.partition(":")
    kind = kinds.get(name)
    if kind is None or (kind.argument is None) == bool(colon):
        return None
    return kind, (argument if colon else None)


def written_pattern(kinds: Mapping[str, Any]) -> str:
    """The JSON Schema pattern of one written person, from the registered kinds."""
    parts = [re.escape(k.name) if k.argument is None else f"{re.escape(k.name)}:{ARGUMENT_PATTERNS.get(k.argument, KEY_ARGUMENT)}"
             for k in kinds.values()]
    return "^(" + "|".join(parts) + ")$"


def people_in(record: Any, key: str | None) -> list:
    """The user ids a user field of `record` holds (one or several)."""
    value = record.data.get(key)
    return list(value) if isinstance(value, (list, tuple)) else [value]


Check = Callable[[Any, str, tuple, str, Any], Iterator]


def role_check(says: str) -> Check:
    """A check that the role named is one of the app's; `says` is how the document reads
    with the role put in ("notifies {}", "names {} as approver")."""
    def check(s: Any, role: str, path: tuple, what: str, env: Any) -> Iterator:
        if env.roles is not None and role not in env.roles:
            yield s.problem(*path, message=f"{cap(what)} {says.format(unknown('the role', role, env.roles))}, "
                                           "which is not one of the app's roles.")
    return check


def user_field_check(says: str) -> Check:
    """A check that the field named is a user field of the entity; `says` as for role_check,
    with "the people in the field ..." put in."""
    def check(s: Any, key: str, path: tuple, what: str, env: Any) -> Iterator:
        if env.fields is None:
            return
        if key not in env.fields:
            named = "the people in " + unknown("the field", key, env.fields)
            yield s.problem(*path, message=f"{cap(what)} {says.format(named)}, which the entity does not have.")
        elif env.fields[key].get("type") != "user":
            yield s.problem(*path, message=f"{cap(what)} {says.format(f'the people in the field {key!r}')}, "
                                           f"which is a {env.fields[key].get('type')} field, not a user field.")
    return check
