"""Attachments on the web: uploads from the record form, the API and comments, and
serving a file (or its thumbnail) only to someone who may read its record and its
field, or its record and its (undeleted) comment.

A file is served with the content type its sniffed content earned at upload (never
the browser's claim), `nosniff`, a Content-Security-Policy that sandboxes all but PDFs, and as an
attachment unless it is an image or a PDF. An upload not yet on a record is its
uploader's alone. Any other file id, whether unknown or not readable, answers the
same 404, so ids cannot be probed.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..auth.users import reports_of
from ..definitions.model import EntityDef
from ..errors import ForbiddenError, FormloomError, NotFoundError, RecordInvalid
from ..fields import field_type
from ..files.sniff import INLINE_TYPES
from ..files.storage import Storage, StorageUnavailable, is_file_id, storage_from_config
from ..files.sniff import sniff
from ..store.uploads import (COMMENT_FIELD, MAX_COMMENT_FILES, UploadRefused, comment_limits,
                             comment_upload_limit, take_file, take_upload, upload_limit)
from ..store import files as stored_files
from ..store.records import Record, get_record
from ..store.tables import comments
from . import api
from .helpers import catalog, current_actor, db, lang, load_app

bp = Blueprint("files", __name__)
api_bp = Blueprint("api_files", __name__, url_prefix="/api/v1")
api_bp.before_request(api.authenticate)
api_bp.register_error_handler(api.Unauthorized, api._unauthorized)
api_bp.register_error_handler(RecordInvalid, api._invalid)

UPLOAD_SUFFIX = "__upload"      # the form's <input type=file> for field `key` is `key__upload`
KNOWN_TYPES = INLINE_TYPES | {"application/zip", "application/msword", "application/vnd.ms-excel",
                              "text/plain; charset=utf-8", "text/csv; charset=utf-8"}


@bp.app_errorhandler(StorageUnavailable)
def _storage_unavailable(error: StorageUnavailable):
    """The files' storage is out of reach: 503 with a retry, as for a database outage."""
    from .errors import RETRY_AFTER_SECONDS, _http_texts, error_response
    current_app.logger.error("file storage unavailable on %s %s: %s", request.method, request.path, error)
    message, hint = _http_texts(503)
    response = error_response(503, "unavailable", message, hint)
    response = current_app.make_response(response)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def storage() -> Storage:
    found = current_app.extensions.get("formloom.files")
    if found is None:
        found = current_app.extensions["formloom.files"] = storage_from_config(current_app.config)
    return found


def file_fields(entity: EntityDef, keys) -> list:
    return [f for f in entity.fields if field_type(f.type).holds_files and f.key in keys]


#: the routes that take uploads: their body may be as large as the entity's file fields allow
UPLOAD_ENDPOINTS = frozenset({"records.new", "records.edit", "api_files.api_upload"})
#: the routes that take a comment's attachments
COMMENT_UPLOAD_ENDPOINTS = frozenset({"comments.create"})


@bp.app_url_value_preprocessor
def _allow_upload_size(endpoint: str | None, values: dict | None) -> None:
    """Raise the body limit of a signed-in person's post to a form with file fields. This runs
    before any before_request function, so before the CSRF check reads the body."""
    if request.method != "POST" or endpoint not in UPLOAD_ENDPOINTS | COMMENT_UPLOAD_ENDPOINTS or not values:
        return
    if current_actor() is None and "Authorization" not in request.headers:
        return
    if endpoint in COMMENT_UPLOAD_ENDPOINTS:
        request.max_content_length = comment_upload_limit(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        return
    app_key = values.get("app_key", "")
    if not api.KEY.match(app_key):           # not an app's key (NUL and all): nothing to look up
        return
    try:
        app, _version = catalog().get(app_key)
    except FormloomError:
        return
    entity = app.entity(values.get("entity_key", ""))
    if entity is not None and any(field_type(f.type).holds_files for f in entity.fields):
        request.max_content_length = upload_limit(entity, current_app.config.get("MAX_CONTENT_LENGTH") or 0)


def form_with_uploads(entity: EntityDef, writable) -> tuple[MultiDict, list]:
    """The posted form with each new upload added to its field's values (as the stored
    value), and the problems of the uploads refused. Files of fields the writer may not
    change are ignored."""
    formdata = MultiDict(request.form)
    problems = []
    fields = file_fields(entity, writable)
    if not fields:
        return formdata, problems
    actor = current_actor()
    with db().write() as conn:
        for f in fields:
            for upload in request.files.getlist(f.key + UPLOAD_SUFFIX):
                if not upload or not upload.filename:
                    continue
                try:
                    value = take_upload(conn, storage(), entity_app_key(), entity, f, upload.filename,
                                        upload.stream, actor.id, lang())
                except UploadRefused as refused:
                    problems.append(refused.problem)
                    continue
                formdata.add(f.key, json.dumps(value))
    return formdata, problems


def comment_uploads(conn, app_key: str, entity: EntityDef, record: Record) -> list[dict]:
    """Check and store the files posted with a comment (the multipart parts "files") for
    `record`; their stored values, or UploadRefused for the first refused one (nothing
    then stays stored)."""
    uploads = [u for u in request.files.getlist("files") if u and u.filename]
    if len(uploads) > MAX_COMMENT_FILES:
        from ..fields import FieldProblem
        raise UploadRefused(FieldProblem("files", "/files", "too_many_files", _(
            "A comment can carry at most %(max)s files (%(n)s were sent).", max=MAX_COMMENT_FILES, n=len(uploads))))
    values: list[dict] = []
    try:
        for upload in uploads:
            values.append(take_file(conn, storage(), comment_limits(), app_key=app_key, entity_key=entity.key,
                                    field_key=COMMENT_FIELD, filename=upload.filename, stream=upload.stream,
                                    user_id=current_actor().id, lang=lang(), record_id=record.id))
    except UploadRefused:
        discard(conn, [v["id"] for v in values])
        raise
    return values


def discard(conn, ids: list[str]) -> None:
    """Remove the stored bytes of uploads whose rows the refused transaction takes back."""
    for stored_id in stored_files.storage_ids(conn, ids):
        storage().delete(stored_id)


def entity_app_key() -> str:
    return request.view_args["app_key"]


# -- serving ---------------------------------------------------------------------------

@bp.get("/apps/<app_key>/files/<file_id>")
@login_required
def serve(app_key: str, file_id: str):
    return _served(load_app(app_key).app, file_id)


@bp.get("/apps/<app_key>/files/<file_id>/thumbnail")
@login_required
def serve_thumbnail(app_key: str, file_id: str):
    """The image's thumbnail (the original when none could be made), under the same checks."""
    return _served(load_app(app_key).app, file_id, thumbnail=True)


@api_bp.get("/<app_key>/files/<file_id>/content")
def api_serve(app_key: str, file_id: str):
    """The same file for API clients (Bearer token), under the same checks."""
    app = _api_app(app_key)
    return _served(app, file_id)


@api_bp.get("/<app_key>/files/<file_id>/thumbnail")
def api_serve_thumbnail(app_key: str, file_id: str):
    return _served(_api_app(app_key), file_id, thumbnail=True)


def _api_app(app_key: str):
    try:
        app, _version = catalog().get(app_key)
    except NotFoundError:
        app = None
    if app is None or not policy.is_member(api.actor(), app):
        raise NotFoundError(_("There is no app %(key)s.", key=app_key))
    return app


def _served(app, file_id: str, thumbnail: bool = False) -> Response:
    actor = current_actor()
    with db().read() as conn:
        row = stored_files.get_file(conn, app.key, file_id) if is_file_id(file_id) else None
        if row is None or not _may_read(conn, app, actor, row):
            raise NotFoundError(_("There is no such file."))
    if thumbnail and not row.content_type.startswith("image/"):
        raise NotFoundError(_("There is no such file."))
    try:
        if thumbnail and row.thumb_id:
            data = storage().open(row.thumb_id)
            kind = sniff(data)
            return file_response(data, row.name, "image/png" if kind == "png" else "image/jpeg")
        data = storage().open(row.id)
    except KeyError:
        raise NotFoundError(_("There is no such file.")) from None
    return file_response(data, row.name, row.content_type)


def _may_read(conn, app, actor, row) -> bool:
    if row.deleted_at is not None:
        return False
    if row.record_id is None:
        return row.created_by == actor.id          # an upload not yet saved on a record
    entity = app.entity(row.entity_key)
    if entity is None:
        return False
    if row.field_key == COMMENT_FIELD:
        return _may_read_comment_file(conn, app, entity, actor, row)
    f = entity.field(row.field_key)
    if f is None:
        return False
    try:
        record = get_record(conn, app, entity, row.record_id)
    except NotFoundError:
        return False
    if not policy.can(actor, "read", app, entity, record, team_of=lambda uid: reports_of(conn, uid)):
        return False
    workflow = app.workflow_for(entity.key)
    stage = workflow.stage(record.stage) if workflow and record.stage else None
    if policy.field_access(actor, app, f, stage) == "hidden":
        return False
    return row.id in stored_files.file_ids(entity, {f.key: record.data.get(f.key)})


def _may_read_comment_file(conn, app, entity, actor, row) -> bool:
    """A comment's attachment: its comment must still be there, on this record, and the
    reader one of the record's readers (exactly who sees the comment)."""
    if row.comment_id is None:
        return row.created_by == actor.id          # taken, its comment not yet written
    comment = conn.execute(comments.select().where(comments.c.id == row.comment_id)).first()
    if comment is None or comment.deleted_at is not None or comment.record_id != row.record_id:
        return False
    try:
        record = get_record(conn, app, entity, row.record_id)
    except NotFoundError:
        return False
    return policy.can_comment(actor, app, entity, record, team_of=lambda uid: reports_of(conn, uid))


def file_response(data: bytes, name: str, content_type: str) -> Response:
    if content_type not in KNOWN_TYPES and not content_type.startswith("application/vnd.openxmlformats"):
        content_type = "application/octet-stream"
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # a sandboxed document cannot run script; Chromium refuses to show a PDF sandboxed, so a PDF gets
    # the rest of the policy only (its viewer is the browser's own, not the page's)
    policy_text = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    response.headers["Content-Security-Policy"] = policy_text + ("" if content_type == "application/pdf" else "; sandbox")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# -- the API's upload ------------------------------------------------------------------

@api_bp.post("/<app_key>/<entity_key>/files/<field_key>")
def api_upload(app_key: str, entity_key: str, field_key: str):
    """Store the multipart `file` parts for a field; answers the stored value to set on a record."""
    app, _version, entity = api.place(app_key, entity_key)
    actor = api.actor()
    f = entity.field(field_key)
    if f is None or not field_type(f.type).holds_files or policy.field_access(actor, app, f) == "hidden":
        raise NotFoundError(_("There is no %(key)s here.", key=field_key))
    if policy.field_access(actor, app, f) != "write" or not (
            policy.scope(actor, "create", app, entity) != "none" or policy.scope(actor, "update", app, entity) != "none"):
        raise ForbiddenError(_("You may not do this here."))
    uploads = [u for u in request.files.getlist("file") if u and u.filename]
    if not uploads:
        raise RecordInvalid([_missing(f.key)])
    values, problems = [], []
    with db().write() as conn:
        for upload in uploads:
            try:
                values.append(take_upload(conn, storage(), app.key, entity, f, upload.filename, upload.stream,
                                          actor.id, lang()))
            except UploadRefused as refused:
                problems.append(refused.problem)
        if problems:                  # all or nothing: the rows go with the transaction, the bytes here
            discard(conn, [value["id"] for value in values])
            raise RecordInvalid(problems)
    return jsonify(values), 201


def _missing(key: str):
    from ..fields import FieldProblem
    return FieldProblem(key, "/file", "required", _("Send the file as the multipart part \"file\"."))

