"""The edits the workflow designer makes to a draft's documents, as small pure functions.

Each takes the draft's documents (`{"app": ..., "workflows": {key: doc}, ...}`)
and returns a changed deep copy; none checks meaning (the draft is validated
as a whole after every edit, like `formloom validate`). Stage keys never
change: renaming a stage is relabelling it.

Removing a stage that holds records needs somewhere to send them. The draft
carries that instruction beside the documents, under `stage_moves`:
`{"stage_moves": {workflow key: {removed stage key: stage key it goes to}}}`.
It is not part of any workflow document (publishing installs the documents
alone); after the install, design.stage_moves moves the records through the
one stage guard (`move_to_stage`, with an admin override reason written to
their history). Removing a stage that others were sent to re-points those
instructions at the new target, so a chain of removals ends in a stage that exists.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from ..errors import NotFoundError
from .edits import EditError, _move

#: The stage settings the stage form edits (keys and gates have their own edits).
STAGE_SETTINGS = ("label", "probability", "color", "terminal", "from", "rot_after", "required", "readonly", "hidden")
STAGE_MOVES = "stage_moves"


def workflow_of(documents: dict, workflow_key: str) -> dict:
    found = (documents.get("workflows") or {}).get(workflow_key)
    if not isinstance(found, dict):
        raise NotFoundError(f"There is no workflow {workflow_key!r} in this app.")
    return found


def stage_of(workflow: dict, stage_key: str) -> dict:
    for stage in workflow.get("stages") or []:
        if isinstance(stage, dict) and stage.get("key") == stage_key:
            return stage
    raise NotFoundError(f"There is no stage {stage_key!r} in this workflow.")


def stage_index(workflow: dict, stage_key: str) -> int:
    return (workflow.get("stages") or []).index(stage_of(workflow, stage_key))


def stage_moves(documents: dict, workflow_key: str) -> dict[str, str]:
    """removed stage key -> the stage its records go to on publish."""
    return dict((documents.get(STAGE_MOVES) or {}).get(workflow_key) or {})


def _copy_with(documents: dict, workflow_key: str) -> tuple[dict, dict]:
    out = copy.deepcopy(documents)
    return out, workflow_of(out, workflow_key)


# -- workflows ------------------------------------------------------------------------------------------

def add_workflow(documents: dict, entity_key: str, key: str, label: Any, first_stage_label: Any) -> dict:
    """A pipeline for an entity that has none, with one stage to begin with."""
    out = copy.deepcopy(documents)
    entity = next((e for e in out["app"].get("entities", []) if e.get("key") == entity_key), None)
    if entity is None:
        raise NotFoundError(f"There is no entity {entity_key!r} in this app.")
    if entity.get("workflow"):
        raise EditError(f"{entity_key!r} already has the workflow {entity['workflow']!r}.")
    workflows = out.setdefault("workflows", {})
    if key in workflows:
        raise EditError(f"This app already has a workflow with the key {key!r}.")
    workflows[key] = {"key": key, "entity": entity_key, "label": label,
                      "stages": [{"key": "new", "label": first_stage_label}]}
    entity["workflow"] = key
    return out


# -- stages ---------------------------------------------------------------------------------------------

def add_stage(documents: dict, workflow_key: str, key: str, label: Any, before: str | None = None) -> dict:
    """A new open stage, placed before `before` (default: before the first terminal stage, or last)."""
    out, workflow = _copy_with(documents, workflow_key)
    stages = workflow.setdefault("stages", [])
    if any(s.get("key") == key for s in stages):
        raise EditError(f"This workflow already has a stage with the key {key!r}.")
    if key in stage_moves(out, workflow_key):
        raise EditError(f"The stage {key!r} is being removed in this draft; give the new stage another key.")
    if before is not None:
        at = stage_index(workflow, before)
    else:
        at = next((i for i, s in enumerate(stages) if s.get("terminal")), len(stages))
    stages.insert(at, {"key": key, "label": label})
    return out


def update_stage(documents: dict, workflow_key: str, stage_key: str, changes: dict) -> dict:
    """Set (or, given None or an empty value, remove) the stage's settings."""
    out, workflow = _copy_with(documents, workflow_key)
    stage = stage_of(workflow, stage_key)
    for name, value in changes.items():
        if name not in STAGE_SETTINGS:
            raise EditError(f"{name!r} is not a stage setting the designer changes.")
        if value is None or value == "" or value == [] or value == {}:
            stage.pop(name, None)
        else:
            stage[name] = copy.deepcopy(value)
    return out


def set_gate(documents: dict, workflow_key: str, stage_key: str, gate: dict) -> dict:
    """Replace the stage's gate (requirement kind -> its value); an empty gate is removed."""
    out, workflow = _copy_with(documents, workflow_key)
    stage = stage_of(workflow, stage_key)
    gate = {k: copy.deepcopy(v) for k, v in gate.items() if v not in (None, "", [], {})}
    if gate:
        stage["gate"] = gate
    else:
        stage.pop("gate", None)
    return out


def move_stage(documents: dict, workflow_key: str, stage_key: str, delta: int) -> dict:
    out, workflow = _copy_with(documents, workflow_key)
    _move(workflow["stages"], stage_index(workflow, stage_key), delta)
    return out


def order_stages(documents: dict, workflow_key: str, keys: Iterable[str]) -> dict:
    """Put the stages in the order given (what dragging sends); stages not named keep their place after."""
    out, workflow = _copy_with(documents, workflow_key)
    by_key = {s.get("key"): s for s in workflow.get("stages") or []}
    named = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
    workflow["stages"] = named + [s for s in workflow.get("stages") or [] if all(s is not n for n in named)]
    return out


def remove_stage(documents: dict, workflow_key: str, stage_key: str, move_to: str | None) -> dict:
    """Take the stage out; its records (if any) go to `move_to` on publish. Other stages' `from`
    forget it; a `from` left empty is dropped (default moves apply again)."""
    out, workflow = _copy_with(documents, workflow_key)
    del workflow["stages"][stage_index(workflow, stage_key)]
    if move_to is not None:
        if move_to == stage_key:
            raise EditError("Records of a removed stage must go to another stage.")
        stage_of(workflow, move_to)
    for stage in workflow.get("stages") or []:
        sources = stage.get("from")
        if isinstance(sources, list) and stage_key in sources:
            sources = [k for k in sources if k != stage_key]
            if sources:
                stage["from"] = sources
            else:
                del stage["from"]
    moves = out.setdefault(STAGE_MOVES, {}).setdefault(workflow_key, {})
    for removed, target in list(moves.items()):
        if target == stage_key:
            if move_to is None:
                raise EditError(f"Records of {removed!r} are to go to {stage_key!r}; say where they go now.")
            moves[removed] = move_to
    if move_to is not None:
        moves[stage_key] = move_to
    if not moves:
        del out[STAGE_MOVES][workflow_key]
    if not out[STAGE_MOVES]:
        del out[STAGE_MOVES]
    return out
