"""Installed apps: their immutable definition versions, and the catalog that
serves the compiled model of each app's current version to everything else."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, bindparam, insert, select, update

from ..definitions.compile import compile_app
from ..definitions.model import AppDef
from ..errors import NotFoundError
from .db import Database
from .tables import apps, definition_versions

@dataclass(frozen=True)
class InstalledVersion:
    id: int
    app_key: str
    number: int
    content_hash: str
    documents: dict


def current_version(conn: Connection, app_key: str) -> InstalledVersion | None:
    row = conn.execute(
        select(definition_versions).join(apps, apps.c.current_version_id == definition_versions.c.id)
        .where(apps.c.key == app_key)).first()
    if row is None:
        return None
    return InstalledVersion(row.id, row.app_key, row.number, row.content_hash, row.documents)


def list_versions(conn: Connection, app_key: str) -> list[InstalledVersion]:
    rows = conn.execute(select(definition_versions).where(definition_versions.c.app_key == app_key)
                        .order_by(definition_versions.c.number))
    return [InstalledVersion(r.id, r.app_key, r.number, r.content_hash, r.documents) for r in rows]


def publish_version(conn: Connection, app_key: str, documents: dict, content_hash: str,
                    source: str | None, user_id: int | None, comment: str | None = None) -> InstalledVersion:
    now = datetime.now(timezone.utc)
    if conn.execute(select(apps.c.key).where(apps.c.key == app_key)).first() is None:
        conn.execute(insert(apps).values(key=app_key, installed_at=now, updated_at=now))
    number = 1 + (conn.execute(select(definition_versions.c.number).where(definition_versions.c.app_key == app_key)
                               .order_by(definition_versions.c.number.desc()).limit(1)).scalar() or 0)
    version_id = conn.execute(insert(definition_versions).values(
        app_key=app_key, number=number, content_hash=content_hash, documents=documents, source=source,
        created_by=user_id, created_at=now, comment=comment)).inserted_primary_key[0]
    conn.execute(update(apps).where(apps.c.key == app_key).values(current_version_id=version_id, updated_at=now))
    return InstalledVersion(version_id, app_key, number, content_hash, documents)


def compile_version(documents: dict) -> AppDef:
    return compile_app(documents["app"], documents.get("workflows", {}), archived=documents.get("archived") or None)


#: built once: every request asks it (the API with its token's statement: `installed_versions(rows=)`)
CURRENT_VERSIONS = (select(apps.c.key, apps.c.current_version_id)
                     .where(apps.c.current_version_id.is_not(None)).order_by(apps.c.key))


#: built once too: every page asks it for the app its URL names
_VERSION_OF = select(apps.c.current_version_id).where(apps.c.key == bindparam("key"))


class AppCatalog:
    """Compiled models of the installed apps, recompiled only when a new version is published."""

    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()
        self._compiled: dict[int, AppDef] = {}

    def get(self, app_key: str, conn: Connection | None = None) -> tuple[AppDef, int]:
        """The app's current model and version id; NotFoundError if it is not installed."""
        if conn is None:
            with self.db.read() as conn:
                return self.get(app_key, conn)
        version_id = conn.execute(_VERSION_OF, {"key": app_key}).scalar()
        if version_id is None:
            raise NotFoundError(f"There is no app {app_key!r}.")
        if version_id not in self._compiled:
            documents = conn.execute(select(definition_versions.c.documents)
                                     .where(definition_versions.c.id == version_id)).scalar_one()
            with self._lock:
                self._compiled[version_id] = compile_version(documents)
        return self._compiled[version_id], version_id

    def app(self, app_key: str, conn: Connection | None = None) -> AppDef:
        return self.get(app_key, conn)[0]

    def installed(self) -> list[AppDef]:
        return [app for app, _version_id in self.installed_versions()]

    def installed_versions(self, conn: Connection | None = None,
                           rows: list[tuple[str, int]] | None = None) -> list[tuple[AppDef, int]]:
        """Each installed app's current model and version id, in key order (one query
        unless a version has not been compiled yet). With `conn`, in the caller's
        transaction (the API asks it in the one that checked the token); with `rows`, the
        (key, current version id) pairs the caller read itself, in key order, in `conn`'s
        transaction (the session's user is read with them; the API reads them with its token)."""
        if conn is None:
            with self.db.read() as conn:
                return self.installed_versions(conn, rows)
        if rows is None:
            rows = conn.execute(CURRENT_VERSIONS).all()
        out = []
        for key, version_id in rows:
            compiled = self._compiled.get(version_id)
            out.append((compiled, version_id) if compiled is not None else self.get(key, conn))
        return out


def template_source(path: Path) -> str:
    return str(path)
