"""Claimable pools: an entity's records with no owner, which the pool's roles see and
claim, and which owners give back with a reason.

A claim is ONE guarded UPDATE (`... WHERE owner_id IS NULL`, and, with a limit, the
claimer's count of owned records below it, counted in the same statement), so two
people clicking together get one winner on any database: on PostgreSQL the loser's
UPDATE waits for the winner's row lock and then finds the row owned; on SQLite writes
are serialised. The loser is told who was quicker, in their language. The pool's
optional `claim_stage` / `return_stage` move the record in the same statement, with
the usual stage history, audit row and events, so workflow rules react as to any move.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection, func, insert, select, update

from ..auth import policy
from ..definitions.model import AppDef, EntityDef
from ..errors import ConflictError, ForbiddenError, FormloomError, NotFoundError
from ..i18n import translate
from ..store.query import scoped
from ..store.records import Record, emit_event, get_record, record_from_row
from ..store.tables import audit, records, users
from ..workflow.moves import write_move_trail

REASON_MAX = 1000
PAGE_LIMIT = 50


class AlreadyClaimed(ConflictError):
    """Someone (perhaps the claimer) owns the record already."""

    code = "already_claimed"


class PoolLimitReached(ConflictError):
    """The claimer holds as many records of the entity as the pool's limit allows."""

    code = "pool_limit_reached"


class NotClaimed(ConflictError):
    """The record is in the pool already: there is nothing to return."""

    code = "not_claimed"


class ReturnReasonMissing(FormloomError):
    status = 422
    code = "return_reason_missing"


@dataclass(frozen=True)
class PoolPage:
    items: list[Record]
    has_more: bool
    offset: int
    limit: int


def held(conn: Connection, app: AppDef, entity: EntityDef, user_id: int) -> int:
    """How many live records of the entity `user_id` owns (what a pool's limit counts)."""
    return conn.execute(select(func.count()).select_from(records).where(_held_by(app, entity, user_id))).scalar_one()


def _held_by(app: AppDef, entity: EntityDef, user_id: int):
    return (records.c.app_key == app.key) & (records.c.entity_key == entity.key) & \
        (records.c.owner_id == user_id) & records.c.deleted_at.is_(None)


def pool_page(conn: Connection, app: AppDef, entity: EntityDef, actor: Any, *, q: str = "",
              limit: int = PAGE_LIMIT, offset: int = 0) -> PoolPage:
    """The unowned records the actor may see, newest change first; nothing for others."""
    if not policy.sees_pool(actor, app, entity):
        return PoolPage([], False, offset, limit)
    where = [scoped(conn, app, entity, actor), records.c.owner_id.is_(None)]
    if q.strip():
        where.append(func.lower(records.c.title).contains(q.strip().lower()[:200], autoescape=True))
    rows = conn.execute(select(records).where(*where).order_by(records.c.updated_at.desc(), records.c.id.desc())
                        .limit(limit + 1).offset(offset)).all()
    return PoolPage([record_from_row(r) for r in rows[:limit]], len(rows) > limit, offset, limit)


def _pooled(app: AppDef, entity: EntityDef, actor: Any, lang: str) -> None:
    """Refuse as "no such record" whoever may not see the pool (nothing is revealed)."""
    if not policy.sees_pool(actor, app, entity):
        raise NotFoundError(translate(lang, "There is no such record."))


def _owner_name(conn: Connection, user_id: int | None) -> str:
    row = conn.execute(select(users.c.name, users.c.email).where(users.c.id == user_id)).first()
    return (row.name or row.email) if row else "?"


def claim(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, actor: Any, *,
          now: datetime, lang: str = "en") -> Record:
    """Make `actor` the owner of a record in the pool, or raise AlreadyClaimed /
    PoolLimitReached (NotFoundError for a record or pool the actor may not see)."""
    _pooled(app, entity, actor, lang)
    record = get_record(conn, app, entity, record_id)
    if record.owner_id is not None and (record.owner_id == actor.id or _claimed_last(conn, record.id)):
        raise _taken(conn, record, actor, lang)     # it was in the pool the actor sees: say who was quicker
    if not policy.can(actor, "read", app, entity, record):
        raise NotFoundError(translate(lang, "There is no such record."))
    if record.owner_id is not None:
        raise _taken(conn, record, actor, lang)
    pool = entity.pool
    target = _stage(app, entity, pool.claim_stage, record)
    values: dict[str, Any] = dict(owner_id=actor.id, updated_by=actor.id, updated_at=now,
                                  version=records.c.version + 1)
    if target:
        values.update(stage=target, stage_entered_at=now)
    where = [records.c.id == record.id, records.c.owner_id.is_(None), records.c.deleted_at.is_(None)]
    if pool.limit:
        in_hand = select(func.count()).select_from(records).where(_held_by(app, entity, actor.id)).scalar_subquery()
        where.append(in_hand < pool.limit)
    if conn.execute(update(records).where(*where).values(**values)).rowcount != 1:
        current = get_record(conn, app, entity, record.id)
        if current.owner_id is not None:
            raise _taken(conn, current, actor, lang)
        raise PoolLimitReached(
            translate(lang, "You already hold %(count)s of %(limit)s allowed: return one to the pool first.",
                      count=held(conn, app, entity, actor.id), limit=pool.limit),
            hint=translate(lang, "Return a record you no longer work on, then claim again."))
    fresh = get_record(conn, app, entity, record.id)
    _trail(conn, app, entity, record, fresh, actor.id, now, "claim", {"$owner": [None, actor.id]}, target)
    return fresh


def _claimed_last(conn: Connection, record_id: int) -> bool:
    """Whether the record's last pool event is a claim (so it was in the pool until then)."""
    last = conn.execute(select(audit.c.action).where(audit.c.record_id == record_id,
                                                     audit.c.action.in_(("claim", "return")))
                        .order_by(audit.c.id.desc()).limit(1)).scalar()
    return last == "claim"


def _taken(conn: Connection, record: Record, actor: Any, lang: str) -> AlreadyClaimed:
    if record.owner_id == actor.id:
        return AlreadyClaimed(translate(lang, "You have already claimed this record."))
    return AlreadyClaimed(translate(lang, "%(name)s claimed this record first.",
                                    name=_owner_name(conn, record.owner_id)),
                          hint=translate(lang, "Choose another record from the pool."))


def give_back(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, actor: Any, reason: str, *,
              now: datetime, lang: str = "en", team_of: Callable[[int], set[int]] | None = None) -> Record:
    """Return an owned record to the pool, saying why (the reason is kept in the audit
    trail and shown on the timeline). Whoever may update the record may return it."""
    if entity.pool is None:
        raise NotFoundError(translate(lang, "There is no such record."))
    record = get_record(conn, app, entity, record_id, for_update=True)
    if not policy.can(actor, "read", app, entity, record, team_of=team_of):
        raise NotFoundError(translate(lang, "There is no such record."))
    if record.owner_id is None:
        raise NotClaimed(translate(lang, "This record is already in the pool."))
    if not policy.can(actor, "update", app, entity, record, team_of=team_of):
        raise ForbiddenError(translate(lang, "You may not return this record to the pool."))
    text = (reason or "").strip()[:REASON_MAX]
    if not text:
        raise ReturnReasonMissing(translate(lang, "Say why you are returning this record to the pool."),
                                  hint=translate(lang, "The reason is kept in the record's history."))
    target = _stage(app, entity, entity.pool.return_stage, record)
    values: dict[str, Any] = dict(owner_id=None, updated_by=actor.id, updated_at=now, version=records.c.version + 1)
    if target:
        values.update(stage=target, stage_entered_at=now)
    guarded = update(records).where(records.c.id == record.id, records.c.owner_id == record.owner_id)
    if conn.execute(guarded.values(**values)).rowcount != 1:
        raise ConflictError(translate(lang, "Someone else changed this record while you were editing it."))
    fresh = get_record(conn, app, entity, record.id)
    _trail(conn, app, entity, record, fresh, actor.id, now, "return",
           {"$owner": [record.owner_id, None], "$reason": [None, text]}, target)
    return fresh


def _stage(app: AppDef, entity: EntityDef, key: str | None, record: Record) -> str | None:
    """The stage to move to, when the pool names one the record is not in already."""
    workflow = app.workflow_for(entity.key)
    if not key or workflow is None or workflow.stage(key) is None or record.stage == key:
        return None
    return key


def _trail(conn: Connection, app: AppDef, entity: EntityDef, before: Record, after: Record, actor_id: int,
           now: datetime, action: str, changes: dict, target: str | None) -> None:
    conn.execute(insert(audit).values(record_id=before.id, app_key=app.key, entity_key=entity.key, action=action,
                                      changes=changes, user_id=actor_id, at=now, record_version=after.version))
    emit_event(conn, app.key, entity.key, before.id, "record_updated",
               {"actor": actor_id, "fields": ["$owner"], "stage": after.stage}, now)
    if target:
        write_move_trail(conn, app, entity, before, target, actor_id, now, after.version)
