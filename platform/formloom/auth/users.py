"""Users, their roles per app, and the Actor every request acts as.

Passwords are hashed with werkzeug's scrypt. An Actor is loaded fresh on every
request (roles, active flag, session epoch), so deactivating a user or changing
their roles takes effect on their next request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, bindparam, cast, delete, func, insert, null, select, text, union_all, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import FormloomError
from ..store.tables import apps, memberships, users

MIN_PASSWORD_LENGTH = 8
#: werkzeug's hashing method for new passwords. Tests may swap in a cheap one; production never does.
PASSWORD_METHOD = "scrypt"
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

    # -- the store's Reader (store.access): the store asks, the policy answers --------
    def scope_clause(self, conn: Connection, app, entity, action: str = "read"):
        from .policy import record_scope_clause
        return record_scope_clause(self, action, app, entity, team_of=lambda uid: reports_of(conn, uid),
                                   dialect=conn.dialect.name)

    def sees_every(self, app, entity, action: str = "read") -> bool:
        from .policy import scope
        return scope(self, action, app, entity) == "all"

    def read_check(self, conn: Connection, app):
        """`policy.can(self, "read", ...)` for many records; the team is looked up once, if needed."""
        from .policy import can
        team: set[int] | None = None

        def team_of(user_id: int) -> set[int]:
            nonlocal team
            if team is None:
                team = reports_of(conn, user_id)
            return team

        return lambda entity, record=None: can(self, "read", app, entity, record, team_of=team_of)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(conn: Connection, email: str, password: str, *, name: str = "", language: str = "en",
                roles: Iterable[tuple[str, str]] = (), manager_id: int | None = None,
                is_superuser: bool = False, timezone_name: str | None = None) -> int:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise UserError(f"{email!r} is not an email address")
    check_new_password(password)
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise UserError(f"A user with the email {email} already exists")
    user_id = conn.execute(insert(users).values(
        email=email, name=name or email.split("@")[0], password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
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


#: Built once: building a statement costs three times running it.
_ROLES_OF = select(memberships.c.app_key, memberships.c.role).where(memberships.c.user_id == bindparam("user_id"))
_NAMES_OF = select(users.c.id, users.c.name, users.c.email).where(users.c.id.in_(bindparam("ids", expanding=True)))


#: The user and its roles in one statement (one row per role, one with no role when it has none):
#: every request loads its actor, and each statement costs more in the driver and SQLAlchemy than in the database.
_ACTOR_BY_ID = (select(users, memberships.c.app_key.label("member_app"), memberships.c.role.label("member_role"))
                .select_from(users.outerjoin(memberships, memberships.c.user_id == users.c.id))
                .where(users.c.id == bindparam("user_id")))


def actor_and_apps_parts(*extra) -> list:
    """The two parts of `_ACTOR_AND_APPS`: the user with one row per role, and one row per
    installed app (its `app_key` set, its user columns NULL). `extra` columns (typed NULLs)
    follow each part's own, for a caller that unions parts of its own after these (the web
    layer reads the top bar's counts with them)."""
    return [_ACTOR_BY_ID.add_columns(cast(null(), apps.c.key.type).label("app_key"),
                                     cast(null(), apps.c.current_version_id.type).label("app_version"), *extra),
            select(*[cast(null(), c.type).label(c.name) for c in users.c],
                   cast(null(), memberships.c.app_key.type).label("member_app"),
                   cast(null(), memberships.c.role.type).label("member_role"),
                   apps.c.key.label("app_key"), apps.c.current_version_id.label("app_version"), *extra)
            .where(apps.c.current_version_id.is_not(None))]


#: The same rows, and after them every installed app's current version (key, version id), in one
#: statement: a signed-in page asks both first thing (web.auth.load_session_user).
_ACTOR_AND_APPS = union_all(*actor_and_apps_parts()).order_by("app_key")     # the database's order, as the menu's


def load_actor(conn: Connection, user_id: int) -> Actor | None:
    return _actor_of_rows(conn.execute(_ACTOR_BY_ID, {"user_id": user_id}).all())


def load_actor_and_apps(conn: Connection, user_id: int) -> tuple[Actor | None, list[tuple[str, int]]]:
    """`load_actor`, and each installed app's (key, current version id) in key order, as
    `store.apps.AppCatalog.installed_versions` reads them: one statement instead of two."""
    return actor_and_apps_of(conn.execute(_ACTOR_AND_APPS, {"user_id": user_id}))


def actor_and_apps_of(rows) -> tuple[Actor | None, list[tuple[str, int]]]:
    """The actor and the apps' (key, version id) of `actor_and_apps_parts`' rows (in their
    statement's order; rows of other parts, whose `app_key` and `id` are NULL, are skipped)."""
    user_rows, versions = [], []
    for row in rows:
        if row.app_key is not None:
            versions.append((row.app_key, row.app_version))
        elif row.id is not None:
            user_rows.append(row)
    return _actor_of_rows(user_rows), versions


def _actor_of_rows(rows) -> Actor | None:
    """The actor of `_ACTOR_BY_ID`'s rows (one per role), None for no row or an inactive user."""
    if not rows or not rows[0].active:
        return None
    roles: dict[str, set[str]] = {}
    for m in rows:
        if m.member_app is not None:
            roles.setdefault(m.member_app, set()).add(m.member_role)
    return _actor(rows[0], roles)


def _actor(row: Any, roles: Mapping[str, Iterable[str]]) -> Actor:
    return Actor(id=row.id, email=row.email, name=row.name, language=row.language, timezone=row.timezone,
                 manager_id=row.manager_id, is_superuser=row.is_superuser,
                 roles={k: frozenset(v) for k, v in roles.items()}, session_epoch=row.session_epoch)


def actor_of_row(conn: Connection, row: Any, roles: Mapping[str, Iterable[str]] | None = None) -> Actor | None:
    """The actor of a `users` row already read; None when inactive. Its roles (app key ->
    roles) are read now unless the caller read them with the row (an API token's statement)."""
    if row is None or not row.active:
        return None
    if roles is None:
        roles = {}
        for m in conn.execute(_ROLES_OF, {"user_id": row.id}):
            roles.setdefault(m.app_key, set()).add(m.role)
    return _actor(row, roles)


def user_id_by_email(conn: Connection, email: str) -> int | None:
    return conn.execute(select(users.c.id).where(users.c.email == normalize_email(email))).scalar()


def user_exists(conn: Connection, user_id: int) -> bool:
    return conn.execute(select(users.c.id).where(users.c.id == user_id, users.c.active.is_(True))).first() is not None


def user_names(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {r.id: r.name or r.email for r in conn.execute(_NAMES_OF, {"ids": sorted(ids)})}


#: Built once: every new-record form lists who may own the record.
_MEMBERS_OF = (select(users.c.id, users.c.name, users.c.email).join(memberships, memberships.c.user_id == users.c.id)
               .where(memberships.c.app_key == bindparam("app_key"), users.c.active.is_(True))
               .distinct().order_by(users.c.name))
_MEMBERS_IN_ROLE = _MEMBERS_OF.where(memberships.c.role == bindparam("role"))


def members_of(conn: Connection, app_key: str, role: str | None = None) -> list[tuple[int, str]]:
    rows = conn.execute(_MEMBERS_IN_ROLE, {"app_key": app_key, "role": role}) if role else \
        conn.execute(_MEMBERS_OF, {"app_key": app_key})
    return [(r.id, r.name or r.email) for r in rows]


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


# -- changing users (profile, user admin, first-run set-up) --------------------------

class LastAdminError(UserError):
    """The change would leave an app without an active admin."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise UserError("The password must have at most 1024 characters")


def check_password(conn: Connection, user_id: int, password: str) -> bool:
    row = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).first()
    return row is not None and check_password_hash(row.password_hash, password)


def set_password(conn: Connection, user_id: int, password: str) -> int:
    """Store a new password and end every other session (the epoch moves on); returns the new epoch."""
    check_new_password(password)
    conn.execute(update(users).where(users.c.id == user_id).values(
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
        session_epoch=users.c.session_epoch + 1))
    return conn.execute(select(users.c.session_epoch).where(users.c.id == user_id)).scalar_one()


def end_sessions(conn: Connection, user_id: int) -> None:
    """End every session of the user, on every device (logout, "log out everywhere"): a session
    names the epoch it was made in, and the user loader refuses any other epoch."""
    conn.execute(update(users).where(users.c.id == user_id).values(session_epoch=users.c.session_epoch + 1))


def set_profile(conn: Connection, user_id: int, *, language: str, timezone_name: str | None) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(language=language, timezone=timezone_name))


def set_name(conn: Connection, user_id: int, name: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(name=name.strip()[:200]))


def app_roles_of(conn: Connection, user_id: int) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    for m in conn.execute(select(memberships).where(memberships.c.user_id == user_id)):
        roles.setdefault(m.app_key, set()).add(m.role)
    return roles


def active_admins(conn: Connection, app_key: str, admin_role: str) -> set[int]:
    """Active users holding the app's admin role. The rows are locked (PostgreSQL) until the
    transaction ends, so two admins demoting each other at once are serialized; SQLite write
    transactions are serialized already (BEGIN IMMEDIATE)."""
    query = (select(users.c.id).join(memberships, memberships.c.user_id == users.c.id)
             .where(memberships.c.app_key == app_key, memberships.c.role == admin_role, users.c.active.is_(True)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return set(conn.execute(query).scalars())


def replace_app_roles(conn: Connection, user_id: int, app_key: str, roles: Iterable[str], admin_role: str) -> None:
    """Make `roles` the user's roles in one app; refuse to remove the app's last active admin."""
    roles = set(roles)
    if admin_role not in roles:
        admins = active_admins(conn, app_key, admin_role)
        if admins == {user_id}:
            raise LastAdminError(f"This is the last admin of {app_key}; make someone else admin first")
    conn.execute(delete(memberships).where(memberships.c.user_id == user_id, memberships.c.app_key == app_key))
    set_roles(conn, user_id, [(app_key, role) for role in sorted(roles)])


def set_active(conn: Connection, user_id: int, active: bool, admin_roles: Mapping[str, str] | None = None) -> None:
    """Deactivate (or reactivate) a user; the change applies on their next request, for sessions
    and tokens alike. `admin_roles` maps each app to its admin role, to keep one admin in each."""
    if not active:
        for app_key, admin_role in (admin_roles or {}).items():
            if active_admins(conn, app_key, admin_role) == {user_id}:
                raise LastAdminError(f"This is the last admin of {app_key}; make someone else admin first")
    conn.execute(update(users).where(users.c.id == user_id).values(
        active=active, session_epoch=users.c.session_epoch + (0 if active else 1)))


def set_manager(conn: Connection, user_id: int, manager_id: int | None) -> None:
    """Refuses a manager who is the user or reports to the user (a loop would make teams endless)."""
    if manager_id is not None:
        if manager_id == user_id or manager_id in reports_of(conn, user_id):
            raise UserError("A user cannot report to themselves, directly or through others")
        if conn.execute(select(users.c.id).where(users.c.id == manager_id)).first() is None:
            raise UserError("There is no such manager")
    conn.execute(update(users).where(users.c.id == user_id).values(manager_id=manager_id))


def set_superuser(conn: Connection, user_id: int, is_superuser: bool) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(is_superuser=is_superuser))


def has_users(conn: Connection) -> bool:
    return conn.execute(select(func.count()).select_from(users)).scalar_one() > 0


def create_first_superuser(conn: Connection, email: str, password: str, *, name: str = "",
                           language: str = "en") -> int | None:
    """Create the platform's first administrator, or return None when any user exists already.

    Atomic under concurrency: PostgreSQL takes a transaction-scoped advisory lock before
    looking, and SQLite write transactions are serialized (BEGIN IMMEDIATE), so of many
    simultaneous set-ups exactly one creates an admin."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_ADMIN_LOCK})
    if has_users(conn):
        return None
    return create_user(conn, email, password, name=name, language=language, is_superuser=True)


FIRST_ADMIN_LOCK = 0x666C6D01   # any constant of our own ("flm" + 1)
