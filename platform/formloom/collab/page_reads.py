"""The record page's stage history and its timeline's audit rows and comments, read in one
statement.

The record page reads every stage change of the record (its path bar and history), the
newest audit rows and the newest comments of its timeline: three small statements whose
cost is mostly the round through SQLAlchemy. One UNION ALL reads them all; the parts share
columns, so JSON travels as text and is decoded here. Other callers (the activity fragment,
the API) keep reading them apart.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, String, Text, bindparam, cast, literal_column, null, select, union_all
from sqlalchemy.engine import Connection

from ..store.tables import UtcDateTime, audit, comments, stage_history, users
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


class CommentRow(NamedTuple):
    """A comment row as the timeline's comment source reads it."""

    id: int
    author_id: int | None
    body: str
    mentions: Any
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    user_name: str | None
    user_email: str | None


_STATEMENTS: dict[tuple[frozenset[str], bool], Any] = {}
_STAGE, _AUDIT, _COMMENT = 0, 1, 2


def _statement(kinds: frozenset[str], with_comments: bool):
    """Built once per set of audit kinds, with or without comments. Column by column: the
    stage row's from/to stage, seconds and override reason; the audit row's action, via,
    nothing and changes (as text); the comment's mentions (as text), nothing, nothing and
    body, then its edited and deleted times."""
    found = _STATEMENTS.get((kinds, with_comments))
    if found is None:
        no_time = cast(null(), UtcDateTime)
        parts = [select(literal_column("0").label("src"), stage_history.c.id, stage_history.c.at,
                        stage_history.c.user_id, users.c.name.label("user_name"), users.c.email.label("user_email"),
                        stage_history.c.from_stage.label("a"), stage_history.c.to_stage.label("b"),
                        stage_history.c.seconds_in_previous.label("seconds"),
                        stage_history.c.override_reason.label("text_value"),
                        no_time.label("edited_at"), no_time.label("deleted_at"))
                 .select_from(stage_history.outerjoin(users, users.c.id == stage_history.c.user_id))
                 .where(stage_history.c.record_id == bindparam("record_id"))]
        if kinds:
            parts.append(select(
                select(literal_column("1").label("src"), audit.c.id, audit.c.at, audit.c.user_id,
                       users.c.name.label("user_name"), users.c.email.label("user_email"),
                       audit.c.action.label("a"), audit.c.via.label("b"), cast(null(), BigInteger).label("seconds"),
                       cast(audit.c.changes, Text).label("text_value"), no_time.label("edited_at"),
                       no_time.label("deleted_at"))
                .select_from(audit.outerjoin(users, users.c.id == audit.c.user_id))
                .where(*audit_conditions(kinds))
                .order_by(audit.c.at.desc(), audit.c.id.desc()).limit(bindparam("want")).subquery()))
        if with_comments:
            parts.append(select(
                select(literal_column("2").label("src"), comments.c.id, comments.c.created_at.label("at"),
                       comments.c.author_id.label("user_id"), users.c.name.label("user_name"),
                       users.c.email.label("user_email"), cast(comments.c.mentions, Text).label("a"),
                       cast(null(), String).label("b"), cast(null(), BigInteger).label("seconds"),
                       comments.c.body.label("text_value"), comments.c.edited_at, comments.c.deleted_at)
                .select_from(comments.outerjoin(users, users.c.id == comments.c.author_id))
                .where(comments.c.record_id == bindparam("record_id"))
                .order_by(comments.c.created_at.desc(), comments.c.id.desc()).limit(bindparam("want")).subquery()))
        found = _STATEMENTS[(kinds, with_comments)] = union_all(*parts)
    return found


def timeline_rows(conn: Connection, query: TimelineQuery) -> tuple[list[StageChange], dict]:
    """The record's stage changes, oldest first (as `workflow.history.stage_history_rows`),
    and what TimelineQuery.known takes for the asked kinds: "audit" -> (kinds, want, rows
    newest first), "comments" -> (want, rows newest first)."""
    kinds, with_comments = query.audit_kinds, "comment" in query.kinds
    if not kinds and not with_comments:
        return stage_history_rows(conn, query.record_id), {}
    stages, audited, said = [], [], []
    for r in conn.execute(_statement(kinds, with_comments), {"record_id": query.record_id, "want": query.want}):
        if r.src == _STAGE:
            stages.append(StageChange(id=r.id, record_id=query.record_id, from_stage=r.a, to_stage=r.b,
                                      user_id=r.user_id, user_name=r.user_name or r.user_email, at=_aware(r.at),
                                      seconds_in_previous=r.seconds, override_reason=r.text_value))
        elif r.src == _AUDIT:
            audited.append(AuditRow(r.id, r.a, json.loads(r.text_value) if r.text_value is not None else None,
                                    r.user_id, r.at, r.b, r.user_name, r.user_email))
        else:
            said.append(CommentRow(r.id, r.user_id, r.text_value, json.loads(r.a) if r.a is not None else None,
                                   r.at, r.edited_at, r.deleted_at, r.user_name, r.user_email))
    stages.sort(key=lambda c: (c.at, c.id))
    known: dict = {}
    if kinds:
        audited.sort(key=lambda a: (_aware(a.at), a.id), reverse=True)
        known["audit"] = (kinds, query.want, audited)
    if with_comments:
        said.sort(key=lambda c: (_aware(c.created_at), c.id), reverse=True)
        known["comments"] = (query.want, said)
    return stages, known
