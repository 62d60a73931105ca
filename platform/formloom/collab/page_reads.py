"""The record page's stage history and its timeline's audit rows, read in one statement.

The record page reads every stage change of the record (its path bar and history) and the
newest audit rows of its timeline: two small statements whose cost is mostly the round
through SQLAlchemy. One UNION ALL reads both; the audit's JSON travels as text (the two
parts share columns) and is decoded here. Other callers (the activity fragment, the API)
keep reading them apart.
"""
from __future__ import annotations

import json
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Text, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.engine import Connection

from ..store.tables import audit, stage_history, users
from ..workflow.history import StageChange, _aware, stage_history_rows
from .activity import TimelineQuery, audit_conditions


class AuditRow(NamedTuple):
    """An audit row as the timeline's audit source reads it."""

    id: int
    action: str
    changes: Any
    user_id: int | None
    at: Any
    via: str | None
    user_name: str | None
    user_email: str | None


_STATEMENTS: dict[frozenset[str], Any] = {}


def _statement(kinds: frozenset[str]):
    """Built once per set of audit kinds. Column by column: the stage row's from/to stage,
    seconds and override reason; the audit row's action, via, nothing and changes (as text)."""
    found = _STATEMENTS.get(kinds)
    if found is None:
        stages = (select(literal_column("0").label("src"), stage_history.c.id, stage_history.c.at,
                         stage_history.c.user_id, users.c.name.label("user_name"), users.c.email.label("user_email"),
                         stage_history.c.from_stage.label("a"), stage_history.c.to_stage.label("b"),
                         stage_history.c.seconds_in_previous.label("seconds"), stage_history.c.override_reason.label("text_value"))
                  .select_from(stage_history.outerjoin(users, users.c.id == stage_history.c.user_id))
                  .where(stage_history.c.record_id == bindparam("record_id")))
        audited = (select(literal_column("1").label("src"), audit.c.id, audit.c.at, audit.c.user_id,
                          users.c.name.label("user_name"), users.c.email.label("user_email"),
                          audit.c.action.label("a"), audit.c.via.label("b"), cast(null(), BigInteger).label("seconds"),
                          cast(audit.c.changes, Text).label("text_value"))
                   .select_from(audit.outerjoin(users, users.c.id == audit.c.user_id))
                   .where(*audit_conditions(kinds))
                   .order_by(audit.c.at.desc(), audit.c.id.desc()).limit(bindparam("want")).subquery())
        found = _STATEMENTS[kinds] = union_all(stages, select(audited))
    return found


def stages_and_audit(conn: Connection, query: TimelineQuery) -> tuple[list[StageChange], tuple | None]:
    """The record's stage changes, oldest first (as `workflow.history.stage_history_rows`),
    and the timeline's audit rows as TimelineQuery.known["audit"] takes them:
    (kinds, want, rows newest first), None when the query asks for no audit kind."""
    kinds = query.audit_kinds
    if not kinds:
        return stage_history_rows(conn, query.record_id), None
    stages, audited = [], []
    for r in conn.execute(_statement(kinds), {"record_id": query.record_id, "want": query.want}):
        if r.src == 0:
            stages.append(StageChange(id=r.id, record_id=query.record_id, from_stage=r.a, to_stage=r.b,
                                      user_id=r.user_id, user_name=r.user_name or r.user_email, at=_aware(r.at),
                                      seconds_in_previous=r.seconds, override_reason=r.text_value))
        else:
            audited.append(AuditRow(r.id, r.a, json.loads(r.text_value) if r.text_value is not None else None, r.user_id, r.at,
                                    r.b, r.user_name, r.user_email))
    stages.sort(key=lambda c: (c.at, c.id))
    audited.sort(key=lambda a: (_aware(a.at), a.id), reverse=True)
    return stages, (kinds, query.want, audited)
