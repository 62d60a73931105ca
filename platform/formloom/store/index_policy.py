"""Which fields get a database index, derived from what the compiled app asks the database.

An index makes the queries that name its field fast and every write of the entity slower
(issue 16 measured `index_write_overhead`: benchmarks/results/indexpolicy-issue16.md). So a
field is indexed because something in the app queries records by it, and each index carries
the reasons it exists, for the admin page that shows them:

- `unique`: uniqueness, upserts and imports look records up by the value;
- `reference`: a single reference is how related lists, rollups, related-record gates and
  "no related record" reminders find the records pointing at one record;
- `match`: a reference picker narrows the target entity by this field;
- `list_column`: a column of the entity's list, which people sort by with one click;
- `calendar`: the to-do calendar asks for the owner's records in a range of this date;
- `permission`: a role's `read_if` condition filters every list that role reads;
- `chosen`: the document says `"indexed": true` (an admin adding an index for a filter
  people use). `"indexed": false` takes the field out whatever the other reasons.

Not reasons, on purpose: a gate's or rule's own conditions are checked on the one record
being moved or written (in Python, never a query); date reminders are materialized as jobs
with their due time (swept by the jobs table's index, not by the date field); dashboards
read typed slots through their own covering index (dashboards/storage.py); global search
has its own table. Each source below is one function yielding (entity, field, reason).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..definitions.model import AppDef, EntityDef, FieldDef, thaw
from ..fields import field_type
from .expressions import index_name

REASON_KINDS = ("unique", "reference", "match", "list_column", "calendar", "permission", "chosen")


@dataclass(frozen=True)
class IndexReason:
    kind: str                  # one of REASON_KINDS
    source: str = ""           # what it comes from: "entity.field" of a picker, a role


@dataclass(frozen=True)
class WantedIndex:
    entity: EntityDef
    field: FieldDef
    reasons: tuple[IndexReason, ...]

    def name(self, app_key: str) -> str:
        return index_name(app_key, self.entity.key, self.field.key)


Found = Iterator[tuple[str, str, IndexReason]]


def indexable(f: FieldDef) -> bool:
    """A field an expression index can serve: one scalar value (never a list)."""
    return not f.multiple and not f.archived and f.type != "subtable"


def sortable_type(f: FieldDef) -> bool:
    """A type whose values sort and compare meaningfully by index (numbers, dates, options,
    checkboxes, references): the field registry says (`indexed_by_default`)."""
    return indexable(f) and field_type(f.type).indexed_by_default


def _unique(app: AppDef) -> Found:
    for entity in app.entities:
        for f in entity.fields:
            if f.unique:
                yield entity.key, f.key, IndexReason("unique")


def _references(app: AppDef) -> Found:
    for entity in app.entities:
        for f in entity.fields:
            if f.type == "reference" and not f.multiple:
                yield entity.key, f.key, IndexReason("reference", f.entity or "")


def _matches(app: AppDef) -> Found:
    for entity in app.entities:
        for f in entity.fields:
            for target_key in (f.match or {}):
                if f.entity:
                    yield f.entity, target_key, IndexReason("match", f"{entity.key}.{f.key}")


def _list_columns(app: AppDef) -> Found:
    for entity in app.entities:
        for key in entity.default_columns:
            f = entity.field(key)
            if f is not None and sortable_type(f):
                yield entity.key, key, IndexReason("list_column")


def _calendar(app: AppDef) -> Found:
    for entity in app.entities:
        for key in entity.calendar_fields:
            yield entity.key, key, IndexReason("calendar")


def _permissions(app: AppDef) -> Found:
    for entity in app.entities:
        for role, grant in sorted(entity.permissions.items()):
            condition = grant.get("read_if") if hasattr(grant, "get") else None
            if condition is None:
                continue
            for key in sorted(condition_fields(thaw(condition))):
                yield entity.key, key, IndexReason("permission", role)


def _chosen(app: AppDef) -> Found:
    for entity in app.entities:
        for f in entity.fields:
            if f.indexed is True:
                yield entity.key, f.key, IndexReason("chosen")


#: Every source of index reasons, in the order the admin page lists them.
SOURCES: tuple[Callable[[AppDef], Found], ...] = (_unique, _references, _matches, _list_columns, _calendar,
                                                 _permissions, _chosen)


def condition_fields(rule: Any) -> set[str]:
    """The field keys a JSON Logic condition reads (`{"var": "key"}`), not `$stage`/`$owner`."""
    found: set[str] = set()
    if isinstance(rule, dict):
        for op, args in rule.items():
            if op == "var":
                name = args[0] if isinstance(args, list) and args else args
                if isinstance(name, str) and name and not name.startswith("$"):
                    found.add(name.split(".", 1)[0])
            else:
                found |= condition_fields(args)
    elif isinstance(rule, list):
        for item in rule:
            found |= condition_fields(item)
    return found


def wanted_indexes(app: AppDef) -> list[WantedIndex]:
    """The field indexes the app needs, each with its reasons, in entity and field order."""
    reasons: dict[tuple[str, str], list[IndexReason]] = {}
    for source in SOURCES:
        for entity_key, field_key, reason in source(app):
            bucket = reasons.setdefault((entity_key, field_key), [])
            if reason not in bucket:
                bucket.append(reason)
    out = []
    for entity in app.entities:
        for f in entity.fields:
            found = reasons.get((entity.key, f.key))
            if found and indexable(f) and f.indexed is not False:
                out.append(WantedIndex(entity, f, tuple(found)))
    return out


def declined(app: AppDef) -> Iterable[tuple[EntityDef, FieldDef]]:
    """Fields the engine would index but whose document says `"indexed": false`."""
    wanted = {(w.entity.key, w.field.key) for w in wanted_indexes(app)}
    used: set[tuple[str, str]] = set()
    for source in SOURCES:
        used |= {(e, k) for e, k, _r in source(app)}
    for entity in app.entities:
        for f in entity.fields:
            if f.indexed is False and (entity.key, f.key) in used and (entity.key, f.key) not in wanted:
                yield entity, f
