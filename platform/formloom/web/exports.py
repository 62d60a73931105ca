"""Exporting a list view as CSV or XLSX: the same arguments as the list (filters,
search, sort, columns), the same scope, streamed (transfer/export.py)."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from flask import Blueprint, Response, abort, request, stream_with_context
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from ..auth import policy
from ..store.query import parse_list_args
from ..transfer.export import (OWNER_COLUMN, STAGE_COLUMN, csv_stream, export_columns, export_name, export_rows,
                               file_chunks, xlsx_file)
from .helpers import current_actor, db, label, lang, load_entity
from .records import choose_columns

bp = Blueprint("exports", __name__)
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.before_request
@login_required
def _require_login():
    return None


@bp.get("/apps/<app_key>/<entity_key>/export.<fmt>")
def export(app_key: str, entity_key: str, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    place = load_entity(app_key, entity_key)
    actor, app, entity, code = current_actor(), place.app, place.entity, lang()
    visible = policy.visible_fields(actor, app, entity)
    args = MultiDict(request.args)
    asked = [c for raw in args.getlist("cols") for c in raw.split(",") if c]
    keys = [f.key for f in choose_columns(entity, visible)]
    if OWNER_COLUMN in asked:
        keys.append(OWNER_COLUMN)
    workflow = app.workflow_for(entity.key)
    if workflow and workflow.stages:
        keys.append(STAGE_COLUMN)
    query = parse_list_args(entity, args, visible, getlist=args.getlist, lang=code)   # errors: the one handler
    query = replace(query, offset=0)
    columns = export_columns(app, entity, actor, keys, code)
    rows = export_rows(db(), app, entity, actor, query, columns, code)
    name = export_name(entity, code, fmt)
    headers = {"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(stream_with_context(csv_stream(rows)), mimetype=FORMATS[fmt], headers=headers)
    handle = xlsx_file(rows, title=label(entity.plural or entity.label))
    return Response(file_chunks(handle), mimetype=FORMATS[fmt], headers=headers)
