"""Loading an app template's demo data (`demo_data.json` beside app.json).

The file holds users and records; a reference is written "@entity:n" (the n-th
demo record of that entity, by its "ref") and resolved here to a real id, so a
template can ship a connected data set without knowing database ids.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from .auth.users import create_user, set_roles, user_id_by_email
from .definitions.model import AppDef
from .store.db import Database
from .store.records import create_record
from .store.tables import events, records, users

DEMO_FILE = "demo_data.json"


def demo_file(template_dir: Path) -> Path:
    return template_dir / DEMO_FILE


def load_demo(db: Database, app: AppDef, version_id: int, template_dir: Path, now: datetime | None = None) -> dict:
    """Create the demo users and records; idempotent (does nothing when the app has records)."""
    data = json.loads(demo_file(template_dir).read_text(encoding="utf-8"))
    now = now or datetime.now(timezone.utc)
    with db.write() as conn:
        user_ids = _ensure_users(conn, app, data.get("users", []))
        existing = conn.execute(select(func.count()).select_from(records)
                                .where(records.c.app_key == app.key)).scalar_one()
        if existing:
            return {"users": len(user_ids), "records": 0}
        refs: dict[str, int] = {}
        created = 0
        for item in data.get("records", []):
            entity = app.entity(item["entity"])
            values = {k: _resolve(v, refs) for k, v in item["data"].items()}
            owner = user_ids.get(item.get("owner")) if item.get("owner") else None
            when = now - timedelta(days=float(item.get("created_days_ago", 0)))
            record = create_record(conn, app, entity, values, actor_id=owner, owner_id=owner,
                                   version_id=version_id, now=when, stage=item.get("stage"))
            refs[item["ref"]] = record.id
            created += 1
        _settle_automation(conn, app, now)
    return {"users": len(user_ids), "records": created}


def _settle_automation(conn, app: AppDef, now: datetime) -> None:
    """Demo data is a snapshot of a history that already happened: its creation events must
    not run event rules again (re-routing owners, rewriting dates), but its time-based
    reminders are scheduled from now on, as they would be for a live app."""
    from .automation import resync_app
    conn.execute(events.update().where(events.c.app_key == app.key, events.c.processed_at.is_(None))
                 .values(processed_at=now))
    resync_app(conn, app, now=now)


def _resolve(value: Any, refs: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("@") and value[1:] in refs:
        return refs[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    return value


def _ensure_users(conn, app: AppDef, specs: list[dict]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for spec in specs:
        email = spec["email"].lower()
        user_id = user_id_by_email(conn, email)
        if user_id is None:
            user_id = create_user(conn, email, spec["password"], name=spec.get("name", ""),
                                  language=spec.get("language", "en"))
        set_roles(conn, user_id, [(app.key, role) for role in spec.get("roles", [])])
        ids[email] = user_id
    for spec in specs:
        if spec.get("manager"):
            conn.execute(users.update().where(users.c.id == ids[spec["email"].lower()])
                         .values(manager_id=ids.get(spec["manager"].lower())))
    return ids


def demo_logins(template_dir: Path) -> list[dict]:
    data = json.loads(demo_file(template_dir).read_text(encoding="utf-8"))
    return [{"email": u["email"], "password": u["password"], "roles": u.get("roles", [])}
            for u in data.get("users", [])]
