"""The top bar, rendered once per (reader, language, menu, links and counts) and kept.

Every page has it, and rendering it through Jinja (a dozen URL builds and translations,
the language switch, the bell) cost about as much as the rest of a small page. What it
shows depends only on the values in `_inputs` (each one worked out per request, as
before: the counts are read every time); the only parts that differ between two
requests with the same inputs are the CSRF token and the current path, which are put
into the kept HTML per request.
"""
from __future__ import annotations

import re

from flask import current_app, g, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .bar_counts import bar_counts
from .helpers import current_actor, lang, page_read

#: Distinct top bars kept per process (one per reader and count, at most).
TOP_BAR_CACHE_SIZE = 2_000
_CSRF = "csrf0fl0top0bar0token"          # placeholders that no escaping changes
_NEXT = "next0fl0top0bar0path"
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._\-]+")


def _inputs(actor) -> dict:
    """Everything _top_bar.html reads apart from the token and the path."""
    if actor is None:
        return {"actor": None}
    env = current_app.jinja_env.globals
    automation_url = env["automation_admin_url"]()
    menu = env["nav_menu"]()
    with page_read() as conn:                   # both counts in one statement (web/bar_counts.py)
        approvals, bell = bar_counts(conn, actor, g._get_current_object())    # read with the user, if it was
    return {"actor": actor, "menu": menu, "automation_url": automation_url,
            "team_url": None if automation_url else env["automation_team_url"](),
            "approvals_count": approvals, "bell_count": bell,
            "user_admin": env["user_admin_allowed"]()}


def top_bar() -> Markup:
    actor = current_actor()
    values = _inputs(actor)
    token, path = generate_csrf(), request.full_path.rstrip("?")
    if not _SAFE_TOKEN.fullmatch(token):         # never expected: then render it as it is, uncached
        return Markup(render_template("_top_bar.html", csrf=token, next_path=path, **values))
    key = (lang(), request.script_root,
           None if actor is None else (actor.id, actor.display_name),
           *(values[k] for k in sorted(values) if k != "actor"))
    cache = current_app.extensions.setdefault("formloom.top_bar", {})
    kept = cache.get(key)
    if kept is None:
        kept = render_template("_top_bar.html", csrf=_CSRF, next_path=_NEXT, **values)
        if g.get("_formloom_nav_incomplete"):      # a piece failed (database away): not kept
            return Markup(kept.replace(_CSRF, token).replace(_NEXT, str(escape(path))))
        if len(cache) >= TOP_BAR_CACHE_SIZE:
            cache.clear()
        cache[key] = kept
    return Markup(kept.replace(_CSRF, token).replace(_NEXT, str(escape(path))))
