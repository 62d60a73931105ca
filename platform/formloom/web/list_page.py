"""The list page, rendered once per (app version, entity, language, script root, and what the
reader's permissions put in its head and views panel) and kept as a stencil
(web/stencils.py) whose holes are the parts each request writes its own way.

Most of records/list.html and base.html is the same for every request of a key: the head's
links and buttons, the search box, the views and export panels' texts, the stylesheet and
scripts. Rendering it through Jinja cost as much as reading the page's records (some forty
translated texts, a dozen links). The parts that do change — CSRF tokens, the top bar, the
saved-view tabs, the request's arguments, the panels, filter chips, bulk bar and the rows —
are blocks of those templates; records/_list_stencil.html overrides each with a hole, so
the set of holes is that template's set of blocks. A request renders only those blocks,
with the page's own context, into the stencil: the markup has one home (the templates) and
the page is the one `render_template` writes (tests/web/test_list_page.py compares them).

What the rest of the page follows from is the key: the app's content hash (labels, fields,
workflow, roles), the entity, the language, the script root, and from the reader only
whether they may create records, their pool link and the roles they may share a view
with. Anything else the page shows must be in a hole.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from jinja2 import Template
from markupsafe import Markup

from .helpers import lang
from .pools import pool_url
from .stencils import Stencil, hole, kept_stencil

PAGE = "records/list.html"
STENCIL = "records/_list_stencil.html"
#: Where a hole's block is looked up, the page first: what it overrides of its base wins.
CHAIN = (PAGE, "base.html")


class StencilMismatch(RuntimeError):
    """The stencil template's holes are not one per block it overrides (a misnamed hole)."""


def list_page(context: dict[str, Any]) -> Markup:
    """The full list page for `context` (what `render_template(PAGE, **context)` is given)."""
    app, entity, vp = context["app"], context["entity"], context["vp"]
    env = current_app.jinja_env
    values = dict(context)
    current_app.update_template_context(values)
    key = (app.key, app.content_hash, entity.key, lang(), request.script_root,
           bool(context["can_create"]), pool_url(app, entity), tuple(vp["roles"]))
    stencil = kept_stencil("list_page", key, lambda: _render_stencil(env.get_template(STENCIL), values))
    templates = [env.get_template(name) for name in CHAIN]
    page = templates[0].new_context(values)

    def block(name: str) -> str:
        for template in templates:
            render = template.blocks.get(name)
            if render is not None:
                return "".join(render(page))
        raise StencilMismatch(f"no block {name!r} in {CHAIN}")
    return stencil.fill(block)


def _render_stencil(template: Template, values: dict[str, Any]) -> str:
    markup = template.render({**values, "hole": hole})
    made = Stencil(markup)
    if sorted(made.holes) != sorted(template.blocks):
        raise StencilMismatch(f"{STENCIL} writes holes {sorted(made.holes)} for blocks {sorted(template.blocks)}")
    return markup

