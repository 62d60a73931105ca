"""Records of stages a draft removes: how many there are, and moving them once it is published.

The draft says where each removed stage's records go (design.workflow_edits,
`stage_moves`). Publishing installs the documents first; the records, now in
a stage their workflow no longer has, are then moved one by one through the
one stage guard (`move_to_stage`) by the publishing admin, with an override
reason that names the removed stage, so the record's history keeps saying
where it was and why it moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Connection, func, select

from ..auth.users import load_actor
from ..definitions.model import AppDef
from ..store.db import Database
from ..store.expressions import live
from ..store.tables import records
from ..workflow.moves import move_to_stage

#: Records moved per transaction, so one publish never holds the database for long.
BATCH = 200


def records_per_stage(conn: Connection, app_key: str, entity_key: str) -> dict[str, int]:
    """Live records of the entity, counted per stage key."""
    rows = conn.execute(select(records.c.stage, func.count()).where(live(app_key, entity_key))
                        .group_by(records.c.stage))
    return {stage: n for stage, n in rows if stage is not None}


@dataclass(frozen=True)
class MovedRecords:
    workflow: str
    from_stage: str
    to_stage: str
    moved: int


def apply_stage_moves(db: Database, app: AppDef, moves: dict[str, dict[str, str]], user_id: int,
                      reason: Callable[[str, str, str], str], lang: str = "en") -> list[MovedRecords]:
    """Move every live record of each removed stage to its target through `move_to_stage`,
    as `user_id` (an admin of the app) with `reason(workflow key, from, to)` as the override
    reason. `app` is the version just published (the targets are its stages)."""
    done: list[MovedRecords] = []
    for workflow_key, pairs in moves.items():
        workflow = app.workflows.get(workflow_key)
        if workflow is None:
            continue
        entity = app.entity(workflow.entity)
        for from_stage, to_stage in pairs.items():
            if workflow.stage(from_stage) is not None or workflow.stage(to_stage) is None:
                continue       # the stage came back, or the target is gone: nothing to move
            moved = 0
            while True:
                with db.write() as conn:
                    actor = load_actor(conn, user_id)
                    ids = conn.execute(select(records.c.id).where(live(app.key, entity.key),
                                                                  records.c.stage == from_stage)
                                       .order_by(records.c.id).limit(BATCH)).scalars().all()
                    for record_id in ids:
                        move_to_stage(conn, app, entity, record_id, to_stage, actor,
                                      override_reason=reason(workflow_key, from_stage, to_stage), lang=lang)
                    moved += len(ids)
                if len(ids) < BATCH:
                    break
            done.append(MovedRecords(workflow_key, from_stage, to_stage, moved))
    return done



def stranded_stages(conn: Connection, live_documents: dict, draft_documents: dict) -> list[tuple[str, str, int]]:
    """(workflow, stage, records) for each live stage the draft removes that holds records the
    draft sends nowhere: publishing would leave them in a stage their pipeline no longer has."""
    app_key = live_documents["app"]["key"]
    moves = draft_documents.get("stage_moves") or {}
    out = []
    for key, workflow in (live_documents.get("workflows") or {}).items():
        after = (draft_documents.get("workflows") or {}).get(key) or {}
        kept = {s.get("key") for s in after.get("stages") or [] if isinstance(s, dict)}
        targets = moves.get(key) or {}
        gone = [s["key"] for s in workflow.get("stages") or [] if s["key"] not in kept and s["key"] not in targets]
        if not gone:
            continue
        held = records_per_stage(conn, app_key, workflow["entity"])
        out += [(key, stage, held[stage]) for stage in gone if held.get(stage)]
    return out
