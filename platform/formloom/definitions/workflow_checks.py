"""Meaning checks over workflow documents: keys, the entity, stages, gates and the kanban."""
from __future__ import annotations

from typing import Any, Iterator

from .document_parts import (entity_keys_of, entity_named, fields_by_key, indexed, indexed_dicts, item_key,
                             repeated_keys, roles_of, rules_of, stage_keys_of, stages_of)
from .expression_checks import logic_problems
from ..fields import has_flag
from .problems import Problem
from .subject import Subject, for_kind, workflow_fields
from .time_values import duration_problem
from .wording import cap, did_you_mean, show, unknown


@for_kind("workflow")
def workflow_unique_keys(s: Subject) -> Iterator[Problem]:
    """Stages and rules are named once each."""
    for i, key, first in repeated_keys(stages_of(s.doc), item_key):
        yield s.problem("stages", i, "key", message=f"Stage key {key!r} is used twice (stages {first + 1} and {i + 1}).")
    for i, key, first in repeated_keys(rules_of(s.doc), item_key):
        yield s.problem("rules", i, "key", message=f"Rule key {key!r} is used twice (rules {first + 1} and {i + 1}).")


@for_kind("workflow")
def workflow_entity(s: Subject) -> Iterator[Problem]:
    """The workflow's entity exists in its app and names this workflow."""
    if s.app is None:
        return
    name, key = s.doc.get("entity"), s.doc.get("key")
    entity = entity_named(s.app, name)
    if entity is None:
        yield s.problem("entity", message=f"The workflow is for {unknown('the entity', name, entity_keys_of(s.app))}, "
                                          f"which app {s.app.get('key')!r} does not have.")
    elif entity.get("workflow") != key:
        yield s.problem("entity", message=f"Entity {name!r} does not name this workflow ({key!r}) in its 'workflow' "
                                          "key, so the workflow would never be used.")


@for_kind("workflow")
def stage_references(s: Subject) -> Iterator[Problem]:
    """Stages, fields and roles named by stages, gates, reopen_roles and the kanban exist."""
    stage_keys = stage_keys_of(s.doc)
    fields = workflow_fields(s)
    roles = roles_of(s.app) if s.app is not None else None
    entity = s.doc.get("entity")
    for si, stage in stages_of(s.doc):
        for fi, source_stage in indexed(stage.get("from")):
            if source_stage != "*" and source_stage not in stage_keys:
                yield s.problem("stages", si, "from", fi,
                                message=f"Stage {stage.get('key')!r} can be reached from "
                                        f"{unknown('the stage', source_stage, stage_keys)}, which this workflow does not have.")
            if source_stage == "*" and len(stage["from"]) > 1:
                yield s.problem("stages", si, "from", fi,
                                message=f"Stage {stage.get('key')!r} lists \"*\" (any stage) together with other "
                                        "stages; use either \"*\" alone or a list of stage keys.")
        gate = stage.get("gate") if isinstance(stage.get("gate"), dict) else {}
        lists = [(("stages", si, which), stage.get(which), f"lists the field {{name}} in {which!r}")
                 for which in ("required", "readonly", "hidden")]
        lists.append((("stages", si, "gate", "require"), gate.get("require"), "requires the field {name}"))
        if fields is not None:
            for path, keys, verb in lists:
                for ki, name in indexed(keys):
                    if name not in fields:
                        yield s.problem(*path, ki, message=f"Stage {stage.get('key')!r} {verb.format(name=repr(name))}, "
                                                           f"which entity {entity!r} does not have{did_you_mean(name, fields)}.")
        if roles is not None:
            for ri, role in indexed(gate.get("roles")):
                if role not in roles:
                    yield s.problem("stages", si, "gate", "roles", ri,
                                    message=f"The gate of stage {stage.get('key')!r} names "
                                            f"{unknown('the role', role, roles)}, which is not one of the app's roles.")
        if "rot_after" in stage and (why := duration_problem(stage["rot_after"])):
            yield s.problem("stages", si, "rot_after", message=f"The rot_after of stage {stage.get('key')!r} "
                                                               f"({show(stage['rot_after'])}) {why}.")
    if roles is not None:
        for ri, role in indexed(s.doc.get("reopen_roles")):
            if role not in roles:
                yield s.problem("reopen_roles", ri, message=f"reopen_roles names {unknown('the role', role, roles)}, "
                                                            "which is not one of the app's roles.")
    kanban = s.doc.get("kanban") if isinstance(s.doc.get("kanban"), dict) else {}
    if fields is not None:
        total = kanban.get("sum")
        if isinstance(total, str):
            if total not in fields:
                yield s.problem("kanban", "sum", message=f"The kanban sums {unknown('the field', total, fields)}, "
                                                         f"which entity {entity!r} does not have.")
            elif not has_flag(fields[total].get("type"), "summable"):
                yield s.problem("kanban", "sum", message=f"The kanban sums the field {total!r}, which is a "
                                                         f"{fields[total].get('type')} field, not a number.")
        for ci, name in indexed(kanban.get("card_fields")):
            if name not in fields:
                yield s.problem("kanban", "card_fields", ci,
                                message=f"The kanban card shows {unknown('the field', name, fields)}, "
                                        f"which entity {entity!r} does not have.")


@for_kind("workflow")
def gate_conditions(s: Subject) -> Iterator[Problem]:
    """Gate conditions use known fields; related-record requirements point back at this entity."""
    fields = workflow_fields(s)
    for si, stage in stages_of(s.doc):
        gate = stage.get("gate") if isinstance(stage.get("gate"), dict) else {}
        for ci, condition in indexed_dicts(gate.get("conditions")):
            if fields is not None and "rule" in condition:
                yield from logic_problems(s, condition["rule"], fields, ("stages", si, "gate", "conditions", ci, "rule"),
                                           f"condition {ci + 1} of the gate of stage {stage.get('key')!r}")
        for ri, related in indexed_dicts(gate.get("related")):
            path = ("stages", si, "gate", "related", ri)
            what = f"related-record requirement {ri + 1} of the gate of stage {stage.get('key')!r}"
            yield from via_problems(s, related, path, what)
            other = entity_named(s.app, related.get("entity"))
            if other is not None and "where" in related:
                yield from logic_problems(s, related["where"], fields_by_key(other), (*path, "where"),
                                           f"the 'where' of {what}")


@for_kind("workflow")
def gate_requirement_settings(s: Subject) -> Iterator[Problem]:
    """Each registered gate requirement kind checks the meaning of its own settings (its `check`)."""
    from ..workflow.gates import GATE_REQUIREMENTS   # the workflow layer registers the kinds
    for si, stage in stages_of(s.doc):
        gate = stage.get("gate") if isinstance(stage.get("gate"), dict) else {}
        for name, settings in gate.items():
            kind = GATE_REQUIREMENTS.get(name)
            if kind is not None and kind.check is not None:
                yield from kind.check(s, settings, ("stages", si, "gate", name),
                                      f"the gate of stage {stage.get('key')!r}")


def points_at(field_doc: Any, home: Any) -> bool:
    """A field a related entity may link through: a reference to the workflow's entity."""
    return isinstance(field_doc, dict) and field_doc.get("type") == "reference" and field_doc.get("entity") == home


def via_fields(app_doc: Any, related: Any, home: Any) -> list[dict]:
    """The fields of entity `related` that `via` may name (what the designer's pickers offer)."""
    return [f for f in fields_by_key(entity_named(app_doc, related)).values() if points_at(f, home)]


def via_problems(s: Subject, item: dict, path: tuple, what: str) -> Iterator[Problem]:
    """`entity` exists and `via` is its reference field pointing at the workflow's entity."""
    if s.app is None:
        return
    name, via, home = item.get("entity"), item.get("via"), s.doc.get("entity")
    other = entity_named(s.app, name)
    if other is None:
        yield s.problem(*path, "entity", message=f"{cap(what)} names {unknown('the entity', name, entity_keys_of(s.app))}, "
                                                 "which this app does not have.")
        return
    fields = fields_by_key(other)
    target = fields.get(via)
    if target is None:
        yield s.problem(*path, "via", message=f"{cap(what)} links through {unknown('the field', via, fields)}, "
                                              f"which entity {name!r} does not have.")
    elif not points_at(target, home):
        yield s.problem(*path, "via", message=f"{cap(what)} links through {name}.{via}, which must be a reference "
                                              f"field pointing at {home!r}.")


#: Workflow settings that only mean something when there are stages.
_STAGE_SETTINGS = ("skip", "reopen_roles", "kanban")


def _stage_triggers() -> set[str]:
    """Trigger types that name a stage (a `stage` setting): they never fire without stages."""
    from formloom.automation import TRIGGERS      # the automation layer registers them; it sits above this one
    return {t.name for t in TRIGGERS.values() if any(setting.name == "stage" for setting in t.settings)}


@for_kind("workflow")
def rules_only_workflow(s: Subject) -> Iterator[Problem]:
    """A workflow without stages only carries rules: no board settings, no stage triggers."""
    if s.doc.get("stages"):
        return
    for which in _STAGE_SETTINGS:
        if which in s.doc:
            yield s.problem(which, message=f"The workflow has no stages, so its {which!r} would never be used; "
                                           "remove it or add stages.")
    for ri, rule in rules_of(s.doc):
        trigger = rule.get("trigger") if isinstance(rule.get("trigger"), dict) else {}
        if trigger.get("type") in _stage_triggers() and "stage" not in trigger:
            yield s.problem("rules", ri, "trigger", "type",
                            message=f"Rule {rule.get('key')!r} is triggered by {trigger['type']}, but the workflow "
                                    "has no stages, so it would never fire.")
