"""Who reads, as the store sees them: a `Reader` that hands over auth's answers.

Lists, counts, pickers, titles and reference checks must apply the one policy
(auth.policy), but auth stands on the store (its users live in store.tables),
so the store cannot import it back. Instead every query takes the reader, and
the reader builds its own scope clause and read check; auth's `Actor` is the
reader the application passes. No reader (None) reads nothing, as in the policy.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from sqlalchemy import ColumnElement, Connection, false

from ..definitions.model import AppDef, EntityDef

#: (entity, record or None) -> may the reader read it (the entity at all, when None)
ReadCheck = Callable[[EntityDef, Any], bool]


class Reader(Protocol):
    id: int

    def scope_clause(self, conn: Connection, app: AppDef, entity: EntityDef,
                     action: str = "read") -> ColumnElement[bool]:
        """The records of `entity` this reader may `action`, as SQL over the records table."""

    def sees_every(self, app: AppDef, entity: EntityDef, action: str = "read") -> bool:
        """Whether the scope is every record of the entity (nothing narrows it)."""

    def read_check(self, conn: Connection, app: AppDef) -> ReadCheck:
        """A check for many records of `app` in one go (lookups it needs are made once)."""


def scope_clause(conn: Connection, reader: Reader | None, app: AppDef, entity: EntityDef,
                 action: str = "read") -> ColumnElement[bool]:
    return false() if reader is None else reader.scope_clause(conn, app, entity, action)


def read_check(conn: Connection, reader: Reader | None, app: AppDef) -> ReadCheck:
    return (lambda entity, record=None: False) if reader is None else reader.read_check(conn, app)
