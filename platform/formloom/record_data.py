"""Cleaning a record's `data`: the one place that decides what is stored.

`clean_record_data` takes what the API or a form sent, merges it over the stored
values (PATCH semantics), and returns the full clean data with every problem
found. The steps:

1. keys: unknown keys and values sent for computed fields are problems;
2. each sent (or, on create, defaulted) value goes through its type's `clean`;
3. formulas are computed on these tentative values, then visible_if is
   evaluated (with `extra_vars` such as `$stage` merged in);
4. a hidden field keeps its stored value (a value sent for it is ignored, as
   a browser posts inputs the user could not see) and is not judged `required`;
   with `check_hidden` (the API, whose document publishes every writable
   field's type) a value sent for it must still be of its type; a
   visible one gets its cleaning problems plus `required` (required,
   required_if, or listed in `stage_required`) when empty;
5. formulas are computed again over the final values, in dependency order.

Stored values that are not sent are not re-validated (a definition may have
tightened since) but still count for `required`. Values stored under keys the
entity no longer has (archived fields) are kept. Auto numbers keep their
stored value; the store assigns new ones (`fields.computed.format_auto_number`).
"""
from __future__ import annotations

import graphlib
from datetime import date
from functools import lru_cache
from typing import Any, Collection, Mapping

from . import conditions, formulas
from .definitions.model import EntityDef, FieldDef
from .fields import FIELD_TYPES, CleanContext, FieldProblem, FieldValueError
from .fields.computed import formula_json_value
from .i18n import translate


def empty(f: FieldDef, value: Any) -> bool:
    """True when `value` means "no value" for this field (None, "", [], an unticked checkbox)."""
    return FIELD_TYPES[f.type].is_empty(value)


def pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


@lru_cache(maxsize=1024)
def parsed_formula(source: str) -> formulas.Formula | None:
    """The parsed formula, cached by source; None for one that cannot be parsed
    (definitions are validated on publish, so this is only a safety net)."""
    try:
        return formulas.parse(source)
    except formulas.FormulaError:
        return None


def compute_formulas(entity: EntityDef, values: Mapping[str, Any], extra_vars: Mapping[str, Any] | None = None) -> dict:
    """Every formula field's value over `values`, each formula seeing the ones it reads."""
    computed: dict[str, Any] = {}
    parsed, order = _formula_plan(tuple((f.key, f.formula or "") for f in entity.fields if f.type == "formula"))
    if order is None:             # a cycle: refused when the definition was validated; compute none
        return {key: None for key in parsed}
    today = _today(extra_vars) or date.today()        # once for every formula of the record
    scope = dict(values)
    for key in order:
        formula = parsed[key]
        value = formula_json_value(formula.evaluate(scope, today=today)) if formula is not None else None
        computed[key] = value
        scope[key] = value
    return computed


@lru_cache(maxsize=1024)
def _formula_plan(sources: tuple[tuple[str, str], ...]) -> tuple[dict, tuple[str, ...] | None]:
    """(parsed formula by key, evaluation order or None for a cycle), cached by the entity's
    formula sources: every create and update of a record would otherwise sort them again."""
    parsed = {key: parsed_formula(source) for key, source in sources}
    deps = {key: set(p.variables) if p is not None else set() for key, p in parsed.items()}
    try:
        return parsed, tuple(formulas.evaluation_order(deps))
    except graphlib.CycleError:
        return parsed, None


def _today(extra_vars: Mapping[str, Any] | None) -> date | None:
    raw = (extra_vars or {}).get("$today")
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def clean_record_data(entity: EntityDef, incoming: Mapping[str, Any], ctx: CleanContext, *,
                      existing: Mapping[str, Any] | None = None, stage_required: Collection[str] = (),
                      extra_vars: Mapping[str, Any] | None = None,
                      check_hidden: bool = False) -> tuple[dict, list[FieldProblem]]:
    """(the full clean data, every problem). `existing` is the stored data when updating;
    `check_hidden` reports the problems of values sent for hidden fields too (step 4)."""
    lang = ctx.lang
    creating = existing is None
    stored: Mapping[str, Any] = existing or {}
    problems: list[FieldProblem] = []

    def problem(key: str, code: str, message: str, suffix: str = "") -> FieldProblem:
        return FieldProblem(key, pointer(key) + suffix, code, message)

    for key in incoming:
        f = entity.field(key)
        if f is None or f.archived:
            problems.append(problem(key, "unknown_field", translate(lang, "This field does not exist.")))
        elif f.is_computed:
            problems.append(problem(key, "computed", translate(lang, "This field is computed and cannot be set.")))

    writable = entity.settable_fields

    # 2. tentative values: sent (or defaulted) values cleaned, others as stored
    tentative: dict[str, Any] = {}
    pending: dict[str, list[FieldProblem]] = {}
    for f in writable:
        ftype = FIELD_TYPES[f.type]
        if f.key in incoming:
            raw = incoming[f.key]
        elif creating and f.default is not None:
            raw = ftype.default_value(f)
        else:
            tentative[f.key] = stored.get(f.key, ftype.empty_value(f))
            continue
        if ftype.is_empty(raw):
            tentative[f.key] = ftype.empty_value(f)
            continue
        try:
            tentative[f.key] = ftype.clean(f, raw, ctx)
        except FieldValueError as error:
            pending[f.key] = [problem(f.key, e.code, e.message, e.path_suffix) for e in error.all()]
            tentative[f.key] = stored.get(f.key, ftype.empty_value(f))
            continue
        if f.retired_values and (newly := _newly_retired(f, tentative[f.key], stored.get(f.key))):
            pending[f.key] = [problem(f.key, "retired_option", translate(
                lang, "%(option)s is retired: records that have it keep it, but it cannot be chosen anymore.",
                option=", ".join(f.option(v).label.get(lang) for v in newly)))]
            tentative[f.key] = stored.get(f.key, ftype.empty_value(f))

    # maintained values (rollups) are the store's: kept as stored, and formulas may read them
    held = {f.key: stored.get(f.key, FIELD_TYPES[f.type].initial_value(f)) if not creating
            else FIELD_TYPES[f.type].initial_value(f) for f in entity.maintained_fields}

    # 3. visibility, judged on the tentative values and their formulas
    tentative_formulas = compute_formulas(entity, {**held, **tentative}, extra_vars)
    scope = {**held, **tentative, **tentative_formulas, **(extra_vars or {})}
    plain = conditions.plain_data(scope)          # converted once for every visible_if / required_if
    visible = {f.key: f.visible_if is None or conditions.truthy(f.visible_if, plain, plain=True) for f in writable}

    # 4. hidden fields keep what is stored; visible ones are checked
    data: dict[str, Any] = {}
    for f in writable:
        ftype = FIELD_TYPES[f.type]
        if not visible[f.key]:
            data[f.key] = stored.get(f.key, ftype.empty_value(f))
            if check_hidden and f.key in pending:
                problems.extend(pending[f.key])
            continue
        data[f.key] = tentative[f.key]
        if f.key in pending:
            problems.extend(pending[f.key])
        elif (f.required or f.required_if is not None or f.key in stage_required) and \
                ftype.is_empty(data[f.key]) and _required(f, plain, stage_required):
            problems.append(problem(f.key, "required", translate(lang, "This field is required.")))

    # 5. computed fields (step 3's, when no hidden field changed a value they could read)
    same = all(data[f.key] is tentative[f.key] for f in writable)
    data.update(held)
    data.update(tentative_formulas if same else compute_formulas(entity, data, extra_vars))
    for f in entity.fields:
        if f.type == "auto_number":
            data[f.key] = stored.get(f.key)
    for key, value in stored.items():      # archived fields keep their data
        data.setdefault(key, value)
    return data, problems


def _newly_retired(f: FieldDef, value: Any, stored: Any) -> list[str]:
    """Retired options `value` chooses that the stored value does not already hold."""
    if not f.retired_values:
        return []
    ftype = FIELD_TYPES[f.type]
    held = set(ftype.chosen_options(f, stored))
    return [v for v in ftype.chosen_options(f, value) if v in f.retired_values and v not in held]


def _required(f: FieldDef, plain: Mapping[str, Any], stage_required: Collection[str]) -> bool:
    if f.required or f.key in stage_required:
        return True
    return f.required_if is not None and conditions.truthy(f.required_if, plain, plain=True)
