"""Writing many records at once: the one path the bulk API and the import share.

A batch of items (values, and for an import an owner, a stage and where the row came
from) is written in the caller's transaction, each item as a single write would be:
the policy decides (create, or read and then update for a record matched by a unique
field), the field access of the record's stage says which keys may be sent, the store
cleans and checks the values (`create_record`/`update_record`, or `create_records`
for plain creates, many per statement), audit rows and outbox events are written with
the records, and a stage asked for goes through `move_to_stage` (the one stage guard).

Every item gets an outcome; a refused item leaves nothing behind (creates are checked
before any is inserted, updates run in a savepoint), so the caller chooses between
"all or nothing" (roll back when any failed) and "per item" (commit the rest).

Upsert matches on a unique field. A matched record the writer may not read is refused
exactly as a taken value would be ("another record already has this value"), so an
upsert key cannot be used to learn that a record exists, let alone to change it.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Connection, select

from .auth import policy
from .auth.users import Actor, reports_of
from .definitions.model import AppDef, EntityDef, StageDef
from .errors import FormloomError, RecordInvalid
from .fields import FieldProblem
from .i18n import translate
from .store.records import (NewRecord, Record, create_record, create_records, get_record, unique_token,
                            update_record)
from .store.tables import unique_values
from .workflow.moves import move_to_stage

#: `key_check(values, stage) -> (values to write, problems)`: what a caller refuses of the
#: keys sent before the store sees them (the API: unknown, hidden, computed, read-only).
KeyCheck = Callable[[Mapping[str, Any], StageDef | None], tuple[dict, list[FieldProblem]]]


@dataclass(frozen=True)
class WriteItem:
    values: Mapping[str, Any]
    owner_id: int | None = None     # None: the writer
    stage: str | None = None        # a stage to move the record to afterwards (through the gate)
    via: str | None = None          # kept in the audit row ("import: file.csv row 7")


class Refused(FormloomError):
    """An item the policy or the upsert key refuses; `field` names the key it is about."""

    status = 422

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


@dataclass
class Outcome:
    status: str = "failed"          # created | updated | unchanged | failed
    record: Record | None = None
    error: Exception | None = None  # RecordInvalid, GateBlocked, Refused or another FormloomError

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class BulkWriter:
    """Writes batches of one entity for one actor; build it once per request or import."""
    app: AppDef
    version_id: int | None
    entity: EntityDef
    actor: Actor
    lang: str = "en"
    upsert_by: str | None = None
    override_reason: str | None = None
    check_hidden: bool = False
    key_check: KeyCheck | None = None
    _writable: dict[str | None, list[str]] = dc_field(default_factory=dict)

    def __post_init__(self):
        self.workflow = self.app.workflow_for(self.entity.key)
        self.first_stage = self.workflow.first_stage if self.workflow else None

    # -- helpers ------------------------------------------------------------------------
    def writable(self, stage: StageDef | None) -> list[str]:
        key = stage.key if stage else None
        if key not in self._writable:
            self._writable[key] = [f.key for f in policy.writable_fields(self.actor, self.app, self.entity, stage)]
        return self._writable[key]

    def _stage_def(self, key: str | None) -> StageDef | None:
        return self.workflow.stage(key) if self.workflow and key else None

    def _checked(self, values: Mapping[str, Any], stage: StageDef | None) -> dict:
        if self.key_check is None:
            return dict(values)
        allowed, problems = self.key_check(values, stage)
        if problems:
            raise RecordInvalid(problems)
        return allowed

    def _may_create(self) -> None:
        if not policy.can(self.actor, "create", self.app, self.entity):
            raise Refused("forbidden", translate(self.lang, "You may not create %(entity)s records.",
                                                 entity=self.entity.label.get(self.lang)))

    def key_of(self, item: WriteItem) -> str | None:
        """The item's upsert token, or None without upsert; Refused when the value is empty."""
        if not self.upsert_by:
            return None
        value = item.values.get(self.upsert_by)
        if value in (None, "", []) or isinstance(value, (dict, list)):
            raise Refused("upsert_key_missing", translate(
                self.lang, "%(field)s is needed to find the record to update; it is empty.",
                field=self.upsert_by), self.upsert_by)
        return unique_token(value)

    def matches(self, conn: Connection, tokens: Sequence[str]) -> dict[str, int]:
        """Upsert token -> id of the live record holding it, one query per 500 tokens."""
        found: dict[str, int] = {}
        ordered = sorted(set(tokens))
        for start in range(0, len(ordered), 500):
            found.update(conn.execute(select(unique_values.c.value, unique_values.c.record_id).where(
                unique_values.c.app_key == self.app.key, unique_values.c.entity_key == self.entity.key,
                unique_values.c.field_key == self.upsert_by,
                unique_values.c.value.in_(ordered[start:start + 500]))).all())
        return found

    # -- the batch ----------------------------------------------------------------------
    def write(self, conn: Connection, items: Sequence[WriteItem], *, batch_creates: bool = True) -> list[Outcome]:
        """One outcome per item, in order. Plain creates (no match, no stage to move to) are
        written together by create_records; the others one by one, each in a savepoint,
        after them (so an item repeating an earlier item's upsert key updates that record)."""
        outcomes = [Outcome() for _ in items]
        tokens: list[str | None] = []
        for index, item in enumerate(items):
            try:
                tokens.append(self.key_of(item))
            except Refused as refused:
                outcomes[index].error = refused
                tokens.append(None)
        found = self.matches(conn, [t for t in tokens if t]) if self.upsert_by else {}
        creates: list[int] = []
        one_by_one: list[int] = []
        claimed: set[str] = set()
        for index, (item, token) in enumerate(zip(items, tokens)):
            if outcomes[index].error is not None:
                continue
            if batch_creates and item.stage is None and (token is None or (token not in found
                                                                           and token not in claimed)):
                creates.append(index)
                if token is not None:
                    claimed.add(token)
            else:
                one_by_one.append(index)
        if creates:
            self._create_many(conn, items, creates, outcomes)
        for index in one_by_one:
            try:
                with conn.begin_nested():
                    outcomes[index] = self.write_one(conn, items[index])
            except FormloomError as error:
                outcomes[index] = Outcome(error=error)
        return outcomes

    def _create_many(self, conn: Connection, items: Sequence[WriteItem], indexes: list[int],
                     outcomes: list[Outcome]) -> None:
        try:
            self._may_create()
        except Refused as refused:
            for index in indexes:
                outcomes[index].error = refused
            return
        writable = self.writable(self.first_stage)
        batch: list[NewRecord] = []
        placed: list[int] = []
        for index in indexes:
            item = items[index]
            try:
                values = self._checked(item.values, self.first_stage)
            except RecordInvalid as invalid:
                outcomes[index].error = invalid
                continue
            batch.append(NewRecord(values, owner_id=item.owner_id, via=item.via))
            placed.append(index)
        written = create_records(conn, self.app, self.entity, batch, actor_id=self.actor.id, lang=self.lang,
                                 writable=writable, version_id=self.version_id, reader=self.actor,
                                 check_hidden=self.check_hidden)
        for index, result in zip(placed, written):
            outcomes[index] = (Outcome(error=result) if isinstance(result, RecordInvalid)
                               else Outcome("created", result))

    def write_one(self, conn: Connection, item: WriteItem) -> Outcome:
        """Write one item in the caller's transaction; raise what refuses it (see Outcome.error)."""
        existing = self._existing(conn, item)
        if existing is not None:
            if not policy.can(self.actor, "update", self.app, self.entity, existing,
                              team_of=lambda uid: reports_of(conn, uid)):
                raise Refused("forbidden", translate(self.lang, "You may not change the record this row matches."),
                              self.upsert_by)
            stage = self._stage_def(existing.stage)
            record = update_record(conn, self.app, self.entity, existing.id, self._checked(item.values, stage),
                                   actor_id=self.actor.id, expected_version=None, lang=self.lang,
                                   writable=self.writable(stage), version_id=self.version_id, reader=self.actor,
                                   via=item.via, check_hidden=self.check_hidden)
            status = "updated" if record.version != existing.version else "unchanged"
        else:
            self._may_create()
            record = create_record(conn, self.app, self.entity, self._checked(item.values, self.first_stage),
                                   actor_id=self.actor.id, lang=self.lang, owner_id=item.owner_id,
                                   writable=self.writable(self.first_stage), version_id=self.version_id,
                                   reader=self.actor, via=item.via, check_hidden=self.check_hidden)
            status = "created"
        if item.stage is not None and item.stage != record.stage:
            record = move_to_stage(conn, self.app, self.entity, record.id, item.stage, self.actor,
                                   override_reason=self.override_reason, lang=self.lang)
            status = "updated" if status == "unchanged" else status
        return Outcome(status, record)

    def _existing(self, conn: Connection, item: WriteItem) -> Record | None:
        token = self.key_of(item)
        if token is None:
            return None
        record_id = self.matches(conn, [token]).get(token)
        if record_id is None:
            return None
        record = get_record(conn, self.app, self.entity, record_id)
        if not policy.can(self.actor, "read", self.app, self.entity, record,
                          team_of=lambda uid: reports_of(conn, uid)):
            raise Refused("unique", translate(self.lang, "Another record already has this value."), self.upsert_by)
        return record
