"""Stored values as people read them: plain text from the field type, and
references and users resolved to titles and names in one query per page."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from flask import url_for
from sqlalchemy import Connection

from ..auth.users import user_names
from ..definitions.model import AppDef, FieldDef
from ..fields import field_type
from ..store.query import titles_for


@dataclass(frozen=True)
class Shown:
    """One value ready for a template: text, or links (references)."""

    text: str = ""
    links: tuple[tuple[str, str], ...] = ()     # (href, text)
    empty: bool = False


@dataclass
class Lookups:
    """Titles of referenced records and names of users, fetched once for a whole page."""

    titles: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def lookups_for(conn: Connection, app: AppDef, fields: Iterable[FieldDef],
                datas: Iterable[Mapping[str, Any]], extra_users: Iterable[int] = ()) -> Lookups:
    fields = [f for f in fields if f.type in ("reference", "user")]
    ref_ids: set[int] = set()
    user_ids: set[int] = set(i for i in extra_users if i is not None)
    for data in datas:
        for f in fields:
            (ref_ids if f.type == "reference" else user_ids).update(_ids(data.get(f.key)))
    return Lookups(titles_for(conn, app.key, ref_ids) if ref_ids else {},
                   user_names(conn, user_ids) if user_ids else {})


def show(app: AppDef, f: FieldDef, value: Any, lang: str, lookups: Lookups) -> Shown:
    ftype = field_type(f.type)
    if value is None or value == "" or value == [] or value == {}:
        return Shown(empty=True)
    if f.type == "reference":
        links = tuple((url_for("records.detail", app_key=app.key, entity_key=f.entity, record_id=i),
                       lookups.titles.get(i) or f"#{i}") for i in _ids(value))
        return Shown(links=links)
    if f.type == "user":
        return Shown(text=", ".join(lookups.names.get(i, f"#{i}") for i in _ids(value)))
    try:
        text = ftype.display(f, value, lang)
    except Exception:       # a value an older definition wrote: show it rather than fail the page
        text = str(value)
    return Shown(text=text) if text else Shown(empty=True)
