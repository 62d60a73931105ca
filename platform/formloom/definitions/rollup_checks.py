"""Meaning checks of rollup fields: what they read exists, points the right way and fits the function."""
from __future__ import annotations

from typing import Any, Iterator

from .document_parts import entities_of, entity_keys_of, entity_named, fields_by_key, indexed_dicts
from .problems import Problem
from .subject import Subject, for_kind
from .wording import did_you_mean, unknown

#: which field types each function can roll up (count reads none); mirrors fields/rollup.py
_FITS = {"sum": ("number", "money", "percent", "rating", "formula"),
         "min": ("number", "money", "percent", "rating", "formula", "date", "datetime"),
         "max": ("number", "money", "percent", "rating", "formula", "date", "datetime"),
         "latest": ("number", "money", "percent", "rating", "formula", "date", "datetime", "text", "select",
                    "email", "phone", "url", "checkbox", "user", "reference")}
_WHAT = {"sum": "sum", "min": "take the minimum of", "max": "take the maximum of", "latest": "take the latest"}


@for_kind("app")
def rollups_resolve(s: Subject) -> Iterator[Problem]:
    """A rollup's related entity exists, its `via` is that entity's single reference to this
    entity, its field fits its function, its condition is one the database can answer on the
    related entity's fields, and its window is measured on a date or date-time field."""
    entity_keys = entity_keys_of(s.doc)
    for ei, entity in entities_of(s.doc):
        for fi, f in indexed_dicts(entity.get("fields")):
            if f.get("type") == "rollup":
                yield from _rollup_problems(s, entity, f, ("entities", ei, "fields", fi), entity_keys)


def _rollup_problems(s: Subject, entity: dict, f: dict, path: tuple, entity_keys: list) -> Iterator[Problem]:
    key, here = f.get("key"), entity.get("key")
    source_key = f.get("source")
    source = entity_named(s.doc, source_key) if isinstance(source_key, str) else None
    if source is None:
        if isinstance(source_key, str):
            yield s.problem(*path, "source", message=f"Rollup {key!r} reads "
                                                     f"{unknown('the entity', source_key, entity_keys)}, "
                                                     "which this app does not have.")
        return
    fields = fields_by_key(source)
    via_key = f.get("via")
    via = fields.get(via_key) if isinstance(via_key, str) else None
    if isinstance(via_key, str) and via is None:
        yield s.problem(*path, "via", message=f"Rollup {key!r} goes through {via_key!r}, which is not a field of "
                                              f"entity {source_key!r}{did_you_mean(via_key, fields)}.")
    elif via is not None and (via.get("type") != "reference" or via.get("entity") != here or via.get("multiple")):
        yield s.problem(*path, "via", message=f"Rollup {key!r} goes through {source_key}.{via_key}, which is not a "
                                              f"single reference to entity {here!r}; choose a reference field of "
                                              f"{source_key!r} that points at {here!r}.")
    function = f.get("function")
    rolled_key = f.get("field")
    if function == "count":
        pass
    elif not isinstance(rolled_key, str):
        if function in _FITS:
            yield s.problem(*path, message=f"Rollup {key!r} needs a 'field' of entity {source_key!r} to "
                                           f"{_WHAT[function]}.")
    elif rolled_key not in fields:
        yield s.problem(*path, "field", message=f"Rollup {key!r} reads {rolled_key!r}, which is not a field of "
                                                f"entity {source_key!r}{did_you_mean(rolled_key, fields)}.")
    elif function in _FITS and fields[rolled_key].get("type") not in _FITS[function]:
        yield s.problem(*path, "field", message=f"Rollup {key!r} cannot {_WHAT[function]} {rolled_key!r}, a "
                                                f"{fields[rolled_key].get('type')} field; it works on "
                                                f"{', '.join(_FITS[function])} fields.")
    if "where" in f:
        yield from _where_problems(s, f.get("where"), fields, (*path, "where"), key)
    window = f.get("window")
    if isinstance(window, dict) and isinstance(window.get("field"), str):
        wkey = window["field"]
        if wkey not in fields:
            yield s.problem(*path, "window", "field",
                            message=f"The window of rollup {key!r} is measured on {wkey!r}, which is not a field of "
                                    f"entity {source_key!r}{did_you_mean(wkey, fields)}.")
        elif fields[wkey].get("type") not in ("date", "datetime"):
            yield s.problem(*path, "window", "field",
                            message=f"The window of rollup {key!r} is measured on {wkey!r}, a "
                                    f"{fields[wkey].get('type')} field; choose a date or date-time field.")


def _where_problems(s: Subject, logic: Any, fields: dict, path: tuple, key: Any) -> Iterator[Problem]:
    from ..store import logic_sql        # the same subset the store compiles, checked with the same words
    for name in _names(logic):
        if name.startswith("$"):
            yield s.problem(*path, message=f"The condition of rollup {key!r} uses {name!r}; a rollup's condition "
                                           "can only use the related entity's fields.")
            return
    for sentence in logic_sql.problems(logic, fields):
        sentence = sentence.replace("a permission", "a rollup's condition").replace(
            "comparing a field or $stage with", "comparing a field of the related entity with")
        yield s.problem(*path, message=f"The condition of rollup {key!r} {sentence}.")


def _names(logic: Any) -> Iterator[str]:
    if isinstance(logic, dict):
        if set(logic) == {"var"}:
            var = logic["var"]
            name = var[0] if isinstance(var, list) and var else var
            if isinstance(name, str):
                yield name
            return
        for value in logic.values():
            yield from _names(value)
    elif isinstance(logic, list):
        for value in logic:
            yield from _names(value)
