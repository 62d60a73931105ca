"""The top bar's apps menu, rendered once per reader's roles, installed app versions and
language, not on every page.

The menu (each app's entities, boards, dashboards and the Design entry) is a function of
exactly those: who may read which entity and see which dashboard follows from the roles
and the app's definition version, and the labels from the language. Building it on every
page (a policy check and two URL builds per entity, a dashboards read per app) was a
noticeable share of every page. The counts next to it (approvals, bell) stay per request.
"""
from __future__ import annotations

from flask import current_app, g, render_template, request
from markupsafe import Markup

from .helpers import catalog, current_actor, lang

#: Distinct menus kept per process (readers with the same roles share one).
NAV_CACHE_SIZE = 2_000


def nav_menu() -> Markup:
    """The apps menu for the current reader (empty when nobody is logged in)."""
    actor = current_actor()
    if actor is None:
        return Markup("")
    apps = catalog().installed()
    key = (actor.is_superuser, tuple(sorted((k, tuple(sorted(v))) for k, v in actor.roles.items())),
           tuple((a.key, a.content_hash) for a in apps), lang(), request.script_root)
    cache = current_app.extensions.setdefault("formloom.nav_menu", {})
    found = cache.get(key)
    if found is None:
        found = Markup(render_template("_nav_menu.html"))
        if g.get("_formloom_nav_incomplete"):      # a piece failed (database away): not kept
            return found
        if len(cache) >= NAV_CACHE_SIZE:
            cache.clear()
        cache[key] = found
    return found
