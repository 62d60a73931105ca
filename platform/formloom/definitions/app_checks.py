"""Meaning checks over app documents: keys, roles, references, field settings, conditions, formulas, calendar."""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterator

from formloom import formulas, patterns

from .document_parts import (all_fields, case_clashes, entities_of, entity_keys_of, fields_by_key, indexed,
                             indexed_dicts, item_key, option_value, repeated_keys, roles_of)
from .layout_checks import needs_asking
from .expression_checks import formula_problems, logic_problems
from ..fields import document_value_problem as value_problem
from ..fields.dates import DATE_PATTERN, parse_date as iso_date
from .model import RESERVED_FIELD_KEYS
from .problems import Problem
from .subject import Subject, for_kind
from .time_values import valid_zone
from .wording import did_you_mean, unknown


ISO_DATE = re.compile(DATE_PATTERN)
AUTO_NUMBER_TOKEN = re.compile(r"\{([^{}]*)\}")
AUTO_NUMBER_TOKENS = re.compile(r"^(YYYY|YY|MM|DD|seq:[1-9][0-9]?|seq)$")


@for_kind("app")
def unique_keys(s: Subject) -> Iterator[Problem]:
    """Entities, fields (and subtable columns) and options are named once each."""
    entities = indexed_dicts(s.doc.get("entities"))
    for i, key, first in repeated_keys(entities, item_key):
        yield s.problem("entities", i, "key", message=f"Entity key {key!r} is used twice (entities {first + 1} and {i + 1}).")
    for ei, entity in entities:
        yield from _unique_fields(s, entity.get("fields"), ("entities", ei, "fields"),
                                  f"entity {entity.get('key')!r}")


def _unique_fields(s: Subject, fields: Any, path: tuple, owner: str) -> Iterator[Problem]:
    items = indexed_dicts(fields)
    for i, key, first in repeated_keys(items, item_key):
        yield s.problem(*path, i, "key", message=f"Field key {key!r} is used twice in {owner} "
                                                 f"(fields {first + 1} and {i + 1}); each field needs its own key.")
    for i, key, other in case_clashes(items, item_key):
        yield s.problem(*path, i, "key", message=f"Field keys {other!r} and {key!r} in {owner} differ only in "
                                                 "upper/lower case; use clearly different keys.")
    for i, f in items:
        options = indexed(f.get("options"))
        for j, value, first in repeated_keys(options, option_value):
            yield s.problem(*path, i, "options", j, message=f"Field {f.get('key')!r} lists the option {value!r} "
                                                            f"twice (options {first + 1} and {j + 1}).")
        if f.get("type") == "subtable":
            yield from _unique_fields(s, f.get("columns"), (*path, i, "columns"), f"subtable {f.get('key')!r}")


@for_kind("app")
def reserved_keys(s: Subject) -> Iterator[Problem]:
    """Field keys do not take names the engine uses for record columns."""
    for ei, entity in entities_of(s.doc):
        for fi, f in indexed_dicts(entity.get("fields")):
            if f.get("key") in RESERVED_FIELD_KEYS:
                yield s.problem("entities", ei, "fields", fi, "key",
                                message=f"{f['key']!r} is a reserved name and cannot be a field key "
                                        f"(reserved: {', '.join(sorted(RESERVED_FIELD_KEYS))}); "
                                        f"choose another key, such as '{entity.get('key')}_{f['key']}', and keep the label you want.")


@for_kind("app")
def roles_declared(s: Subject) -> Iterator[Problem]:
    """Every role named anywhere in the app is one of its declared roles."""
    roles = roles_of(s.doc)
    admin = s.doc.get("admin_role", "admin")
    if isinstance(admin, str) and roles and admin not in roles:
        yield s.problem("admin_role" if "admin_role" in s.doc else "roles",
                        message=f"The admin role {admin!r} must be one of the app's roles ({', '.join(map(str, roles))}).")
    labels = s.doc.get("role_labels")
    for role in labels if isinstance(labels, dict) else ():
        if role not in roles:
            yield s.problem("role_labels", role,
                            message=f"A label is given to {unknown('the role', role, roles)}, which is not one of the app's roles.")
    for ei, entity in entities_of(s.doc):
        permissions = entity.get("permissions")
        for role in permissions if isinstance(permissions, dict) else ():
            if role not in roles:
                yield s.problem("entities", ei, "permissions", role,
                                message=f"Entity {entity.get('key')!r} gives permissions to "
                                        f"{unknown('the role', role, roles)}, which is not one of the app's roles.")
        for fi, f in indexed_dicts(entity.get("fields")):
            for which in ("hidden_for", "readonly_for"):
                for ri, role in indexed(f.get(which)):
                    if role not in roles:
                        yield s.problem("entities", ei, "fields", fi, which, ri,
                                        message=f"Field {f.get('key')!r} names {unknown('the role', role, roles)} in "
                                                f"{which!r}, which is not one of the app's roles.")


@for_kind("app")
def entity_references(s: Subject) -> Iterator[Problem]:
    """Title fields, list columns, reference targets and workflows all exist."""
    entity_keys = entity_keys_of(s.doc)
    for ei, entity in entities_of(s.doc):
        name = entity.get("key")
        fields = fields_by_key(entity)
        title = entity.get("title")
        if isinstance(title, str):
            if title not in fields:
                yield s.problem("entities", ei, "title",
                                message=f"The title field {title!r} is not a field of entity {name!r}"
                                        f"{did_you_mean(title, fields)}.")
            elif fields[title].get("type") in ("subtable", "checkbox"):
                yield s.problem("entities", ei, "title",
                                message=f"The title field {title!r} of entity {name!r} is a {fields[title]['type']}; "
                                        "choose a field with a short text value, such as a name.")
        for ci, column in indexed(entity.get("list_columns")):
            if column not in fields:
                yield s.problem("entities", ei, "list_columns", ci,
                                message=f"The list column {column!r} is not a field of entity {name!r}"
                                        f"{did_you_mean(column, fields)}.")
        yield from _hidden_on_create_problems(s, ei, entity, fields)
        workflow = entity.get("workflow")
        if isinstance(workflow, str) and workflow not in s.workflows:
            yield s.problem("entities", ei, "workflow",
                            message=f"Entity {name!r} uses the workflow {workflow!r}, but no workflow document with "
                                    f"that key was found (it is looked for as workflows/{workflow}.json next to "
                                    "app.json, then in the project's workflows folder).")
        for path, f in all_fields(entity, ("entities", ei)):
            if f.get("type") == "reference" and isinstance(f.get("entity"), str) and f["entity"] not in entity_keys:
                yield s.problem(*path, "entity",
                                message=f"Field {f.get('key')!r} refers to "
                                        f"{unknown('the entity', f['entity'], entity_keys)}, which this app does not have.")


def _hidden_on_create_problems(s: Subject, ei: int, entity: dict, fields: dict) -> Iterator[Problem]:
    """Each key is a field, and none is required without a default (a new record could
    never be saved from a form that does not ask for it)."""
    name = entity.get("key")
    for hi, key in indexed(entity.get("hidden_on_create")):
        f = fields.get(key)
        if f is None:
            yield s.problem("entities", ei, "hidden_on_create", hi,
                            message=f"The field {key!r} hidden on the new-record form is not a field of entity "
                                    f"{name!r}{did_you_mean(key, fields)}.")
        elif needs_asking(f):
            yield s.problem("entities", ei, "hidden_on_create", hi,
                            message=f"The field {key!r} of entity {name!r} is required and has no default, so a "
                                    "new record could never be saved from a form that leaves it out; give it a "
                                    "default or remove it from hidden_on_create.")


@for_kind("app")
def field_settings(s: Subject) -> Iterator[Problem]:
    """min <= max, valid dates and defaults, usable patterns and number formats."""
    for ei, entity in entities_of(s.doc):
        for path, f in all_fields(entity, ("entities", ei)):
            yield from _field_setting_problems(s, f, path)


def _field_setting_problems(s: Subject, f: dict, path: tuple) -> Iterator[Problem]:
    key, kind = f.get("key"), f.get("type")
    low, high = f.get("min"), f.get("max")
    if kind == "percent":
        low, high = (0 if low is None else low), (100 if high is None else high)
    if kind == "date":
        for which in ("min", "max"):
            if isinstance(f.get(which), str) and iso_date(f[which]) is None:
                yield s.problem(*path, which, message=f"Field {key!r} has {which} {f[which]!r}, which is not a real "
                                                      "date (write it YYYY-MM-DD).")
        low, high = iso_date(low), iso_date(high)
    if _comparable(low, high) and low > high:
        yield s.problem(*path, "min", message=f"Field {key!r} has min {_plain(low)} greater than max {_plain(high)}.")
    rows_low, rows_high = f.get("min_rows"), f.get("max_rows")
    if _comparable(rows_low, rows_high) and rows_low > rows_high:
        yield s.problem(*path, "min_rows", message=f"Subtable {key!r} has min_rows {rows_low} greater than "
                                                   f"max_rows {rows_high}.")
    if kind == "multiselect" and isinstance(high, int) and isinstance(f.get("options"), list) \
            and high > len(f["options"]):
        yield s.problem(*path, "max", message=f"Field {key!r} allows choosing up to {high} options but has only "
                                              f"{len(f['options'])}.")
    yield from _retired_option_problems(s, f, path)
    if isinstance(f.get("pattern"), str) and (why := patterns.check_pattern(f["pattern"])):
        yield s.problem(*path, "pattern", message=f"The pattern of field {key!r} {why}.")
    if kind == "auto_number" and isinstance(f.get("format"), str):
        yield from _auto_number_problems(s, f, path)
    if "default" in f and f["default"] is not None and not (kind == "datetime" and f["default"] == "now"):
        if (why := value_problem(f, f["default"])) is not None:
            also = ' (or "now": the moment the record is created)' if kind == "datetime" else ""
            yield s.problem(*path, "default", message=f"The default of field {key!r} {why}{also}.")


def _retired_option_problems(s: Subject, f: dict, path: tuple) -> Iterator[Problem]:
    """A default is never a retired option, and a required choice keeps one option to choose."""
    options = [o for _, o in indexed(f.get("options"))]
    retired = {option_value(o) for o in options if isinstance(o, dict) and o.get("retired") is True}
    if not retired:
        return
    key = f.get("key")
    chosen = f.get("default") if isinstance(f.get("default"), list) else [f.get("default")]
    for value in chosen:
        if value in retired:
            yield s.problem(*path, "default", message=f"The default of field {key!r} is the option {value!r}, "
                                                      "which is retired; choose an option still offered.")
    if f.get("required") is True and retired >= {option_value(o) for o in options}:
        yield s.problem(*path, "options", message=f"Every option of the required field {key!r} is retired, so no "
                                                  "new record could be saved; keep at least one option offered.")


def _auto_number_problems(s: Subject, f: dict, path: tuple) -> Iterator[Problem]:
    tokens = AUTO_NUMBER_TOKEN.findall(f["format"])
    for token in tokens:
        if not AUTO_NUMBER_TOKENS.match(token):
            yield s.problem(*path, "format", message=f"The number format of field {f.get('key')!r} uses "
                                                     f"{{{token}}}, which is not a known part (use {{YYYY}} {{YY}} "
                                                     "{MM} {DD} and {seq:N}).")
    if not any(t.startswith("seq") for t in tokens):
        yield s.problem(*path, "format", message=f"The number format of field {f.get('key')!r} has no {{seq:N}} part, "
                                                 "so two records could get the same number; add one, e.g. {seq:4}.")


def _comparable(low: Any, high: Any) -> bool:
    numbers = (int, float)
    if isinstance(low, bool) or isinstance(high, bool):
        return False
    return (isinstance(low, numbers) and isinstance(high, numbers)) or (
        isinstance(low, date) and isinstance(high, date))


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


@for_kind("app")
def field_conditions(s: Subject) -> Iterator[Problem]:
    """visible_if and required_if use allowed operators and this entity's fields."""
    for ei, entity in entities_of(s.doc):
        known = list(fields_by_key(entity))
        for path, f in all_fields(entity, ("entities", ei)):
            for which in ("visible_if", "required_if"):
                if which in f:
                    yield from logic_problems(s, f[which], known, (*path, which),
                                               f"the condition {which!r} of field {f.get('key')!r}")


@for_kind("app")
def formulas_resolve(s: Subject) -> Iterator[Problem]:
    """Formulas parse, name only this entity's fields, and do not depend on themselves."""
    for ei, entity in entities_of(s.doc):
        fields = fields_by_key(entity)
        deps: dict[str, set[str]] = {}
        for fi, f in indexed_dicts(entity.get("fields")):
            if f.get("type") != "formula" or not isinstance(f.get("formula"), str):
                continue
            path = ("entities", ei, "fields", fi, "formula")
            parsed, found = formula_problems(s, f["formula"], fields, path, f"The formula of field {f.get('key')!r}")
            yield from found
            if parsed is not None and isinstance(f.get("key"), str):
                deps[f["key"]] = {v for v in parsed.variables if fields.get(v, {}).get("type") == "formula"}
        for cycle in formulas.find_cycles(deps):
            fi = next(i for i, f in indexed_dicts(entity.get("fields")) if f.get("key") == cycle[0])
            yield s.problem("entities", ei, "fields", fi, "formula",
                            message=f"Formula fields depend on each other in a circle ({' -> '.join(cycle)}), "
                                    "so none of them can be computed.")


@for_kind("app")
def app_calendar(s: Subject) -> Iterator[Problem]:
    """The timezone is a real IANA zone and holidays are real dates."""
    zone = s.doc.get("timezone")
    if isinstance(zone, str) and not valid_zone(zone):
        yield s.problem("timezone", message=f"{zone!r} is not a known time zone; use an IANA name such as "
                                            "'Asia/Shanghai' or 'Europe/Berlin'.")
    for hi, day in indexed(s.doc.get("holidays")):
        if isinstance(day, str) and ISO_DATE.match(day) and iso_date(day) is None:
            yield s.problem("holidays", hi, message=f"The holiday {day!r} is not a real date.")


@for_kind("app")
def permission_conditions(s: Subject) -> Iterator[Problem]:
    """A role's `read_if` is a condition the database can answer too (store.logic_sql),
    over this entity's fields and its workflow's stages, and widens a role that already
    reads something (`read` own or team), so every screen that asks "may this role read
    this entity at all?" keeps its one simple answer."""
    from formloom.store import logic_sql
    for ei, entity in entities_of(s.doc):
        permissions = entity.get("permissions")
        fields = fields_by_key(entity)
        workflow = s.workflows.get(entity.get("workflow")) if isinstance(entity.get("workflow"), str) else None
        stages = ([st.get("key") for _i, st in indexed_dicts(workflow.get("stages"))]
                  if isinstance(workflow, dict) else None)
        for role, grant in (permissions.items() if isinstance(permissions, dict) else ()):
            if not isinstance(grant, dict) or "read_if" not in grant:
                continue
            path = ("entities", ei, "permissions", role, "read_if")
            what = f"the condition 'read_if' of role {role!r} on entity {entity.get('key')!r}"
            if grant.get("read", "none") in ("none", "all"):
                yield s.problem(*path, message=f"Role {role!r} has 'read_if' on entity {entity.get('key')!r} but "
                                               f"'read' is {grant.get('read', 'none')!r}; 'read_if' widens a role "
                                               "that reads its own or its team's records, so set 'read' to "
                                               "'own' or 'team' (or drop 'read_if').")
                continue
            found = list(logic_problems(s, grant["read_if"], list(fields), path, what))
            found += [s.problem(*path, message=f"{what[0].upper()}{what[1:]} {sentence}.")
                      for sentence in logic_sql.problems(grant["read_if"], fields)]
            yield from found[:1] if found else _stage_problems(s, grant["read_if"], stages, path, what)


def _stage_problems(s: Subject, logic: Any, stages: list | None, path: tuple, what: str) -> Iterator[Problem]:
    """`$stage` compared with a key its workflow does not have would silently match nothing."""
    if isinstance(logic, dict):
        for op, args in logic.items():
            parts = args if isinstance(args, list) else [args]
            if op in ("==", "!=", "in") and {"var": "$stage"} in parts:
                wanted = [p for p in parts if p != {"var": "$stage"}]
                wanted = wanted[0] if op == "in" and wanted and isinstance(wanted[0], list) else wanted
                for key in wanted:
                    if stages is None:
                        yield s.problem(*path, message=f"{what[0].upper()}{what[1:]} uses $stage, but the entity "
                                                       "has no workflow.")
                    elif key not in stages:
                        yield s.problem(*path, message=f"{what[0].upper()}{what[1:]} compares $stage with "
                                                       f"{unknown('the stage', key, stages)}, which its workflow "
                                                       "does not have.")
            else:
                for part in parts:
                    yield from _stage_problems(s, part, stages, path, what)
#: Field types whose values a reference `match` may compare (the same type on both sides).
MATCHABLE_TYPES = frozenset({"reference", "user", "select", "text", "email", "phone", "number", "checkbox", "date"})


@for_kind("app")
def reference_matches(s: Subject) -> Iterator[Problem]:
    """A reference's `match` pairs a field of the referenced entity with a field of this form
    holding the same kind of value; an entity's `subtitle` is one of its fields."""
    entities = {e.get("key"): e for _, e in entities_of(s.doc)}
    for ei, entity in entities_of(s.doc):
        own = fields_by_key(entity)
        subtitle = entity.get("subtitle")
        if isinstance(subtitle, str) and subtitle not in own:
            yield s.problem("entities", ei, "subtitle", message=f"The subtitle of entity {entity.get('key')!r} is "
                                                               f"{unknown('the field', subtitle, own)}, which it does not have.")
        for fi, f in indexed_dicts(entity.get("fields")):
            if f.get("type") != "reference" or not isinstance(f.get("match"), dict):
                continue
            target = entities.get(f.get("entity"))
            if target is None:
                continue         # entity_references reports the unknown entity
            theirs = fields_by_key(target)
            for their_key, own_key in f["match"].items():
                path = ("entities", ei, "fields", fi, "match", their_key)
                yield from _match_problems(s, f, target.get("key"), theirs, own, their_key, own_key, path)


def _match_problems(s: Subject, f: dict, target_key: Any, theirs: dict, own: dict, their_key: str, own_key: Any,
                    path: tuple) -> Iterator[Problem]:
    name = f.get("key")
    if their_key not in theirs:
        yield s.problem(*path, message=f"Field {name!r} matches {unknown('the field', their_key, theirs)} of entity "
                                       f"{target_key!r}, which that entity does not have.")
        return
    if own_key not in own or own_key == name:
        yield s.problem(*path, message=f"Field {name!r} matches {their_key!r} with "
                                       f"{unknown('the field', own_key, [k for k in own if k != name])} of this "
                                       "entity, which it does not have (a field of the same form is needed).")
        return
    mine, other = own[own_key], theirs[their_key]
    if mine.get("type") != other.get("type") or mine.get("type") not in MATCHABLE_TYPES \
            or (mine.get("type") == "reference" and mine.get("entity") != other.get("entity")):
        yield s.problem(*path, message=f"Field {name!r} matches {their_key!r} of entity {target_key!r} (a "
                                       f"{_kind(other)} field) with {own_key!r} (a {_kind(mine)} field); both must "
                                       "hold the same kind of value, such as references to the same entity.")
    elif mine.get("multiple"):
        yield s.problem(*path, message=f"Field {name!r} matches with {own_key!r}, which holds several values; "
                                       "match with a field that holds one.")


def _kind(f: dict) -> str:
    if f.get("type") == "reference":
        return f"reference to {f.get('entity')!r}"
    return str(f.get("type"))


@for_kind("app")
def pools_and_calendars(s: Subject) -> Iterator[Problem]:
    """A pool names roles of the app and stages of the entity's workflow; calendar fields
    are date or date-time fields of the entity."""
    roles = roles_of(s.doc)
    for ei, entity in entities_of(s.doc):
        name = entity.get("key")
        fields = fields_by_key(entity)
        pool = entity.get("pool")
        if isinstance(pool, dict):
            grants = entity.get("permissions") if isinstance(entity.get("permissions"), dict) else {}
            for ri, role in indexed(pool.get("roles")):
                if isinstance(role, str) and role not in roles:
                    yield s.problem("entities", ei, "pool", "roles", ri,
                                    message=f"The pool of entity {name!r} names "
                                            f"{unknown('the role', role, roles)}, which this app does not have.")
                elif (isinstance(role, str) and role != s.doc.get("admin_role", "admin")
                      and (grants.get(role) or {}).get("read", "none") == "none"):
                    yield s.problem("entities", ei, "pool", "roles", ri,
                                    message=f"Role {role!r} may claim from the pool of entity {name!r} but reads "
                                            "none of its records, so it could never open what it claims; give it "
                                            "'read': 'own' (or wider) in the entity's permissions.")
            workflow = s.workflows.get(entity.get("workflow")) if isinstance(entity.get("workflow"), str) else None
            stages = [st.get("key") for _, st in indexed_dicts((workflow or {}).get("stages"))]
            for key in ("claim_stage", "return_stage"):
                stage = pool.get(key)
                if isinstance(stage, str) and stage not in stages:
                    yield s.problem("entities", ei, "pool", key,
                                    message=f"The pool's {key} {stage!r} is not a stage of the workflow of entity "
                                            f"{name!r}" + (f"{did_you_mean(stage, stages)}." if stages
                                                           else ", which has no workflow."))
        for ci, key in indexed(entity.get("calendar_fields")):
            f = fields.get(key)
            if f is None:
                yield s.problem("entities", ei, "calendar_fields", ci,
                                message=f"The calendar field {key!r} is not a field of entity {name!r}"
                                        f"{did_you_mean(key, fields)}.")
            elif f.get("type") not in ("date", "datetime"):
                yield s.problem("entities", ei, "calendar_fields", ci,
                                message=f"The calendar field {key!r} of entity {name!r} is a {f.get('type')}; "
                                        "only date and date-time fields can be shown on a calendar.")
        for si, key in indexed(entity.get("search_fields")):
            f = fields.get(key)
            if f is None:
                yield s.problem("entities", ei, "search_fields", si,
                                message=f"The search field {key!r} is not a field of entity {name!r}"
                                        f"{did_you_mean(key, fields)}.")
            elif not _searchable_type(f.get("type")):
                yield s.problem("entities", ei, "search_fields", si,
                                message=f"The search field {key!r} of entity {name!r} is a {f.get('type')}; "
                                        "search finds records by text fields only (text, textarea, email, phone, "
                                        "url).")


def _searchable_type(name: Any) -> bool:
    from ..fields import FIELD_TYPES
    return isinstance(name, str) and name in FIELD_TYPES and FIELD_TYPES[name].searchable
