"""Storing records: create, update, delete, with validation, uniqueness,
auto numbers, optimistic locking, the audit trail and the event outbox, each
change in one transaction.

Authorization happens before these functions are called (web and API ask the
policy first); `writable` tells the store which fields the caller may set, so a
field one may not write is refused here too rather than silently dropped.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Collection, Mapping, Sequence

from sqlalchemy import Connection, and_, bindparam, cast, delete, exists, func, insert, literal, null, select, update
from sqlalchemy.exc import IntegrityError

from ..definitions.model import AppDef, EntityDef, FieldDef
from ..errors import ConflictError, FormloomError, NotFoundError, RecordInvalid
from ..fields import CleanContext, FieldProblem, field_type
from ..fields.computed import format_auto_number
from ..i18n import translate
from ..record_data import clean_record_data
from .access import Reader, read_check
from . import files as stored_files
from . import rollups, search_index
from .reference_match import match_problems
from .slots import ALL_SLOTS, CURRENT_VERSION, entity_mapping, forget, kept_mapping, slot_values
from .tables import (approval_requests, apps, audit, events, memberships, records, sequences, stage_history,
                     unique_values, users)

TITLE_MAX = 500
MAX_RECORD_ID = 2**53          # no record has a larger id (nor could a database column hold any id)


@dataclass(frozen=True)
class Record:
    id: int
    app_key: str
    entity_key: str
    data: dict
    title: str
    stage: str | None
    stage_entered_at: datetime | None
    owner_id: int | None
    created_by: int | None
    updated_by: int | None
    created_at: datetime
    updated_at: datetime
    version: int
    definition_version_id: int | None = None
    deleted_at: datetime | None = None


def record_from_row(row) -> Record:
    return Record(id=row.id, app_key=row.app_key, entity_key=row.entity_key, data=dict(row.data or {}),
                  title=row.title, stage=row.stage, stage_entered_at=_aware(row.stage_entered_at),
                  owner_id=row.owner_id, created_by=row.created_by, updated_by=row.updated_by,
                  created_at=_aware(row.created_at), updated_at=_aware(row.updated_at), version=row.version,
                  definition_version_id=row.definition_version_id, deleted_at=_aware(row.deleted_at))


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: A record's columns but its typed slots (store.slots): what a Record and the policy read. The
#: slots are copies for aggregate queries; fetching them doubled the columns of every record
#: read, which a server database's driver pays for per column.
RECORD_COLUMNS = tuple(c for c in records.c if c.name not in ALL_SLOTS)

#: Built once, like _LIVE_RECORD: a single create asks on every request, and building the
#: select and its cache key costs more than SQLite takes to run it. An expanding IN is
#: rendered again on every execution, so the few ids of a single write get a statement of
#: their own count (`_live_records`), and only a batch's chunks expand.
_LIVE_RECORDS = select(*RECORD_COLUMNS).where(records.c.id.in_(bindparam("ids", expanding=True)),
                                              records.c.app_key == bindparam("app_key"),
                                              records.c.deleted_at.is_(None))
_FEW_IDS = 8


@functools.lru_cache(maxsize=_FEW_IDS)
def _live_records(n: int):
    return select(*RECORD_COLUMNS).where(records.c.id.in_([bindparam(f"i{k}") for k in range(n)]),
                                         records.c.app_key == bindparam("app_key"),
                                         records.c.deleted_at.is_(None))


def _read_live(conn: Connection, app_key: str, ids: list[int]):
    if len(ids) <= _FEW_IDS:
        return conn.execute(_live_records(len(ids)), {"app_key": app_key, **{f"i{k}": i for k, i in enumerate(ids)}})
    return conn.execute(_LIVE_RECORDS, {"ids": ids, "app_key": app_key})


#: Built once (every write with a reference asks): the whole document, as the policy may look at values.
_LIVE_RECORD = select(*RECORD_COLUMNS).where(records.c.id == bindparam("id"), records.c.app_key == bindparam("app_key"),
                                     records.c.entity_key == bindparam("entity_key"), records.c.deleted_at.is_(None))


def clean_context(conn: Connection, app: AppDef, lang: str, *, reader: Reader | None = None,
                  kept: Collection[tuple[str, int]] = (),
                  known: dict[tuple[str, int], Any] | None = None) -> CleanContext:
    """Lookups for cleaning. With a `reader` (a person writing), a reference must point at a
    live record of the field's entity that the reader may read (the policy decides); a
    missing and an unreadable id get the same answer, so ids cannot be probed. References
    already stored (`kept`, as (entity key, id)) stay valid when sent back unchanged.
    Without a reader (automation, install) any live record of the entity will do.

    `known` ((entity key, id) -> live row or None) is what a batch fetched at once
    (`prefetch_references`); ids not in it are read one by one, and added to it."""
    may_read = read_check(conn, reader, app)

    def reference_exists(entity_key: str, record_id: int) -> bool:
        if known is not None and (entity_key, record_id) in known:
            row = known[entity_key, record_id]
        else:
            row = conn.execute(_LIVE_RECORD, {"id": record_id, "app_key": app.key, "entity_key": entity_key}).first()
            if known is not None:
                known[entity_key, record_id] = row
        if row is None or reader is None or (entity_key, record_id) in kept:
            return row is not None
        target = app.entity(entity_key)
        return target is not None and may_read(target, row)

    def user_exists(user_id: int) -> bool:
        return conn.execute(select(users.c.id).where(users.c.id == user_id, users.c.active.is_(True))).first() is not None

    return CleanContext(lang=lang, timezone=app.timezone, reference_exists=reference_exists, user_exists=user_exists,
                        extras={"file_info": stored_files.file_lookup(conn, app, reader, kept)})


def stored_references(entity: EntityDef, data: Mapping[str, Any]) -> set[tuple[str, int]]:
    """(entity key, id) of every reference `data` holds, and (stored_files.KEPT, id) of its files."""
    out: set[tuple[str, Any]] = {(stored_files.KEPT, i) for i in stored_files.file_ids(entity, data)}
    for f in entity.fields:
        if f.type == "reference":
            value = data.get(f.key)
            for ident in (value if isinstance(value, list) else [value]):
                if isinstance(ident, int) and not isinstance(ident, bool):
                    out.add((f.entity, ident))
    return out


def prefetch_references(conn: Connection, app: AppDef, entity: EntityDef,
                        incoming: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int], Any]:
    """(entity key, id) -> live row (or None) for every id the reference fields of `incoming`
    name, in one query per 500 ids whatever entities they point at (ids are unique across
    the records table): what a batch of creates would otherwise read once per row and
    reference, and a single create once per reference, a round trip each on a server
    database (ids sent as text are left for the per-id look-up)."""
    wanted: dict[str, set[int]] = {}
    for f in entity.fields:
        if f.type != "reference" or not f.entity:
            continue
        for values in incoming:
            value = values.get(f.key)
            for ident in (value if isinstance(value, list) else [value]):
                if isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= MAX_RECORD_ID:
                    wanted.setdefault(f.entity, set()).add(ident)       # others: the field's clean refuses them
    known: dict[tuple[str, int], Any] = {(entity_key, i): None for entity_key, ids in wanted.items() for i in ids}
    ordered = sorted({i for ids in wanted.values() for i in ids})
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        for row in _read_live(conn, app.key, chunk):
            if (row.entity_key, row.id) in known:      # an id sent for another entity's field stays None
                known[row.entity_key, row.id] = row
    return known


_GET_RECORD: dict[tuple[bool, bool], Any] = {}


def _get_record_query(include_deleted: bool, for_update: bool):
    """The record-by-id statement, built once per shape (most requests read a record, and
    building a statement costs more than running it)."""
    query = _GET_RECORD.get((include_deleted, for_update))
    if query is None:
        query = select(*RECORD_COLUMNS).where(records.c.id == bindparam("record_id"),
                                      records.c.app_key == bindparam("app_key"),
                                      records.c.entity_key == bindparam("entity_key"))
        if not include_deleted:
            query = query.where(records.c.deleted_at.is_(None))
        if for_update:
            query = query.with_for_update()
        _GET_RECORD[(include_deleted, for_update)] = query
    return query


def find_record(conn: Connection, app: AppDef, entity: EntityDef, record_id: int) -> Record | None:
    """`get_record` of a live record, None when there is none."""
    row = conn.execute(_get_record_query(False, False),
                       {"record_id": record_id, "app_key": app.key, "entity_key": entity.key}).first()
    return record_from_row(row) if row is not None else None


_LOCKED_IF: dict[int, Any] = {}


def record_read_locked_if(condition, app_key: str, entity_key: str, record_id: int) -> tuple[Any, dict]:
    """The statement and parameters of `get_record(..., for_update=True)` (PostgreSQL), that
    finds and locks the record only where `condition` (a SQL boolean, built once by the
    caller, with bind parameters of its own) holds; for a caller that sends it along with
    other reads (store.db.read_together) before it could know whether it may lock it. The
    row, or its absence, is then what `record_of_rows` makes a Record of, as `get_record`."""
    query = _LOCKED_IF.get(id(condition))
    if query is None or query[0] is not condition:
        built = _get_record_query(False, False).where(condition).with_for_update(of=records)
        query = _LOCKED_IF[id(condition)] = (condition, built)
    return query[1], {"record_id": record_id, "app_key": app_key, "entity_key": entity_key}


def record_of_rows(rows: Sequence[Any]) -> Record:
    """The record of a by-id read's rows; NotFoundError, as `get_record`, when there is none."""
    if not rows:
        raise NotFoundError(translate("en", "There is no such record."))
    return record_from_row(rows[0])


def get_record(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, *,
               include_deleted: bool = False, for_update: bool = False) -> Record:
    query = _get_record_query(include_deleted, for_update and conn.dialect.name == "postgresql")
    row = conn.execute(query, {"record_id": record_id, "app_key": app.key, "entity_key": entity.key}).first()
    if row is None:
        raise NotFoundError(translate("en", "There is no such record."))
    return record_from_row(row)


def _refuse_unwritable(entity: EntityDef, incoming: Mapping[str, Any], writable: Collection[str] | None,
                       lang: str) -> list[FieldProblem]:
    if writable is None:
        return []
    known = set(entity.field_keys)
    return [FieldProblem(key, f"/{key}", "readonly", translate(lang, "This field cannot be changed."))
            for key in incoming if key in known and key not in writable]


def _special_vars(stage: str | None, app: AppDef, entity: EntityDef, owner_id: int | None) -> dict:
    workflow = app.workflow_for(entity.key)
    stage_def = workflow.stage(stage) if workflow and stage else None
    return {"$stage": stage, "$terminal": stage_def.terminal if stage_def else None, "$owner": owner_id}


def _stage_required(app: AppDef, entity: EntityDef, stage: str | None) -> tuple[str, ...]:
    workflow = app.workflow_for(entity.key)
    stage_def = workflow.stage(stage) if workflow and stage else None
    return stage_def.required if stage_def else ()


def compute_title(entity: EntityDef, data: Mapping[str, Any], lang: str = "en") -> str:
    f = entity.field(entity.title)
    if f is None:
        return ""
    return field_type(f.type).display(f, data.get(f.key), lang)[:TITLE_MAX]


def create_record(conn: Connection, app: AppDef, entity: EntityDef, incoming: Mapping[str, Any], *,
                  actor_id: int | None, lang: str = "en", owner_id: int | None = None,
                  writable: Collection[str] | None = None, version_id: int | None = None,
                  now: datetime | None = None, stage: str | None = None, reader: Reader | None = None,
                  via: str | None = None, check_hidden: bool = False) -> Record:
    """Validate and insert one record; raise RecordInvalid listing every problem.

    `reader` is the person writing (references must be records they may read; None for
    automation and install); `via` names what wrote without a person ("rule: <label>"),
    kept in the audit row; `check_hidden` type-checks values sent for fields hidden by
    visible_if too (the API: see record_data.clean_record_data)."""
    now = now or utcnow()
    owner_id = owner_id if owner_id is not None else actor_id
    workflow = app.workflow_for(entity.key)
    if stage is None and workflow and workflow.first_stage:
        stage = workflow.first_stage.key
    problems = _refuse_unwritable(entity, incoming, writable, lang)
    # the references' rows, read at once: existence, then `match`
    read: dict[tuple[str, int], Any] = prefetch_references(conn, app, entity, [incoming])
    data, clean_problems = clean_record_data(
        entity, incoming, clean_context(conn, app, lang, reader=reader, known=read), existing=None,
        stage_required=_stage_required(app, entity, stage),
        extra_vars=_special_vars(stage, app, entity, owner_id), check_hidden=check_hidden)
    problems += clean_problems
    problems += match_problems(conn, app, entity, data, None, lang, known=read)
    if problems:
        raise RecordInvalid(problems)
    _assign_auto_numbers(conn, app, entity, data, now)
    title = compute_title(entity, data, lang)
    slots_version, slots = _slots(conn, app, entity, data)
    values = dict(app_key=app.key, entity_key=entity.key, data=data, title=title, stage=stage,
                  stage_entered_at=now if stage else None, owner_id=owner_id, created_by=actor_id,
                  updated_by=actor_id, created_at=now, updated_at=now, version=1, definition_version_id=version_id,
                  **slots)
    changes = {k: [None, v] for k, v in data.items() if v not in (None, "", [])}
    logged = {"action": "create", "changes": changes, "user_id": actor_id, "at": now, "record_version": 1,
              "via": via[:200] if via else None, "type": "record_created",
              "payload": {"actor": actor_id, "stage": stage, "fields": sorted(changes)}}
    if conn.dialect.name == "postgresql":
        record_id, current_version = conn.execute(
            _logged_insert(tuple(values), bool(stage)),
            {**{f"w_{k}": v for k, v in values.items()}, **_logged_params(logged)}).one()
    else:
        record_id, current_version = conn.execute(_INSERT_RECORD_CHECKED, {**values, "v_app_key": app.key}).one()
    if current_version != slots_version:        # an install replaced the version meanwhile
        _rewrite_slots(conn, app, entity, record_id, data)
    if unique_problems := _claim_unique_values(conn, app, entity, record_id, data, None, lang):
        raise RecordInvalid(unique_problems)
    stored_files.attach(conn, entity, record_id, data)
    search_index.index_new(conn, app.key, entity, [(record_id, data, title)])
    if conn.dialect.name != "postgresql":
        _audit(conn, app, entity, record_id, "create", changes, actor_id, now, 1, via)
        if stage:
            conn.execute(_INSERT_STAGE, {"record_id": record_id, "from_stage": None, "to_stage": stage,
                                         "user_id": actor_id, "at": now, "seconds_in_previous": None})
        emit_event(conn, app.key, entity.key, record_id, "record_created", logged["payload"], now)
    rollups.after_write(conn, app, entity, None, data, now)
    return Record(id=record_id, app_key=app.key, entity_key=entity.key, data=dict(data), title=title, stage=stage,
                  stage_entered_at=now if stage else None, owner_id=owner_id, created_by=actor_id,
                  updated_by=actor_id, created_at=now, updated_at=now, version=1,
                  definition_version_id=version_id)       # what was written: no re-read


@dataclass(frozen=True)
class NewRecord:
    """One record of a batch for `create_records`."""
    incoming: Mapping[str, Any]
    owner_id: int | None = None
    via: str | None = None


def create_records(conn: Connection, app: AppDef, entity: EntityDef, items: Sequence[NewRecord], *,
                   actor_id: int | None, lang: str = "en", writable: Collection[str] | None = None,
                   version_id: int | None = None, now: datetime | None = None,
                   reader: Reader | None = None, check_hidden: bool = False) -> list[Record | RecordInvalid]:
    """Create many records in the caller's transaction, each exactly as `create_record` would
    (same cleaning, formulas, references through the policy, `match`, uniqueness, auto
    numbers, audit row, stage history, record_created event), but with the writes batched:
    references read once per batch, one executemany per table, one sequence update per
    auto-number field, no re-read. Returns, per item in order, the Record or the
    RecordInvalid that create_record would have raised (nothing is written for those).

    Uniqueness is checked against the table and within the batch before writing; if a
    concurrent writer takes a value meanwhile (IntegrityError), the batch's writes are
    rolled back and every item goes through create_record in its own savepoint instead."""
    if not items:
        return []
    now = now or utcnow()
    workflow = app.workflow_for(entity.key)
    stage = workflow.first_stage.key if workflow and workflow.first_stage else None
    known = prefetch_references(conn, app, entity, [item.incoming for item in items])
    ctx = clean_context(conn, app, lang, reader=reader, known=known)
    required = _stage_required(app, entity, stage)
    results: list[Record | RecordInvalid | None] = [None] * len(items)
    valid: list[tuple[int, dict, int | None]] = []
    for index, item in enumerate(items):
        owner_id = item.owner_id if item.owner_id is not None else actor_id
        problems = _refuse_unwritable(entity, item.incoming, writable, lang)
        data, clean_problems = clean_record_data(entity, item.incoming, ctx, existing=None, stage_required=required,
                                                 extra_vars=_special_vars(stage, app, entity, owner_id),
                                                 check_hidden=check_hidden)
        problems += clean_problems
        problems += match_problems(conn, app, entity, data, None, lang, known=known)
        if problems:
            results[index] = RecordInvalid(problems)
        else:
            valid.append((index, data, owner_id))
    valid = _unique_in_batch(conn, app, entity, valid, results, lang)
    if not valid:
        return results      # type: ignore[return-value]
    try:
        with conn.begin_nested():
            written = _insert_batch(conn, app, entity, [(items[i], data, owner) for i, data, owner in valid],
                                    stage=stage, actor_id=actor_id, lang=lang, version_id=version_id, now=now)
    except IntegrityError:          # a concurrent writer took a unique value: decide row by row
        for index, _data, _owner in valid:
            item = items[index]
            try:
                with conn.begin_nested():
                    results[index] = create_record(
                        conn, app, entity, item.incoming, actor_id=actor_id, lang=lang, owner_id=item.owner_id,
                        writable=writable, version_id=version_id, now=now, reader=reader, via=item.via,
                        check_hidden=check_hidden)
            except RecordInvalid as invalid:
                results[index] = invalid
        return results      # type: ignore[return-value]
    for (index, _data, _owner), record in zip(valid, written):
        results[index] = record
    return results      # type: ignore[return-value]


def _unique_in_batch(conn: Connection, app: AppDef, entity: EntityDef, valid: list[tuple[int, dict, int | None]],
                     results: list, lang: str) -> list[tuple[int, dict, int | None]]:
    """Drop (with create_record's problem) the items whose unique values are taken, in the
    table or by an earlier item of the batch."""
    fields = [f for f in entity.fields if f.unique]
    if not fields or not valid:
        return valid
    taken: dict[str, set[str]] = {}
    for f in fields:
        tokens = sorted({_unique_token(data.get(f.key)) for _i, data, _o in valid
                         if data.get(f.key) not in (None, "", [])})
        taken[f.key] = set()
        for start in range(0, len(tokens), 500):
            taken[f.key].update(conn.execute(select(unique_values.c.value).where(
                unique_values.c.app_key == app.key, unique_values.c.entity_key == entity.key,
                unique_values.c.field_key == f.key, unique_values.c.value.in_(tokens[start:start + 500]))).scalars())
    kept = []
    for index, data, owner in valid:
        problems, claims = [], []
        for f in fields:
            value = data.get(f.key)
            if value in (None, "", []):
                continue
            token = _unique_token(value)
            if token in taken[f.key]:
                problems.append(FieldProblem(f.key, f"/{f.key}", "unique",
                                             translate(lang, "Another record already has this value.")))
            claims.append((f.key, token))
        if problems:
            results[index] = RecordInvalid(problems)
            continue
        for key, token in claims:
            taken[key].add(token)
        kept.append((index, data, owner))
    return kept


def _insert_batch(conn: Connection, app: AppDef, entity: EntityDef, rows: list[tuple[NewRecord, dict, int | None]],
                  *, stage: str | None, actor_id: int | None, lang: str, version_id: int | None,
                  now: datetime) -> list[Record]:
    for f in entity.fields:
        if f.type == "auto_number":
            fmt = f.format or "{seq:4}"
            period = now.strftime("%Y") if "{YY" in fmt else ""
            first = take_sequence_block(conn, app.key, entity.key, f.key, period, len(rows))
            for n, (_item, data, _owner) in enumerate(rows):
                data[f.key] = format_auto_number(fmt, first + n, now)
    slots = entity_mapping(conn, app.key, entity.key)
    values = [dict(app_key=app.key, entity_key=entity.key, data=data, title=compute_title(entity, data, lang),
                   stage=stage, stage_entered_at=now if stage else None, owner_id=owner, created_by=actor_id,
                   updated_by=actor_id, created_at=now, updated_at=now, version=1, definition_version_id=version_id,
                   **slot_values(conn.dialect.name, entity, slots, data))
              for _item, data, owner in rows]
    ids = _insert_records(conn, values)
    claims = [dict(app_key=app.key, entity_key=entity.key, field_key=f.key, value=_unique_token(data[f.key]),
                   record_id=record_id)
              for record_id, (_item, data, _owner) in zip(ids, rows) for f in entity.fields
              if f.unique and data.get(f.key) not in (None, "", [])]
    if claims:
        conn.execute(insert(unique_values), claims)
    search_index.index_new(conn, app.key, entity, [(record_id, v["data"], v["title"]) for record_id, v in zip(ids, values)])
    changes = [{k: [None, v] for k, v in data.items() if not _blank(v)} for _item, data, _owner in rows]
    conn.execute(insert(audit), [dict(record_id=record_id, app_key=app.key, entity_key=entity.key, action="create",
                                      changes=change, user_id=actor_id, at=now, record_version=1,
                                      via=item.via[:200] if item.via else None)
                                 for record_id, (item, _data, _owner), change in zip(ids, rows, changes)])
    if stage:
        conn.execute(insert(stage_history), [dict(record_id=record_id, from_stage=None, to_stage=stage,
                                                  user_id=actor_id, at=now, seconds_in_previous=None)
                                             for record_id in ids])
    conn.execute(insert(events), [dict(app_key=app.key, entity_key=entity.key, record_id=record_id,
                                       type="record_created", depth=0, created_at=now,
                                       payload={"actor": actor_id, "stage": stage, "fields": sorted(change)})
                                  for record_id, change in zip(ids, changes)])
    rollups.after_writes(conn, app, entity, [data for _item, data, _owner in rows], now)
    return [Record(id=record_id, app_key=app.key, entity_key=entity.key, data=dict(v["data"]), title=v["title"],
                   stage=stage, stage_entered_at=now if stage else None, owner_id=v["owner_id"],
                   created_by=actor_id, updated_by=actor_id, created_at=now, updated_at=now, version=1,
                   definition_version_id=version_id)
            for record_id, v in zip(ids, values)]


def _blank(value: Any) -> bool:
    """`value in (None, "", [])`, without comparing every money text and number with "" and []."""
    return value is None or ((type(value) is str or type(value) is list) and not value) or (
        type(value) not in (str, list, int, float, bool, dict) and value in ("", []))


def _insert_records(conn: Connection, values: list[dict]) -> list[int]:
    """Insert the rows, returning their ids in order. On SQLite the write transaction
    (BEGIN IMMEDIATE) holds the only write lock, so the ids SQLite would give are max(id)+1
    onwards: naming them lets the driver run one executemany, where RETURNING in parameter
    order makes SQLAlchemy send one INSERT per row on SQLite."""
    if conn.dialect.name != "sqlite":
        return conn.execute(insert(records).returning(records.c.id, sort_by_parameter_order=True),
                            values).scalars().all()
    first = (conn.execute(select(func.max(records.c.id))).scalar() or 0) + 1
    ids = list(range(first, first + len(values)))
    conn.execute(insert(records), [{**v, "id": i} for v, i in zip(values, ids)])
    return ids


def update_record(conn: Connection, app: AppDef, entity: EntityDef, record_id: int,
                  incoming: Mapping[str, Any], *, actor_id: int | None, expected_version: int | None,
                  lang: str = "en", writable: Collection[str] | None = None, version_id: int | None = None,
                  now: datetime | None = None, reader: Reader | None = None, via: str | None = None,
                  judged_in: str | None = None, check_hidden: bool = False,
                  current: Record | None = None) -> Record:
    """Apply a partial change; refuse a stale `expected_version` with ConflictError.
    `reader`, `via` and `check_hidden` as for create_record; references already stored
    stay acceptable.

    `judged_in` names the stage whose rules (visible_if/required_if on `$stage`, the
    stage's `required`) judge the values, when it is not the record's own: a stage move
    saving values with the move judges them in the stage the record is entering.

    `current` is the record as the caller already read it FOR UPDATE in this transaction
    (the API reads it to check the policy first): not read a second time. The record
    returned is built from what was written, not read back."""
    now = now or utcnow()
    if current is None or current.id != record_id:
        current = get_record(conn, app, entity, record_id, for_update=True)
    if expected_version is not None and expected_version != current.version:
        raise stale(current, lang)
    judged = current.stage if judged_in is None else judged_in
    problems = _refuse_unwritable(entity, incoming, writable, lang)
    # the references' rows, read at once: existence, then `match`
    read: dict[tuple[str, int], Any] = prefetch_references(conn, app, entity, [incoming])
    data, clean_problems = clean_record_data(
        entity, incoming, clean_context(conn, app, lang, reader=reader, kept=stored_references(entity, current.data),
                                        known=read),
        existing=current.data,
        stage_required=_stage_required(app, entity, judged),
        extra_vars=_special_vars(judged, app, entity, current.owner_id), check_hidden=check_hidden)
    if judged_in is not None:
        clean_problems = [p for p in clean_problems if p.code != "required" or p.field in incoming]
    problems += clean_problems
    problems += match_problems(conn, app, entity, data, {k for k in data if data[k] != current.data.get(k)}, lang,
                               known=read)
    if problems:
        raise RecordInvalid(problems)
    changes = {k: [current.data.get(k), data.get(k)] for k in set(data) | set(current.data)
               if current.data.get(k) != data.get(k)}
    if not changes:
        return current
    title = compute_title(entity, data, lang)
    values = dict(data=data, title=title, updated_by=actor_id, updated_at=now, version=current.version + 1,
                  definition_version_id=version_id or current.definition_version_id)
    slots_version, slots = _slots(conn, app, entity, data)
    values.update(slots)
    payload = {"actor": actor_id, "fields": sorted(changes), "stage": current.stage}
    logged = None
    if conn.dialect.name == "postgresql":
        logged = {"action": "update", "changes": changes, "user_id": actor_id, "at": now,
                  "record_version": current.version + 1, "via": via[:200] if via else None,
                  "type": "record_updated", "payload": payload}
    # A person's edit is refused while an approval waits (automation may write), and the slots
    # must be those of the current version: the UPDATE itself asks both, so the usual write
    # costs no statement of its own for them. When it writes nothing, _refuse_while_awaiting
    # judges as before, and an edit it allows is written then, with the slots read then.
    guarded = actor_id is not None
    if not _write_update(conn, record_id, current.version, values, logged, guarded, slots_version):
        _refuse_while_awaiting(conn, current, changes, actor_id, lang)
        if slots_version is not None:
            forget(conn, app.key, entity.key)
            values = {k: v for k, v in values.items() if k not in ALL_SLOTS}
            values.update(slot_values(conn.dialect.name, entity, entity_mapping(conn, app.key, entity.key), data))
        if not (guarded or slots_version is not None) or not _write_update(
                conn, record_id, current.version, values, logged, False, None):
            raise stale(get_record(conn, app, entity, record_id), lang)
    if unique_problems := _claim_unique_values(conn, app, entity, record_id, data, current.data, lang):
        raise RecordInvalid(unique_problems)
    stored_files.attach(conn, entity, record_id, data)
    search_index.reindex(conn, app.key, entity, record_id, data, title, before=(current.data, current.title))
    if logged is None:
        _audit(conn, app, entity, record_id, "update", changes, actor_id, now, current.version + 1, via)
        emit_event(conn, app.key, entity.key, record_id, "record_updated", payload, now)
    rollups.after_write(conn, app, entity, current.data, data, now)      # the parents it counts toward
    return replace(current, data=dict(data), title=title, updated_by=actor_id, updated_at=now,
                   version=current.version + 1, definition_version_id=version_id or current.definition_version_id)


class AwaitingApproval(FormloomError):
    """The record waits for an approval (workflow.approvals): people may not change it meanwhile."""

    status = 409
    code = "approval_pending"


def _refuse_while_awaiting(conn: Connection, current: Record, changes: Mapping[str, Any], actor_id: int | None,
                           lang: str) -> None:
    """While an approval request waits, a person's edit is refused, except the current step's
    approvers editing the fields the step names `editable`. Automation (no person) may write."""
    if actor_id is None or not changes:
        return
    row = conn.execute(select(approval_requests.c.waiting_on, approval_requests.c.spec,
                              approval_requests.c.step_index)
                       .where(approval_requests.c.record_id == current.id,
                              approval_requests.c.status == "pending").limit(1)).first()
    if row is None:
        return
    steps = (row.spec or {}).get("steps") or []
    step = steps[row.step_index] if 0 <= row.step_index < len(steps) else {}
    editable = set(step.get("editable") or ()) if actor_id in (row.waiting_on or []) else set()
    if set(changes) - editable:
        raise AwaitingApproval(translate(lang, "This record is awaiting approval: it cannot be changed meanwhile."),
                               hint=translate(lang, "Wait for the decision, or withdraw the request first."))


def stale(current: Record, lang: str) -> ConflictError:
    error = ConflictError(translate(lang, "Someone else changed this record while you were editing it."),
                          hint=translate(lang, "Review the current values below and apply your change again."))
    error.current = current
    return error


def delete_record(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, *, actor_id: int | None,
                  now: datetime | None = None) -> None:
    """Soft delete: the record disappears from lists but keeps its data and history."""
    now = now or utcnow()
    current = get_record(conn, app, entity, record_id, for_update=True)
    conn.execute(update(records).where(records.c.id == record_id)
                 .values(deleted_at=now, updated_at=now, updated_by=actor_id, version=current.version + 1))
    conn.execute(delete(unique_values).where(unique_values.c.record_id == record_id))
    stored_files.mark_deleted(conn, record_id, now)
    search_index.unindex(conn, record_id)
    _audit(conn, app, entity, record_id, "delete", {}, actor_id, now, current.version + 1)
    emit_event(conn, app.key, entity.key, record_id, "record_deleted", {"actor": actor_id}, now)
    rollups.after_write(conn, app, entity, current.data, None, now)


def restore_record(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, *, actor_id: int | None,
                   lang: str = "en", now: datetime | None = None) -> Record:
    now = now or utcnow()
    current = get_record(conn, app, entity, record_id, include_deleted=True, for_update=True)
    if current.deleted_at is None:
        return current
    if problems := _claim_unique_values(conn, app, entity, record_id, current.data, None, lang):
        raise RecordInvalid(problems)
    conn.execute(update(records).where(records.c.id == record_id)
                 .values(deleted_at=None, updated_at=now, updated_by=actor_id, version=current.version + 1))
    stored_files.mark_deleted(conn, record_id, None)
    search_index.reindex(conn, app.key, entity, record_id, current.data, current.title)
    _audit(conn, app, entity, record_id, "restore", {}, actor_id, now, current.version + 1)
    rollups.after_write(conn, app, entity, None, current.data, now)
    rollups.recount(conn, app, entity, record_id, now)     # its related records may have changed meanwhile
    return get_record(conn, app, entity, record_id)


def _slots(conn: Connection, app: AppDef, entity: EntityDef, data: Mapping[str, Any]) -> tuple[int | None, dict]:
    """The record's typed slot columns (store.slots), written in the statement that writes its
    JSON, and the app version whose slots they are (the statement checks it is still current)."""
    version_id, slots = kept_mapping(conn, app.key, entity.key)
    return version_id, slot_values(conn.dialect.name, entity, slots, data)


def _rewrite_slots(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, data: Mapping[str, Any]) -> None:
    """A new record's slots, written with those of a version an install has replaced since:
    those of the current one, which is what reading them at the write gave before they were kept."""
    forget(conn, app.key, entity.key)
    slots = slot_values(conn.dialect.name, entity, entity_mapping(conn, app.key, entity.key), data)
    conn.execute(update(records).where(records.c.id == record_id).values({**{s: None for s in ALL_SLOTS}, **slots}))


#: Built once (every write adds an audit row and an event); the values come as parameters.
_INSERT_AUDIT = insert(audit)
_INSERT_EVENT = insert(events)
_INSERT_RECORD = insert(records)
#: A record's INSERT returning its id and the app's current version (store.slots.CURRENT_VERSION).
_INSERT_RECORD_CHECKED = insert(records).returning(
    records.c.id, select(apps.c.current_version_id).where(apps.c.key == bindparam("v_app_key")).scalar_subquery())
_INSERT_STAGE = insert(stage_history)

#: Each statement shape built once: building a statement and its cache key on every write cost
#: more than SQLite takes to run it.
_STATEMENTS: dict[tuple, Any] = {}


def _p(name: str, column) -> Any:
    return bindparam(name, type_=column.type)


def _logged_params(logged: Mapping[str, Any]) -> dict:
    return {f"l_{k}": v for k, v in logged.items()}


def _logged_ctes(written, stage: bool) -> list:
    """The audit row, the first stage (a create's, `stage`) and the event of the record that
    `written` (a data-modifying CTE returning the record's id and keys) wrote, as CTEs of its
    statement (PostgreSQL): rows only when it wrote one, in one round trip instead of three."""
    at = _p("l_at", audit.c.at)
    out = [insert(audit).from_select(
        ["record_id", "app_key", "entity_key", "action", "changes", "user_id", "at", "record_version", "via"],
        select(written.c.id, written.c.app_key, written.c.entity_key, _p("l_action", audit.c.action),
               _p("l_changes", audit.c.changes), _p("l_user_id", audit.c.user_id), at,
               _p("l_record_version", audit.c.record_version), _p("l_via", audit.c.via))).cte("logged_audit")]
    if stage:
        out.append(insert(stage_history).from_select(
            ["record_id", "from_stage", "to_stage", "user_id", "at", "seconds_in_previous"],
            select(written.c.id, _null_of(stage_history.c.from_stage), written.c.stage,
                   _p("l_user_id", stage_history.c.user_id), at,
                   _null_of(stage_history.c.seconds_in_previous))).cte("logged_stage"))
    out.append(insert(events).from_select(
        ["app_key", "entity_key", "record_id", "type", "payload", "depth", "created_at"],
        select(written.c.app_key, written.c.entity_key, written.c.id, _p("l_type", events.c.type),
               _p("l_payload", events.c.payload), literal(0, events.c.depth.type), at)).cte("logged_event"))
    return out


def _null_of(column):
    return cast(null(), column.type)


def _logged_insert(columns: tuple[str, ...], stage: bool):
    """A create on PostgreSQL: the record's INSERT, its audit row, first stage and event in one
    statement, returning the record's id."""
    key = ("insert", columns, stage)
    statement = _STATEMENTS.get(key)
    if statement is None:
        written = (insert(records).values({c: _p(f"w_{c}", records.c[c]) for c in columns})
                   .returning(records.c.id, records.c.app_key, records.c.entity_key, records.c.stage).cte("written"))
        current_version = select(apps.c.current_version_id).where(apps.c.key == written.c.app_key).scalar_subquery()
        statement = _STATEMENTS[key] = select(written.c.id, current_version).add_cte(*_logged_ctes(written, stage))
    return statement


def _update_statement(columns: tuple[str, ...], logged: bool, guarded: bool, checked: bool):
    """A record's UPDATE (the version it was read at still current; with `guarded`, no approval
    pending; with `checked`, the app version whose slots it writes still current), with, when
    `logged` (PostgreSQL), its audit row and event in the same statement, returning the
    record's id when it wrote."""
    key = ("update", columns, logged, guarded, checked)
    statement = _STATEMENTS.get(key)
    if statement is None:
        where = [records.c.id == bindparam("w_record_id"), records.c.version == bindparam("w_read_version")]
        if guarded:
            where.append(~exists().where(approval_requests.c.record_id == records.c.id,
                                         approval_requests.c.status == "pending"))
        if checked:
            where.append(CURRENT_VERSION == bindparam("w_slots_version"))
        written = update(records).where(*where).values({c: _p(f"w_{c}", records.c[c]) for c in columns})
        if logged:
            written = written.returning(records.c.id, records.c.app_key, records.c.entity_key,
                                        records.c.stage).cte("written")
            written = select(written.c.id).add_cte(*_logged_ctes(written, False))
        statement = _STATEMENTS[key] = written
    return statement


def _write_update(conn: Connection, record_id: int, read_version: int, values: Mapping[str, Any],
                  logged: Mapping[str, Any] | None, guarded: bool, slots_version: int | None) -> bool:
    """Whether the UPDATE wrote the record (with its audit row and event when `logged`)."""
    params = {"w_record_id": record_id, "w_read_version": read_version, "w_slots_version": slots_version,
              **{f"w_{k}": v for k, v in values.items()}}
    statement = _update_statement(tuple(values), logged is not None, guarded, slots_version is not None)
    if logged is None:
        return conn.execute(statement, params).rowcount == 1
    return conn.execute(statement, {**params, **_logged_params(logged)}).first() is not None


def _audit(conn, app, entity, record_id, action, changes, actor_id, now, version, via=None) -> None:
    conn.execute(_INSERT_AUDIT, {"record_id": record_id, "app_key": app.key, "entity_key": entity.key,
                                 "action": action, "changes": changes, "user_id": actor_id, "at": now,
                                 "record_version": version, "via": via[:200] if via else None})


def emit_event(conn: Connection, app_key: str, entity_key: str, record_id: int | None, event_type: str,
               payload: Mapping[str, Any], now: datetime | None = None, depth: int = 0) -> None:
    """Write an event in the caller's transaction (the outbox); automation reads it after commit."""
    conn.execute(_INSERT_EVENT, {"app_key": app_key, "entity_key": entity_key, "record_id": record_id,
                                 "type": event_type, "payload": dict(payload), "depth": depth,
                                 "created_at": now or utcnow()})


def emit_events(conn: Connection, app_key: str, entity_key: str, record_id: int | None,
                typed: Sequence[tuple[str, Mapping[str, Any]]], now: datetime | None = None, depth: int = 0) -> None:
    """Several events of one record, (type, payload) in order, in one statement: their ids
    follow the order given, which is the order automation reads them."""
    if typed:
        at = now or utcnow()
        conn.execute(_INSERT_EVENT, [{"app_key": app_key, "entity_key": entity_key, "record_id": record_id,
                                       "type": event_type, "payload": dict(payload), "depth": depth, "created_at": at}
                                      for event_type, payload in typed])


def audit_rows(conn: Connection, record_id: int) -> list[dict]:
    rows = conn.execute(select(audit, users.c.name.label("user_name"))
                        .select_from(audit.outerjoin(users, users.c.id == audit.c.user_id))
                        .where(audit.c.record_id == record_id).order_by(audit.c.id.desc()))
    return [dict(r._mapping) | {"at": _aware(r.at)} for r in rows]


def unique_token(value: Any) -> str:
    """How a unique value is compared and reserved: trimmed, case-folded, at most 500 characters."""
    return str(value).strip().casefold()[:500]


_unique_token = unique_token


def _claim_unique_values(conn: Connection, app: AppDef, entity: EntityDef, record_id: int,
                         data: Mapping[str, Any], previous: Mapping[str, Any] | None, lang: str) -> list[FieldProblem]:
    """Reserve values of `unique` fields in a table with a primary key, so two concurrent
    writers cannot both take the same value on any database."""
    problems = []
    for f in entity.fields:
        if not f.unique:
            continue
        old, new = (previous or {}).get(f.key), data.get(f.key)
        if previous is not None and old == new:
            continue
        conn.execute(delete(unique_values).where(
            unique_values.c.record_id == record_id, unique_values.c.field_key == f.key))
        if new in (None, "", []):
            continue
        try:
            with conn.begin_nested():
                conn.execute(insert(unique_values).values(app_key=app.key, entity_key=entity.key, field_key=f.key,
                                                          value=_unique_token(new), record_id=record_id))
        except IntegrityError:
            problems.append(FieldProblem(f.key, f"/{f.key}", "unique",
                                         translate(lang, "Another record already has this value.")))
    return problems


def _assign_auto_numbers(conn: Connection, app: AppDef, entity: EntityDef, data: dict, now: datetime) -> None:
    for f in entity.fields:
        if f.type == "auto_number":
            fmt = f.format or "{seq:4}"
            period = now.strftime("%Y") if "{YY" in fmt else ""
            data[f.key] = format_auto_number(fmt, next_in_sequence(conn, app.key, entity.key, f.key, period), now)


def next_in_sequence(conn: Connection, app_key: str, entity_key: str, field_key: str, period: str) -> int:
    """Atomically take the next number: the UPDATE locks the counter row until commit."""
    where = and_(sequences.c.app_key == app_key, sequences.c.entity_key == entity_key,
                 sequences.c.field_key == field_key, sequences.c.period == period)
    for _ in range(3):
        if conn.execute(update(sequences).where(where).values(value=sequences.c.value + 1)).rowcount == 1:
            return conn.execute(select(sequences.c.value).where(where)).scalar_one()
        try:
            with conn.begin_nested():
                conn.execute(insert(sequences).values(app_key=app_key, entity_key=entity_key, field_key=field_key,
                                                      period=period, value=1))
            return 1
        except IntegrityError:
            continue
    raise RuntimeError("could not take a sequence number")


def take_sequence_block(conn: Connection, app_key: str, entity_key: str, field_key: str, period: str,
                        count: int) -> int:
    """Atomically take `count` consecutive numbers; returns the first. One UPDATE for a
    batch, where next_in_sequence would run one per record."""
    where = and_(sequences.c.app_key == app_key, sequences.c.entity_key == entity_key,
                 sequences.c.field_key == field_key, sequences.c.period == period)
    for _ in range(3):
        if conn.execute(update(sequences).where(where).values(value=sequences.c.value + count)).rowcount == 1:
            return conn.execute(select(sequences.c.value).where(where)).scalar_one() - count + 1
        try:
            with conn.begin_nested():
                conn.execute(insert(sequences).values(app_key=app_key, entity_key=entity_key, field_key=field_key,
                                                      period=period, value=count))
            return 1
        except IntegrityError:
            continue
    raise RuntimeError("could not take a sequence number")


def has_records(conn: Connection, app_key: str, entity_key: str) -> bool:
    return conn.execute(select(exists().where(records.c.app_key == app_key, records.c.entity_key == entity_key,
                                              records.c.deleted_at.is_(None)))).scalar()


def change_owner(conn: Connection, app: AppDef, entity: EntityDef, record_id: int, owner_id: int | None, *,
                 actor_id: int | None, lang: str = "en", expected_version: int | None = None,
                 now: datetime | None = None, via: str | None = None) -> Record:
    """Give the record another owner (an active member of the app, or None), with an audit
    row {"$owner": [old, new]} and a record_updated event, like any other change. Whether
    the actor may is the policy's to say before this is called."""
    now = now or utcnow()
    current = get_record(conn, app, entity, record_id, for_update=True)
    if expected_version is not None and expected_version != current.version:
        raise stale(current, lang)
    if owner_id is not None:
        member = conn.execute(select(users.c.id).join(memberships, memberships.c.user_id == users.c.id).where(
            users.c.id == owner_id, users.c.active.is_(True), memberships.c.app_key == app.key)).first()
        if member is None:
            raise RecordInvalid([FieldProblem("$owner", "/$owner", "owner",
                                              translate(lang, "The new owner must be an active member of this app."))])
    if current.owner_id == owner_id:
        return current
    result = conn.execute(update(records).where(records.c.id == record_id, records.c.version == current.version)
                          .values(owner_id=owner_id, updated_by=actor_id, updated_at=now,
                                  version=current.version + 1))
    if result.rowcount != 1:
        raise stale(get_record(conn, app, entity, record_id), lang)
    _audit(conn, app, entity, record_id, "update", {"$owner": [current.owner_id, owner_id]}, actor_id, now,
           current.version + 1, via)
    emit_event(conn, app.key, entity.key, record_id, "record_updated",
               {"actor": actor_id, "fields": ["$owner"], "stage": current.stage}, now)
    return get_record(conn, app, entity, record_id)
