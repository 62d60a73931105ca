"""Comments in the JSON API: POST /api/v1/<app>/<entity>/<id>/comments (JSON, or multipart
with files attached), PATCH and DELETE .../comments/<cid>.

The rules are the record page's (collab/comments.py through the one policy): a record or
comment one may not read answers 404 like an unknown one, only readers can be mentioned
(an id of anyone else refuses the whole comment with 422), the author edits within the
same window, and a delete leaves the same trace. Files go through the same checks and
limits as on the page (web/files.py). An app admin may also delete others' comments.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from ..automation.settings import Settings
from ..collab.comments import (MAX_LENGTH, Comment, CommentInvalid, MentionRefused, add_comment, delete_comment, edit_comment)
from ..errors import FormloomError, NotFoundError, RecordInvalid
from ..store import files as stored_files
from ..store.uploads import UploadRefused
from . import api
from .files import comment_uploads, discard
from .helpers import db, lang

bp = Blueprint("api_comments", __name__, url_prefix="/api/v1")
bp.before_request(api.authenticate)                # the records API's token or session, CSRF and error shapes
bp.register_error_handler(api.Unauthorized, api._unauthorized)
bp.register_error_handler(RecordInvalid, api._invalid)

BASE = "/<app_key>/<entity_key>/<int:record_id>/comments"
MAX_MENTIONS = 50


@bp.errorhandler(CommentInvalid)
def _comment_invalid(error: CommentInvalid):
    return api.missing_reason(error, "/body")


@bp.errorhandler(MentionRefused)
def _mention_refused(error: MentionRefused):
    return api.missing_reason(error, "/mentions")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _base_url() -> str:
    return Settings.from_mapping(current_app.config).base_url or request.host_url.rstrip("/")


def _mention_ids(values: list) -> list[int]:
    """User ids, whole numbers only (JSON numbers, or digits in a multipart part)."""
    if len(values) > MAX_MENTIONS:
        raise FormloomError(_("mentions can list at most %(max)s users.", max=MAX_MENTIONS))
    ids = []
    for value in values:
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 16:
            value = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            value = int(value)                     # 3.0 is the whole number 3, as in JSON Schema
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= api.MAX_ID:
            raise FormloomError(_("mentions must be a list of user ids."))
        ids.append(value)
    return ids


def _text(text: str) -> str:
    """The text as sent is held to the published maxLength (what the page stores is cleaned:
    trimmed, without control characters, so a longer text could otherwise slip in)."""
    if len(text) > MAX_LENGTH:
        raise CommentInvalid(_("A comment can be at most %(max)s characters (this one has %(n)s).",
                               max=MAX_LENGTH, n=len(text)))
    return text


def _posted() -> tuple[str, list[int], bool]:
    """The text, the ids mentioned, and whether files may come with it (multipart only)."""
    if request.mimetype == "multipart/form-data":
        unknown = sorted(set(request.form) - {"body", "mentions"} | set(request.files) - {"files"})
        if unknown:
            raise FormloomError(_("Unknown key %(key)s in the body.", key=repr(unknown[0])[:80]),
                                hint=_("Allowed keys: %(keys)s.", keys="body, mentions, files"))
        api._refuse_bad_text(request.form.items(multi=True))
        return _text(request.form.get("body", "")), _mention_ids(request.form.getlist("mentions")), True
    body = api.json_body(("body", "mentions"))
    text = body.get("body", "")
    if not isinstance(text, str):
        raise FormloomError(_("body must be text."))
    mentions = body.get("mentions", [])
    if not isinstance(mentions, list):
        raise FormloomError(_("mentions must be a list of user ids."))
    return _text(text), _mention_ids(mentions), False


def comment_json(conn, comment: Comment) -> dict:
    carried = stored_files.comment_files(conn, [comment.id]).get(comment.id, ())
    return {"id": comment.id, "record_id": comment.record_id, "author": comment.author_id, "body": comment.body,
            "mentions": comment.mentions, "created_at": comment.created_at.isoformat(),
            "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
            "files": [{"id": v["id"], "name": v["name"], "size": v["size"], "type": v["type"]} for v in carried]}


def _no_comment() -> NotFoundError:
    return NotFoundError(_("There is no such comment."))


@bp.post(BASE)
def create(app_key: str, entity_key: str, record_id: int):
    app, _version_id, entity = api.place(app_key, entity_key)
    text, mentions, multipart = _posted()
    with db().write() as conn:
        record = api.readable(conn, app, entity, record_id)
        try:
            attached = comment_uploads(conn, app.key, entity, record) if multipart else []
        except UploadRefused as refused:
            raise RecordInvalid([refused.problem]) from None
        try:
            comment = add_comment(conn, app, entity, record, api.actor(), text, _now(), base_url=_base_url(),
                                  lang=lang(), attached=attached, also_mention=mentions)
        except (CommentInvalid, MentionRefused):
            discard(conn, [v["id"] for v in attached])
            raise
        answer = comment_json(conn, comment)
    return jsonify(answer), 201


@bp.patch(BASE + "/<int:comment_id>")
def change(app_key: str, entity_key: str, record_id: int, comment_id: int):
    app, _version_id, entity = api.place(app_key, entity_key)
    body = api.json_body(("body",))
    text = body.get("body")
    if not isinstance(text, str):
        raise FormloomError(_("Send the new text as \"body\"."))
    _text(text)
    if comment_id > api.MAX_ID:
        raise _no_comment()
    with db().write() as conn:
        record = api.readable(conn, app, entity, record_id)
        comment = edit_comment(conn, app, entity, record, api.actor(), comment_id, text, _now(), lang=lang())
        answer = comment_json(conn, comment)
    return jsonify(answer)


@bp.delete(BASE + "/<int:comment_id>")
def remove(app_key: str, entity_key: str, record_id: int, comment_id: int):
    app, _version_id, entity = api.place(app_key, entity_key)
    if comment_id > api.MAX_ID:
        raise _no_comment()
    with db().write() as conn:
        record = api.readable(conn, app, entity, record_id)
        delete_comment(conn, app, entity, record, api.actor(), comment_id, _now(), lang=lang())
    return "", 204

