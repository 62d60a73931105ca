"""Saved views: a list's filters, sort and columns kept under a name.

A view is the list's query string, exactly as the list reads it, so everything a
list can express a view can keep, and applying one is following a link. Views are
private to who saved them; an app admin may share one with a role. The list
checks the query again whenever a view is applied (fields may have changed).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import and_, bindparam, delete, insert, or_, select
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError, ForbiddenError, NotFoundError
from ..i18n import translate
from ..store.tables import saved_views

MAX_NAME = 80
MAX_QUERY = 2000
#: Arguments that are where one is in a list, not what the list is.
NOT_KEPT = frozenset({"offset", "csrf_token", "view"})


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    query: str
    owner_id: int
    role: str | None


class ViewInvalid(FormloomError):
    status = 422
    code = "view_invalid"


def kept_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The query string a view keeps: every list argument but the page position."""
    return urlencode([(k, v) for k, v in pairs if k not in NOT_KEPT and v != ""])


#: built once (every list page reads it; building a statement costs more than running this one)
_VIEWS_FOR = (select(saved_views).where(
    saved_views.c.app_key == bindparam("app_key"), saved_views.c.entity_key == bindparam("entity_key"),
    or_(saved_views.c.owner_id == bindparam("owner_id"), saved_views.c.role.in_(bindparam("roles", expanding=True))))
    .order_by(saved_views.c.role.is_(None), saved_views.c.name, saved_views.c.id))


def views_for(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor) -> list[SavedView]:
    """The views `actor` may pick: their own, and those shared with a role they have here."""
    rows = conn.execute(_VIEWS_FOR, {"app_key": app.key, "entity_key": entity.key, "owner_id": actor.id,
                                     "roles": sorted(actor.roles_in(app.key))})
    return [SavedView(r.id, r.name, r.query, r.owner_id, r.role) for r in rows]


def save_view(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, name: str, query: str,
              role: str | None, now: datetime, lang: str = "en") -> SavedView:
    """Save (or replace, by name) a view; sharing with a role is for app admins."""
    name = " ".join((name or "").split())
    if not name:
        raise ViewInvalid(translate(lang, "Give the view a name."))
    if len(name) > MAX_NAME:
        raise ViewInvalid(translate(lang, "A view's name can be at most %(max)s characters.", max=MAX_NAME))
    query = kept_query(parse_qsl(query or "", keep_blank_values=False))
    if len(query) > MAX_QUERY:
        raise ViewInvalid(translate(lang, "This list has too many filters to save as a view."))
    role = role or None
    if role is not None:
        if not policy.is_app_admin(actor, app):
            raise ForbiddenError(translate(lang, "Only an administrator of this app can share a view."))
        if role not in app.roles:
            raise ViewInvalid(translate(lang, "There is no role %(role)s in this app.", role=role[:63]))
    same = and_(saved_views.c.app_key == app.key, saved_views.c.entity_key == entity.key,
                saved_views.c.owner_id == actor.id, saved_views.c.name == name,
                saved_views.c.role.is_(None) if role is None else saved_views.c.role == role)
    conn.execute(delete(saved_views).where(same))
    view_id = conn.execute(insert(saved_views).values(
        app_key=app.key, entity_key=entity.key, name=name, query=query, owner_id=actor.id, role=role,
        created_at=now).returning(saved_views.c.id)).scalar_one()
    return SavedView(view_id, name, query, actor.id, role)


def delete_view(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, view_id: int,
                lang: str = "en") -> None:
    """Who saved a view deletes it; an app admin deletes shared ones too."""
    row = conn.execute(select(saved_views).where(
        saved_views.c.id == view_id, saved_views.c.app_key == app.key,
        saved_views.c.entity_key == entity.key)).first()
    visible = row is not None and (row.owner_id == actor.id or row.role in actor.roles_in(app.key))
    if not visible:
        raise NotFoundError(translate(lang, "There is no such view."))
    if row.owner_id != actor.id and not policy.is_app_admin(actor, app):
        raise ForbiddenError(translate(lang, "Only who saved a view, or an administrator, can delete it."))
    conn.execute(delete(saved_views).where(saved_views.c.id == view_id))
