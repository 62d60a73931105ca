"""The head of a list's table (records/_rows_head.html), rendered once per (app version,
entity, language, script root, columns, sort, whether the page offers bulk actions, owner
and stage columns) and kept as a stencil (web/stencils.py) whose holes are its sort links.

The head is the same for every request of a key but its links, which carry the request's
own filters and search: rendering it through Jinja (a translated label and a sort test per
column) cost more than writing a page's fifty rows. The stencil is that template rendered
with a hole for each link (`sort_link`), named by the sort the link asks for; a request
writes each link with `url_with`, escaped as the template escapes it. Rendered in full (the
htmx fragment without `rows_head`, the tests), the template writes the links itself.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import render_template, request
from markupsafe import Markup

from .display import html_text
from .helpers import lang, url_with
from .stencils import hole, kept_stencil

HEAD = "records/_rows_head.html"


def sort_link(sort: str) -> str:
    """The current list's URL sorted by `sort`, from its first page (the head's links)."""
    return url_with(sort=sort, offset=None)


def _sort_hole(sort: str) -> Markup:
    return hole("sort:" + sort.encode("utf-8").hex())


def _filled(name: str) -> str:
    kind, _sep, value = name.partition(":")
    if kind != "sort":
        raise ValueError(f"{HEAD} has a hole {name!r} that is no sort link")
    return html_text(sort_link(bytes.fromhex(value).decode("utf-8")))


class RowsHead:
    """`rows_head(bulk)` for records/_rows.html: the head of one page's table (the page's
    context: its app, entity, columns, sort, owner column and workflow)."""

    def __init__(self, context: Mapping[str, Any]):
        self.context = context

    def __call__(self, bulk: Any) -> Markup:
        context = self.context
        app, entity, workflow = context["app"], context["entity"], context["workflow"]
        key = (app.key, app.content_hash, entity.key, lang(), request.script_root,
               tuple(f.key for f in context["columns"]), context["sort"], bool(bulk),
               bool(context["show_owner"]), bool(workflow and workflow.stages))
        stencil = kept_stencil("rows_head", key, lambda: render_template(
            HEAD, **{**context, "bulk": bulk, "sort_link": _sort_hole}))
        return stencil.fill(_filled)
