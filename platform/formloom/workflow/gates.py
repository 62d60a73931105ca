"""Stage gates: what a record must satisfy to enter a stage.

A gate never stops at the first problem. Each requirement kind is a small
generator yielding `GateFailure`s; `check_gate` collects every one for one
stage, and `check_move` adds the workflow's own rules (`from`, skipping,
reopening) and the gates of the stages a forward move passes over, so the
caller can show the complete list at once.

Related-record counts run in SQL. A `where` made of simple comparisons on the
related entity's fields is translated to SQL; anything else is evaluated in
Python over at most MAX_RELATED_SCAN related rows, exactly as the browser and
the condition engine would evaluate it.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from ..auth.policy import is_app_admin
from ..conditions import plain_data, truthy, variables
from ..definitions.model import AppDef, EntityDef, GateDef, GateRelatedDef, Label, StageDef, WorkflowDef, thaw
from ..errors import FormloomError
from ..fields import field_type
from ..fields.settings import Setting
from ..i18n import translate
from ..registry import Registry
from ..record_data import parsed_formula
from ..store.expressions import field_expr, live
from ..store.query import Filter, QueryError, coerce_filter_value, filter_clause
from ..store.tables import records
from .approvers import applicable_steps, approval_problems, approval_schema, step_label
from .stages import MovePlan, allows_from, next_open_stage, plan_move, today_in

#: Rows read at most when a related `where` must be evaluated in Python.
MAX_RELATED_SCAN = 5000

_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class GateFailure:
    """One unmet requirement. `message` is already in the user's language."""

    code: str                 # required | condition | related | role | approval | from | skip_denied | reopen
    stage: str                # the stage whose gate or rule is not met
    field: str | None         # the field concerned (required), else None
    message: str
    details: Mapping[str, Any] = dc_field(default_factory=lambda: _NO_DETAILS)

    def as_dict(self) -> dict:
        return {"code": self.code, "stage": self.stage, "field": self.field, "message": self.message,
                "details": thaw(self.details)}


class GateBlocked(FormloomError):
    """A stage refused a move; `failures` lists every unmet requirement."""

    status = 422
    code = "gate_blocked"

    def __init__(self, stage: str, failures: list[GateFailure], message: str | None = None,
                 hint: str | None = None):
        super().__init__(message or f"The record cannot move to {stage!r} yet.", hint)
        self.stage = stage
        self.failures = list(failures)

    @property
    def missing_fields(self) -> list[str]:
        """Fields a form could fill to satisfy `require` (unique, in order of appearance)."""
        seen: dict[str, None] = {}
        for f in self.failures:
            if f.code == "required" and f.field:
                seen.setdefault(f.field, None)
        return list(seen)

    @property
    def only_missing_fields(self) -> bool:
        """True when filling `missing_fields` would be enough (the kanban dialog case)."""
        return bool(self.failures) and all(f.code == "required" for f in self.failures)


# -- one gate ------------------------------------------------------------------------------

def check_gate(conn: Connection, app: AppDef, workflow: WorkflowDef, stage: StageDef, record: Any,
               lang: str = "en", now: datetime | None = None, *, actor: Any = None,
               data: Mapping[str, Any] | None = None, entering: bool = True,
               approved: bool = False) -> list[GateFailure]:
    """Every unmet requirement of `stage`'s gate for `record`.

    `data` replaces the record's data (to preview a change); `entering=True` means the
    record would end up in this stage, so the stage's own `required` fields count too,
    and, when `actor` is given, the gate's `roles`. Stages passed over by a forward
    move are checked with `entering=False`: their content requirements only. `approved`
    says the move is the one an approval request was granted for (workflow.approvals)."""
    now = now or datetime.now(timezone.utc)
    data = dict(record.data if data is None else data)
    check = GateCheck(conn, app, workflow, stage, record, data, lang, now, actor, entering, approved)
    failures: list[GateFailure] = []
    for kind in GATE_REQUIREMENTS.values():
        failures += kind.evaluate(check)
    return failures


# -- requirement kinds: one registry entry each ------------------------------------------------

@dataclass(frozen=True)
class GateCheck:
    """What a requirement kind evaluates: one stage's gate for one record (with `data`)."""

    conn: Connection
    app: AppDef
    workflow: WorkflowDef
    stage: StageDef
    record: Any
    data: Mapping[str, Any]
    lang: str
    now: datetime
    actor: Any = None
    entering: bool = True          # the record would end up in the stage (not just pass over it)
    approved: bool = False         # an approval request for this move was granted

    @property
    def entity(self) -> EntityDef | None:
        return self.app.entity(self.workflow.entity)

    def setting(self, name: str) -> Any:
        """The gate's setting `name` (an extension kind's own settings are in GateDef.extra)."""
        gate = self.stage.gate
        return getattr(gate, name) if name in GateDef.__dataclass_fields__ else gate.extra.get(name)


@dataclass(frozen=True)
class Fix:
    """One way out of an unmet requirement, shown next to it: a link, or a note when `href` is None."""

    text: str
    href: str | None = None


class FixPlace(Protocol):
    """What the interface offers a requirement kind to say how to fix a failure. Every
    answer is already within the actor's rights: a link the actor could not follow is None."""

    lang: str
    record_id: int

    def can_read(self, entity_key: str) -> bool: ...
    def entity_label(self, entity_key: str) -> str: ...
    def new_record_url(self, entity_key: str, **prefill: Any) -> str | None: ...
    def record_url(self) -> str: ...


@dataclass(frozen=True)
class RequirementKind:
    """One kind of gate requirement: the gate key it is written under, its settings'
    JSON Schema (workflow.schema.json's `gate` is generated from the entries), labels
    and help (en/zh), the failure codes it yields, its evaluation and how the gate
    dialog helps meet it. A failure's `message` is the kind's rendering of the unmet
    reason; the fields below say what the dialog offers beside it, so a new kind needs
    no change in the web layer."""

    name: str
    evaluate: Callable[[GateCheck], Iterable[GateFailure]]
    schema: Any
    codes: tuple[str, ...] = ()
    label: Mapping[str, str] = dc_field(default_factory=dict)
    help: Mapping[str, str] = dc_field(default_factory=dict)
    #: meaning check of the document's settings: (subject, settings, path, what) -> problems
    check: Callable[..., Iterable] | None = None
    #: the record's fields whose values could meet a failure (the dialog's form asks for
    #: the ones the actor may write): failure -> field keys
    fill_fields: Callable[[GateFailure], Sequence[str]] | None = None
    #: editing the record meets it ("Edit the record" is offered when the form does not)
    fixed_by_editing: bool = False
    #: sending the move meets it (an approval request starts): no field is needed for it
    met_by_moving: bool = False
    #: links and notes shown next to a failure: (failure, place) -> fixes
    fixes: Callable[[GateFailure, FixPlace], Iterable[Fix]] | None = None
    #: the keys of the kind's value (of each item, for a list of objects), labelled for the
    #: designer and the docs; a test holds their names equal to the schema's properties
    settings: tuple[Setting, ...] = ()
    #: what the kind's key list names, "fields" (of the entity) or "roles" (of the app), so the
    #: workflow designer offers them as checkboxes; "" for anything else
    picks: str = ""

    def fields_for(self, failure: GateFailure) -> list[str]:
        return list(self.fill_fields(failure)) if self.fill_fields else []

    def fixes_for(self, failure: GateFailure, place: FixPlace) -> list[Fix]:
        return list(self.fixes(failure, place)) if self.fixes else []


#: Requirement kinds in the order their failures are listed.
GATE_REQUIREMENTS: Registry[RequirementKind] = Registry("gate requirement kind")


def register_requirement(kind: RequirementKind) -> RequirementKind:
    return GATE_REQUIREMENTS.add(kind)


def unregister_requirement(name: str) -> None:
    GATE_REQUIREMENTS.remove(name)


#: what the dialog knows of failures no kind yields (the workflow's own rules, a pending approval)
_NO_KIND = RequirementKind("", lambda c: (), schema={})


def requirement_for(code: str) -> RequirementKind:
    """The kind that yields failures with `code` (a kind without fixes for the workflow's own rules)."""
    for kind in GATE_REQUIREMENTS.values():
        if code in kind.codes:
            return kind
    return _NO_KIND


def gate_requirement(name: str, **about: Any):
    """Register `fn(check) -> failures` as the requirement kind written `name` in a gate."""
    def register(fn: Callable[[GateCheck], Iterable[GateFailure]]):
        register_requirement(RequirementKind(name, fn, **about))
        return fn
    return register


_F = "field.schema.json#/$defs/"


def _s(name: str, en: str, zh: str, help_en: str, help_zh: str, **more: Any) -> Setting:
    return Setting(name, None, {"en": en, "zh": zh}, {"en": help_en, "zh": help_zh}, **more)


_MESSAGE = _s("message", "Message", "提示", "What the gate dialog says when it is not met (default: a sentence "
              "of its own).", "不满足时门禁对话框显示的提示（默认自动生成）。")


@gate_requirement("require", schema={"$ref": _F + "key_list"}, codes=("required",), picks="fields",
                  fill_fields=lambda failure: [failure.field] if failure.field else [], fixed_by_editing=True,
                  label={"en": "Required fields", "zh": "必填字段"},
                  help={"en": "Fields that must have a value to enter the stage (with the stage's own `required`).",
                        "zh": "进入该阶段前必须有值的字段（连同阶段自身的 required）。"})
def _require_kind(c: GateCheck) -> Iterable[GateFailure]:
    found = list(_required(c.entity, c.stage, c.data, c.lang, c.entering))
    if c.entering:      # and the fields the record's own rules make required only there
        found += _required_on_entering(c.app, c.workflow, c.entity, c.stage, c.record, c.data, c.lang, c.now, found)
    return found


@gate_requirement("conditions", codes=("condition",), fixed_by_editing=True,
                  settings=(_s("rule", "Rule", "规则", "A condition on the record's values (JSON Logic).",
                               "对记录取值的条件（JSON Logic）。", required=True), _MESSAGE.but(required=True)),
                  fill_fields=lambda failure: list(failure.details.get("fields") or ()),
                  schema={"type": "array", "items": {
                      "type": "object", "required": ["rule", "message"],
                      "properties": {"rule": {"$ref": _F + "logic"}, "message": {"$ref": _F + "label"}},
                      "additionalProperties": False}},
                  label={"en": "Conditions", "zh": "条件"},
                  help={"en": "Conditions on the record's values, each with the message shown when it fails.",
                        "zh": "对记录取值的条件，每条附不满足时显示的提示。"})
def _conditions_kind(c: GateCheck) -> Iterable[GateFailure]:
    return _conditions(c.app, c.workflow, c.stage, c.record, c.data, c.lang, c.now)


def _related_fixes(failure: GateFailure, place: FixPlace) -> Iterator[Fix]:
    """Add a related record already pointing at this one, and see the ones there are."""
    entity_key, via = failure.details.get("entity", ""), failure.details.get("via")
    if not place.can_read(entity_key):
        return
    new = place.new_record_url(entity_key, **{via: place.record_id}) if via else None
    if new is not None:
        yield Fix(translate(place.lang, "Add %(entity)s", entity=place.entity_label(entity_key)),
                  new)
    yield Fix(translate(place.lang, "See the related records"), place.record_url())


@gate_requirement("related", codes=("related",), fixes=_related_fixes,
                  settings=(_s("entity", "Entity", "实体", "The entity of the related records.", "相关记录的实体。",
                               required=True),
                            _s("via", "Via", "关联字段", "Its reference field pointing at this record.",
                               "其指向本记录的关联字段。", required=True),
                            _s("min", "At least", "至少", "How many related records are needed.", "需要的相关记录数。",
                               default=1),
                            _s("where", "Where", "条件", "Only related records meeting this condition count.",
                               "只计入满足此条件的相关记录。"),
                            _s("since", "Count from", "计入范围", "Empty: every related record counts. "
                               "\"Since entering this stage\": only those added after the record entered its "
                               "current stage.", "留空：所有相关记录都计入。“自进入本阶段起”：只计入记录进入当前阶段之后新增的。"),
                            _MESSAGE),
                  schema={"type": "array", "items": {
                      "type": "object", "required": ["entity", "via"],
                      "properties": {"entity": {"$ref": _F + "key"}, "via": {"$ref": _F + "key"},
                                     "min": {"type": "integer", "minimum": 1}, "where": {"$ref": _F + "logic"},
                                     "since": {"enum": ["stage_entered"], "x-labels": {"stage_entered": {
                                         "en": "Since entering this stage", "zh": "自进入本阶段起"}}}, "message": {"$ref": _F + "label"}},
                      "additionalProperties": False}},
                  label={"en": "Related records", "zh": "相关记录"},
                  help={"en": "At least so many related records (such as visits), optionally matching a condition.",
                        "zh": "至少要有若干条相关记录（例如拜访），可附加条件。"})
def _related_kind(c: GateCheck) -> Iterable[GateFailure]:
    return _related(c.conn, c.app, c.workflow, c.stage, c.record, c.lang)


@gate_requirement("roles", schema={"$ref": _F + "key_list"}, codes=("role",), picks="roles",
                  label={"en": "Roles", "zh": "角色"},
                  help={"en": "Only people with one of these roles may move records into the stage.",
                        "zh": "只有具备这些角色之一的人才能把记录移入该阶段。"})
def _roles_kind(c: GateCheck) -> Iterable[GateFailure]:
    if not c.entering or c.actor is None:
        return ()
    return _roles(c.app, c.stage, c.actor, c.lang)


@gate_requirement("approval", schema=approval_schema(), codes=("approval",), check=approval_problems,
                  met_by_moving=True,
                  settings=(_s("steps", "Steps", "审批步骤", "The sign-offs in order: each a key, label, approvers "
                               "and optionally rule, when, editable, timeout, business_days and on_timeout.",
                               "按顺序的审批：每步含键、名称、审批人，可选 rule、when、editable、timeout、"
                               "business_days 和 on_timeout。", required=True),
                            _s("allow_self_approval", "Allow self-approval", "允许自己审批",
                               "Whether the person asking may approve their own request.", "申请人能否审批自己的申请。"),
                            _s("notify", "Notify", "通知", "Who is told of the outcome (recipients).",
                               "结果通知谁（接收人）。")),
                  label={"en": "Approval", "zh": "审批"},
                  help={"en": "Ordered sign-off steps: moving in starts an approval request; the last approval "
                              "makes the move.",
                        "zh": "按顺序的审批步骤：移入时发起审批申请，最后一步批准后才完成移动。"})
def _approval_kind(c: GateCheck) -> Iterable[GateFailure]:
    spec = c.setting("approval")
    if not spec or not c.entering or c.approved:
        return ()
    steps = applicable_steps(spec, condition_vars(c.app, c.workflow, c.record, c.data, c.now))
    if not steps:
        return ()
    names = ", ".join(step_label(s, c.lang) for s in steps)
    return (GateFailure("approval", c.stage.key, None,
                        translate(c.lang, "Moving to %(stage)s needs approval: %(steps)s.",
                                  stage=c.stage.label.get(c.lang), steps=names),
                        MappingProxyType({"steps": [s.get("key") for s in steps]})),)


def _is_empty(entity: EntityDef | None, key: str, value: Any) -> bool:
    f = entity.field(key) if entity else None
    if f is not None:
        return field_type(f.type).is_empty(value)
    return value is None or value == "" or value == [] or value == {}


def _field_label(entity: EntityDef | None, key: str, lang: str) -> str:
    f = entity.field(key) if entity else None
    return f.label.get(lang) if f is not None else key


def _required(entity: EntityDef | None, stage: StageDef, data: Mapping, lang: str,
              entering: bool) -> Iterator[GateFailure]:
    keys = list(dict.fromkeys(stage.gate.require + (stage.required if entering else ())))
    for key in keys:
        if _is_empty(entity, key, data.get(key)):
            yield GateFailure("required", stage.key, key,
                              translate(lang, "Fill in %(field)s to enter %(stage)s.",
                                        field=_field_label(entity, key, lang), stage=stage.label.get(lang)),
                              MappingProxyType({"field": key}))


def _required_on_entering(app: AppDef, workflow: WorkflowDef, entity: EntityDef | None, stage: StageDef,
                          record: Any, data: Mapping, lang: str, now: datetime,
                          already: list[GateFailure]) -> Iterator[GateFailure]:
    """Fields that the record's own rules make required in `stage` but not where it is now:
    `required`/`required_if` fields whose visible_if or required_if read `$stage` (or
    `$terminal`). Judged under the stage being entered, as the save with the move is."""
    if entity is None:
        return
    listed = {f.field for f in already if f.code == "required"}
    here = there = None          # the variables as rules read them, converted once for every field
    for f in entity.fields:
        if f.is_computed or f.archived or f.key in listed or (f.visible_if is None and f.required_if is None):
            continue
        if not _is_empty(entity, f.key, data.get(f.key)):
            continue
        if here is None:
            here = plain_data(condition_vars(app, workflow, record, data, now))
            there = {**here, "$stage": stage.key, "$terminal": stage.terminal}
        if _needed(f, there) and not _needed(f, here):
            yield GateFailure("required", stage.key, f.key,
                              translate(lang, "Fill in %(field)s to enter %(stage)s.",
                                        field=f.label.get(lang), stage=stage.label.get(lang)),
                              MappingProxyType({"field": f.key}))


def _needed(f, variables: Mapping) -> bool:
    """`variables` as plain_data made them."""
    if f.visible_if is not None and not truthy(f.visible_if, variables, plain=True):
        return False
    return bool(f.required) or (f.required_if is not None and truthy(f.required_if, variables, plain=True))


def condition_vars(app: AppDef, workflow: WorkflowDef, record: Any, data: Mapping, now: datetime) -> dict:
    """The record's data plus the special variables of docs/documents.md. `$stage` is
    the stage the record is in while the gate is checked (the one it would leave)."""
    current = workflow.stage(record.stage) if record.stage else None
    return {**data, "$stage": record.stage, "$terminal": current.terminal if current else None,
            "$owner": record.owner_id, "$now": now.astimezone(timezone.utc).isoformat(),
            "$today": today_in(app.timezone, now).isoformat()}


def _conditions(app: AppDef, workflow: WorkflowDef, stage: StageDef, record: Any, data: Mapping, lang: str,
                now: datetime) -> Iterator[GateFailure]:
    if not stage.gate.conditions:
        return
    variables = condition_vars(app, workflow, record, data, now)
    entity = app.entity(workflow.entity)
    for i, cond in enumerate(stage.gate.conditions):
        if not truthy(cond.rule, variables):
            yield GateFailure("condition", stage.key, None,
                              _message(cond.message, lang, "This condition is not met",
                                       lambda: translate(lang, "A condition of %(stage)s is not met.",
                                                         stage=stage.label.get(lang))),
                              MappingProxyType({"index": i, "fields": condition_fields(entity, cond.rule)}))


def condition_fields(entity: EntityDef | None, rule: Any) -> list[str]:
    """The fields a person could change to meet `rule`: the fields it reads, with a
    formula replaced by the fields the formula reads (so `score >= 60` names its inputs)."""
    if entity is None:
        return []
    found: list[str] = []
    seen: set[str] = set()
    todo = sorted(variables(rule))
    while todo:
        key = todo.pop(0)
        f = entity.field(key)
        if key in seen or f is None or f.archived:
            continue
        seen.add(key)
        if f.type == "formula":
            parsed = parsed_formula(f.formula or "")
            todo += sorted(parsed.variables) if parsed is not None else []
        elif not f.is_computed:
            found.append(key)
    return [f.key for f in entity.fields if f.key in found]      # in the form's order


def _message(label: Label, lang: str, compiled_fallback: str, default: Callable[[], str]) -> str:
    """The author's message in `lang`; the engine's translated default when the author gave none."""
    if set(label.texts) == {"en"} and label.texts["en"].startswith(compiled_fallback):
        return default()
    return label.get(lang)


def _related(conn: Connection, app: AppDef, workflow: WorkflowDef, stage: StageDef, record: Any,
             lang: str) -> Iterator[GateFailure]:
    for i, rel in enumerate(stage.gate.related):
        found = count_related(conn, app, rel, record)
        if found >= rel.min:
            continue
        entity = app.entity(rel.entity)
        entity_label = entity.label.get(lang) if entity else rel.entity
        current = workflow.stage(record.stage) if record.stage else None
        since_label = current.label.get(lang) if current else ""

        def default() -> str:
            if rel.since == "stage_entered":
                return translate(lang, "Add at least %(min)s %(entity)s records since entering %(current)s "
                                       "(there are %(count)s).",
                                 min=rel.min, entity=entity_label, count=found, current=since_label)
            return translate(lang, "Add at least %(min)s %(entity)s records (there are %(count)s).",
                             min=rel.min, entity=entity_label, count=found)

        yield GateFailure("related", stage.key, None, _message(rel.message, lang, "Needs at least ", default),
                          MappingProxyType({"index": i, "entity": rel.entity, "via": rel.via, "min": rel.min,
                                            "count": found, "since": rel.since}))


def _roles(app: AppDef, stage: StageDef, actor: Any, lang: str) -> Iterator[GateFailure]:
    roles = stage.gate.roles
    if not roles or is_app_admin(actor, app) or actor.roles_in(app.key) & set(roles):
        return
    yield GateFailure("role", stage.key, None,
                      translate(lang, "Only %(roles)s may move records to %(stage)s.",
                                roles=", ".join(app.role_label(r).get(lang) for r in roles), stage=stage.label.get(lang)),
                      MappingProxyType({"roles": list(roles)}))


# -- related records ------------------------------------------------------------------------

def count_related(conn: Connection, app: AppDef, rel: GateRelatedDef, record: Any) -> int:
    """Live records of `rel.entity` pointing at `record` through `rel.via` (and matching
    `where`, created since the record entered its stage when `since` says so), counted up
    to `rel.min`: the answer is exact below the minimum, which is all a gate needs."""
    entity = app.entity(rel.entity)
    via = entity.field(rel.via) if entity else None
    if entity is None or via is None:
        return 0
    dialect = conn.dialect.name
    clauses = [live(app.key, entity.key), _points_at(dialect, via, record.id)]
    if rel.since == "stage_entered" and record.stage_entered_at is not None:
        clauses.append(records.c.created_at >= record.stage_entered_at)
    where_sql = where_clause(dialect, entity, rel.where) if rel.where is not None else None
    if rel.where is None or where_sql is not None:
        if where_sql is not None:
            clauses.append(where_sql)
        capped = select(records.c.id).where(*clauses).limit(rel.min).subquery()
        return conn.execute(select(func.count()).select_from(capped)).scalar_one()
    rows = conn.execute(select(records.c.data, records.c.stage, records.c.owner_id).where(*clauses)
                        .order_by(records.c.id).limit(MAX_RELATED_SCAN))
    found = 0
    for row in rows:
        if truthy(rel.where, {**(row.data or {}), "$stage": row.stage, "$owner": row.owner_id}):
            found += 1
            if found >= rel.min:
                break
    return found


def _points_at(dialect: str, via, record_id: int) -> ColumnElement[bool]:
    if via.multiple:
        return filter_clause(dialect, via, Filter(via.key, "eq", record_id))
    return field_expr(dialect, via) == record_id


_COMPARISONS = {"==": "eq", "===": "eq", "!=": "ne", "!==": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_MIRRORED = {"eq": "eq", "ne": "ne", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}
_ORDERED_KINDS = frozenset({"number"})
_SCALAR_KINDS = frozenset({"text", "number", "bool", "date"})   # datetimes: stored with Z, compared in Python


def where_clause(dialect: str, entity: EntityDef, logic: Any) -> ColumnElement[bool] | None:
    """SQL for a simple JSON Logic `where` over `entity`'s records, or None when the rule is
    not simple enough to translate faithfully (the caller then evaluates it in Python).

    Translated: and/or of `==  ===  !=  !==` between a field (or `$stage`/`$owner`) and a
    literal, `< <= > >=` on number fields, `in` with a literal list, and `!`/`!!` of a field."""
    if not isinstance(logic, Mapping) or len(logic) != 1:
        return None
    op, args = next(iter(logic.items()))
    args = list(args) if isinstance(args, (list, tuple)) else [args]
    if op in ("and", "or"):
        parts = [where_clause(dialect, entity, a) for a in args]
        if not parts or any(p is None for p in parts):
            return None
        return and_(*parts) if op == "and" else or_(*parts)
    if op in ("!", "!!") and len(args) == 1:
        target = _var_target(dialect, entity, args[0])
        if target is None or target[0] != "field":
            return None
        f = target[1]
        return filter_clause(dialect, f, Filter(f.key, "is_empty", op == "!"))
    if op in _COMPARISONS and len(args) == 2:
        name = _COMPARISONS[op]
        left, right = _var_target(dialect, entity, args[0]), _var_target(dialect, entity, args[1])
        if left is not None and right is None and _is_scalar(args[1]):
            return _compare(dialect, left, name, args[1])
        if right is not None and left is None and _is_scalar(args[0]):
            return _compare(dialect, right, _MIRRORED[name], args[0])
        return None
    if op == "in" and len(args) == 2 and isinstance(args[1], (list, tuple)) and args[1] \
            and all(_is_scalar(v) for v in args[1]):
        target = _var_target(dialect, entity, args[0])
        return _compare(dialect, target, "in", list(args[1])) if target is not None else None
    return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value is not None


def _var_target(dialect: str, entity: EntityDef, arg: Any):
    if not (isinstance(arg, Mapping) and len(arg) == 1 and "var" in arg):
        return None
    name = arg["var"]
    if isinstance(name, (list, tuple)):
        if len(name) != 1:      # a default value changes the semantics of missing fields
            return None
        name = name[0]
    if name == "$stage":
        return ("column", records.c.stage, "text")
    if name == "$owner":
        return ("column", records.c.owner_id, "number")
    f = entity.field(name) if isinstance(name, str) else None
    if f is None:
        return None
    kind = field_type(f.type).field_sql_kind(f)
    if kind not in _SCALAR_KINDS:
        return None
    return ("field", f, kind)


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _compare(dialect: str, target, op: str, value: Any) -> ColumnElement[bool] | None:
    """The comparison in SQL when types match exactly (no loose JSON Logic coercion)."""
    source, column_or_field, kind = target
    if op in ("lt", "lte", "gt", "gte") and kind not in _ORDERED_KINDS:
        return None
    values = value if op == "in" else [value]
    if not all(_type_ok(kind, v) for v in values):
        return None
    if source == "column":
        column = column_or_field
        if op == "eq":
            return column == value
        if op == "ne":
            return or_(column != value, column.is_(None))
        if op == "in":
            return column.in_(value)
        return None
    f = column_or_field
    if kind == "text" and any(v != v.strip() or len(v) > 500 for v in values):
        return None   # list filters trim and cut values; leave such literals to Python
    try:
        coerced = coerce_filter_value(f, op, value)
    except QueryError:
        return None
    return filter_clause(dialect, f, Filter(f.key, op, coerced))


# -- a whole move ---------------------------------------------------------------------------

def check_move(conn: Connection, app: AppDef, workflow: WorkflowDef, record: Any, target: StageDef, actor: Any,
               *, lang: str = "en", now: datetime | None = None,
               data: Mapping[str, Any] | None = None, approved: bool = False) -> list[GateFailure]:
    """Every reason `actor` may not move `record` to `target` now: the workflow's rules
    (reopen, `from`, skip), the gates of the open stages a forward move passes over
    (unless the workflow says `"skip": "allow"`), then the target's gate. An empty list
    means the move is allowed. The actor's right to update the record at all is the
    policy's question and is asked by `move_to_stage`."""
    now = now or datetime.now(timezone.utc)
    plan = plan_move(workflow, record.stage, target)
    if plan.direction == "same":
        return []
    failures = list(_rule_failures(app, workflow, plan, actor, lang))
    if workflow.skip == "check":
        for passed in plan.skipped:
            failures += check_gate(conn, app, workflow, passed, record, lang, now, data=data, entering=False)
    if plan.checks_target_gate:
        failures += check_gate(conn, app, workflow, target, record, lang, now, actor=actor, data=data,
                               approved=approved)
    else:   # back to an earlier open stage: who may enter it, and what must be filled while there
        entity, values = app.entity(workflow.entity), dict(record.data if data is None else data)
        failures += _required(entity, _without_gate(target), values, lang, True)
        failures += _required_on_entering(app, workflow, entity, target, record, values, lang, now, failures)
        if actor is not None:
            failures += _roles(app, target, actor, lang)
    return failures


def _without_gate(stage: StageDef) -> StageDef:
    return replace(stage, gate=GateDef())


def _rule_failures(app: AppDef, workflow: WorkflowDef, plan: MovePlan, actor: Any,
                   lang: str) -> Iterator[GateFailure]:
    target, current = plan.target, plan.current
    target_label = target.label.get(lang)
    if plan.leaves_terminal and not _has_role(app, actor, workflow.reopen_roles):
        if workflow.reopen_roles:
            message = translate(lang, "Only %(roles)s may reopen a record that is %(stage)s.",
                                roles=", ".join(workflow.reopen_roles), stage=current.label.get(lang))
        else:
            message = translate(lang, "A record that is %(stage)s cannot be reopened.", stage=current.label.get(lang))
        yield GateFailure("reopen", current.key, None, message,
                          MappingProxyType({"roles": list(workflow.reopen_roles)}))
    allowed = allows_from(target, current.key if current else None)
    if allowed is False:
        names = [(workflow.stage(k).label.get(lang) if workflow.stage(k) else k) for k in target.from_stages]
        yield GateFailure("from", target.key, None,
                          translate(lang, "%(stage)s can only be entered from %(stages)s.",
                                    stage=target_label, stages=", ".join(names)),
                          MappingProxyType({"from": list(target.from_stages)}))
    elif allowed is None and plan.is_forward and plan.skipped and workflow.skip == "deny":
        step = next_open_stage(workflow, current.key if current else None)
        yield GateFailure("skip_denied", target.key, None,
                          translate(lang, "Stages cannot be skipped: move to %(next)s first.",
                                    next=step.label.get(lang) if step else target_label),
                          MappingProxyType({"skipped": [s.key for s in plan.skipped],
                                            "next": step.key if step else None}))


def _has_role(app: AppDef, actor: Any, roles) -> bool:
    if actor is None:
        return False
    return is_app_admin(actor, app) or bool(actor.roles_in(app.key) & set(roles))
