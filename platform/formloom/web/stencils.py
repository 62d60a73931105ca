"""Stencils: markup rendered once with holes where each request writes its own part, kept
per process under a key that names everything the rest of the markup follows from.

The list page's panels (web/list_panels.py) and the list page itself (web/list_page.py)
are kept this way: rendering them costs as much as reading the records, and between two
requests of the same app version, entity and language only a few places change. A key
holds the app's content hash, so a published change makes a new key: nothing is
invalidated by hand.
"""
from __future__ import annotations

import re
from typing import Callable, Hashable, Mapping

from flask import current_app
from markupsafe import Markup

#: Distinct stencils kept per process and kind (a kind's stencils are dropped together
#: past this, then made again as requests ask).
STENCIL_CACHE_SIZE = 2_000

#: A hole in a stencil. Only template text can write it: a label or value with "<" in it
#: is escaped on its way into the markup, so no data can open or fake a hole.
_HOLE = re.compile(r"<!--hole:([a-z0-9_:]+)-->")


def hole(name: str) -> Markup:
    return Markup(f"<!--hole:{name}-->")


class Stencil:
    """Rendered markup cut at its holes: filling it is one join."""

    def __init__(self, markup: str):
        parts = _HOLE.split(markup)
        self.texts = parts[0::2]
        self.holes = parts[1::2]

    def fill(self, values: Mapping[str, str] | Callable[[str], str]) -> Markup:
        get = values if callable(values) else values.get
        out = [self.texts[0]]
        for name, text in zip(self.holes, self.texts[1:]):
            out.append(get(name) or "")
            out.append(text)
        return Markup("".join(out))


def kept_stencil(kind: str, key: Hashable, render: Callable[[], str]) -> Stencil:
    """The stencil of `kind` kept under `key`, rendered (by `render`) the first time it is asked."""
    cache = current_app.extensions.setdefault(f"formloom.stencils.{kind}", {})
    found = cache.get(key)
    if found is None:
        found = Stencil(render())
        if len(cache) >= STENCIL_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found
