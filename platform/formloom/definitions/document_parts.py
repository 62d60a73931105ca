"""Reading the parts of app and workflow documents without trusting their shape.

Each helper returns an empty answer where the document has the wrong shape:
the schema pass reports that, so the meaning checks can simply look past it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator


def indexed(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def indexed_dicts(value: Any) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in indexed(value) if isinstance(v, dict)]


def entities_of(app: dict | None) -> list[tuple[int, dict]]:
    return indexed_dicts(app.get("entities")) if isinstance(app, dict) else []


def entity_named(app: dict | None, key: Any) -> dict | None:
    return next((e for _, e in entities_of(app) if e.get("key") == key), None)


def fields_by_key(entity: dict | None) -> dict[str, dict]:
    if not isinstance(entity, dict):
        return {}
    return {f["key"]: f for _, f in indexed_dicts(entity.get("fields")) if isinstance(f.get("key"), str)}


def all_fields(entity: dict, path: tuple) -> Iterator[tuple[tuple, dict]]:
    """(path, field) for every field of an entity, subtable columns included."""
    for fi, f in indexed_dicts(entity.get("fields")):
        yield (*path, "fields", fi), f
        if f.get("type") == "subtable":
            for ci, column in indexed_dicts(f.get("columns")):
                yield (*path, "fields", fi, "columns", ci), column


def entity_keys_of(app: dict | None) -> list[str]:
    return [e["key"] for _, e in entities_of(app) if isinstance(e.get("key"), str)]


def roles_of(app: dict | None) -> list[str]:
    return [r for _, r in indexed(app.get("roles"))] if isinstance(app, dict) else []


def label_texts(label: Any) -> list[tuple[tuple, str]]:
    """(path suffix, text) for each language of a label."""
    if isinstance(label, str):
        return [((), label)]
    if isinstance(label, dict):
        return [((lang,), text) for lang, text in label.items() if isinstance(text, str)]
    return []


def stages_of(doc: dict) -> list[tuple[int, dict]]:
    return indexed_dicts(doc.get("stages"))


def rules_of(doc: dict) -> list[tuple[int, dict]]:
    return indexed_dicts(doc.get("rules"))


def stage_keys_of(doc: dict) -> list[str]:
    return [st["key"] for _, st in stages_of(doc) if isinstance(st.get("key"), str)]


def item_key(item: Any) -> Any:
    return item.get("key") if isinstance(item, dict) else None


def option_value(option: Any) -> Any:
    return option.get("value") if isinstance(option, dict) else option


def _repeats(items: list[tuple[int, Any]], key_of: Callable[[Any], Any],
             same: Callable[[str], str]) -> Iterator[tuple[int, str, int, str]]:
    """(index, key, first index, first key) for each text key that `same` maps to one seen before."""
    first: dict[str, tuple[int, str]] = {}
    for i, item in items:
        key = key_of(item)
        if not isinstance(key, str):
            continue
        if (norm := same(key)) in first:
            yield i, key, *first[norm]
        else:
            first[norm] = (i, key)


def repeated_keys(items: list[tuple[int, Any]], key_of: Callable[[Any], Any]) -> Iterator[tuple[int, Any, int]]:
    """(index, key, index of first occurrence) for each repeated key."""
    for i, key, first_index, _ in _repeats(items, key_of, str):
        yield i, key, first_index


def case_clashes(items: list[tuple[int, Any]], key_of: Callable[[Any], Any]) -> Iterator[tuple[int, str, str]]:
    """(index, key, earlier key) for each key that differs from an earlier one only in upper/lower case."""
    for i, key, _, other in _repeats(items, key_of, str.casefold):
        if other != key:
            yield i, key, other
