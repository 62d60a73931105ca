"""Stored values as people read them: plain text from the field type, and
references and users resolved to titles and names in one query per page."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from flask import url_for
from markupsafe import escape
from sqlalchemy import Connection

from ..auth.users import Actor, user_names
from ..definitions.model import AppDef, FieldDef
from ..fields import field_type
from ..store.query import titles_and_names
from .datetimes import format_value, reader_zone


def html_text(value: Any) -> str:
    """`str(escape(value))`, for the cells of a list page (some 300 escapes a page): markupsafe
    wraps each escaped text in a Markup object, which `str()` then copies back, and that cost
    five times the escaping itself. The same five replacements as markupsafe's, in its order
    (& first); anything but a plain str (Markup, numbers) goes through `escape` as before."""
    if type(value) is str:
        return (value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
                .replace("'", "&#39;").replace('"', "&#34;"))
    return str(escape(value))


@dataclass(frozen=True)
class Shown:
    """One value ready for a template: text, or links (references)."""

    text: str = ""
    links: tuple[tuple[str, str], ...] = ()     # (href, text); href "" for a record the viewer may not open
    empty: bool = False
    files: tuple[tuple[str, str, bool], ...] = ()     # (href, name, is an image): attachments
    thumbs: tuple[str, ...] = ()        # per file, its thumbnail's href ("" for a file that is no image)

    def __html__(self) -> str:
        """The same markup as the `value` macro in records/_macros.html, without a macro
        call per cell (`{{ shown }}` in a template)."""
        if self.empty:
            return '<span class="muted">—</span>'
        if self.files:
            thumbs = self.thumbs or ("",) * len(self.files)
            return "".join(_file_html(href, name, image, thumb)
                           for (href, name, image), thumb in zip(self.files, thumbs))
        if self.links:
            return ", ".join(f'<a href="{html_text(href)}">{html_text(text)}</a>' if href else html_text(text)
                             for href, text in self.links)
        return html_text(self.text)


#: One empty value for every empty cell: a Shown is frozen, so sharing it is safe.
EMPTY = Shown(empty=True)

_new_object = object.__new__


def _shown(text: str = "", links: tuple = (), files: tuple = (), thumbs: tuple = ()) -> Shown:
    """`Shown(text=..., links=..., files=..., thumbs=...)` for a value that is not empty, at a
    third of the cost: the frozen dataclass's `__init__` sets each field through
    `object.__setattr__`, and a list page shows some 200 values. The instance dict is filled
    in the order that `__init__` would, so equality, hashing and repr are the dataclass's own
    (tests/web/test_list_fast_paths.py holds them equal)."""
    shown = _new_object(Shown)
    values = shown.__dict__
    values["text"] = text
    values["links"] = links
    values["empty"] = False
    values["files"] = files
    values["thumbs"] = thumbs
    return shown


def _file_html(href: str, name: str, image: bool, thumb: str = "") -> str:
    """An image as its thumbnail (made at upload, files/thumbnails.py) linking to the
    full image, any other file as a link."""
    if image:
        return (f'<a class="file-thumb" href="{escape(href)}" target="_blank" rel="noopener">'
                f'<img src="{escape(thumb or href)}" alt="{escape(name)}" loading="lazy"></a>')
    return f'<a class="file-link" href="{escape(href)}" target="_blank" rel="noopener">{escape(name)}</a>'


_SENTINEL_ID = 987654321987


def detail_url_maker(app_key: str, entity_key: str) -> Callable[[int], str]:
    """A function record id -> the record's detail URL: url_for once, then string joins
    (a page of links costs one URL build instead of one per row, and that one is kept:
    helpers.cached_url_for)."""
    from .helpers import cached_url_for
    sample = cached_url_for("records.detail", app_key=app_key, entity_key=entity_key, record_id=_SENTINEL_ID)
    head, sep, tail = sample.rpartition(str(_SENTINEL_ID))
    if not sep or str(_SENTINEL_ID) in head or str(_SENTINEL_ID) in tail:
        return lambda record_id: url_for("records.detail", app_key=app_key, entity_key=entity_key,
                                         record_id=record_id)
    return lambda record_id: f"{head}{int(record_id)}{tail}"


def record_url(endpoint: str, record_id: int, id_name: str = "record_id", **values: Any) -> str:
    """`url_for(endpoint, **values, id_name=record_id)` for one record's page part (its activity,
    comments, stage move, a new related record naming it): built once per (endpoint, values)
    with a stand-in id and kept (helpers.cached_url_for), then the id is put in its place; a
    record page asks for half a dozen of these."""
    from .helpers import cached_url_for
    sample = cached_url_for(endpoint, **values, **{id_name: _SENTINEL_ID})
    head, sep, tail = sample.rpartition(str(_SENTINEL_ID))
    if not sep or str(_SENTINEL_ID) in head or str(_SENTINEL_ID) in tail:
        return url_for(endpoint, **values, **{id_name: record_id})
    return f"{head}{int(record_id)}{tail}"


@dataclass
class Lookups:
    """Titles of referenced records (by (entity key, id), only those the viewer may read)
    and names of users, fetched once for a whole page."""

    titles: dict[tuple[str, int], str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    urls: dict[tuple[str, str], Callable[[int], str]] = field(default_factory=dict)
    zones: dict[str, Any] = field(default_factory=dict)        # app key -> the reader's zone, once per page

    def zone(self, app: AppDef):
        found = self.zones.get(app.key)
        if found is None:
            found = self.zones[app.key] = reader_zone(app)
        return found

    def detail_url(self, app_key: str, entity_key: str, record_id: int) -> str:
        maker = self.urls.get((app_key, entity_key))
        if maker is None:
            maker = self.urls[(app_key, entity_key)] = detail_url_maker(app_key, entity_key)
        return maker(record_id)


#: a title not read (the viewer may not read the record): not None, which a title may be
_UNREADABLE = object()


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def lookups_for(conn: Connection, app: AppDef, fields: Iterable[FieldDef],
                datas: Iterable[Mapping[str, Any]], extra_users: Iterable[int] = (), *,
                actor: Actor | None) -> Lookups:
    """Titles come through `titles_by_entity`, scoped to `actor`: a reference to a record the
    viewer may not read shows its id, never its title."""
    return page_lookups(conn, app, [(fields, datas)], extra_users, actor=actor)


def page_lookups(conn: Connection, app: AppDef,
                 groups: Iterable[tuple[Iterable[FieldDef], Iterable[Mapping[str, Any]]]],
                 extra_users: Iterable[int] = (), *, actor: Actor | None,
                 known_names: Mapping[int, str] | None = None) -> Lookups:
    """One `Lookups` for values of several entities (a record, its related lists, its
    timeline): each group is (fields, values keyed by those fields' keys), and every title
    on the page is read in one query, every user name in another, or in the same one where
    `titles_and_names` can. `known_names`: names the page has already read in the same
    transaction (its timeline's entries carry their writers'), as `user_names` gives them;
    only the others are read, often none."""
    ref_ids: dict[str, set[int]] = {}
    user_ids: set[int] = set(i for i in extra_users if i is not None)
    for fields, datas in groups:
        fields = [f for f in fields if f.type in ("reference", "user")]
        if not fields:
            continue
        wanted = [(f.key, ref_ids.setdefault(f.entity or "", set()) if f.type == "reference" else user_ids)
                  for f in fields]
        for data in datas:
            for key, into in wanted:
                value = data.get(key)
                if type(value) is int:          # one id, the usual case: what _ids would answer
                    into.add(value)
                elif value is not None:
                    into.update(_ids(value))
    known_names = known_names or {}
    names = {i: known_names[i] for i in user_ids if i in known_names}
    missing = user_ids - names.keys()
    titles, read = titles_and_names(conn, app, actor, ref_ids, missing) if any(ref_ids.values()) else ({}, None)
    if read is not None:                # read with the titles, in one statement
        names.update(read)
    elif missing:
        names.update(user_names(conn, missing))
    return Lookups(titles, names)


def show(app: AppDef, f: FieldDef, value: Any, lang: str, lookups: Lookups) -> Shown:
    # `not value` first: "", [] and {} (and their subclasses) are the empty values, not 0 or False
    if value is None or (not value and isinstance(value, (str, list, dict))):
        return EMPTY
    kind = f.type
    if kind == "reference":
        # a record the viewer may not read has no title here, and no link: it would answer 404
        if type(value) is int:          # one reference, the usual case: what _ids would answer
            title = lookups.titles.get((f.entity, value), _UNREADABLE)
            return _shown(links=((lookups.detail_url(app.key, f.entity, value), title or f"#{value}")
                                 if title is not _UNREADABLE else ("", f"#{value}"),))
        links = tuple((lookups.detail_url(app.key, f.entity, i), lookups.titles[(f.entity, i)] or f"#{i}")
                      if (f.entity, i) in lookups.titles else ("", f"#{i}") for i in _ids(value))
        return _shown(links=links)
    ftype = field_type(kind)
    if kind == "user":
        return _shown(_user_names(value, lookups))
    if ftype.holds_files:
        items = [i for i in value if isinstance(i, dict) and isinstance(i.get("id"), str)]
        images = [f.type == "image" or str(i.get("type", "")).startswith("image/") for i in items]
        return _shown(files=tuple((url_for("files.serve", app_key=app.key, file_id=i["id"]), str(i.get("name", "")),
                                   image) for i, image in zip(items, images)),
                      thumbs=tuple(url_for("files.serve_thumbnail", app_key=app.key, file_id=i["id"]) if image else ""
                                   for i, image in zip(items, images)))
    text = _plain_text(app, f, ftype, value, lang, lookups)
    return _shown(text) if text else EMPTY


#: The markup of an empty value (`EMPTY.__html__()`).
EMPTY_HTML = EMPTY.__html__()


def cell_html(app: AppDef, f: FieldDef, value: Any, lang: str, lookups: Lookups) -> tuple[str, str]:
    """`(shown.text, shown.__html__())` of `shown = show(app, f, value, lang, lookups)`, for a
    list page's cells (some 250 a page, most of them distinct): the text and its markup
    without a `Shown` in between. One reference and the plain kinds (text, numbers, money,
    options, dates, users) are written here by `show`'s own steps; several references and
    files go through `show` itself. tests/web/test_list_fast_paths.py holds the two equal."""
    if value is None or (not value and isinstance(value, (str, list, dict))):
        return "", EMPTY_HTML
    kind = f.type
    if kind == "reference":
        if type(value) is int:
            title = lookups.titles.get((f.entity, value), _UNREADABLE)
            if title is _UNREADABLE:
                return "", html_text(f"#{value}")
            return "", (f'<a href="{html_text(lookups.detail_url(app.key, f.entity, value))}">'
                        f'{html_text(title or f"#{value}")}</a>')
    elif kind == "user":
        text = _user_names(value, lookups)
        return text, html_text(text)
    else:
        ftype = field_type(kind)
        if not ftype.holds_files:
            text = _plain_text(app, f, ftype, value, lang, lookups)
            return (text, html_text(text)) if text else ("", EMPTY_HTML)
    shown = show(app, f, value, lang, lookups)
    return shown.text, shown.__html__()


def _user_names(value: Any, lookups: Lookups) -> str:
    return ", ".join(lookups.names.get(i, f"#{i}") for i in _ids(value))


def _plain_text(app: AppDef, f: FieldDef, ftype: Any, value: Any, lang: str, lookups: Lookups) -> str:
    """The text of a value that is not empty and neither a reference, a user nor files."""
    kind = f.type
    if kind in ("date", "datetime"):
        text = format_value(kind, value, lang, lookups.zone(app))
        if text is not None:
            return text
    try:
        return ftype.display(f, value, lang)
    except Exception:       # a value an older definition wrote: show it rather than fail the page
        return str(value)
