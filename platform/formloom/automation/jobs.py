"""Writing durable work: job rows with an idempotency key, inserted at most once.

A second insert with the same key is silently ignored (ON CONFLICT DO NOTHING on
both SQLite and PostgreSQL), which is what makes "one reminder per (rule, record,
occurrence)" and "one delivery per action and recipient" hold under retries and
several workers.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from ..store.tables import jobs


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any], conflict: str) -> bool:
    """Insert unless a row with the same `conflict` column exists; True when inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=[conflict])
            .returning(table.c[conflict]))
    return conn.execute(stmt).first() is not None   # rowcount is not reliable with psycopg here


def enqueue(conn: Connection, kind: str, key: str, payload: Mapping[str, Any], due_at: datetime, now: datetime, *,
            app_key: str | None = None, rule_key: str | None = None, record_id: int | None = None) -> bool:
    """Add a pending job unless one with `key` already exists (whatever its status)."""
    return insert_ignore(conn, jobs, {
        "kind": kind, "idempotency_key": key[:300], "app_key": app_key, "rule_key": rule_key,
        "record_id": record_id, "payload": dict(payload), "due_at": due_at, "status": "pending",
        "attempts": 0, "created_at": now}, "idempotency_key")
