"""In-app notifications: the bell in the top bar (its unread count refreshed by
htmx polling), the notification list with links to records, mark read / mark
all read, and `GET /api/v1/notifications` for the user of a Bearer token.

A person only ever sees their own notifications: every query is by the
actor's id, and a mark-read of someone else's notification changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import bindparam, select

from ..automation import mark_all_read, mark_read, notifications_for, unread_count
from ..ids import parse_int
from ..store.tables import notifications, records
from . import api
from .helpers import current_actor, db, is_fragment_request, local_time, page_read, public_url, safe_next
from .params import int_arg

bp = Blueprint("notifications", __name__)
api_bp = Blueprint("notifications_api", __name__)

PAGE_SIZE = 50
API_MAX = 200
BELL_CAP = 100          # the bell shows 99+ beyond this


@bp.before_request
@login_required
def _require_login():
    return None


@bp.app_template_global()
def unread_notifications() -> int:
    """The actor's unread count, for the bell in base.html (0 when nobody is logged in)."""
    actor = current_actor()
    if actor is None:
        return 0
    with page_read() as conn:
        return unread_capped(conn, actor.id)


@bp.app_template_global()
def latest_notifications(limit: int = 5) -> list[dict]:
    """The actor's newest notifications, for the app home: what the bell holds, at a glance."""
    actor = current_actor()
    if actor is None:
        return []
    with db().read() as conn:
        return _with_links(conn, notifications_for(conn, actor.id, limit))


def unread_capped(conn, user_id: int, cap: int = BELL_CAP) -> int:
    """The unread count up to `cap` (the bell shows "99+"): a bounded index scan on every page,
    never a full count."""
    return len(conn.execute(_UNREAD, {"user_id": user_id, "cap": cap}).all())


#: Built once: the bell asks on every page.
_UNREAD = (select(notifications.c.id).where(notifications.c.user_id == bindparam("user_id"),
                                            notifications.c.read_at.is_(None)).limit(bindparam("cap")))


# -- pieces ------------------------------------------------------------------------

def _entity_keys(conn, record_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """record id -> (app key, entity key), for links to the records notifications are about."""
    ids = sorted({i for i in record_ids if i is not None})
    if not ids:
        return {}
    rows = conn.execute(select(records.c.id, records.c.app_key, records.c.entity_key)
                        .where(records.c.id.in_(ids)))
    return {r.id: (r.app_key, r.entity_key) for r in rows}


def _with_links(conn, items: list[dict]) -> list[dict]:
    places = _entity_keys(conn, (n["record_id"] for n in items))
    for n in items:
        place = places.get(n["record_id"])
        n["url"] = (url_for("records.detail", app_key=place[0], entity_key=place[1], record_id=n["record_id"])
                    if place else None)
    return items


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _ids(values: Iterable[str]) -> list[int]:
    return [n for n in (parse_int(v) for v in values) if n is not None][:1000]


def _back():
    target = safe_next(request.form.get("next"), url_for("notifications.index"))
    if is_fragment_request():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


# -- pages ---------------------------------------------------------------------------

@bp.get("/notifications")
def index():
    actor = current_actor()
    unread_only = request.args.get("unread") == "1"
    before_id = int_arg("before")
    with db().read() as conn:
        items = notifications_for(conn, actor.id, PAGE_SIZE + 1, unread_only=unread_only, before_id=before_id)
        more = len(items) > PAGE_SIZE
        items = _with_links(conn, items[:PAGE_SIZE])
        unread = unread_count(conn, actor.id)
    for n in items:
        n["when"] = local_time(n["created_at"])
    older = url_for("notifications.index", before=items[-1]["id"], unread="1" if unread_only else None) \
        if more and items else None
    return render_template("notifications/index.html", items=items, unread=unread, unread_only=unread_only,
                           older=older)


@bp.get("/notifications/bell")
def bell():
    """The bell alone: what the top bar polls every 30 seconds."""
    return render_template("notifications/_bell.html")


@bp.post("/notifications/read")
def read():
    actor = current_actor()
    ids = _ids(request.form.getlist("id"))
    if ids:
        with db().write() as conn:
            mark_read(conn, actor.id, ids)
    return _back()


@bp.post("/notifications/read-all")
def read_all():
    actor = current_actor()
    with db().write() as conn:
        mark_all_read(conn, actor.id)
    return _back()


# -- API -------------------------------------------------------------------------------

# The records API's own authentication (web/api.py): a Bearer token, or a logged-in session;
# 401 with WWW-Authenticate otherwise. The request then acts as the token's user.
api_bp.before_request(api.authenticate)
api_bp.register_error_handler(api.Unauthorized, api._unauthorized)


@api_bp.get("/api/v1/notifications")
def api_list():
    """The token's (or the logged-in) user's notifications, newest first.

    Query: `unread=1` for unread ones only, `limit` (1..200, default 50), `before` (an id, for the next page).
    """
    actor = current_actor()
    limit = int_arg("limit", PAGE_SIZE, low=1, high=API_MAX)
    before_id = int_arg("before")
    with db().read() as conn:
        items = _with_links(conn, notifications_for(conn, actor.id, limit, unread_only=request.args.get("unread") == "1",
                                                    before_id=before_id))
        unread = unread_count(conn, actor.id)
    data = [{"id": n["id"], "app": n["app_key"], "record_id": n["record_id"], "subject": n["subject"],
             "body": n["body"], "url": public_url(n["url"]) if n["url"] else None,
             "created_at": _iso(n["created_at"]), "read_at": _iso(n["read_at"]), "read": n["read_at"] is not None,
             "demo": n.get("demo", False)}
            for n in items]
    return jsonify({"data": data, "unread": unread,
                    "next_before": data[-1]["id"] if len(data) == limit else None})
