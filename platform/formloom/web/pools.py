"""The pool of an entity on screen and in the API: the list of unowned records its
roles may claim, the Claim and Return-to-pool buttons on the record page, and
GET .../pool, POST .../<id>/claim, POST .../<id>/return in the JSON API.

The rules are collab/pools.py's; here the loser of a race reads who won, on the
pool page, in their language, and a return without a reason is sent back with
the reason box marked.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import policy
from ..auth.users import reports_of
from ..collab.pools import (REASON_MAX, AlreadyClaimed, PoolLimitReached, ReturnReasonMissing, claim, give_back,
                            held, pool_page)
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError, NotFoundError
from ..store.records import Record
from . import api
from .display import lookups_for, show
from .helpers import Place, current_actor, db, label, lang, load_app
from .params import int_arg

bp = Blueprint("pools", __name__)
api_bp = Blueprint("pools_api", __name__)
RECORD = "/apps/<app_key>/<entity_key>/<int:record_id>"
MAX_QUERY = 200


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _place(app_key: str, entity_key: str) -> Place:
    """The entity, when the actor may see its pool; 404 for everyone else (nothing revealed)."""
    place = load_app(app_key)
    entity = place.app.entity(entity_key)
    if entity is None or not policy.sees_pool(current_actor(), place.app, entity):
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key))
    return Place(place.app, place.version_id, entity)


@bp.record_once
def _template_globals(state) -> None:
    state.app.jinja_env.globals["pool_panel"] = pool_panel
    state.app.jinja_env.globals["pool_url"] = pool_url


def pool_url(app: AppDef, entity: EntityDef) -> str | None:
    """The entity's pool page, for those who may see it (the list's Pool button)."""
    if not policy.sees_pool(current_actor(), app, entity):
        return None
    return url_for("pools.pool_list", app_key=app.key, entity_key=entity.key)


def pool_panel(app: AppDef, entity: EntityDef, record: Record, can_update: bool) -> dict | None:
    """What the record page's pool box shows: Claim for an unowned record, Return (with a
    reason) for its owner or whoever may update it. None for an entity without a pool."""
    actor = current_actor()
    if entity.pool is None or actor is None:
        return None
    urls = dict(app_key=app.key, entity_key=entity.key, record_id=record.id)
    if record.owner_id is None:
        if not policy.sees_pool(actor, app, entity):
            return None
        return {"claim_url": url_for("pools.claim_record", **urls), "in_pool": True,
                "error": g.get("pool_error")}
    if not can_update:
        return None
    return {"return_url": url_for("pools.return_record", **urls), "in_pool": False,
            "error": g.get("pool_error"), "draft": g.get("pool_draft", "")}


@bp.get("/apps/<app_key>/<entity_key>/pool")
@login_required
def pool_list(app_key: str, entity_key: str, status: int = 200, message: FormloomError | None = None):
    place = _place(app_key, entity_key)
    app, entity, actor = place.app, place.entity, current_actor()
    q = request.args.get("q", "")[:MAX_QUERY]
    offset = int_arg("offset", 0, low=0, high=10**9)
    columns = [f for f in policy.visible_fields(actor, app, entity) if f.key in entity.default_columns]
    with db().read() as conn:
        page = pool_page(conn, app, entity, actor, q=q, offset=offset)
        lookups = lookups_for(conn, app, columns, [r.data for r in page.items], actor=actor)
        in_hand = held(conn, app, entity, actor.id)
    code = lang()
    rows = [{"record": r, "cells": [show(app, f, r.data.get(f.key), code, lookups) for f in columns],
             "url": url_for("records.detail", app_key=app.key, entity_key=entity.key, record_id=r.id),
             "claim_url": url_for("pools.claim_record", app_key=app.key, entity_key=entity.key, record_id=r.id)}
            for r in page.items]
    more = (url_for("pools.pool_list", app_key=app.key, entity_key=entity.key, offset=page.offset + page.limit,
                    q=q or None) if page.has_more else None)
    return render_template("records/pool.html", app=app, entity=entity, rows=rows, columns=columns,
                           column_labels=[label(f.label) for f in columns], q=q, page=page, more=more,
                           held=in_hand, limit=entity.pool.limit, message=message), status


@bp.post(RECORD + "/claim")
@login_required
def claim_record(app_key: str, entity_key: str, record_id: int):
    place = _place(app_key, entity_key)
    try:
        with db().write() as conn:
            claim(conn, place.app, place.entity, api.checked_id(record_id), current_actor(), now=_now(), lang=lang())
    except (AlreadyClaimed, PoolLimitReached) as refused:
        return pool_list(app_key, entity_key, status=409, message=refused)
    return redirect(url_for("records.detail", app_key=app_key, entity_key=entity_key, record_id=record_id))


@bp.post(RECORD + "/return")
@login_required
def return_record(app_key: str, entity_key: str, record_id: int):
    from .helpers import load_entity
    from .records import detail
    place = load_entity(app_key, entity_key)
    if place.entity.pool is None:
        abort(404)
    reason = request.form.get("reason", "")
    try:
        with db().write() as conn:
            give_back(conn, place.app, place.entity, api.checked_id(record_id), current_actor(), reason, now=_now(), lang=lang(),
                      team_of=lambda uid: reports_of(conn, uid))
    except ReturnReasonMissing as missing:
        g.pool_error, g.pool_draft = missing.message, reason
        return detail(app_key, entity_key, record_id), 422
    if policy.sees_pool(current_actor(), place.app, place.entity):
        return redirect(url_for("pools.pool_list", app_key=app_key, entity_key=entity_key))
    return redirect(url_for("records.list_view", app_key=app_key, entity_key=entity_key))


# -- the API --------------------------------------------------------------------------

api_bp.before_request(api.authenticate)
api_bp.register_error_handler(api.Unauthorized, api._unauthorized)
api_bp.register_error_handler(api.ConflictError, api._conflict)


@api_bp.errorhandler(ReturnReasonMissing)
def _reason_missing(error: ReturnReasonMissing):
    return api.missing_reason(error, "/reason")


def _api_place(app_key: str, entity_key: str) -> tuple[AppDef, EntityDef]:
    app, _version_id, entity = api.place(app_key, entity_key)
    if not policy.sees_pool(api.actor(), app, entity):
        raise NotFoundError(_("There is no %(key)s here.", key=entity_key))
    return app, entity


@api_bp.get("/api/v1/<app_key>/<entity_key>/pool")
def api_pool(app_key: str, entity_key: str):
    app, entity = _api_place(app_key, entity_key)
    unknown = sorted(set(request.args) - {"q", "limit", "offset"})
    if unknown:
        raise FormloomError(_("%(name)s is not a parameter here.", name=unknown[0][:50]),
                            hint=_("Use q, limit and offset."))
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY:
        raise FormloomError(_("%(name)s is too long (at most %(max)s characters).", name="q", max=MAX_QUERY))
    limit = int_arg("limit", 50, high=200)
    offset = int_arg("offset", 0, low=0, high=10**9)
    with db().read() as conn:
        page = pool_page(conn, app, entity, api.actor(), q=q, limit=limit, offset=offset)
        in_hand = held(conn, app, entity, api.actor().id)
    return jsonify({"items": [api.record_json(app, entity, r) for r in page.items], "limit": page.limit,
                    "offset": page.offset, "has_more": page.has_more,
                    "next_offset": page.offset + page.limit if page.has_more else None,
                    "held": in_hand, "max_held": entity.pool.limit})


@api_bp.post("/api/v1/<app_key>/<entity_key>/<int:record_id>/claim")
def api_claim(app_key: str, entity_key: str, record_id: int):
    app, entity = _api_place(app_key, entity_key)
    with db().write() as conn:
        record = claim(conn, app, entity, api.checked_id(record_id), api.actor(), now=_now(), lang=lang())
    return api.record_response(app, entity, record)


@api_bp.post("/api/v1/<app_key>/<entity_key>/<int:record_id>/return")
def api_return(app_key: str, entity_key: str, record_id: int):
    app, _version_id, entity = api.place(app_key, entity_key)
    if entity.pool is None:
        raise NotFoundError(_("There is no such record."))
    body = api.json_body(("reason",))
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise FormloomError(_("reason must be text."), hint=_("Say why the record goes back to the pool."))
    if len(reason) > REASON_MAX:
        raise FormloomError(_("%(name)s is too long (at most %(max)s characters).", name="reason", max=REASON_MAX))
    with db().write() as conn:
        record = give_back(conn, app, entity, api.checked_id(record_id), api.actor(), reason, now=_now(),
                           lang=lang(), team_of=api.team_of(conn))
    return api.record_response(app, entity, record)
