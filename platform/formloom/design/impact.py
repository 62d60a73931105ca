"""What publishing a draft would do to the app and its stored records, in words.

The preview compares the compiled live version with the compiled draft: fields
added, archived (with how many records keep a value), restored and changed; for
a changed field every stored value is run through the same conversion the
install applies (`store.install.convert_value`), so the preview says exactly
how many values convert and which would not, before anything is published.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field, replace
from typing import Any

from sqlalchemy import Connection, func, select

from ..definitions.compile import compile_app
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import FieldValueError, field_type
from ..store.install import MAX_EXAMPLES, _value_rules, convert_value
from ..store.tables import records

EMPTY = (None, "", [])


@dataclass
class Change:
    """One line of the preview. `kind`: entity_added, entity_removed, field_added, field_archived,
    field_restored, field_changed, field_relabelled, option_retired, option_restored, option_removed,
    stage_removed (`field`: the stage, `target`: where its records go), gate_stricter (`field`: the
    stage, `records`: records it would now block), approvals_cancelled (`field`: a removed stage,
    `records`: pending approval requests into it, which the publish cancels), approvals_kept (`field`:
    a stage whose approval changes, `records`: pending requests into it, which keep the steps they
    started with)."""

    kind: str
    entity: Any                      # the entity's label (Label) or key
    field: Any = None                # the field's label (Label) or key
    key: str = ""                    # "entity.field"
    records: int = 0                 # records concerned (with a value, for fields)
    converts: int = 0                # field_changed: stored values that convert
    fails: int = 0                   # field_changed: values that would not survive
    examples: list = dc_field(default_factory=list)    # [(record id, value)]
    before: str = ""                 # field_changed: old type
    after: str = ""                  # field_changed: new type
    target: Any = None               # stage_removed: the label of the stage its records go to
    before_count: int = 0            # gate_stricter: records the live gate blocks
    option: Any = None               # option_*: the option's label (Label)

    @property
    def blocking(self) -> bool:
        return self.fails > 0 or (self.kind == "option_removed" and self.records > 0) or (
            self.kind in ("entity_removed", "stage_removed") and self.records > 0 and self.target is None)


@dataclass
class Impact:
    changes: list[Change]
    records: dict[str, int]          # entity key -> records stored

    @property
    def blocked(self) -> bool:
        return any(c.blocking for c in self.changes)


def _compiled(documents: dict) -> AppDef:
    return compile_app(documents["app"], documents.get("workflows") or {},
                       archived=documents.get("archived") or None)


def _values(conn: Connection, app_key: str, entity_key: str, field_key: str) -> list[tuple[int, Any]]:
    rows = conn.execute(select(records.c.id, records.c.data).where(records.c.app_key == app_key,
                                                                   records.c.entity_key == entity_key))
    return [(r.id, (r.data or {}).get(field_key)) for r in rows if (r.data or {}).get(field_key) not in EMPTY]


def _conversion(conn: Connection, app_key: str, entity: EntityDef, old: FieldDef, new: FieldDef) -> Change:
    change = Change("field_changed", entity.label, new.label, f"{entity.key}.{new.key}", before=old.type,
                    after=new.type)
    for record_id, value in _values(conn, app_key, entity.key, new.key):
        change.records += 1
        try:
            convert_value(old, new, value)
        except (FieldValueError, ValueError, TypeError):
            change.fails += 1
            if len(change.examples) < MAX_EXAMPLES:
                change.examples.append((record_id, value))
            continue
        change.converts += 1
    return change


def _options_only(old: FieldDef, new: FieldDef) -> bool:
    """The value rules differ in the list of options alone (said option by option instead)."""
    return old.type == new.type and _value_rules(replace(new, options=old.options)) == _value_rules(old)


def _option_changes(conn: Connection, app_key: str, entity: EntityDef, old: FieldDef, new: FieldDef) -> list[Change]:
    """Options retired, offered again or removed, each with how many records hold it;
    removing one that records hold is refused (retire it instead)."""
    retired = [o for o in new.options if o.retired and (old.option(o.value) is None or not old.option(o.value).retired)]
    restored = [o for o in new.options if not o.retired and old.option(o.value) is not None
                and old.option(o.value).retired]
    removed = [o for o in old.options if new.option(o.value) is None]
    if not (retired or restored or removed):
        return []
    held: dict[str, int] = {}
    ftype = field_type(new.type)
    for _, value in _values(conn, app_key, entity.key, new.key):
        for chosen in set(ftype.chosen_options(new, value)):
            held[chosen] = held.get(chosen, 0) + 1
    key = f"{entity.key}.{new.key}"
    return ([Change("option_retired", entity.label, new.label, key, records=held.get(o.value, 0), option=o.label)
             for o in retired]
            + [Change("option_restored", entity.label, new.label, key, records=held.get(o.value, 0), option=o.label)
               for o in restored]
            + [Change("option_removed", entity.label, new.label, key, records=held.get(o.value, 0), option=o.label)
               for o in removed])


def preview(conn: Connection, live_documents: dict, draft_documents: dict) -> Impact:
    """The impact of publishing `draft_documents` over the live version's documents.
    The draft must be valid (compile it only after `draft_problems` found nothing)."""
    old = _compiled(live_documents)
    new = compile_app(draft_documents["app"], draft_documents.get("workflows") or {})
    counts = dict(conn.execute(select(records.c.entity_key, func.count()).where(records.c.app_key == old.key)
                               .group_by(records.c.entity_key)).all())
    changes: list[Change] = []
    new_keys = {e.key for e in new.entities}
    for entity in old.entities:
        if entity.key not in new_keys:
            changes.append(Change("entity_removed", entity.label, key=entity.key, records=counts.get(entity.key, 0)))
    for entity in new.entities:
        before = old.entity(entity.key)
        if before is None:
            changes.append(Change("entity_added", entity.label, key=entity.key))
            continue
        archived_before = {f.key for f in before.archived_fields}
        for f in entity.fields:
            prior = before.field(f.key)
            if prior is None:
                kind = "field_restored" if f.key in archived_before else "field_added"
                n = len(_values(conn, old.key, entity.key, f.key)) if kind == "field_restored" else 0
                changes.append(Change(kind, entity.label, f.label, f"{entity.key}.{f.key}", records=n))
            elif not f.is_computed and _value_rules(prior) != _value_rules(f) and not _options_only(prior, f):
                changes.append(_conversion(conn, old.key, entity, prior, f))
            elif prior.label != f.label:
                changes.append(Change("field_relabelled", entity.label, f.label, f"{entity.key}.{f.key}"))
            if prior is not None and prior.type == f.type and (prior.options or f.options):
                changes.extend(_option_changes(conn, old.key, entity, prior, f))
        for prior in before.fields:
            if entity.field(prior.key) is None:
                n = len(_values(conn, old.key, entity.key, prior.key))
                changes.append(Change("field_archived", entity.label, prior.label, f"{entity.key}.{prior.key}",
                                      records=n))
    changes += workflow_changes(conn, old, new, draft_documents.get("stage_moves") or {})
    return Impact(changes, counts)


def _approvals(conn: Connection, kind: str, entity: EntityDef, stage, workflow_key: str,
               waiting: dict[tuple, list]) -> list[Change]:
    """One line for the pending approval requests into `stage`, with a few records as examples."""
    ids = waiting.get((entity.key, stage.key)) or []
    if not ids:
        return []
    titles = dict(conn.execute(select(records.c.id, records.c.title).where(records.c.id.in_(ids[:MAX_EXAMPLES]))).all())
    return [Change(kind, entity.label, stage.label, f"{workflow_key}.{stage.key}", records=len(ids),
                   examples=[(i, titles.get(i) or f"#{i}") for i in ids[:MAX_EXAMPLES]])]


# -- reminders ---------------------------------------------------------------------------------------

@dataclass
class ReminderChange:
    """What publishing does to one rule's pending reminders."""

    workflow: str
    rule: str
    created: int = 0
    moved: int = 0
    cancelled: int = 0
    examples: list = dc_field(default_factory=list)   # [(kind, record id, due before, due after)]


def _pending_reminders(conn: Connection, app_key: str) -> dict[int, tuple]:
    from ..automation.reminders import REMINDER
    from ..store.tables import jobs
    rows = conn.execute(select(jobs.c.id, jobs.c.rule_key, jobs.c.record_id, jobs.c.due_at, jobs.c.payload)
                        .where(jobs.c.kind == REMINDER, jobs.c.app_key == app_key, jobs.c.status == "pending"))
    return {r.id: ((r.payload or {}).get("workflow") or "", r.rule_key or "", r.record_id, _utc(r.due_at))
            for r in rows}


def _utc(value):
    from datetime import timezone
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def draft_reminder_changes(db, documents: dict, archived: dict | None, now) -> list[ReminderChange]:
    """`reminder_changes` for a valid draft's documents."""
    new_app = compile_app(documents["app"], documents.get("workflows") or {}, archived=archived or None)
    return reminder_changes(db, new_app, now)


def reminder_changes(db, new_app: AppDef, now) -> list[ReminderChange]:
    """The reminders publishing `new_app` would create, move and cancel, per rule.

    Publishing reschedules with `automation.reminders.resync_app` (as `formloom install`
    does); this runs that very function over the draft's rules in a transaction that is
    rolled back, and reports the difference in pending reminder rows."""
    from ..automation.dry_run import rolled_back
    from ..automation.reminders import resync_app

    with rolled_back(db) as conn:
        before = _pending_reminders(conn, new_app.key)
        resync_app(conn, new_app, now)
        after = _pending_reminders(conn, new_app.key)
    out: dict[tuple[str, str], ReminderChange] = {}

    def note(kind: str, row: tuple, was, becomes) -> None:
        change = out.setdefault((row[0], row[1]), ReminderChange(row[0], row[1]))
        setattr(change, kind, getattr(change, kind) + 1)
        if len(change.examples) < MAX_EXAMPLES:
            change.examples.append((kind, row[2], was, becomes))

    for job_id, row in after.items():
        if job_id not in before:
            note("created", row, None, row[3])
        elif before[job_id][3] != row[3]:
            note("moved", row, before[job_id][3], row[3])
    for job_id, row in before.items():
        if job_id not in after:
            note("cancelled", row, row[3], None)
    return sorted(out.values(), key=lambda c: (c.workflow, c.rule))
def workflow_changes(conn: Connection, old: AppDef, new: AppDef, moves: dict) -> list[Change]:
    """Stages whose records must go elsewhere, and gates that would stop more records than now
    (judged by the real gate code over live records, see design.gate_preview)."""
    from ..workflow.approvals import in_flight
    from .gate_preview import blocked_by_gate
    from .stage_moves import records_per_stage
    out: list[Change] = []
    waiting: dict[tuple, list] = {}
    for req in in_flight(conn, old.key):
        waiting.setdefault((req.entity_key, req.to_stage), []).append(req.record_id)
    for key, before in old.workflows.items():
        after = new.workflows.get(key)
        entity = old.entity(before.entity)
        if entity is None:
            continue
        held = records_per_stage(conn, old.key, entity.key)
        for stage in before.stages:
            if after is not None and after.stage(stage.key) is not None:
                continue
            target_key = (moves.get(key) or {}).get(stage.key)
            target = after.stage(target_key) if after is not None and target_key else None
            out.append(Change("stage_removed", entity.label, stage.label, f"{key}.{stage.key}",
                              records=held.get(stage.key, 0), target=target.label if target else None))
            out += _approvals(conn, "approvals_cancelled", entity, stage, key, waiting)
        if after is None:
            continue
        for stage in after.stages:
            prior = before.stage(stage.key)
            if prior is not None and prior.gate.extra.get("approval") != stage.gate.extra.get("approval"):
                out += _approvals(conn, "approvals_kept", entity, stage, key, waiting)
            if prior is not None and prior.gate == stage.gate:
                continue
            now_blocked = blocked_by_gate(conn, new, key, stage.key)
            was = blocked_by_gate(conn, old, key, stage.key).blocked if prior is not None else 0
            if now_blocked.blocked > was:
                out.append(Change("gate_stricter", entity.label, stage.label, f"{key}.{stage.key}",
                                  records=now_blocked.blocked, before_count=was,
                                  examples=list(now_blocked.examples)))
    return out
