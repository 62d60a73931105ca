"""Comments on the record page: write (with files attached, if any), edit and delete
one's own (for a while), and the @mention picker, which offers only people who may
read the record.

The rules are collab/comments.py's (through policy.can_comment); here a post
answers with the activity fragment for htmx, or a redirect back to the record.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from ..automation.settings import Settings
from ..store.uploads import UploadRefused
from ..collab.comments import CommentInvalid, add_comment, delete_comment, edit_comment, mentionable
from .activity import timeline_view
from .files import comment_uploads, discard
from .helpers import current_actor, db, is_fragment_request, lang, load_entity
from .params import int_arg

bp = Blueprint("comments", __name__)
BASE = "/apps/<app_key>/<entity_key>/<int:record_id>/comments"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _base_url() -> str:
    return Settings.from_mapping(current_app.config).base_url or request.host_url.rstrip("/")


def _answer(place, record_id: int, status: int = 200, **extra):
    """The activity fragment (htmx) or the record page, after a comment was written or refused."""
    from .records import detail, readable_record
    if not is_fragment_request():
        if status == 200:
            return redirect(url_for("records.detail", app_key=place.app.key, entity_key=place.entity.key,
                                    record_id=record_id) + "#activity")
        g.comment_form = extra
        return detail(place.app.key, place.entity.key, record_id), status
    with db().read() as conn:
        record = readable_record(place, record_id, conn)
        view = timeline_view(conn, place.app, place.entity, record)
    view.update(extra)
    return render_template("records/_activity.html", app=place.app, activity=view), status


@bp.post(BASE)
@login_required
def create(app_key: str, entity_key: str, record_id: int):
    from .records import readable_record
    place = load_entity(app_key, entity_key)
    text = request.form.get("body", "")
    try:
        with db().write() as conn:
            record = readable_record(place, record_id, conn)
            attached = comment_uploads(conn, place.app.key, place.entity, record)
            try:
                add_comment(conn, place.app, place.entity, record, current_actor(), text, _now(),
                            base_url=_base_url(), lang=lang(), attached=attached)
            except CommentInvalid:
                discard(conn, [v["id"] for v in attached])
                raise
    except CommentInvalid as invalid:
        return _answer(place, record_id, 422, comment_error=invalid.message, comment_draft=text)
    except UploadRefused as refused:
        return _answer(place, record_id, 422, comment_error=refused.problem.message, comment_draft=text)
    return _answer(place, record_id)


@bp.post(BASE + "/<int:comment_id>/edit")
@login_required
def edit(app_key: str, entity_key: str, record_id: int, comment_id: int):
    from .records import readable_record
    place = load_entity(app_key, entity_key)
    text = request.form.get("body", "")
    try:
        with db().write() as conn:
            record = readable_record(place, record_id, conn)
            edit_comment(conn, place.app, place.entity, record, current_actor(), comment_id, text, _now(),
                         lang=lang())
    except CommentInvalid as invalid:
        return _answer(place, record_id, 422, comment_error=invalid.message)
    return _answer(place, record_id)


@bp.post(BASE + "/<int:comment_id>/delete")
@login_required
def remove(app_key: str, entity_key: str, record_id: int, comment_id: int):
    from .records import readable_record
    place = load_entity(app_key, entity_key)
    with db().write() as conn:
        record = readable_record(place, record_id, conn)
        delete_comment(conn, place.app, place.entity, record, current_actor(), comment_id, _now(), lang=lang())
    return _answer(place, record_id)


@bp.get("/apps/<app_key>/<entity_key>/<int:record_id>/mentionable")
@login_required
def people(app_key: str, entity_key: str, record_id: int):
    """Who may be @mentioned here: readers of the record only, by name or email."""
    from .records import readable_record
    place = load_entity(app_key, entity_key)
    limit = int_arg("limit", 8, high=20)
    with db().read() as conn:
        record = readable_record(place, record_id, conn)
        found = mentionable(conn, place.app, place.entity, record, request.args.get("q", "")[:100], limit=limit)
    return jsonify({"people": [{"id": p.id, "name": p.name or p.email} for p in found
                               if p.id != current_actor().id]})
