"""Triggers: one small function per trigger type, registered by name.

Event triggers answer "does this event fire this rule?"; time triggers (registered
from reminders.py) answer "when is this rule due for this record?". Each entry
also carries what a document author needs: its label and help (en/zh), its
settings (from which workflow.schema.json is generated) and its own meaning
check. Adding a trigger type touches one function and its test; a duplicate
name fails at import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from ..definitions.model import AppDef, RuleDef, WorkflowDef
from ..definitions import rule_checks
from ..fields.settings import Setting
from ..registry import Registry, RegistryError  # noqa: F401 (RegistryError: where tests and extensions import it)
from .rule_settings import DURATION, ENTITY, FIELD, KEY, KEY_LIST, STAGE, setting


@dataclass(frozen=True)
class Event:
    """One row of the events outbox."""

    id: int
    app_key: str
    entity_key: str
    record_id: int | None
    type: str
    payload: Mapping[str, Any]
    depth: int
    created_at: datetime | None = None     # when the change was saved (aware UTC)


@dataclass(frozen=True)
class TriggerType:
    name: str
    timed: bool
    matches: Callable[[Mapping[str, Any], Event], bool] | None = None
    due: Callable[..., list] | None = None       # (ctx, rule, record) -> [(occurrence, due_at)]
    label: Mapping[str, str] = field(default_factory=dict)      # {"en": ..., "zh": ...}
    help: Mapping[str, str] = field(default_factory=dict)
    settings: tuple[Setting, ...] = ()            # the keys a trigger of this type takes besides "type"
    check: Callable[..., Iterator] | None = None  # (subject, spec, path, what, env) -> problems


TRIGGERS: Registry[TriggerType] = Registry("trigger type")


def _register(trigger: TriggerType) -> None:
    TRIGGERS.add(trigger)


def event_trigger(name: str, **about: Any):
    """Register `fn(spec, event) -> bool` as the event trigger `name`; `about` gives the
    entry's label, help, settings and check (see TriggerType)."""
    def register(fn: Callable[[Mapping[str, Any], Event], bool]):
        _register(TriggerType(name, timed=False, matches=fn, **about))
        return fn
    return register


def time_trigger(name: str, **about: Any):
    """Register `fn(ctx, rule, record) -> [(occurrence, due_at)]` as the time trigger `name`."""
    def register(fn):
        _register(TriggerType(name, timed=True, due=fn, **about))
        return fn
    return register


def unregister_trigger(name: str) -> None:
    """Remove a trigger type (tests that register one of their own clean up with this)."""
    TRIGGERS.remove(name)


def is_timed(rule: RuleDef) -> bool:
    trigger = TRIGGERS.get(rule.trigger.get("type"))
    return bool(trigger and trigger.timed)


def rules_for(app: AppDef, entity_key: str) -> Iterator[tuple[WorkflowDef, RuleDef]]:
    """Enabled rules of the workflows written for `entity_key`."""
    for workflow in app.workflows.values():
        if workflow.entity != entity_key:
            continue
        for rule in workflow.rules:
            if rule.enabled:
                yield workflow, rule


def all_rules(app: AppDef) -> Iterator[tuple[WorkflowDef, RuleDef]]:
    for workflow in app.workflows.values():
        for rule in workflow.rules:
            if rule.enabled:
                yield workflow, rule


def matching_rules(app: AppDef, event: Event) -> list[tuple[WorkflowDef, RuleDef]]:
    """The event-triggered rules this event fires (with their workflow), in document order."""
    found = []
    for workflow, rule in rules_for(app, event.entity_key):
        trigger = TRIGGERS.get(rule.trigger.get("type"))
        if trigger is not None and not trigger.timed and trigger.matches(rule.trigger, event):
            found.append((workflow, rule))
    return found


# -- event triggers ------------------------------------------------------------------------

def _changed(event: Event) -> set[str]:
    return set(event.payload.get("fields") or ())


@event_trigger("record_created", label={"en": "Record created", "zh": "记录创建时"},
               help={"en": "When a record is created.", "zh": "创建记录时触发。"})
def record_created(spec: Mapping[str, Any], event: Event) -> bool:
    return event.type == "record_created"


@event_trigger("record_updated", label={"en": "Record updated", "zh": "记录更新时"},
               help={"en": "When a record is saved with changes (only changes to `fields`, when given).",
                     "zh": "记录保存且有修改时触发（给出 fields 时仅限这些字段的修改）。"},
               settings=(setting("fields", KEY_LIST, "Fields", "字段", "Only changes to these fields count.",
                                 "仅这些字段的修改才触发。"),))
def record_updated(spec: Mapping[str, Any], event: Event) -> bool:
    """Any update, or only one changing one of `fields`."""
    if event.type != "record_updated":
        return False
    wanted = set(spec.get("fields") or ())
    return not wanted or bool(wanted & _changed(event))


@event_trigger("field_changed", label={"en": "Field changed", "zh": "字段变化时"},
               help={"en": "When an update changes one field.", "zh": "更新修改了某个字段时触发。"},
               settings=(FIELD.but(required=True),))
def field_changed(spec: Mapping[str, Any], event: Event) -> bool:
    """An update that changed `field` (a value set at creation is not a change)."""
    return event.type == "record_updated" and spec.get("field") in _changed(event)


@event_trigger("stage_entered", label={"en": "Stage entered", "zh": "进入阶段时"},
               help={"en": "When a record enters a stage (any stage when none is named).",
                     "zh": "记录进入某阶段时触发（未指定阶段时为任意阶段）。"},
               settings=(STAGE, setting("from", KEY_LIST, "From stages", "来源阶段",
                                        "Only moves from one of these stages count.", "仅从这些阶段移入时触发。")))
def stage_entered(spec: Mapping[str, Any], event: Event) -> bool:
    """Entering `stage` (any stage when absent), from one of `from` when given; a new
    record enters its first stage at creation (with no `from`)."""
    if event.type == "stage_entered":
        to, came_from = event.payload.get("to"), event.payload.get("from")
    elif event.type == "record_created" and event.payload.get("stage"):
        to, came_from = event.payload.get("stage"), None
    else:
        return False
    if spec.get("stage") and spec["stage"] != to:
        return False
    sources = spec.get("from")
    return not sources or came_from in sources


@event_trigger("stage_left", label={"en": "Stage left", "zh": "离开阶段时"},
               help={"en": "When a record leaves a stage (any stage when none is named).",
                     "zh": "记录离开某阶段时触发（未指定阶段时为任意阶段）。"},
               settings=(STAGE,))
def stage_left(spec: Mapping[str, Any], event: Event) -> bool:
    return event.type == "stage_left" and (not spec.get("stage") or spec["stage"] == event.payload.get("from"))


@event_trigger("approval_requested", label={"en": "Approval requested", "zh": "发起审批时"},
               help={"en": "When a move into a stage with an approval starts a request (into `stage` when named).",
                     "zh": "移入需审批的阶段而发起审批申请时触发（指定阶段时仅限该阶段）。"},
               settings=(STAGE,))
def approval_requested(spec: Mapping[str, Any], event: Event) -> bool:
    return event.type == "approval_requested" and (not spec.get("stage") or spec["stage"] == event.payload.get("to"))


@event_trigger("approval_decided", label={"en": "Approval decided", "zh": "审批有结果时"},
               help={"en": "When an approval request is approved, rejected or withdrawn (only `outcome`, when given).",
                     "zh": "审批申请被批准、驳回或撤回时触发（给出 outcome 时仅限该结果）。"},
               settings=(STAGE, setting("outcome", {"enum": ["approved", "rejected", "withdrawn"]}, "Outcome", "结果",
                                        "Only this outcome counts.", "仅此结果触发。")))
def approval_decided(spec: Mapping[str, Any], event: Event) -> bool:
    if event.type != "approval_decided":
        return False
    if spec.get("stage") and spec["stage"] != event.payload.get("to"):
        return False
    return not spec.get("outcome") or spec["outcome"] == event.payload.get("outcome")
