"""Users, their roles per app, and the Actor every request acts as.

Passwords are hashed with werkzeug's scrypt. An Actor is loaded fresh on every
request (roles, active flag, session epoch), so deactivating a user or changing
their roles takes effect on their next request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import FormloomError
from ..store.tables import apps, memberships, users

MIN_PASSWORD_LENGTH = 8
# a valid hash to compare against when the email is unknown, so timing does not reveal accounts
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class UserError(FormloomError):
    """A user could not be created or changed as asked."""


@dataclass(frozen=True)
class Actor:
    id: int
    email: str
    name: str
    language: str = "en"
    timezone: str | None = None
    manager_id: int | None = None
    is_superuser: bool = False
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    session_epoch: int = 0

    def roles_in(self, app_key: str) -> frozenset[str]:
        return self.roles.get(app_key, frozenset())

    @property
    def display_name(self) -> str:
        return self.name or self.email


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(conn: Connection, email: str, password: str, *, name: str = "", language: str = "en",
                roles: Iterable[tuple[str, str]] = (), manager_id: int | None = None,
                is_superuser: bool = False, timezone_name: str | None = None) -> int:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise UserError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise UserError(f"A user with the email {email} already exists")
    user_id = conn.execute(insert(users).values(
        email=email, name=name or email.split("@")[0], password_hash=generate_password_hash(password, method="scrypt"),
        active=True, is_superuser=is_superuser, language=language, timezone=timezone_name,
        manager_id=manager_id, session_epoch=0, created_at=datetime.now(timezone.utc),
    )).inserted_primary_key[0]
    set_roles(conn, user_id, roles)
    return user_id


def set_roles(conn: Connection, user_id: int, roles: Iterable[tuple[str, str]]) -> None:
    for app_key, role in roles:
        if conn.execute(select(apps.c.key).where(apps.c.key == app_key)).first() is None:
            raise UserError(f"There is no app {app_key!r}; install it before giving roles in it")
        conn.execute(delete(memberships).where(memberships.c.user_id == user_id,
                                               memberships.c.app_key == app_key, memberships.c.role == role))
        conn.execute(insert(memberships).values(user_id=user_id, app_key=app_key, role=role))


def authenticate(conn: Connection, email: str, password: str) -> Actor | None:
    row = conn.execute(select(users).where(users.c.email == normalize_email(email))).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(row.password_hash, password) or not row.active:
        return None
    return load_actor(conn, row.id)


def load_actor(conn: Connection, user_id: int) -> Actor | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    roles: dict[str, set[str]] = {}
    for m in conn.execute(select(memberships).where(memberships.c.user_id == user_id)):
        roles.setdefault(m.app_key, set()).add(m.role)
    return Actor(id=row.id, email=row.email, name=row.name, language=row.language, timezone=row.timezone,
                 manager_id=row.manager_id, is_superuser=row.is_superuser,
                 roles={k: frozenset(v) for k, v in roles.items()}, session_epoch=row.session_epoch)


def user_id_by_email(conn: Connection, email: str) -> int | None:
    return conn.execute(select(users.c.id).where(users.c.email == normalize_email(email))).scalar()


def user_exists(conn: Connection, user_id: int) -> bool:
    return conn.execute(select(users.c.id).where(users.c.id == user_id, users.c.active.is_(True))).first() is not None


def user_names(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {r.id: r.name or r.email for r in conn.execute(select(users.c.id, users.c.name, users.c.email)
                                                          .where(users.c.id.in_(ids)))}


def members_of(conn: Connection, app_key: str, role: str | None = None) -> list[tuple[int, str]]:
    q = (select(users.c.id, users.c.name, users.c.email).join(memberships, memberships.c.user_id == users.c.id)
         .where(memberships.c.app_key == app_key, users.c.active.is_(True)).distinct().order_by(users.c.name))
    if role:
        q = q.where(memberships.c.role == role)
    return [(r.id, r.name or r.email) for r in conn.execute(q)]


def reports_of(conn: Connection, manager_id: int) -> set[int]:
    """Everyone who reports to `manager_id`, directly or through others."""
    found: set[int] = set()
    frontier = {manager_id}
    while frontier:
        rows = conn.execute(select(users.c.id).where(users.c.manager_id.in_(frontier))).scalars().all()
        frontier = set(rows) - found - {manager_id}
        found |= frontier
    return found


def set_language(conn: Connection, user_id: int, language: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(language=language))
