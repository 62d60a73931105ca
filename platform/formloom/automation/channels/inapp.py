"""In-app notifications: one row per (firing, action, recipient), exactly once
thanks to the unique idempotency key, written in the same transaction as the
rule's other effects."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import Connection, func, select, update

from ...store.tables import notifications
from ..batch import current as current_batch
from ..jobs import insert_ignore

#: Notifications whose key starts with this were written by a demo's loader (replayed
#: reminders, the demo's own notes); the bell marks them as from the demo.
DEMO_PREFIX = "demo:"


def notify_user(conn: Connection, user_id: int, subject: str, body: str, key: str, now: datetime, *,
                app_key: str | None = None, record_id: int | None = None) -> bool:
    """Write one notification unless `key` was written before; True when written. In a
    worker's batch of reminders (automation.batch) it is queued and written with the
    batch's others, in the same transaction (True: queued)."""
    row = {"user_id": user_id, "app_key": app_key, "record_id": record_id, "subject": subject[:500],
           "body": body, "idempotency_key": key[:300], "created_at": now}
    batch = current_batch()
    if batch is not None:
        batch.notifications.append(row)
        return True
    return insert_ignore(conn, notifications, row, "idempotency_key")


def unread_count(conn: Connection, user_id: int) -> int:
    return conn.execute(select(func.count()).select_from(notifications).where(
        notifications.c.user_id == user_id, notifications.c.read_at.is_(None))).scalar_one()


def notifications_for(conn: Connection, user_id: int, limit: int = 50, *, unread_only: bool = False,
                      before_id: int | None = None) -> list[dict]:
    """Newest first: {id, app_key, record_id, subject, body, created_at, read_at, demo}."""
    query = select(notifications).where(notifications.c.user_id == user_id)
    if unread_only:
        query = query.where(notifications.c.read_at.is_(None))
    if before_id is not None:
        query = query.where(notifications.c.id < before_id)
    rows = conn.execute(query.order_by(notifications.c.id.desc()).limit(limit))
    return [_row(r) for r in rows]


def mark_read(conn: Connection, user_id: int, ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Mark the user's notifications `ids` read (all of them when `ids` is None); returns how many."""
    query = update(notifications).where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if ids is not None:
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        query = query.where(notifications.c.id.in_(ids))
    return conn.execute(query.values(read_at=now or datetime.now(timezone.utc))).rowcount


def mark_all_read(conn: Connection, user_id: int, now: datetime | None = None) -> int:
    return mark_read(conn, user_id, None, now)


def _row(r) -> dict:
    def aware(v):
        return v.replace(tzinfo=timezone.utc) if v is not None and v.tzinfo is None else v

    return {"id": r.id, "app_key": r.app_key, "record_id": r.record_id, "subject": r.subject, "body": r.body,
            "created_at": aware(r.created_at), "read_at": aware(r.read_at),
            "demo": (r.idempotency_key or "").startswith(DEMO_PREFIX)}
