"""Pipelines: stages, stage gates, moves, stage history and kanban queries.

The stages of a workflow document come alive here for any entity that names a
workflow. Nothing in this package knows any particular app.

Moving (moves.py) -- the one guard on every write path
    move_to_stage(conn, app, entity, record_id, to_stage_key, actor, *, expected_version=None,
                  values=None, override_reason=None, lang="en", now=None) -> Record
        In the caller's transaction: lock, version check (ConflictError), policy
        (`update` right -> StageForbidden), rules and gates (GateBlocked with every
        failure), optional `values` saved with the move, then stage/stage_entered_at/
        version+1, a stage_history row, an audit row ("stage", {"$stage": [from, to]})
        and outbox events stage_left / stage_entered {"from", "to", "actor"}.
        `override_reason` (app admins only, non-empty) skips rules and gates and is
        written to the history. Same-stage moves are no-ops (values still applied).
    Errors: UnknownStage (400), StageForbidden (403), OverrideReasonMissing (422),
        GateBlocked (422; .stage, .failures, .missing_fields, .only_missing_fields),
        plus the store's NotFoundError (404), ConflictError (409, .current), RecordInvalid (422).

Approvals (approvals.py, approvers.py) -- a gate requirement kind, `approval`
    move_to_stage(..., request_approval=True) raises ApprovalStarted(.request) when the
    approval is the only unmet requirement (values saved, request started); without it
    ApprovalRequired (a GateBlocked). decide(conn, app, entity, record_id, request_id,
    actor, "approve"|"reject", comment) / withdraw(...) / run_timeout(...) (worker job
    "approval_timeout"); waiting_on(conn, actor) is the inbox; pending_request(conn, id).
    A waiting record refuses moves and edits (ApprovalPending / store AwaitingApproval, 409).

Gates (gates.py) -- lists, never the first problem only
    GateFailure(code, stage, field, message, details); .as_dict() for JSON.
        code: required | condition | related | role | approval | from | skip_denied | reopen
    check_gate(conn, app, workflow, stage, record, lang="en", now=None, *, actor=None,
               data=None, entering=True) -> list[GateFailure]
    check_move(conn, app, workflow, record, target, actor, *, lang="en", now=None,
               data=None) -> list[GateFailure]      # what move_to_stage checks; [] = allowed
    count_related(conn, app, related_def, record) -> int   (capped at the gate's min)

Stage rules (stages.py) -- pure functions
    plan_move(workflow, current_key, target) -> MovePlan(direction, skipped, explicit, ...)
    allows_from(target, current_key) -> bool | None;  next_open_stage(workflow, key)
    required_in / readonly_in / hidden_in(stage) -> tuple[str, ...];  field_rule(stage, key)
    is_stale(stage_def, record, now) -> bool        (rot_after, open stages only)
    time_in_stages(history, now) -> dict[stage_key, seconds]

History (history.py)
    stage_history_rows(conn, record_id) -> list[StageChange]   (oldest first)

Kanban (kanban.py) -- SQL aggregates scoped by the policy
    kanban_columns(conn, app, entity, actor, filters=None, sum_field=None) -> list[Column]
        Column(stage, count, total, weighted_total); filters: ListQuery or Filters
    kanban_cards(conn, app, entity, actor, stage, limit=20, offset=0, filters=None,
                 now=None) -> CardPage(cards=[Card(record, stale)], has_more, offset, limit)

Semantics in brief
    * Moving back to an earlier open stage is free of gates (only the target's roles and
      per-stage `required` fields apply); moving forward checks the target's gate and,
      with "skip": "check" (default), the gates of every open stage passed over;
      "allow" skips those, "deny" refuses the skip. A target whose `from` names the
      current stage (or "*") is an explicit edge: nothing counts as skipped. Entering a
      terminal stage always passes its gate.
    * Leaving a terminal stage needs one of the workflow's `reopen_roles`.
    * App admins satisfy role rules (gate roles, reopen_roles) but not content gates;
      only an override with a reason bypasses those.
    * Gate conditions see the record's data plus $stage (the stage being left),
      $terminal, $owner, $now and $today (in the app's timezone).
"""
from .gates import GateBlocked, GateFailure, check_gate, check_move, count_related
from .history import StageChange, stage_history_rows
from .kanban import Card, CardPage, Column, kanban_cards, kanban_columns
from .moves import OverrideReasonMissing, StageForbidden, UnknownStage, move_to_stage
from .stages import (
    MovePlan, allows_from, field_rule, hidden_in, is_stale, next_open_stage, plan_move, readonly_in,
    required_in, time_in_stages,
)

__all__ = [
    "Card", "CardPage", "Column", "GateBlocked", "GateFailure", "MovePlan", "OverrideReasonMissing",
    "StageChange", "StageForbidden", "UnknownStage", "allows_from", "check_gate", "check_move",
    "count_related", "field_rule", "hidden_in", "is_stale", "kanban_cards", "kanban_columns",
    "move_to_stage", "next_open_stage", "plan_move", "readonly_in", "required_in", "stage_history_rows",
    "time_in_stages",
]
