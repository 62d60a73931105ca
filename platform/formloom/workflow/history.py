"""Reading a record's stage history: the rows behind the path bar and the history list."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, bindparam, select

from ..store.tables import definition_versions, stage_history, users


@dataclass(frozen=True)
class StageChange:
    """One stage-history row: a record entered `to_stage` (from `from_stage`) at `at`."""

    id: int
    record_id: int
    from_stage: str | None
    to_stage: str
    user_id: int | None
    user_name: str | None
    at: datetime
    seconds_in_previous: int | None
    override_reason: str | None


def stage_history_rows(conn: Connection, record_id: int) -> list[StageChange]:
    """The record's stage changes, oldest first (the first row is where it started)."""
    rows = conn.execute(_HISTORY, {"record_id": record_id})
    return [StageChange(id=r.id, record_id=r.record_id, from_stage=r.from_stage, to_stage=r.to_stage,
                        user_id=r.user_id, user_name=r.user_name or r.user_email, at=_aware(r.at),
                        seconds_in_previous=r.seconds_in_previous, override_reason=r.override_reason)
            for r in rows]


#: Built once (the record page reads it every time; building costs more than running it).
_HISTORY = (select(stage_history, users.c.name.label("user_name"), users.c.email.label("user_email"))
            .select_from(stage_history.outerjoin(users, users.c.id == stage_history.c.user_id))
            .where(stage_history.c.record_id == bindparam("record_id"))
            .order_by(stage_history.c.at, stage_history.c.id))


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


#: Earlier versions read at most when looking for the label of a stage that is gone.
RETIRED_LOOKBACK = 50


def retired_stage_labels(conn: Connection, app_key: str, workflow_key: str, keys: set[str]) -> dict[str, Any]:
    """The labels (as written in the documents) of stages the workflow no longer has, from the
    app's earlier versions, newest first: a record's history keeps naming a removed stage by the
    label people knew. Read only when a history row names a stage that is gone."""
    found: dict[str, Any] = {}
    if not keys:
        return found
    rows = conn.execute(select(definition_versions.c.documents).where(definition_versions.c.app_key == app_key)
                        .order_by(definition_versions.c.number.desc()).limit(RETIRED_LOOKBACK))
    for (documents,) in rows:
        workflow = ((documents or {}).get("workflows") or {}).get(workflow_key) or {}
        for stage in workflow.get("stages") or []:
            if isinstance(stage, dict) and stage.get("key") in keys and stage["key"] not in found:
                found[stage["key"]] = stage.get("label")
        if len(found) == len(keys):
            break
    return found
