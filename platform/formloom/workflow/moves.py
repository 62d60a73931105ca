"""Moving a record to another stage: the one guard every write path goes through.

The form, the kanban drop, the record page, bulk edits, imports, the API and
automation actions all call `move_to_stage`, inside the caller's transaction:
the record is locked, its version checked, the policy asked, every rule and
gate checked, optional field values applied, and the move, its history row,
its audit row and its outbox events written together, or nothing is.
`records.update_record` cannot change a stage (it has no stage parameter and
`stage` is a reserved key), so there is no other way in, except a pool's claim and
return (collab/pools.py), which move the record together with its owner in one guarded
UPDATE and write the same trail through `write_move_trail`.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import Connection, bindparam, exists, insert, select, update

from ..auth.policy import can, is_app_admin, writable_fields
from ..auth.users import reports_of
from ..definitions.model import AppDef, EntityDef, StageDef, WorkflowDef
from ..errors import ForbiddenError, FormloomError, NotFoundError
from ..i18n import translate
from ..store.records import (RECORD_COLUMNS, Record, emit_events, get_record, record_from_row, stale, update_record,
                             utcnow)
from ..store.tables import approval_requests, audit, records, stage_history
from .approvals import PENDING, ApprovalPending, ApprovalRequired, ApprovalStarted, start_request
from .gates import GateBlocked, check_move


class UnknownStage(FormloomError):
    """The target stage is not a stage of the record's workflow (or the entity has none)."""

    status = 400
    code = "unknown_stage"


class StageForbidden(ForbiddenError):
    """The actor may not change this record's stage at all, or may not override a gate."""

    code = "stage_forbidden"


class OverrideReasonMissing(FormloomError):
    """An admin override was asked for without saying why."""

    status = 422
    code = "override_reason_missing"


def workflow_of(app: AppDef, entity: EntityDef, lang: str = "en") -> WorkflowDef:
    workflow = app.workflow_for(entity.key)
    if workflow is None or not workflow.stages:
        raise UnknownStage(translate(lang, "%(entity)s has no pipeline.", entity=entity.label.get(lang)))
    return workflow


def target_stage(workflow: WorkflowDef, key: str, lang: str = "en") -> StageDef:
    stage = workflow.stage(key) if isinstance(key, str) else None
    if stage is None:
        raise UnknownStage(translate(lang, "There is no stage %(stage)s in this pipeline.", stage=repr(key)),
                           hint=translate(lang, "Choose one of: %(stages)s.",
                                          stages=", ".join(s.key for s in workflow.stages)))
    return stage


def move_to_stage(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, to_stage_key: str, actor: Any,
                  *, expected_version: int | None = None, values: Mapping[str, Any] | None = None,
                  override_reason: str | None = None, lang: str = "en", now: datetime | None = None,
                  approved_request: int | None = None, request_approval: bool = False,
                  check_hidden: bool = False) -> Record:
    """Move the record to `to_stage_key` in the caller's transaction and return it fresh.

    Raises NotFoundError (no such record, or not readable by `actor`), ConflictError (the
    record is not at `expected_version`), UnknownStage, StageForbidden (no update right;
    override by a non-admin), OverrideReasonMissing, RecordInvalid (bad `values`) and
    GateBlocked listing every unmet requirement. `values` are validated like any edit,
    with the target stage's readonly/hidden rules, and saved in the same transaction, so
    a dialog can fill missing fields and move at once. `override_reason` (app admins
    only, non-empty) skips rules and gates and is written to the stage history.

    A move whose only unmet requirement is the target gate's `approval` raises
    ApprovalRequired (a GateBlocked: nothing is stored), or, with `request_approval=True`,
    saves `values`, starts an approval request and raises ApprovalStarted carrying it (the
    caller answers 202 and commits). A record waiting for an approval raises
    ApprovalPending; `approved_request` is the granted request whose last approval makes
    this move (workflow.approvals.decide). `check_hidden` as for store.records.update_record."""
    now = (now or utcnow()).astimezone(timezone.utc)
    workflow = workflow_of(app, entity, lang)
    target = target_stage(workflow, to_stage_key, lang)
    record, waiting = _record_to_move(conn, app, entity, record_id)

    def team_of(user_id: int) -> set[int]:
        return reports_of(conn, user_id)

    if not can(actor, "read", app, entity, record, team_of=team_of):
        raise NotFoundError(translate(lang, "There is no such record."))
    if expected_version is not None and expected_version != record.version:
        raise stale(record, lang)
    if not can(actor, "update", app, entity, record, team_of=team_of):
        raise StageForbidden(translate(lang, "You may not change the stage of this record."))
    reason = _override_reason(app, actor, override_reason, lang)
    if approved_request is None and waiting:
        raise ApprovalPending(translate(lang, "This record is awaiting approval: it cannot move meanwhile."),
                              hint=translate(lang, "Wait for the decision, or withdraw the request first."))

    # a savepoint when `values` are written first: a refused move leaves nothing behind (not
    # even `values`), even when the caller catches the refusal and commits its transaction
    # anyway. Without values nothing is written before the last check, so none is needed.
    with conn.begin_nested() if values else nullcontext():
        if values:
            writable = [f.key for f in writable_fields(actor, app, entity, stage=target)]
            record = update_record(conn, app, entity, record_id, values, actor_id=actor.id,
                                   expected_version=record.version, lang=lang, writable=writable, now=now,
                                   reader=actor, judged_in=target.key, check_hidden=check_hidden)
        if record.stage == target.key:
            return record
        started = None
        if reason is None:
            failures = check_move(conn, app, workflow, record, target, actor, lang=lang, now=now,
                                  approved=approved_request is not None)
            if failures and all(f.code == "approval" for f in failures):
                if not request_approval:
                    raise ApprovalRequired(target.key, failures, failures[0].message,
                                           translate(lang, "Ask for approval: the record moves once it is granted."))
                started = start_request(conn, app, entity, record.id, target.key, actor, lang=lang, now=now)
            elif failures:
                raise GateBlocked(target.key, failures,
                                  translate(lang, "This record cannot move to %(stage)s yet.",
                                            stage=target.label.get(lang)),
                                  translate(lang, "Complete what is listed and try again."))
        if started is None:
            return _write_move(conn, app, entity, record, target, actor, reason, now, lang)
    raise ApprovalStarted(started)


#: The record (live, of the entity) and whether it waits for an approval, in one statement: every
#: move asks both, and on a server database each statement is a round trip. Locked on PostgreSQL.
_TO_MOVE = select(*RECORD_COLUMNS, exists().where(approval_requests.c.record_id == records.c.id,
                                                  approval_requests.c.status == PENDING).label("approval_pending")) \
    .where(records.c.id == bindparam("record_id"), records.c.app_key == bindparam("app_key"),
           records.c.entity_key == bindparam("entity_key"), records.c.deleted_at.is_(None))
_TO_MOVE_LOCKED = _TO_MOVE.with_for_update(of=records)


def _record_to_move(conn: Connection, app: AppDef, entity: EntityDef, record_id: int) -> tuple[Record, bool]:
    """The record (NotFoundError as get_record raises it) and whether an approval request is pending for it."""
    query = _TO_MOVE_LOCKED if conn.dialect.name == "postgresql" else _TO_MOVE
    row = conn.execute(query, {"record_id": record_id, "app_key": app.key, "entity_key": entity.key}).first()
    if row is None:
        raise NotFoundError(translate("en", "There is no such record."))
    return record_from_row(row), bool(row.approval_pending)


def _override_reason(app: AppDef, actor: Any, override_reason: str | None, lang: str) -> str | None:
    if override_reason is None:
        return None
    if not is_app_admin(actor, app):
        raise StageForbidden(translate(lang, "Only app admins may override a stage gate."))
    reason = override_reason.strip()
    if not reason:
        raise OverrideReasonMissing(translate(lang, "Say why you are overriding the stage gate."),
                                    hint=translate(lang, "The reason is written to the stage history."))
    return reason[:2000]


#: Statements of every move, built once (building a statement costs more than running it); the
#: values come with each execution.
_MOVE = update(records).where(records.c.id == bindparam("record_id"),
                              records.c.version == bindparam("expected_version"))
_HISTORY_ROW = insert(stage_history)
_AUDIT_ROW = insert(audit)


def _write_move(conn: Connection, app: AppDef, entity: EntityDef, record: Record, target: StageDef, actor: Any,
                reason: str | None, now: datetime, lang: str) -> Record:
    new_version = record.version + 1
    result = conn.execute(_MOVE, {"record_id": record.id, "expected_version": record.version, "stage": target.key,
                                  "stage_entered_at": now, "version": new_version, "updated_at": now,
                                  "updated_by": actor.id})
    if result.rowcount != 1:
        raise stale(get_record(conn, app, entity, record.id), lang)
    write_move_trail(conn, app, entity, record, target.key, actor.id, now, new_version, reason)
    return replace(record, stage=target.key, stage_entered_at=now, version=new_version, updated_at=now,
                   updated_by=actor.id)             # what was written: no re-read


def write_move_trail(conn: Connection, app: AppDef, entity: EntityDef, record: Record, to_stage: str,
                     actor_id: int | None, now: datetime, new_version: int, reason: str | None = None) -> None:
    """The history row, audit row and stage_left/stage_entered events of a move already
    written to `record` (as it was before the move): for writers that change the stage
    together with something else in one guarded UPDATE (claiming from a pool)."""
    seconds = None
    if record.stage_entered_at is not None:
        seconds = max(0, int((now - record.stage_entered_at).total_seconds()))
    conn.execute(_HISTORY_ROW, dict(record_id=record.id, from_stage=record.stage, to_stage=to_stage, user_id=actor_id,
                                    at=now, seconds_in_previous=seconds, override_reason=reason))
    conn.execute(_AUDIT_ROW, dict(record_id=record.id, app_key=app.key, entity_key=entity.key, action="stage",
                                  changes={"$stage": [record.stage, to_stage]}, user_id=actor_id, at=now,
                                  record_version=new_version))
    payload = {"from": record.stage, "to": to_stage, "actor": actor_id}
    if reason is not None:
        payload["override_reason"] = reason
    typed = ([("stage_left", payload)] if record.stage is not None else []) + [("stage_entered", payload)]
    emit_events(conn, app.key, entity.key, record.id, typed, now)
