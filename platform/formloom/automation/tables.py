"""Automation's own tables: the rule run log and a small key/value state (round-robin
cursors, per-app webhook secrets, the definition version reminders were synced to).

They live on the platform's MetaData so the test fixtures that empty every table
empty these too; migration 0002_automation creates them.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from ..store.tables import Id, JsonDoc, UtcDateTime, metadata

#: One row per rule firing (or refusal to fire): what the admin run log shows.
rule_runs = Table(
    "rule_runs", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app_key", String(63), nullable=False),
    Column("rule_key", String(63), nullable=False),
    Column("record_id", Id, nullable=True),
    Column("trigger", String(32), nullable=False),           # the event type, "reminder" or "schedule"
    Column("outcome", String(16), nullable=False),           # fired | skipped | failed
    Column("late", Boolean, nullable=False, default=False),  # a reminder fired after its due time (downtime)
    Column("duration_ms", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("job_id", Id, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_rule_runs_app_at", "app_key", "at"),
)

#: Small named values owned by automation; `key` is namespaced, e.g. "rr:crm:sales".
automation_state = Table(
    "automation_state", metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JsonDoc, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
