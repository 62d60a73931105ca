"""API tokens: a random secret shown once, stored only as its SHA-256 hash.

A token acts as its user: the Actor is loaded fresh on every request, so a
deactivated user, or one whose roles changed, is answered accordingly at once.
A revoked token, or one older than the configured maximum age, is refused.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Sequence

from sqlalchemy import Connection, Select, bindparam, insert, select, update

from ..store.tables import api_tokens, memberships, users
from .users import Actor, UserError, actor_of_row, load_actor

PREFIX = "flm_"                 # recognisable in logs and by secret scanners
MAX_NAME = 200
LAST_USED_RESOLUTION = timedelta(minutes=1)   # `last_used_at` is written at most once a minute


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def create_token(conn: Connection, user_id: int, name: str = "") -> tuple[Token, str]:
    """A new token for `user_id`: (its row, the secret). The secret is not kept anywhere."""
    if load_actor(conn, user_id) is None:
        raise UserError("There is no active user with this id")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    token_id = conn.execute(insert(api_tokens).values(
        user_id=user_id, name=name.strip()[:MAX_NAME], token_hash=hash_secret(secret), created_at=now,
    )).inserted_primary_key[0]
    return get_token(conn, token_id), secret


def get_token(conn: Connection, token_id: int) -> Token:
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
    return _token(row)


def _token(row) -> Token:
    return Token(id=row.id, user_id=row.user_id, name=row.name, created_at=_aware(row.created_at),
                 last_used_at=_aware(row.last_used_at), revoked_at=_aware(row.revoked_at))


def list_tokens(conn: Connection, user_id: int) -> list[Token]:
    rows = conn.execute(select(api_tokens).where(api_tokens.c.user_id == user_id)
                        .order_by(api_tokens.c.revoked_at.is_not(None), api_tokens.c.id.desc()))
    return [_token(r) for r in rows]


def revoke_token(conn: Connection, user_id: int, token_id: int) -> bool:
    """Revoke one of `user_id`'s own tokens; False when there is no such active token of theirs."""
    result = conn.execute(update(api_tokens).where(
        api_tokens.c.id == token_id, api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None),
    ).values(revoked_at=datetime.now(timezone.utc)))
    return result.rowcount == 1


def revoke_all_tokens(conn: Connection, user_id: int, now: datetime | None = None) -> int:
    """Revoke every active token of `user_id` (e.g. with a password change); returns how many."""
    result = conn.execute(update(api_tokens).where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
                          .values(revoked_at=now or datetime.now(timezone.utc)))
    return result.rowcount


#: The user's columns an Actor is made of (`actor_of_row`): not the password hash.
_ACTOR_COLUMNS = ("id", "email", "name", "active", "is_superuser", "language", "timezone", "manager_id",
                  "session_epoch")

#: The token, its user and the user's memberships in one statement (a row per membership, one
#: row with no role when there is none), built once: every API request asks it, and a second
#: statement for the roles was a round trip of its own on a server database.
_TOKEN_AND_USER = (select(api_tokens, *[users.c[name].label(f"u__{name}") for name in _ACTOR_COLUMNS],
                          memberships.c.app_key.label("m__app_key"), memberships.c.role.label("m__role"))
                   .join(users, users.c.id == api_tokens.c.user_id)
                   .outerjoin(memberships, memberships.c.user_id == users.c.id)
                   .where(api_tokens.c.token_hash == bindparam("token_hash")))


#: Whether a presented secret (its hash, the bind parameter `token_hash`) is a token not revoked:
#: a condition another statement read with the token's (store.db.read_together) can carry,
#: so that it does nothing, such as lock a row, for a request whose token is unknown.
TOKEN_NOT_REVOKED = (select(api_tokens.c.id)
                     .where(api_tokens.c.token_hash == bindparam("token_hash"), api_tokens.c.revoked_at.is_(None))
                     .exists())


def token_read(secret: str) -> tuple[Select, dict] | None:
    """The statement and parameters that read what `actor_of_token_rows` needs for a presented
    secret, or None for a secret no token can have. Apart so that a caller can send it with
    its other first reads (store.db.read_together: one round trip on a server database)."""
    if not secret or len(secret) > 200:
        return None
    return _TOKEN_AND_USER, {"token_hash": hash_secret(secret)}


def actor_for_token(conn: Connection, secret: str, *, max_age: timedelta | None = None,
                    now: datetime | None = None) -> tuple[Actor, Token] | None:
    """The actor a presented secret stands for, or None (unknown, revoked, expired, user inactive)."""
    read = token_read(secret)
    if read is None:
        return None
    return actor_of_token_rows(conn, conn.execute(*read).all(), max_age=max_age, now=now)


def actor_of_token_rows(conn: Connection, rows: Sequence[Any], *, max_age: timedelta | None = None,
                        now: datetime | None = None) -> tuple[Actor, Token] | None:
    """The actor and token of the rows `token_read`'s statement answered, or None."""
    if not rows or rows[0].revoked_at is not None:
        return None
    found = rows[0]
    token = _token(found)
    now = now or datetime.now(timezone.utc)
    if max_age is not None and now - token.created_at > max_age:
        return None
    user = SimpleNamespace(**{name: getattr(found, f"u__{name}") for name in _ACTOR_COLUMNS})
    roles: dict[str, set[str]] = {}
    for row in rows:
        if row.m__app_key is not None:
            roles.setdefault(row.m__app_key, set()).add(row.m__role)
    actor = actor_of_row(conn, user, roles)
    if actor is None:
        return None
    return actor, token


def token_due_for_touch(token: Token, now: datetime | None = None) -> bool:
    """Whether `last_used_at` is worth writing (at most once per LAST_USED_RESOLUTION, to spare writes)."""
    now = now or datetime.now(timezone.utc)
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def touch_token(conn: Connection, token: Token, now: datetime | None = None) -> None:
    """Note that the token was used."""
    now = now or datetime.now(timezone.utc)
    if token_due_for_touch(token, now):
        conn.execute(update(api_tokens).where(api_tokens.c.id == token.id).values(last_used_at=now))
