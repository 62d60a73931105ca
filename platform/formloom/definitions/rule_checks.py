"""Meaning checks over a workflow's rules: triggers, actions (and their templates) and conditions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from formloom import conditions, templating

from .document_parts import (entity_keys_of, entity_named, fields_by_key, indexed, indexed_dicts, label_texts,
                             roles_of, rules_of, stage_keys_of)
from .expression_checks import formula_problems, logic_problems
from ..fields import document_value_problem as value_problem, has_flag
from .problems import Problem
from .subject import Subject, for_kind, workflow_fields
from .time_values import cron_problem, duration_problem
from .wording import cap, show, unknown
from .workflow_checks import via_problems


@for_kind("workflow")
def rule_triggers(s: Subject) -> Iterator[Problem]:
    """Triggers name stages and fields that exist, with valid durations, times and cron lines."""
    stage_keys = stage_keys_of(s.doc)
    fields = workflow_fields(s)
    for ri, rule in rules_of(s.doc):
        trigger = rule.get("trigger")
        if not isinstance(trigger, dict):
            continue
        path = ("rules", ri, "trigger")
        what = f"the trigger of rule {rule.get('key')!r}"
        kind = trigger.get("type")
        if "stage" in trigger and trigger["stage"] not in stage_keys:
            yield s.problem(*path, "stage", message=f"{cap(what)} names {unknown('the stage', trigger['stage'], stage_keys)}, "
                                                    "which this workflow does not have.")
        for fi, name in indexed(trigger.get("from")):
            if name not in stage_keys:
                yield s.problem(*path, "from", fi, message=f"{cap(what)} names {unknown('the stage', name, stage_keys)}, "
                                                           "which this workflow does not have.")
        for which in ("after", "for"):
            if which in trigger and (why := duration_problem(trigger[which])):
                yield s.problem(*path, which, message=f"The {which!r} of {what} ({show(trigger[which])}) {why}.")
        if "offset" in trigger and (why := duration_problem(trigger["offset"], negative_ok=True)):
            yield s.problem(*path, "offset", message=f"The offset of {what} ({show(trigger['offset'])}) {why}.")
        if isinstance(trigger.get("cron"), str) and (why := cron_problem(trigger["cron"])):
            yield s.problem(*path, "cron", message=f"The schedule of {what} ({trigger['cron']!r}) {why}.")
        if fields is not None:
            named = [((path, "field"), trigger["field"])] if "field" in trigger else []
            named += [((path, "fields", fi), name) for fi, name in indexed(trigger.get("fields"))]
            for (base, *rest), name in named:
                if name not in fields:
                    yield s.problem(*base, *rest, message=f"{cap(what)} watches {unknown('the field', name, fields)}, "
                                                          f"which entity {s.doc.get('entity')!r} does not have.")
        entry = _registry("TRIGGERS").get(kind)
        if entry is not None and entry.check is not None:
            yield from entry.check(s, trigger, path, what,
                                   RuleEnv(stage_keys, fields, roles_of(s.app) if s.app is not None else None))


@dataclass(frozen=True)
class RuleEnv:
    """What a trigger's or action's own meaning check may look up (None: unknown without the app)."""

    stage_keys: list[str]
    fields: dict[str, dict] | None
    roles: list[str] | None


def _registry(name: str) -> dict:
    """The automation registry `name` (TRIGGERS or ACTIONS); imported when checking, as the
    automation layer sits above this one and registers its built-in entries on import."""
    from formloom import automation
    return getattr(automation, name)


def _recipients() -> Any:
    from formloom.automation import recipients
    return recipients


def check_no_related(s: Subject, trigger: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """The related entity exists and its `via` field refers back to this workflow's entity."""
    yield from via_problems(s, trigger, path, what)


def check_date_field(s: Subject, trigger: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """The field counted from is a date or datetime field."""
    if env.fields is not None and trigger.get("field") in env.fields:
        field_type = env.fields[trigger["field"]].get("type")
        if field_type not in ("date", "datetime"):
            yield s.problem(*path, "field", message=f"{cap(what)} counts from the field {trigger['field']!r}, "
                                                    f"which is a {field_type} field; it must be a date or datetime field.")


@for_kind("workflow")
def rule_actions(s: Subject) -> Iterator[Problem]:
    """Actions name stages, fields, entities, roles and recipients that exist; templates compile."""
    stage_keys = stage_keys_of(s.doc)
    fields = workflow_fields(s)
    roles = roles_of(s.app) if s.app is not None else None
    for ri, rule in rules_of(s.doc):
        rule_path = ("rules", ri)
        rule_name = f"rule {rule.get('key')!r}"
        if isinstance(rule.get("repeat"), dict) and "every" in rule["repeat"] \
                and (why := duration_problem(rule["repeat"]["every"])):
            yield s.problem(*rule_path, "repeat", "every",
                            message=f"The repeat interval of {rule_name} ({show(rule['repeat']['every'])}) {why}.")
        for ai, action in indexed_dicts(rule.get("actions")):
            path = (*rule_path, "actions", ai)
            what = f"action {ai + 1} of {rule_name}"
            yield from _action_problems(s, action, path, what, stage_keys, fields, roles)


def _action_problems(s: Subject, action: dict, path: tuple, what: str, stage_keys: list[str],
                     fields: dict[str, dict] | None, roles: list[str] | None) -> Iterator[Problem]:
    kind = action.get("type")
    for which in ("subject", "message"):
        for suffix, text in label_texts(action.get(which)):
            if (why := templating.check_template(text)) is not None:
                yield s.problem(*path, which, *suffix, message=f"The {which} of {what} {why}")
    env = RuleEnv(stage_keys, fields, roles)
    for ti, recipient in indexed(action.get("to")):
        parsed = _recipients().parse(recipient)
        if parsed is not None and parsed[0].check is not None:
            yield from parsed[0].check(s, parsed[1], (*path, "to", ti), what, env)
    if "due_in" in action and (why := duration_problem(action["due_in"])):
        yield s.problem(*path, "due_in", message=f"The due_in of {what} ({show(action['due_in'])}) {why}.")
    entry = _registry("ACTIONS").get(kind)
    if entry is not None and entry.check is not None:
        yield from entry.check(s, action, path, what, env)


def check_move_stage(s: Subject, action: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """The stage moved to exists."""
    if "stage" in action and action["stage"] not in env.stage_keys:
        yield s.problem(*path, "stage", message=f"{cap(what)} moves records to "
                                                f"{unknown('the stage', action['stage'], env.stage_keys)}, "
                                                "which this workflow does not have.")
    yield from _move_values_problems(s, action, path, what, env.fields)


def check_assign(s: Subject, action: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """A role is given exactly when a strategy needs one, and it is one of the app's roles."""
    if action.get("strategy") == "none" and "role" in action:
        yield s.problem(*path, "role", message=f"{cap(what)} clears the owner (strategy none), so it takes no role; "
                                               "remove the role.")
    elif env.roles is not None and "role" in action and action["role"] not in env.roles:
        yield s.problem(*path, "role", message=f"{cap(what)} assigns among {unknown('the role', action['role'], env.roles)}, "
                                               "which is not one of the app's roles.")


def check_set_field(s: Subject, action: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """A value or a formula, for a settable field, that the field's type accepts."""
    yield from _set_field_problems(s, action, path, what, env.fields)


def check_create_record(s: Subject, action: dict, path: tuple, what: str, env: RuleEnv) -> Iterator[Problem]:
    """An entity that exists, filled with values its fields accept, none required left out."""
    yield from _create_record_problems(s, action, path, what)


#: Values a set_field action may give a date or datetime field: the moment the rule fires
#: ("$now": that moment for a datetime field, that day in the app's timezone for a date
#: field) or "$today" (that day, for date fields).
MOMENT_VALUES = {"$now": ("date", "datetime"), "$today": ("date",)}


def _set_field_problems(s: Subject, action: dict, path: tuple, what: str,
                        fields: dict[str, dict] | None) -> Iterator[Problem]:
    if "value" in action and "formula" in action:
        yield s.problem(*path, message=f"{cap(what)} has both a value and a formula; give only one.")
    if fields is None:
        return
    owner = f"entity {s.doc.get('entity')!r}"
    on = action.get("on")
    if isinstance(on, str):
        reference = fields.get(on)
        if reference is None:
            yield s.problem(*path, "on", message=f"{cap(what)} sets a field on the record in "
                                                 f"{unknown('the field', on, fields)}, which {owner} does not have.")
            return
        if reference.get("type") != "reference":
            yield s.problem(*path, "on", message=f"{cap(what)} sets a field on the record in the field {on!r}, "
                                                 f"which is a {reference.get('type')} field, not a reference field.")
            return
        target_entity = entity_named(s.app, reference.get("entity"))
        if target_entity is None:
            return      # the reference field's own check reports the unknown entity
        fields = fields_by_key(target_entity)
        owner = f"entity {target_entity.get('key')!r} (which {on!r} refers to)"
    name = action.get("field")
    target = fields.get(name)
    if target is None:
        yield s.problem(*path, "field", message=f"{cap(what)} sets {unknown('the field', name, fields)}, "
                                                f"which {owner} does not have.")
        return
    value = action.get("value")
    if has_flag(target.get("type"), "computed"):
        yield s.problem(*path, "field", message=f"{cap(what)} sets the field {name!r}, which is computed and cannot be set.")
    elif isinstance(value, str) and value in MOMENT_VALUES:
        if target.get("type") not in MOMENT_VALUES[value]:
            yield s.problem(*path, "value", message=f"{cap(what)} sets the field {name!r} to {value}, which only a "
                                                    f"{' or '.join(MOMENT_VALUES[value])} field can take; "
                                                    f"{name!r} is a {target.get('type')} field.")
    elif value is not None and not _is_template(value) and (why := value_problem(target, value)):
        # a {{ template }} is judged once rendered, when the rule runs (as create_record's values are)
        yield s.problem(*path, "value", message=f"The value that {what} sets {why}.")
    if isinstance(action.get("formula"), str):
        _, found = formula_problems(s, action["formula"], fields, (*path, "formula"), f"The formula of {what}")
        yield from found


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _move_values_problems(s: Subject, action: dict, path: tuple, what: str,
                          fields: dict[str, dict] | None) -> Iterator[Problem]:
    """The values a move_stage action saves with the move: fields of the entity, not computed."""
    values = action.get("values") if isinstance(action.get("values"), dict) else {}
    for name, value in values.items():
        f = (fields or {}).get(name)
        if fields is not None and f is None:
            yield s.problem(*path, "values", name, message=f"{cap(what)} fills {unknown('the field', name, fields)}, "
                                                           f"which entity {s.doc.get('entity')!r} does not have.")
        elif f is not None and has_flag(f.get("type"), "computed"):
            yield s.problem(*path, "values", name, message=f"{cap(what)} fills the field {name!r}, which is computed.")
        elif _is_template(value):
            if (why := templating.check_template(value)) is not None:
                yield s.problem(*path, "values", name, message=f"The value of {name!r} in {what} {why}")
        elif f is not None and value is not None and (why := value_problem(f, value)):
            yield s.problem(*path, "values", name, message=f"The value that {what} gives {name!r} {why}.")


#: A create_record action with `due_in` fills the first date or datetime field of these names.
DUE_FIELD_KEYS = ("due", "due_date", "due_at", "due_on")


def filled_by_create_record(action: dict, fields: dict[str, dict], firing_entity: Any) -> set[str]:
    """The fields a create_record action fills in itself besides its `values`: the first
    reference back to the firing record's entity, and the due date field when `due_in` is
    given (automation/actions.py create_record_action does exactly this)."""
    values = action.get("values") if isinstance(action.get("values"), dict) else {}
    filled: set[str] = set()
    back = next((k for k, f in fields.items() if f.get("type") == "reference" and f.get("entity") == firing_entity
                 and k not in values), None)
    if back is not None:
        filled.add(back)
    if action.get("due_in"):
        due = next((k for k, f in fields.items() if k in DUE_FIELD_KEYS and f.get("type") in ("date", "datetime")),
                   None)
        if due is not None:
            filled.add(due)
    return filled


def _create_record_problems(s: Subject, action: dict, path: tuple, what: str) -> Iterator[Problem]:
    values = action.get("values") if isinstance(action.get("values"), dict) else {}
    for name, value in values.items():
        if _is_template(value) and (why := templating.check_template(value)) is not None:
            yield s.problem(*path, "values", name, message=f"The value of {name!r} in {what} {why}")
    if s.app is None:
        return
    target = entity_named(s.app, action.get("entity"))
    if target is None:
        yield s.problem(*path, "entity", message=f"{cap(what)} creates a record of "
                                                 f"{unknown('the entity', action.get('entity'), entity_keys_of(s.app))}, "
                                                 "which this app does not have.")
        return
    fields = fields_by_key(target)
    for name, value in values.items():
        f = fields.get(name)
        if f is None:
            yield s.problem(*path, "values", name, message=f"{cap(what)} fills {unknown('the field', name, fields)}, "
                                                           f"which entity {target.get('key')!r} does not have.")
        elif has_flag(f.get("type"), "computed"):
            yield s.problem(*path, "values", name, message=f"{cap(what)} fills the field {name!r}, which is computed.")
        elif value is not None and not _is_template(value) and (why := value_problem(f, value)):
            yield s.problem(*path, "values", name, message=f"The value that {what} gives {name!r} {why}.")
    filled = filled_by_create_record(action, fields, s.doc.get("entity"))
    for name, f in fields.items():
        if f.get("required") is True and name not in values and name not in filled and f.get("default") is None \
                and not has_flag(f.get("type"), "computed"):
            yield s.problem(*path, "values", message=f"{cap(what)} creates a {target.get('key')!r} record without its "
                                                     f"required field {name!r}; add it to 'values'.")


@for_kind("workflow")
def rule_conditions(s: Subject) -> Iterator[Problem]:
    """Rule conditions use allowed operators and the entity's fields."""
    fields = workflow_fields(s)
    if fields is None:
        for ri, rule in rules_of(s.doc):
            if "condition" in rule:     # the operators can be checked without the app
                for sentence in conditions.check_logic(rule["condition"], ()):
                    if not sentence.startswith("refers to"):
                        yield s.problem("rules", ri, "condition",
                                        message=f"The condition of rule {rule.get('key')!r} {sentence}.")
        return
    for ri, rule in rules_of(s.doc):
        if "condition" in rule:
            yield from logic_problems(s, rule["condition"], fields, ("rules", ri, "condition"),
                                       f"the condition of rule {rule.get('key')!r}")
