"""The list page's "Add a filter" and "Columns" panels, rendered once per (app version,
entity, language, the reader's visible fields) and kept as stencils with holes for what
each request changes (its hidden query arguments, which columns are ticked).

Both panels are a field-by-field walk of the entity (every filterable field with its
operators, every option of every select, a picker per reference, a checkbox per field):
on a list of fifty rows they cost as much to render as the rows. What they show follows
from exactly the parts of the key: the fields the reader may see follow from the roles
and the app's definition, the labels from the language. A published change gives the app
a new content hash, so a new key: nothing is invalidated by hand.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

from flask import render_template, request
from markupsafe import Markup, escape

from ..definitions.model import AppDef, EntityDef, FieldDef
from .stencils import Stencil, hole, kept_stencil


def hidden_inputs(exclude: Sequence[str] = ()) -> Markup:
    """The request's query arguments as hidden inputs (what the `hidden_args` macro writes;
    a template global too: a macro import costs a module look-up per render)."""
    return Markup("".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
                          for name, value in request.args.items(multi=True) if name not in exclude))


def _stencil(kind: str, app: AppDef, entity: EntityDef, visible: Iterable[FieldDef], lang: str,
             render: Callable[[], str]) -> Stencil:
    key = (app.key, app.content_hash, entity.key, lang, tuple(f.key for f in visible), request.script_root)
    return kept_stencil(f"list_{kind}_panel", key, render)


def filter_panel(app: AppDef, entity: EntityDef, visible: Sequence[FieldDef], lang: str, *,
                 filterable: list, stages: list, op_labels: Mapping[str, str], owner_column: str) -> Markup:
    """The "Add a filter" panel (records/_filter_panel.html, which the board renders directly)."""
    stencil = _stencil("filter", app, entity, visible, lang, lambda: render_template(
        "records/_filter_panel.html", app=app, entity=entity, filterable=filterable, stages=stages,
        op_labels=op_labels, owner_column=owner_column, hidden_args=lambda exclude=(): hole("hidden")))
    hidden = hidden_inputs(("offset",))
    return stencil.fill(lambda name: hidden if name == "hidden" else "")


def columns_panel(app: AppDef, entity: EntityDef, visible: Sequence[FieldDef], lang: str, *,
                  chosen: Iterable[str], owner_column: str) -> Markup:
    """The "Columns" panel: a checkbox per visible field and the owner, ticked as the list shows."""
    stencil = _stencil("columns", app, entity, visible, lang, lambda: render_template(
        "records/_columns_panel.html", all_fields=visible, owner_column=owner_column, hole=hole,
        hidden_args=lambda exclude=(): hole("hidden")))
    ticked = {f"checked:{key}" for key in chosen}
    hidden = hidden_inputs(("cols", "offset"))

    def value(name: str) -> str:
        if name == "hidden":
            return hidden
        return "checked" if name in ticked else ""
    return stencil.fill(value)
