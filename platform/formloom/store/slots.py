"""Typed slot columns: real number and text columns on `records` (num_1.., txt_1..) that
hold copies of the few fields aggregate queries read, so those queries do not parse a
JSON document per row (docs/typed-slots.md).

The JSON document stays the only source of truth. A slot is the value of the SQL
expression queries used before it existed (`slot_source`: the number cast, the text as
the database extracts it), so reading the slot instead changes no answer. Which field a
slot holds is a row of `record_slots`, chosen at install (`assign`) with a backfill in
the install's transaction: an admin's edit never runs DDL. Every statement that writes a
record's JSON writes its slots with it (`slot_values`); `rebuild` recomputes them all
from the documents (`formloom slots rebuild`) and `mismatches` counts rows that differ.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, delete, func, insert, null, or_, select, update

from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import field_type
from .expressions import _literal_key, field_expr, raw_value
from .tables import SLOTS_PER_FAMILY, apps, record_slots, records

FAMILIES = ("num", "txt")
ALL_SLOTS = tuple(f"{fam}_{i}" for fam in FAMILIES for i in range(1, SLOTS_PER_FAMILY + 1))

#: entity key -> field key -> slot column name
SlotMap = Mapping[str, Mapping[str, str]]


def family(f: FieldDef) -> str | None:
    """The slot family a field's values fit, or None (references, users, flags, lists stay in JSON:
    their extracted value differs in type between the databases, which a typed column would hide)."""
    if f.multiple or f.type in ("reference", "user"):
        return None
    kind = field_type(f.type).field_sql_kind(f)
    if kind == "number":
        return "num"
    if kind in ("text", "date", "datetime"):
        return "txt"
    return None


def slot_source(dialect: str, f: FieldDef, data: ColumnElement = records.c.data) -> ColumnElement:
    """What a slot of `f` holds, as the SQL expression over the JSON document."""
    return field_expr(dialect, f, data) if family(f) == "num" else raw_value(dialect, f.key, data)


def mapping(conn: Connection, app_key: str) -> dict[str, dict[str, str]]:
    """The app's slot assignments (read in the caller's transaction, so with the data it sees)."""
    out: dict[str, dict[str, str]] = {}
    for entity_key, field_key, slot in conn.execute(
            select(record_slots.c.entity_key, record_slots.c.field_key, record_slots.c.slot)
            .where(record_slots.c.app_key == app_key)):
        out.setdefault(entity_key, {})[field_key] = slot
    return out


#: built once: building a Core statement costs about three times executing a prebuilt one
_ENTITY_SLOTS = (select(record_slots.c.field_key, record_slots.c.slot)
                 .where(record_slots.c.app_key == bindparam("app_key"),
                        record_slots.c.entity_key == bindparam("entity_key")))


def entity_mapping(conn: Connection, app_key: str, entity_key: str) -> dict[str, str]:
    return {field_key: slot for field_key, slot in
            conn.execute(_ENTITY_SLOTS, {"app_key": app_key, "entity_key": entity_key})}


#: An entity's slots with the app version current in the same statement (no slot: one row, NULLs).
_ENTITY_SLOTS_AT = (select(apps.c.current_version_id, record_slots.c.field_key, record_slots.c.slot)
                    .select_from(apps.outerjoin(record_slots, and_(
                        record_slots.c.app_key == apps.c.key, record_slots.c.entity_key == bindparam("entity_key"))))
                    .where(apps.c.key == bindparam("app_key")))

#: The current version's id, for a write to check in its own statement that the slots it
#: was given are still the app's.
CURRENT_VERSION = (select(apps.c.current_version_id).where(apps.c.key == records.c.app_key)
                   .correlate(records).scalar_subquery())

#: engine -> (app key, entity key) -> (version id, field key -> slot). A version's mapping never
#: changes: only the install that publishes a version assigns slots, in its transaction.
_KEPT: "WeakKeyDictionary[Engine, dict[tuple[str, str], tuple[int, dict[str, str]]]]" = WeakKeyDictionary()


def kept_mapping(conn: Connection, app_key: str, entity_key: str) -> tuple[int | None, dict[str, str]]:
    """The entity's slots and the app version they belong to, kept per version so a single
    write does not read them each time (a statement, a round trip on a server database).
    They are kept only from a read that saw that version current in the same statement, and
    a write using them must check that it still is (CURRENT_VERSION): if an install has
    replaced it, the write takes `forget` and `entity_mapping` instead. None for a version:
    the app is not installed, and nothing is kept."""
    kept = _KEPT.get(conn.engine)
    if kept is not None and (found := kept.get((app_key, entity_key))) is not None:
        return found
    rows = conn.execute(_ENTITY_SLOTS_AT, {"app_key": app_key, "entity_key": entity_key}).all()
    slots = {row.field_key: row.slot for row in rows if row.field_key is not None}
    version_id = rows[0].current_version_id if rows else None
    if version_id is None:
        return None, slots
    _KEPT.setdefault(conn.engine, {})[(app_key, entity_key)] = (version_id, slots)
    return version_id, slots


def forget(conn: Connection, app_key: str, entity_key: str) -> None:
    """Drop what `kept_mapping` kept of the entity: its version is no longer current."""
    _KEPT.get(conn.engine, {}).pop((app_key, entity_key), None)


# -- writing -----------------------------------------------------------------------------------------------------

def slot_values(dialect: str, entity: EntityDef, slots: Mapping[str, str], data: Mapping[str, Any]) -> dict:
    """The slot columns of one record, from its JSON document, to write in the same statement.
    Every slot of the entity is named (also when None) so batches share one statement shape."""
    out = {}
    for field_key, slot in slots.items():
        f = entity.field(field_key)
        value = data.get(field_key) if f is not None else None
        out[slot] = _number(value, dialect) if slot.startswith("num_") else _text(value)
    return out


def _number(value: Any, dialect: str) -> Any:
    """As `CAST(value AS NUMERIC)` / `AS REAL` of the JSON value (cleaned data holds numbers)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return float(value) if dialect == "sqlite" else None
    try:
        # repr: the shortest text that round-trips, which is what the JSON document holds
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not exact.is_finite():
        return None
    return float(exact) if dialect == "sqlite" else exact


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


# -- assigning and rebuilding ------------------------------------------------------------------------------------

def assign(conn: Connection, app: AppDef, wanted: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
    """Give the `wanted` fields (entity key -> field keys) slots, keeping those they have; free
    the slots of fields no longer wanted; backfill what is new or changed type. Fields beyond
    the free slots of their family keep being read from the JSON. Returns the new mapping."""
    current = {(r.entity_key, r.field_key): r for r in
               conn.execute(select(record_slots).where(record_slots.c.app_key == app.key))}
    keep: dict[tuple[str, str], str] = {}
    refill: dict[str, set[str]] = {}
    cleared: dict[str, list[str]] = {}
    for (entity_key, field_key), row in current.items():
        entity = app.entity(entity_key)
        f = entity.field(field_key) if entity is not None else None
        want = f is not None and field_key in set(wanted.get(entity_key, ())) and family(f) == row.slot[:3]
        if not want:
            conn.execute(delete(record_slots).where(record_slots.c.app_key == app.key,
                                                    record_slots.c.entity_key == entity_key,
                                                    record_slots.c.field_key == field_key))
            cleared.setdefault(entity_key, []).append(row.slot)
            continue
        keep[(entity_key, field_key)] = row.slot
        if row.field_type != f.type:
            conn.execute(update(record_slots).where(record_slots.c.app_key == app.key,
                                                    record_slots.c.entity_key == entity_key,
                                                    record_slots.c.field_key == field_key)
                         .values(field_type=f.type))
            refill.setdefault(entity_key, set()).add(field_key)
    for entity_key, field_keys in wanted.items():
        entity = app.entity(entity_key)
        if entity is None:
            continue
        used = {slot for (e, _k), slot in keep.items() if e == entity_key}
        for field_key in sorted(field_keys):
            f = entity.field(field_key)
            fam = family(f) if f is not None else None
            if fam is None or (entity_key, field_key) in keep:
                continue
            free = next((f"{fam}_{i}" for i in range(1, SLOTS_PER_FAMILY + 1) if f"{fam}_{i}" not in used), None)
            if free is None:
                continue
            used.add(free)
            keep[(entity_key, field_key)] = free
            conn.execute(insert(record_slots).values(app_key=app.key, entity_key=entity_key, field_key=field_key,
                                                     slot=free, field_type=f.type))
            refill.setdefault(entity_key, set()).add(field_key)
    dialect = conn.dialect.name
    for entity_key, slots in cleared.items():
        taken = {slot for (e, _k), slot in keep.items() if e == entity_key}
        gone = [s for s in slots if s not in taken]
        if gone:
            conn.execute(update(records).where(*_of(app.key, entity_key)).values({s: None for s in gone}))
    for entity_key, field_keys in refill.items():
        entity = app.entity(entity_key)
        conn.execute(update(records).where(*_of(app.key, entity_key)).values(
            {keep[(entity_key, k)]: slot_source(dialect, entity.field(k)) for k in sorted(field_keys)}))
    out: dict[str, dict[str, str]] = {}
    for (entity_key, field_key), slot in keep.items():
        out.setdefault(entity_key, {})[field_key] = slot
    return out


def rebuild(conn: Connection, app: AppDef, *, since_id: int | None = None) -> int:
    """Recompute every slot of the app's records from their JSON documents (unassigned slots
    emptied); `since_id` limits it to records with that id or above (a bulk load's new rows).
    Returns the number of records rewritten."""
    slots = mapping(conn, app.key)
    dialect = conn.dialect.name
    n = 0
    for entity in app.entities:
        assigned = slots.get(entity.key, {})
        values: dict[str, Any] = {slot: null() for slot in ALL_SLOTS}
        for field_key, slot in assigned.items():
            f = entity.field(field_key)
            values[slot] = slot_source(dialect, f) if f is not None else null()
        where = list(_of(app.key, entity.key))
        if since_id is not None:
            where.append(records.c.id >= since_id)
        n += conn.execute(update(records).where(*where).values(values)).rowcount or 0
    return n


def mismatches(conn: Connection, app: AppDef) -> int:
    """Records of the app whose slots differ from their JSON documents (0 when all is well)."""
    slots = mapping(conn, app.key)
    dialect = conn.dialect.name
    n = 0
    for entity in app.entities:
        assigned = slots.get(entity.key, {})
        differs = []
        for slot in ALL_SLOTS:
            field_key = next((k for k, s in assigned.items() if s == slot), None)
            f = entity.field(field_key) if field_key else None
            column = records.c[slot]
            differs.append(column.is_not(None) if f is None else column.is_distinct_from(slot_source(dialect, f)))
        n += conn.execute(select(func.count()).select_from(records)
                          .where(*_of(app.key, entity.key), or_(*differs))).scalar_one()
    return n


def _of(app_key: str, entity_key: str) -> tuple:
    return (records.c.app_key == _literal_key(app_key), records.c.entity_key == _literal_key(entity_key))
