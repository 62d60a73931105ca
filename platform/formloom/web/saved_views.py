"""Saved views on every list: tabs above the list, a form to save the current
filters, sort and columns under a name (shared with a role by app admins), and
delete. The rules are collab/views.py's; the list re-checks a view's query each
time it is applied."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qsl

from flask import Blueprint, redirect, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..collab.views import delete_view, kept_query, save_view, views_for
from ..store.query import parse_list_args
from .helpers import cached_url_for, current_actor, db, lang, load_entity, page_read

bp = Blueprint("saved_views", __name__)


@bp.app_template_global()
def views_panel(app, entity) -> dict:
    """What the list's view tabs and save form show (the list view passes it to the page as `vp`)."""
    actor = current_actor()
    current = kept_query(request.args.items(multi=True))
    list_url = cached_url_for("records.list_view", app_key=app.key, entity_key=entity.key)
    with page_read() as conn:
        views = views_for(conn, app, entity, actor)
    shown = [{"id": v.id, "name": v.name, "role": v.role, "url": f"{list_url}?{v.query}" if v.query else list_url,
              "current": v.query == current,
              "delete_url": (url_for("saved_views.remove", app_key=app.key, entity_key=entity.key, view_id=v.id)
                             if v.owner_id == actor.id or policy.is_app_admin(actor, app) else None)}
             for v in views]
    return {"views": shown, "all_url": list_url, "all_current": not current and not any(v["current"] for v in shown),
            "save_url": cached_url_for("saved_views.create", app_key=app.key, entity_key=entity.key), "query": current,
            "roles": list(app.roles) if policy.is_app_admin(actor, app) else []}


@bp.post("/apps/<app_key>/<entity_key>/views")
@login_required
def create(app_key: str, entity_key: str):
    place = load_entity(app_key, entity_key)
    actor, app, entity = current_actor(), place.app, place.entity
    query = request.form.get("query", "")
    visible = policy.visible_fields(actor, app, entity)
    args = MultiDict(parse_qsl(query))
    parse_list_args(entity, args, visible, getlist=args.getlist, lang=lang())     # refuses what the list would
    with db().write() as conn:
        view = save_view(conn, app, entity, actor, request.form.get("name", ""), query,
                         request.form.get("role") or None, datetime.now(timezone.utc), lang())
    target = url_for("records.list_view", app_key=app.key, entity_key=entity.key)
    return redirect(f"{target}?{view.query}" if view.query else target, 303)


@bp.post("/apps/<app_key>/<entity_key>/views/<int:view_id>/delete")
@login_required
def remove(app_key: str, entity_key: str, view_id: int):
    place = load_entity(app_key, entity_key)
    with db().write() as conn:
        delete_view(conn, place.app, place.entity, current_actor(), view_id, lang())
    return redirect(url_for("records.list_view", app_key=app_key, entity_key=entity_key), 303)
