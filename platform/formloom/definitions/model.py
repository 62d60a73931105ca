"""The compiled, immutable model of an app.

Everything downstream (fields, forms, records, workflow, automation, web) reads
these objects and never the raw JSON, so a document is interpreted in exactly
one place (`definitions.compile`). Instances are frozen and hold tuples and
read-only mappings, so a published version cannot be changed by accident while
requests are using it. This module imports nothing of ours but `frozen`
at import time (`FieldDef.is_computed` asks the field registry when called).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from ..frozen import freeze, thaw  # noqa: F401 -- the model's importers use them from here too


def _field_types() -> Mapping[str, Any]:
    """The field type registry (a late import: this module imports nothing of ours), kept after
    the first call: `is_computed` is asked dozens of times per record written."""
    global _FIELD_TYPES
    if _FIELD_TYPES is None:
        from ..fields import FIELD_TYPES
        _FIELD_TYPES = FIELD_TYPES
    return _FIELD_TYPES


_FIELD_TYPES: Mapping[str, Any] | None = None

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

#: Keys a field may not take: they name record columns or are kept for the engine.
RESERVED_FIELD_KEYS = frozenset({
    "id", "stage", "owner", "owner_id", "creator", "created_at", "created_by",
    "updated_at", "updated_by", "version", "deleted_at", "app", "entity", "data",
    "title", "definition_version",
})

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Label:
    """Text people read, in one or more languages, with a predictable fallback."""

    texts: Mapping[str, str]

    @classmethod
    def of(cls, raw: str | Mapping[str, str] | None, fallback: str = "") -> "Label":
        if raw is None or raw == "" or raw == {}:
            return cls(MappingProxyType({DEFAULT_LANGUAGE: fallback}))
        if isinstance(raw, str):
            return cls(MappingProxyType({DEFAULT_LANGUAGE: raw}))
        return cls(MappingProxyType(dict(raw)))

    def get(self, lang: str | None = None) -> str:
        for candidate in (lang, DEFAULT_LANGUAGE, *LANGUAGES):
            if candidate and self.texts.get(candidate):
                return self.texts[candidate]
        return next(iter(self.texts.values()), "")

    def __str__(self) -> str:
        return self.get()


@dataclass(frozen=True)
class OptionDef:
    value: str
    label: Label
    color: str | None = None
    retired: bool = False                    # kept on records that hold it, never offered for new values


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity. Type-specific settings live beside the common ones;
    a field type reads only the attributes it understands."""

    key: str
    type: str
    label: Label
    required: bool = False
    default: Any = None
    help: Label | None = None
    placeholder: Label | None = None
    min: float | int | str | None = None     # numbers, or ISO dates for date fields
    max: float | int | str | None = None
    max_length: int | None = None
    pattern: str | None = None
    unique: bool = False
    indexed: bool | None = None            # True/False: the document's choice over the engine's (store/index_policy.py)
    visible_if: Any = None                  # JSON Logic (frozen)
    required_if: Any = None                 # JSON Logic (frozen)
    options: tuple[OptionDef, ...] = ()
    entity: str | None = None               # reference: target entity key
    multiple: bool = False                  # reference / user: several values
    match: Mapping[str, str] | None = None  # reference: {target entity's field: this form's field}
    formula: str | None = None              # formula: source expression
    precision: int | None = None            # number: decimal places (0 = integer)
    currency: str | None = None             # money: ISO 4217 code
    format: str | None = None               # auto_number: e.g. "OPP-{YYYY}-{seq:4}"
    scale: int | None = None                # rating: 5 (stars) or 100
    columns: tuple["FieldDef", ...] = ()     # subtable: its typed columns
    min_rows: int | None = None             # subtable
    max_rows: int | None = None             # subtable
    hidden_for: frozenset[str] = frozenset()
    readonly_for: frozenset[str] = frozenset()
    archived: bool = False
    #: settings the type declares that have no attribute above (an extension type's own), frozen
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    def option(self, value: str) -> OptionDef | None:
        return next((o for o in self.options if o.value == value), None)

    @cached_property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @cached_property
    def offered_options(self) -> tuple[OptionDef, ...]:
        """The options a new value may take: all but the retired ones."""
        return tuple(o for o in self.options if not o.retired)

    @cached_property
    def retired_values(self) -> frozenset[str]:
        return frozenset(o.value for o in self.options if o.retired)

    def with_all_options_offered(self) -> "FieldDef":
        """This field with its retired options offered again: what a record already holding one
        may keep (the update and response schemas of the API)."""
        if not self.retired_values:
            return self
        return replace(self, options=tuple(replace(o, retired=False) for o in self.options))

    @cached_property
    def is_computed(self) -> bool:
        ftype = _field_types().get(self.type)      # the type says
        return ftype is not None and ftype.computed


#: Where a field of a form layout may be shown: the new-record form, the edit form, the detail page.
LAYOUT_MODES = ("create", "edit", "detail")


@dataclass(frozen=True)
class PlacedFieldDef:
    """A field placed in a layout section, with where it is shown."""

    key: str
    create: bool = True
    edit: bool = True
    detail: bool = True

    def shown_in(self, mode: str) -> bool:
        return bool(getattr(self, mode))


@dataclass(frozen=True)
class SectionDef:
    """A titled group of fields on the forms and the detail page, in one to three columns on wide screens."""

    key: str
    title: Label
    fields: tuple[PlacedFieldDef, ...]
    description: Label | None = None
    columns: int = 1
    collapsed: bool = False                  # starts folded (every section can be folded)


@dataclass(frozen=True)
class PoolDef:
    """A claimable pool: the entity's records with no owner, seen and claimed by `roles`."""

    roles: tuple[str, ...]
    limit: int | None = None                 # at most this many records of the entity owned by one claimer
    claim_stage: str | None = None           # the stage a claimed record moves to
    return_stage: str | None = None          # the stage a returned record moves to


@dataclass(frozen=True)
class EntityDef:
    key: str
    label: Label
    title: str                               # key of the field shown as the record's title
    fields: tuple[FieldDef, ...]
    plural: Label | None = None
    workflow: str | None = None
    icon: str | None = None
    list_columns: tuple[str, ...] = ()
    permissions: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)
    archived_fields: tuple[FieldDef, ...] = ()
    subtitle: str | None = None              # key of a field telling records with the same title apart
    hidden_on_create: frozenset[str] = frozenset()   # left out of the new-record form
    archived: bool = False                   # hidden from all but the app's admins; records kept
    layout: tuple[SectionDef, ...] = ()      # none: one untitled single-column section
    pool: PoolDef | None = None              # unowned records others may claim
    calendar_fields: tuple[str, ...] = ()    # date fields shown on their owner's to-do calendar
    search_fields: tuple[str, ...] = ()      # text fields global search indexes (none: every text field)

    def field(self, key: str) -> FieldDef | None:
        return self._field_index.get(key)

    @cached_property
    def settable_fields(self) -> tuple[FieldDef, ...]:
        """The fields a record's data sets (not computed, not archived), in order: asked for
        every record written."""
        return tuple(f for f in self.fields if not f.is_computed and not f.archived)

    @cached_property
    def maintained_fields(self) -> tuple[FieldDef, ...]:
        """The fields whose values the store keeps up to date from other records (rollups)."""
        return tuple(f for f in self.fields if not f.archived
                     and getattr(_field_types().get(f.type), "maintained", False))

    @cached_property
    def _field_index(self) -> dict[str, FieldDef]:
        """key -> field, built once: `field` is called for every value of every record written."""
        index: dict[str, FieldDef] = {}
        for f in self.fields:
            index.setdefault(f.key, f)
        return index

    @property
    def field_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    @property
    def class_name(self) -> str:
        return "".join(part.title() for part in self.key.split("_"))

    @property
    def default_columns(self) -> tuple[str, ...]:
        if self.list_columns:
            return self.list_columns
        shown = [f.key for f in self.fields if f.type not in ("subtable", "textarea")]
        return tuple(shown[:6])


@dataclass(frozen=True)
class GateConditionDef:
    rule: Any                                # JSON Logic
    message: Label


@dataclass(frozen=True)
class GateRelatedDef:
    entity: str
    via: str
    min: int
    message: Label
    where: Any = None
    since: str | None = None                 # "stage_entered" or None


@dataclass(frozen=True)
class GateDef:
    require: tuple[str, ...] = ()
    conditions: tuple[GateConditionDef, ...] = ()
    related: tuple[GateRelatedDef, ...] = ()
    roles: tuple[str, ...] = ()
    #: requirements of kinds registered beyond these four (workflow.gates), by gate key, frozen
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class StageDef:
    key: str
    label: Label
    probability: int = 0
    color: str | None = None
    terminal: str | None = None              # "won" | "lost" | None
    from_stages: tuple[str, ...] | None = None   # None = default adjacency rules; ("*",) = any
    rot_after: str | None = None             # ISO 8601 duration
    gate: GateDef = GateDef()
    required: tuple[str, ...] = ()           # fields required while in this stage
    readonly: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleDef:
    key: str
    trigger: Mapping[str, Any]
    actions: tuple[Mapping[str, Any], ...]
    label: Label | None = None
    condition: Any = None
    repeat: Mapping[str, Any] | None = None
    enabled: bool = True


@dataclass(frozen=True)
class WorkflowDef:
    key: str
    entity: str
    stages: tuple[StageDef, ...]
    rules: tuple[RuleDef, ...] = ()
    label: Label | None = None
    skip: str = "check"                      # "check" (cumulative gates) | "allow" | "deny"
    reopen_roles: tuple[str, ...] = ()
    kanban: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    def stage(self, key: str) -> StageDef | None:
        return next((s for s in self.stages if s.key == key), None)

    @property
    def first_stage(self) -> StageDef | None:
        return self.stages[0] if self.stages else None


@dataclass(frozen=True)
class AppDef:
    key: str
    label: Label
    version: int
    timezone: str
    roles: tuple[str, ...]
    entities: tuple[EntityDef, ...]
    workflows: Mapping[str, WorkflowDef] = field(default_factory=lambda: EMPTY)
    admin_role: str = "admin"
    holidays: tuple[str, ...] = ()
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)   # ISO weekday numbers
    content_hash: str = ""
    description: Label | None = None
    role_labels: Mapping[str, Label] = field(default_factory=lambda: EMPTY)

    def role_label(self, role: str) -> Label:
        """What people read for a role: its label where the document gives one, else its key,
        so that an app written before role labels existed still names every role."""
        return self.role_labels.get(role) or Label.of(role)

    def entity(self, key: str) -> EntityDef | None:
        return next((e for e in self.entities if e.key == key), None)

    def workflow_for(self, entity_key: str) -> WorkflowDef | None:
        entity = self.entity(entity_key)
        if entity is None or entity.workflow is None:
            return None
        return self.workflows.get(entity.workflow)

    def referencing(self, entity_key: str) -> tuple[tuple[EntityDef, FieldDef], ...]:
        """(entity, field) pairs whose reference field points at `entity_key`: the related lists."""
        return self._referencing.get(entity_key, ())

    @cached_property
    def _referencing(self) -> Mapping[str, tuple[tuple[EntityDef, FieldDef], ...]]:
        """Every entity's related lists, found in one walk over every field of every entity:
        a record page asks several times, and a definition never changes once built."""
        found: dict[str, list[tuple[EntityDef, FieldDef]]] = {}
        for e in self.entities:
            for f in e.fields:
                if f.type == "reference" and f.entity is not None:
                    found.setdefault(f.entity, []).append((e, f))
        return {key: tuple(pairs) for key, pairs in found.items()}
