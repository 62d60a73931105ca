"""The shape of a pipeline: stage order, which moves are allowed by the
workflow's rules (adjacency, `from`, skipping, reopening), per-stage field
rules, time spent in stages and staleness.

Everything here is pure: no database, no actor look-ups. `plan_move` says what
a move means (forward, backward, which stages it skips); `gates.py` decides
whether the record may make it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Iterable, Sequence

import isodate

from ..definitions.model import StageDef, WorkflowDef

ANY_STAGE = "*"


@dataclass(frozen=True)
class MovePlan:
    """What a move from `current` to `target` means under the workflow's rules."""

    current: StageDef | None
    target: StageDef
    direction: str                        # "same" | "forward" | "backward"
    skipped: tuple[StageDef, ...]         # open stages passed over on a forward move
    explicit: bool                        # the target's `from` names the current stage (or "*")
    leaves_terminal: bool                 # the current stage is won/lost: a reopen

    @property
    def is_forward(self) -> bool:
        return self.direction == "forward"

    @property
    def checks_target_gate(self) -> bool:
        """Gates guard the way forward: moving back to an earlier open stage is free,
        entering a terminal stage always passes its gate."""
        return self.direction == "forward" or (self.direction == "backward" and self.target.terminal is not None)


def stage_index(workflow: WorkflowDef, key: str | None) -> int | None:
    for i, stage in enumerate(workflow.stages):
        if stage.key == key:
            return i
    return None


def open_stages(workflow: WorkflowDef) -> tuple[StageDef, ...]:
    return tuple(s for s in workflow.stages if s.terminal is None)


def terminal_stages(workflow: WorkflowDef) -> tuple[StageDef, ...]:
    return tuple(s for s in workflow.stages if s.terminal is not None)


def allows_from(target: StageDef, current_key: str | None) -> bool | None:
    """True/False when the target's `from` decides; None when it has no `from` (default rules)."""
    if target.from_stages is None:
        return None
    return ANY_STAGE in target.from_stages or current_key in target.from_stages


def plan_move(workflow: WorkflowDef, current_key: str | None, target: StageDef) -> MovePlan:
    """Classify a move. Stages passed over are the open (non-terminal) stages strictly
    between the two in document order; a target whose `from` names the current stage
    is an explicit edge and skips nothing (e.g. "lost" from any stage)."""
    current = workflow.stage(current_key) if current_key else None
    here, there = stage_index(workflow, current_key), stage_index(workflow, target.key)
    explicit = bool(allows_from(target, current_key))
    if current_key is None:
        # a record without a stage: placing it is a forward move from before the first stage
        direction, between = "forward", workflow.stages[:there]
    elif current is None or here is None:
        # a stage the workflow no longer has: nothing to measure skipping against
        direction, between = "forward", ()
    elif here == there:
        direction, between = "same", ()
    elif there > here:
        direction, between = "forward", workflow.stages[here + 1:there]
    else:
        direction, between = "backward", ()
    skipped = () if explicit else tuple(s for s in between if s.terminal is None)
    return MovePlan(current=current, target=target, direction=direction, skipped=skipped, explicit=explicit,
                    leaves_terminal=current is not None and current.terminal is not None and direction != "same")


def next_open_stage(workflow: WorkflowDef, current_key: str | None) -> StageDef | None:
    """The stage a forward move must go to when skipping is denied."""
    here = stage_index(workflow, current_key)
    start = 0 if here is None else here + 1
    return next((s for s in workflow.stages[start:] if s.terminal is None), None)


# -- per-stage field rules ------------------------------------------------------------

def required_in(stage: StageDef | None) -> tuple[str, ...]:
    """Fields that must be filled while a record is in `stage`."""
    return stage.required if stage else ()


def readonly_in(stage: StageDef | None) -> tuple[str, ...]:
    """Fields nobody edits while a record is in `stage` (e.g. amount once won)."""
    return stage.readonly if stage else ()


def hidden_in(stage: StageDef | None) -> tuple[str, ...]:
    """Fields not shown while a record is in `stage`."""
    return stage.hidden if stage else ()


def field_rule(stage: StageDef | None, field_key: str) -> str:
    """"hidden", "readonly", "required" or "normal" for one field in one stage (hidden wins)."""
    if field_key in hidden_in(stage):
        return "hidden"
    if field_key in readonly_in(stage):
        return "readonly"
    if field_key in required_in(stage):
        return "required"
    return "normal"


# -- time ------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def parse_duration(text: str) -> timedelta | isodate.Duration:
    """An ISO 8601 duration (PT48H, P3D, P1M); months and years stay calendar-aware."""
    return isodate.parse_duration(text)


def is_stale(stage_def: StageDef | None, record: Any, now: datetime) -> bool:
    """True when the record has sat in an open stage longer than the stage's `rot_after`."""
    if stage_def is None or not stage_def.rot_after or stage_def.terminal is not None:
        return False
    entered = getattr(record, "stage_entered_at", None)
    if entered is None:
        return False
    return now >= entered + parse_duration(stage_def.rot_after)


def time_in_stages(history: Sequence[Any], now: datetime) -> dict[str, int]:
    """Whole seconds spent in each stage, summed over visits, from stage-history rows in
    chronological order (each with `to_stage` and `at`); the last stage counts until `now`."""
    spent: dict[str, int] = {}
    for i, row in enumerate(history):
        until = history[i + 1].at if i + 1 < len(history) else now
        seconds = max(0, int((until - row.at).total_seconds()))
        spent[row.to_stage] = spent.get(row.to_stage, 0) + seconds
    return spent


def today_in(tz_name: str, now: datetime) -> date:
    from zoneinfo import ZoneInfo
    try:
        return now.astimezone(ZoneInfo(tz_name)).date()
    except (KeyError, ValueError):
        return now.date()


def role_names(roles: Iterable[str]) -> str:
    return ", ".join(roles)
