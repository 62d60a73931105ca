"""The one policy that decides who may do what.

Every route and API call asks here: `can` answers for one record (or for the
entity when there is none yet), `record_scope_clause` turns the same rule into
SQL so lists, counts, searches and pickers are filtered in the database, and
`field_access` decides per field. Nothing is allowed unless the app document
allows it; the app's admin role and platform superusers may do everything.

A role's grant may also carry `"read_if"`: a condition (store.logic_sql) under
which the role reads records beyond its scope, e.g. a shared pool. It widens
reading only, and `can` (Python) and `record_scope_clause` (SQL) apply it alike.

An entity's `pool` widens reading the same way: its roles read the records nobody
owns, the pool they may claim from (collab/pools.py).
"""
from __future__ import annotations

from typing import Callable, Literal

from sqlalchemy import ColumnElement, false, or_, true

from ..conditions import truthy
from ..definitions.model import AppDef, EntityDef, FieldDef, thaw
from ..store.tables import records
from .users import Actor

Action = Literal["create", "read", "update", "delete"]
Scope = Literal["none", "own", "team", "all"]
FieldAccess = Literal["hidden", "readonly", "write"]
SCOPE_ORDER: tuple[Scope, ...] = ("none", "own", "team", "all")


def is_app_admin(actor: Actor | None, app: AppDef) -> bool:
    return actor is not None and (actor.is_superuser or app.admin_role in actor.roles_in(app.key))


def may_create_apps(actor: Actor | None) -> bool:
    """New apps (from the template gallery or an upload) are the platform's superusers' to make;
    an app's own admins design only that app."""
    return actor is not None and actor.is_superuser


def is_member(actor: Actor | None, app: AppDef) -> bool:
    return actor is not None and (actor.is_superuser or bool(actor.roles_in(app.key)))


def scope(actor: Actor | None, action: Action, app: AppDef, entity: EntityDef) -> Scope:
    """The widest scope any of the actor's roles grants for `action` on `entity`."""
    if is_app_admin(actor, app):
        return "all"
    if actor is None or entity.archived:       # an archived entity is its admins' alone
        return "none"
    best: Scope = "none"
    for role in actor.roles_in(app.key):
        grant = entity.permissions.get(role, {})
        if action == "create":
            granted: Scope = "all" if grant.get("create") is True else "none"
        else:
            granted = grant.get(action, "none")
        if granted in SCOPE_ORDER and SCOPE_ORDER.index(granted) > SCOPE_ORDER.index(best):
            best = granted
    return best


def conditional_grants(actor: Actor | None, action: Action, app: AppDef, entity: EntityDef) -> list:
    """The `read_if` conditions of the actor's roles (reading only; admins need none)."""
    if action != "read" or actor is None or entity.archived or is_app_admin(actor, app):
        return []
    return [entity.permissions[role]["read_if"] for role in sorted(actor.roles_in(app.key))
            if entity.permissions.get(role, {}).get("read_if") is not None]


def sees_pool(actor: Actor | None, app: AppDef, entity: EntityDef) -> bool:
    """Whether the actor may see (and claim from) the entity's pool of unowned records."""
    if actor is None or entity.pool is None or (entity.archived and not is_app_admin(actor, app)):
        return False
    return is_app_admin(actor, app) or bool(actor.roles_in(app.key) & set(entity.pool.roles))


def can(actor: Actor | None, action: Action, app: AppDef, entity: EntityDef, record=None,
        team_of: Callable[[int], set[int]] | None = None) -> bool:
    granted = scope(actor, action, app, entity)
    conditions = conditional_grants(actor, action, app, entity)
    pooled = action == "read" and sees_pool(actor, app, entity)
    if granted == "none" and not conditions and not pooled:
        return False
    if record is None or granted == "all":
        return True
    if pooled and record.owner_id is None:
        return True
    if granted != "none" and _in_scope(actor, granted, record, team_of):
        return True
    return any(truthy(rule, _record_vars(record)) for rule in conditions)


def _in_scope(actor: Actor, granted: Scope, record, team_of) -> bool:
    mine = record.owner_id == actor.id or record.created_by == actor.id
    if granted == "own":
        return mine
    team = team_of(actor.id) if team_of else set()
    return mine or record.owner_id in team


def _record_vars(record) -> dict:
    return {**(getattr(record, "data", None) or {}), "$stage": getattr(record, "stage", None),
            "$owner": record.owner_id}


def record_scope_clause(actor: Actor | None, action: Action, app: AppDef, entity: EntityDef,
                        team_of: Callable[[int], set[int]] | None = None,
                        dialect: str = "sqlite") -> ColumnElement[bool]:
    """`can` as SQL; `dialect` names the database the clause runs on (for `read_if`)."""
    granted = scope(actor, action, app, entity)
    conditions = conditional_grants(actor, action, app, entity)
    if granted == "all":
        return true()
    if granted == "none":
        base: ColumnElement[bool] = false()
    else:
        base = or_(records.c.owner_id == actor.id, records.c.created_by == actor.id)
        team = team_of(actor.id) if team_of and granted == "team" else set()
        if team:
            base = or_(base, records.c.owner_id.in_(sorted(team)))
    if action == "read" and sees_pool(actor, app, entity):
        base = or_(base, records.c.owner_id.is_(None))
    if not conditions:
        return base
    from ..store.logic_sql import clause
    return or_(base, *[clause(dialect, entity, thaw(rule)) for rule in conditions])


def field_access(actor: Actor | None, app: AppDef, f: FieldDef, stage=None) -> FieldAccess:
    """Hidden beats readonly beats write; computed fields are never writable."""
    return _access(_roles_for_fields(actor, app), f, stage)


def _access(roles: frozenset[str], f: FieldDef, stage) -> FieldAccess:
    """`field_access` once the actor's roles in the app are known (none for its admins): a
    page asks for every field of several entities, the roles are worked out once per entity."""
    if roles and roles <= f.hidden_for:
        return "hidden"
    if stage is not None and f.key in stage.hidden:
        return "hidden"
    if f.is_computed or (roles and roles <= f.readonly_for):
        return "readonly"
    if stage is not None and f.key in stage.readonly:
        return "readonly"
    return "write"


def _roles_for_fields(actor: Actor | None, app: AppDef) -> frozenset[str]:
    if is_app_admin(actor, app):
        return frozenset()
    return actor.roles_in(app.key) if actor else frozenset()


def visible_fields(actor: Actor | None, app: AppDef, entity: EntityDef, stage=None) -> tuple[FieldDef, ...]:
    roles = _roles_for_fields(actor, app)
    return tuple(f for f in entity.fields if _access(roles, f, stage) != "hidden")


def writable_fields(actor: Actor | None, app: AppDef, entity: EntityDef, stage=None) -> tuple[FieldDef, ...]:
    roles = _roles_for_fields(actor, app)
    return tuple(f for f in entity.fields if _access(roles, f, stage) == "write")


def assign_scope(actor: Actor | None, app: AppDef, entity: EntityDef) -> Scope:
    """Whom the actor may make the owner of a record of `entity`: "all" (any member of the
    app), "team" (themselves and the people who report to them) or "none" (only
    themselves, implicitly): the reach of their update permission, as for reassigning."""
    granted = scope(actor, "update", app, entity)
    return granted if granted in ("team", "all") else "none"


def can_comment(actor: Actor | None, app: AppDef, entity: EntityDef, record,
                team_of: Callable[[int], set[int]] | None = None) -> bool:
    """Comments belong to the record's readers: whoever may read it may discuss it (and be
    mentioned in it); nobody else sees, writes or is told about its comments."""
    return actor is not None and can(actor, "read", app, entity, record, team_of=team_of)


def can_change_comment(actor: Actor | None, author_id: int | None, created_at, now, window) -> bool:
    """A comment is its author's to edit or delete, for `window` after writing it."""
    return actor is not None and author_id == actor.id and now - created_at <= window
