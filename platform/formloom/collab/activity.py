"""The activity timeline of one record: field changes, stage moves, approval
decisions, rule writes, related records and comments, merged in time order.

Each kind of entry comes from a *source* registered in `SOURCES`; a source
returns its newest `want` entries, so merging the sources and cutting one page
needs no more than `offset + limit` rows from each. Every source reads through
what the reader may see: field changes only of fields visible to them, related
records only within their read scope, comments only on a record they can read
(the caller has already checked that).
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.engine import Connection

from ..auth import policy
from ..auth.users import Actor, user_names
from ..automation.actions import RULE_VIA
from ..definitions.model import AppDef, EntityDef
from ..store.query import Filter, field_expr, filter_clause, scoped
from ..store.tables import audit, records, stage_history, users

#: The kinds a timeline can be filtered by, in the order the filter offers them.
#: "attachment" entries are comments carrying files (kind "comment", also "attachment").
KINDS = ("comment", "attachment", "change", "stage", "related", "rule", "approval")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Activity:
    """One entry. `detail` holds raw, language-neutral values (keys, ids, stored values)."""

    kind: str
    at: datetime
    user_id: int | None
    user_name: str | None
    detail: dict = dc_field(default_factory=dict)
    via: str | None = None
    sort_id: int = 0          # ties at the same instant keep the order of writing
    also: frozenset[str] = frozenset()      # further kinds whose filter shows it (a comment with files)

    def shown_for(self, kinds: frozenset[str]) -> bool:
        return self.kind in kinds or bool(self.also & kinds)

    def as_json(self) -> dict:
        return {"kind": self.kind, "at": self.at.isoformat(),
                "user": {"id": self.user_id, "name": self.user_name} if self.user_id is not None else None,
                "via": self.via, **self.detail}


@dataclass(frozen=True)
class TimelineQuery:
    """Whose record, seen by whom, and which slice of its timeline."""

    app: AppDef
    entity: EntityDef
    record_id: int
    actor: Actor | None
    visible_keys: frozenset[str]
    kinds: frozenset[str] = frozenset(KINDS)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    #: Rows the caller has already read in the same transaction, so a source need not read them
    #: again: "stages" -> every stage-history row of the record (workflow.history.StageChange);
    #: ("related", entity key, field key) -> *every* record of that entity pointing at this one
    #: within the reader's scope (anything with id, title, created_at, created_by). The record
    #: page reads both for its path bar and its related lists. NAMES_LATER -> True: the caller
    #: names the related records' creators itself (the record page, in its one look-up of
    #: names); those entries come with `user_name` None. "audit" -> (kinds, want, rows): the
    #: newest `want` audit rows of those kinds (collab.page_reads.stages_and_audit), used
    #: when they are this query's audit kinds and enough. "comments" -> (want, rows): the newest
    #: `want` comments, used when comments are asked for and they are enough.
    known: Mapping[Any, Any] = dc_field(default_factory=dict, compare=False)

    @property
    def want(self) -> int:
        """The rows each source reads: enough for this page and to know whether one follows."""
        return self.offset + self.limit + 1

    @property
    def audit_kinds(self) -> frozenset[str]:
        """The asked kinds the audit source answers."""
        return self.kinds & _AUDIT_KINDS


@dataclass(frozen=True)
class ActivityPage:
    items: list[Activity]
    has_more: bool
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None


Source = Callable[[Connection, TimelineQuery, int], Iterable[Activity]]


@dataclass(frozen=True)
class SourceDef:
    kinds: frozenset[str]
    read: Source


SOURCES: dict[str, SourceDef] = {}

#: A key of TimelineQuery.known: the caller names the related records' creators.
NAMES_LATER = "names later"


def register_source(name: str, kinds: Iterable[str], read: Source) -> None:
    if name in SOURCES:
        raise ValueError(f"activity source {name!r} is registered twice")
    SOURCES[name] = SourceDef(frozenset(kinds), read)


def timeline(conn: Connection, query: TimelineQuery) -> ActivityPage:
    """One page of the record's activity, newest first."""
    want = query.want
    merged: list[Activity] = []
    for source in SOURCES.values():
        if source.kinds & query.kinds:
            merged.extend(a for a in source.read(conn, query, want) if a.shown_for(query.kinds))
    merged.sort(key=lambda a: (a.at, a.sort_id), reverse=True)
    window = merged[query.offset:query.offset + query.limit + 1]
    return ActivityPage(window[:query.limit], len(window) > query.limit, query.offset, query.limit)


def parse_kinds(values: Iterable[str]) -> tuple[frozenset[str], list[str]]:
    """The asked kinds (all when none), and the names that are not kinds."""
    asked = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in asked if v not in KINDS]
    return (frozenset(asked) or frozenset(KINDS)), unknown


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# -- sources ----------------------------------------------------------------------

_AUDIT_KINDS = frozenset(("approval", "rule", "change"))
_AUDIT_STATEMENTS: dict[frozenset[str], Any] = {}


def _audit_statement(kinds: frozenset[str]):
    """The audit rows of `:record_id` of the asked kinds, newest `:want` first; built once per
    set of kinds (every record page asks, and building a statement costs more than running it)."""
    found = _AUDIT_STATEMENTS.get(kinds)
    if found is None:
        found = _AUDIT_STATEMENTS[kinds] = (
            select(audit, users.c.name.label("user_name"), users.c.email.label("user_email"))
            .select_from(audit.outerjoin(users, users.c.id == audit.c.user_id))
            .where(*audit_conditions(kinds))
            .order_by(audit.c.at.desc(), audit.c.id.desc()).limit(bindparam("want")))
    return found


def audit_conditions(kinds: frozenset[str]) -> list:
    """The audit rows the timeline shows for `kinds` (of "approval", "rule", "change"), of
    the record `:record_id`; stage rows are the stage history's."""
    by_rule = audit.c.via.startswith(RULE_VIA, autoescape=True)
    wanted = {"approval": audit.c.action == "approval",
              "rule": and_(audit.c.action != "approval", by_rule),
              "change": and_(audit.c.action != "approval", or_(audit.c.via.is_(None), ~by_rule))}
    return [audit.c.record_id == bindparam("record_id"), audit.c.action != "stage",
            or_(*(clause for kind, clause in wanted.items() if kind in kinds))]


def _audit_source(conn: Connection, q: TimelineQuery, want: int) -> Iterable[Activity]:
    """Field changes, creation/deletion, owner changes, rule writes and approval decisions.
    Stage rows are left to the stage history, which knows how long the record stayed."""
    kinds = q.kinds & _AUDIT_KINDS
    known = q.known.get("audit")                # (kinds, want, rows) read with the stage history
    if known is not None and known[0] == kinds and known[1] >= want:
        rows = known[2][:want]
    else:
        rows = conn.execute(_audit_statement(kinds), {"record_id": q.record_id, "want": want})
    for r in rows:
        changes = r.changes or {}
        base = dict(at=_aware(r.at), user_id=r.user_id, user_name=r.user_name or r.user_email,
                    via=r.via, sort_id=r.id)
        if r.action == "approval":
            what = changes.get("$approval")
            decision = what[1] if isinstance(what, list) and len(what) == 2 and isinstance(what[1], dict) else {}
            yield Activity("approval", detail={"decision": decision.get("decision"),
                                               "comment": decision.get("comment"),
                                               "request": decision.get("request")}, **base)
            continue
        shown = []
        for key, pair in sorted(changes.items()):
            if key != "$owner" and key not in q.visible_keys:
                continue           # never reveal a hidden or archived field through the timeline
            old, new = (list(pair) + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            if old != new:
                shown.append({"field": key, "old": old, "new": new})
        if r.action == "update" and not shown:
            continue               # only hidden fields changed: nothing this reader may see
        kind = "rule" if (r.via or "").startswith(RULE_VIA) else "change"
        detail = {"action": r.action, "changes": shown}
        reason = changes.get("$reason")           # a return to the pool says why (collab/pools.py)
        if isinstance(reason, list) and len(reason) == 2:
            detail["reason"] = reason[1]
        yield Activity(kind, detail=detail, **base)


def _stage_source(conn: Connection, q: TimelineQuery, want: int) -> Iterable[Activity]:
    known = q.known.get("stages")
    if known is not None:
        for r in sorted(known, key=lambda r: (r.at, r.id), reverse=True)[:want]:
            yield Activity("stage", at=r.at, user_id=r.user_id, user_name=r.user_name, sort_id=r.id,
                           detail={"from": r.from_stage, "to": r.to_stage,
                                   "seconds_in_previous": r.seconds_in_previous,
                                   "override_reason": r.override_reason})
        return
    rows = conn.execute(
        select(stage_history, users.c.name.label("user_name"), users.c.email.label("user_email"))
        .select_from(stage_history.outerjoin(users, users.c.id == stage_history.c.user_id))
        .where(stage_history.c.record_id == q.record_id)
        .order_by(stage_history.c.at.desc(), stage_history.c.id.desc()).limit(want))
    for r in rows:
        yield Activity("stage", at=_aware(r.at), user_id=r.user_id, user_name=r.user_name or r.user_email,
                       sort_id=r.id,
                       detail={"from": r.from_stage, "to": r.to_stage,
                               "seconds_in_previous": r.seconds_in_previous,
                               "override_reason": r.override_reason})


def _related_source(conn: Connection, q: TimelineQuery, want: int) -> Iterable[Activity]:
    """Records that point at this one, created within the reader's scope of their entity."""
    found = []
    for rel_entity, via in q.app.referencing(q.entity.key):
        if policy.scope(q.actor, "read", q.app, rel_entity) == "none":
            continue
        if via.key not in {f.key for f in policy.visible_fields(q.actor, q.app, rel_entity)}:
            continue
        known = q.known.get(("related", rel_entity.key, via.key))
        if known is not None:
            newest = sorted(known, key=lambda r: (_aware(r.created_at), r.id), reverse=True)[:want]
            found.extend((rel_entity, via, r) for r in newest)
            continue
        dialect = conn.dialect.name
        clause = (filter_clause(dialect, via, Filter(via.key, "eq", q.record_id)) if via.multiple
                  else field_expr(dialect, via) == q.record_id)
        rows = conn.execute(select(records.c.id, records.c.title, records.c.created_at, records.c.created_by)
                            .where(scoped(conn, q.app, rel_entity, q.actor), clause)
                            .order_by(records.c.created_at.desc(), records.c.id.desc()).limit(want))
        found.extend((rel_entity, via, r) for r in rows)
    names = {} if q.known.get(NAMES_LATER) else user_names(conn, [r.created_by for _e, _v, r in found])
    for rel_entity, via, r in found:
        yield Activity("related", at=_aware(r.created_at), user_id=r.created_by, user_name=names.get(r.created_by),
                       sort_id=r.id,
                       detail={"entity": rel_entity.key, "field": via.key, "id": r.id, "title": r.title})


register_source("audit", ("change", "rule", "approval"), _audit_source)
register_source("stages", ("stage",), _stage_source)
register_source("related", ("related",), _related_source)
