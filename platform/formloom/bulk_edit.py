"""Bulk edit: one change applied to many records, record by record, through the
same paths as a single edit.

Each record goes through the policy (read, then update or delete, with the
person as `reader`), `store.records.update_record` / `change_owner` /
`delete_record` or `workflow.move_to_stage` (the one stage guard), so
validation, field access per stage, audit rows and outbox events are exactly
those of a form. Each record runs in a savepoint: a refusal leaves nothing of
that record behind and the others carry on; every refusal is reported with its
reasons. Records are taken in batches, one transaction each, so a selection of
thousands never holds one long transaction; a large selection runs as a job
(kind "bulk_edit") that the worker runs batch by batch, its progress kept in
the job's payload and committed with each batch, so a crash resumes where the
last batch ended.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field as dc_field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import Connection, select, update

from .auth import policy
from .automation.jobs import enqueue
from .auth.users import Actor, load_actor, reports_of
from .definitions.model import AppDef, EntityDef
from .errors import ConflictError, ForbiddenError, FormloomError, NotFoundError, RecordInvalid
from .i18n import translate
from .store.records import Record, change_owner, delete_record, get_record, update_record, utcnow
from .store.tables import jobs
from .workflow.gates import GateBlocked
from .workflow.moves import move_to_stage

OPERATIONS = ("set_field", "owner", "stage", "delete")
BATCH_SIZE = 100
MAX_RECORDS = 50_000         # the most records one bulk edit may touch (config BULK_MAX_RECORDS)
MAX_REPORTED = 1000          # failures kept in a report (the count is always exact)
JOB_KIND = "bulk_edit"
VIA = "bulk edit"


class BulkError(FormloomError):
    """A bulk request that cannot be run at all (unknown operation, nothing selected)."""


@dataclass(frozen=True)
class BulkOperation:
    kind: str                    # one of OPERATIONS
    field: str | None = None     # set_field: the field key
    value: Any = None            # set_field: the clean JSON value; owner: a user id or None; stage: a stage key


@dataclass
class BulkFailure:
    record_id: int
    title: str
    messages: list[str]


@dataclass
class BulkReport:
    total: int
    done: int = 0
    succeeded: int = 0
    failed: int = 0
    failures: list[BulkFailure] = dc_field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def add_failure(self, failure: BulkFailure) -> None:
        self.failed += 1
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(failure)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BulkReport:
        return cls(total=data["total"], done=data.get("done", 0), succeeded=data.get("succeeded", 0),
                   failed=data.get("failed", 0),
                   failures=[BulkFailure(**f) for f in data.get("failures", ())])


def check_operation(app: AppDef, entity: EntityDef, op: BulkOperation, lang: str = "en") -> None:
    """Refuse a request no record could satisfy, before any record is touched."""
    if op.kind not in OPERATIONS:
        raise BulkError(translate(lang, "Unknown bulk action %(action)s.", action=repr(str(op.kind)[:40])),
                        hint=translate(lang, "Available here: %(actions)s.", actions=", ".join(OPERATIONS)))
    if op.kind == "set_field" and (op.field is None or entity.field(op.field) is None):
        raise BulkError(translate(lang, "Choose the field to set."))
    if op.kind == "stage":
        workflow = app.workflow_for(entity.key)
        if workflow is None or workflow.stage(op.value if isinstance(op.value, str) else "") is None:
            raise BulkError(translate(lang, "Choose the stage to move to."))


def _messages(error: Exception, entity: EntityDef, lang: str) -> list[str]:
    if isinstance(error, GateBlocked):
        return [error.message] + [f.message for f in error.failures]
    if isinstance(error, RecordInvalid):
        out = []
        for p in error.problems:
            f = entity.field(p.field) if p.field else None
            out.append(f"{f.label.get(lang)}: {p.message}" if f is not None else p.message)
        return out or [error.message]
    if isinstance(error, FormloomError):
        return [error.message]
    raise error


def apply_one(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, record_id: int,
              op: BulkOperation, lang: str = "en", now: datetime | None = None) -> Record | None:
    """Apply `op` to one record as `actor` would from its own form; raises what a single
    edit raises (NotFoundError for a record the actor may not read, ForbiddenError, ...)."""
    now = now or utcnow()

    def team_of(user_id: int) -> set[int]:
        return reports_of(conn, user_id)

    record = get_record(conn, app, entity, record_id, for_update=True)
    if not policy.can(actor, "read", app, entity, record, team_of=team_of):
        raise NotFoundError(translate(lang, "There is no such record."))
    if op.kind == "stage":
        return move_to_stage(conn, app, entity, record_id, op.value, actor, lang=lang, now=now)
    if op.kind == "delete":
        if not policy.can(actor, "delete", app, entity, record, team_of=team_of):
            raise ForbiddenError(translate(lang, "You may not delete this record."))
        delete_record(conn, app, entity, record_id, actor_id=actor.id, now=now)
        return None
    if not policy.can(actor, "update", app, entity, record, team_of=team_of):
        raise ForbiddenError(translate(lang, "You may not change this record."))
    if op.kind == "owner":
        return change_owner(conn, app, entity, record_id, op.value, actor_id=actor.id, lang=lang, now=now, via=VIA)
    workflow = app.workflow_for(entity.key)
    stage = workflow.stage(record.stage) if workflow and record.stage else None
    writable = [f.key for f in policy.writable_fields(actor, app, entity, stage)]
    return update_record(conn, app, entity, record_id, {op.field: op.value}, actor_id=actor.id,
                         expected_version=None, lang=lang, writable=writable, reader=actor, now=now, via=VIA)


def apply_batch(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, ids: Iterable[int],
                op: BulkOperation, report: BulkReport, lang: str = "en") -> None:
    """Apply `op` to each of `ids` in its own savepoint of `conn`'s transaction."""
    for record_id in ids:
        try:
            with conn.begin_nested():
                apply_one(conn, app, entity, actor, record_id, op, lang)
        except (FormloomError, ConflictError) as error:
            report.add_failure(BulkFailure(record_id, _title(conn, app, entity, actor, record_id),
                                           _messages(error, entity, lang)))
        else:
            report.succeeded += 1
        report.done += 1


def _title(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, record_id: int) -> str:
    """The record's title when the actor may read it, else only its number."""
    try:
        record = get_record(conn, app, entity, record_id, include_deleted=True)
    except NotFoundError:
        return f"#{record_id}"
    if policy.can(actor, "read", app, entity, record, team_of=lambda uid: reports_of(conn, uid)):
        return record.title or f"#{record_id}"
    return f"#{record_id}"


def run_bulk(db, app: AppDef, entity: EntityDef, actor: Actor, ids: list[int], op: BulkOperation,
             lang: str = "en", batch_size: int = BATCH_SIZE) -> BulkReport:
    """Apply `op` to every id now, one transaction per batch (the small-selection path)."""
    check_operation(app, entity, op, lang)
    report = BulkReport(total=len(ids))
    for start in range(0, len(ids), batch_size):
        with db.write() as conn:
            apply_batch(conn, app, entity, actor, ids[start:start + batch_size], op, report, lang)
    return report


# -- the job path ------------------------------------------------------------------------------

def enqueue_bulk(conn: Connection, app: AppDef, entity: EntityDef, actor: Actor, ids: list[int],
                 op: BulkOperation, lang: str = "en", now: datetime | None = None) -> int:
    """A pending job for the worker; returns its id (the progress page follows it)."""
    check_operation(app, entity, op, lang)
    now = now or utcnow()
    key = f"bulk:{app.key}:{entity.key}:{actor.id}:{secrets.token_hex(8)}"
    enqueue(conn, JOB_KIND, key, {
        "entity": entity.key, "actor": actor.id, "lang": lang,
        "op": {"kind": op.kind, "field": op.field, "value": op.value}, "ids": list(ids),
        "report": BulkReport(total=len(ids)).as_dict()}, now, now, app_key=app.key)
    return conn.execute(select(jobs.c.id).where(jobs.c.idempotency_key == key)).scalar_one()


def run_bulk_job(db, catalog, job, token: str, now: datetime, settings, batch_size: int = BATCH_SIZE) -> str:
    """The worker's handler: one batch per transaction, the progress committed with it;
    a job taken over after a crash starts from the last committed batch."""
    payload = dict(job.payload or {})
    while True:
        with db.write() as conn:
            row = conn.execute(select(jobs.c.payload, jobs.c.locked_by, jobs.c.status)
                               .where(jobs.c.id == job.id)).one()
            if row.locked_by != token or row.status != "running":
                return "lost"
            payload = dict(row.payload)
            report = BulkReport.from_dict(payload["report"])
            ids = payload["ids"]
            if report.done >= len(ids):
                conn.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.locked_by == token)
                             .values(status="done", finished_at=utcnow(), lease_until=None))
                return "done"
            app = catalog.app(job.app_key, conn)
            entity = app.entity(payload["entity"])
            actor = load_actor(conn, payload["actor"])
            lang = payload.get("lang") or "en"
            batch = ids[report.done:report.done + batch_size]
            op = BulkOperation(**payload["op"])
            if actor is None or entity is None:           # the person left, or the entity is gone
                for record_id in batch:
                    report.add_failure(BulkFailure(record_id, f"#{record_id}",
                                                   [translate(lang, "You may not change this record.")]))
                    report.done += 1
            else:
                apply_batch(conn, app, entity, actor, batch, op, report, lang)
            payload["report"] = report.as_dict()
            lease = utcnow() + timedelta(seconds=getattr(settings, "lease_seconds", 300.0))
            conn.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.locked_by == token)
                         .values(payload=payload, lease_until=lease))


def job_report(conn: Connection, job_id: int, actor: Actor) -> tuple[dict, BulkReport] | None:
    """The job's payload and report, when it is a bulk job of `actor` (nobody else sees it)."""
    row = conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.kind == JOB_KIND)).first()
    if row is None or (row.payload or {}).get("actor") != actor.id:
        return None
    return {"status": row.status, "app_key": row.app_key, "last_error": row.last_error, **row.payload}, \
        BulkReport.from_dict(row.payload["report"])
