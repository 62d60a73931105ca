"""The gate dialog's view models: what a refused or conflicting move shows.

What the dialog offers next to each unmet requirement comes from the requirement
kind that yielded it (workflow.gates.RequirementKind: the fields a form could fill,
whether editing the record meets it, its fix links), so a kind added by an
extension shows its reason and its fixes without a change here. This module only
answers the kinds' questions within the actor's rights (`WebFixPlace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field, fields as dc_fields
from typing import Any

from flask import url_for

from ..auth import policy
from ..definitions.model import AppDef, EntityDef, StageDef, WorkflowDef
from ..errors import FormloomError
from ..store.records import Record
from ..workflow import GateFailure
from ..workflow.gates import Fix, requirement_for
from .helpers import Place


@dataclass(frozen=True)
class WebFixPlace:
    """The web's answers to a requirement kind's fix questions, for one actor and record."""

    actor: Any
    app: AppDef
    entity: EntityDef
    record_id: int
    lang: str

    def can_read(self, entity_key: str) -> bool:
        other = self.app.entity(entity_key)
        return other is not None and policy.scope(self.actor, "read", self.app, other) != "none"

    def entity_label(self, entity_key: str) -> str:
        other = self.app.entity(entity_key)
        return other.label.get(self.lang) if other is not None else entity_key

    def new_record_url(self, entity_key: str, **prefill: Any) -> str | None:
        """The new-record form of `entity_key` with `prefill`, when the actor may create
        such records and write every prefilled field."""
        other = self.app.entity(entity_key)
        if other is None or not policy.can(self.actor, "create", self.app, other):
            return None
        writable = {f.key for f in policy.writable_fields(self.actor, self.app, other)}
        if not set(prefill) <= writable:
            return None
        return url_for("records.new", app_key=self.app.key, entity_key=other.key, **prefill)

    def record_url(self) -> str:
        return url_for("records.detail", app_key=self.app.key, entity_key=self.entity.key,
                       record_id=self.record_id)


@dataclass
class FailureView:
    failure: GateFailure
    in_form: bool                    # the dialog's form asks for this failure's fields
    links: list[Fix]


def failure_fields(failure: GateFailure) -> list[str]:
    """The record's fields whose values could meet `failure` (as its kind says)."""
    return requirement_for(failure.code).fields_for(failure)


def fillable_fields(entity: EntityDef, failures: list[GateFailure], writable: set[str]) -> list[str] | None:
    """The fields the dialog asks for (in the form's order), or None when filling fields
    cannot be enough: every failure must name at least one field the actor may write
    (a missing value, a checkbox a condition reads), unless sending the move meets it."""
    keys: list[str] = []
    for failure in failures:
        if requirement_for(failure.code).met_by_moving:
            continue
        mine = [k for k in failure_fields(failure) if k in writable]
        if not mine:
            return None
        keys += mine
    if not keys:
        return None
    return [f.key for f in entity.fields if f.key in keys]


def failure_views(failures: list[GateFailure], form_keys: list[str], place: WebFixPlace) -> list[FailureView]:
    views = []
    for failure in failures:
        in_form = any(k in form_keys for k in failure_fields(failure))
        links = [] if in_form else requirement_for(failure.code).fixes_for(failure, place)
        views.append(FailureView(failure, in_form, links))
    return views


def needs_editing(views: list[FailureView]) -> bool:
    """Some failure the form does not cover is met by editing the record."""
    return any(requirement_for(v.failure.code).fixed_by_editing and not v.in_form for v in views)


@dataclass(frozen=True)
class ConflictView:
    """Who changed the record meanwhile, when, and the version the retry starts from."""

    by: str | None
    at: str
    version: int


@dataclass
class GateDialog:
    """Everything the dialog template reads; refused (422) and conflict (409) fill it alike."""

    place: Place
    workflow: WorkflowDef
    record: Record
    target: StageDef
    view: str
    message: str
    move_url: str
    board_query: str
    next_url: str | None
    current: StageDef | None
    record_field: str
    hint: str | None = None
    failures: list[FailureView] = dc_field(default_factory=list)
    fields: list = dc_field(default_factory=list)
    fill_keys: list[str] = dc_field(default_factory=list)
    general: list[str] = dc_field(default_factory=list)
    edit_url: str | None = None
    override_error: FormloomError | None = None
    can_override: bool = False
    conflict: ConflictView | None = None
    validate_url: str | None = None
    oob_card: Any = None
    oob_columns: list = dc_field(default_factory=list)

    def context(self) -> dict:
        """The template's names (shallow: the views stay objects)."""
        names = {f.name: getattr(self, f.name) for f in dc_fields(self)}
        return {**names, "app": self.place.app, "entity": self.place.entity}
