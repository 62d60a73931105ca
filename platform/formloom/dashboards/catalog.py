"""The dashboards of an installed app: stored in its definition version (so they
are versioned, rolled back and exported with the app), compiled once per version,
and shown to the roles each names (the app's admins see all)."""
from __future__ import annotations

import threading

from sqlalchemy import Connection, select

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef
from ..store.tables import definition_versions
from .model import DashboardDef, compile_dashboard

_lock = threading.Lock()
_compiled: dict[str, dict[str, DashboardDef]] = {}


def dashboards_of(conn: Connection, version_id: int) -> dict[str, DashboardDef]:
    """Compiled once per content (the hash, not the id: ids repeat across databases)."""
    digest = conn.execute(select(definition_versions.c.content_hash)
                          .where(definition_versions.c.id == version_id)).scalar_one()
    found = _compiled.get(digest)
    if found is None:
        documents = conn.execute(select(definition_versions.c.documents)
                                 .where(definition_versions.c.id == version_id)).scalar_one()
        found = {key: compile_dashboard(doc) for key, doc in sorted((documents.get("dashboards") or {}).items())}
        with _lock:
            _compiled[digest] = found
    return found


def may_see(actor: Actor | None, app: AppDef, dashboard: DashboardDef) -> bool:
    if not policy.is_member(actor, app):
        return False
    return policy.is_app_admin(actor, app) or bool(set(dashboard.roles) & set(actor.roles_in(app.key)))


def visible_dashboards(conn: Connection, actor: Actor | None, app: AppDef, version_id: int) -> list[DashboardDef]:
    return [d for d in dashboards_of(conn, version_id).values() if may_see(actor, app, d)]
