"""How many records a draft gate would stop: "N records now in earlier stages would be blocked".

The draft gate is judged by the real gate code (`workflow.gates.check_gate`)
over live records, compiled from the draft, so the designer can never
disagree with the kanban. Only records the viewer may read count (the
policy's SQL scope), and at most MAX_SCAN of them are judged (the newest
first), so a large table answers in bounded time; `capped` then says the
count is a lower bound.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from ..auth.policy import record_scope_clause
from ..definitions.model import AppDef, WorkflowDef
from ..store.expressions import live
from ..store.records import record_from_row
from ..store.tables import records
from ..workflow.gates import check_gate

MAX_SCAN = 500
MAX_EXAMPLES = 5
#: a failure a move meets by being sent (an approval request starts): not a block
_NOT_BLOCKING = frozenset({"approval"})


@dataclass
class Blocked:
    stage: str
    scanned: int = 0
    blocked: int = 0
    capped: bool = False
    examples: list[tuple[int, str]] = field(default_factory=list)     # (record id, title)


def earlier_open_stages(workflow: WorkflowDef, stage_key: str) -> list[str]:
    keys = [s.key for s in workflow.stages]
    if stage_key not in keys:
        return []
    return [s.key for s in workflow.stages[:keys.index(stage_key)] if s.terminal is None]


def blocked_by_gate(conn: Connection, app: AppDef, workflow_key: str, stage_key: str, *, actor: Any = None,
                    lang: str = "en", now: datetime | None = None) -> Blocked:
    """Records now in the open stages before `stage_key` that its gate (in `app`, the compiled
    draft) would refuse; scoped to what `actor` may read when an actor is given."""
    now = now or datetime.now(timezone.utc)
    workflow = app.workflows.get(workflow_key)
    out = Blocked(stage_key)
    stage = workflow.stage(stage_key) if workflow else None
    entity = app.entity(workflow.entity) if workflow else None
    earlier = earlier_open_stages(workflow, stage_key) if workflow else []
    if stage is None or entity is None or not earlier:
        return out
    query = select(records).where(live(app.key, entity.key), records.c.stage.in_(earlier))
    if actor is not None:
        query = query.where(record_scope_clause(actor, "read", app, entity, dialect=conn.dialect.name))
    rows = conn.execute(query.order_by(records.c.updated_at.desc(), records.c.id.desc()).limit(MAX_SCAN + 1)).all()
    out.capped = len(rows) > MAX_SCAN
    for row in rows[:MAX_SCAN]:
        record = record_from_row(row)
        out.scanned += 1
        failures = check_gate(conn, app, workflow, stage, record, lang, now)
        if any(f.code not in _NOT_BLOCKING for f in failures):
            out.blocked += 1
            if len(out.examples) < MAX_EXAMPLES:
                out.examples.append((record.id, record.title or f"#{record.id}"))
    return out
