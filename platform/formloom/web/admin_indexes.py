"""The app's database indexes, for its admins: per entity, each index Formloom made, on
which field(s), why it exists (store/index_policy.py's reasons, in the reader's language),
its size, and the fields saved views filter or sort by that have no index, so an admin can
mark one `"indexed": true` in the designer. Members who are not admins get 403, anyone
else 404 (the app's existence is never revealed). `GET /api/v1/apps/<app>/indexes` is the
same report as JSON, under the API's authentication."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from ..auth import policy
from ..definitions.model import AppDef
from ..errors import ForbiddenError
from ..store.index_policy import IndexReason
from ..store.index_report import EntityIndexes, IndexEntry, index_report
from . import api
from .api_design import admin_app
from .helpers import current_actor, db, lang, load_app

bp = Blueprint("admin_indexes", __name__)
api_bp = Blueprint("api_indexes", __name__, url_prefix="/api/v1")
api_bp.before_request(api.authenticate)

KIND_TEXT = {"dashboard": _l("Dashboard figures (typed slots)"), "search": _l("Global search"),
             "stale": _l("Left from an earlier version: the next publish drops it")}


def reason_text(app: AppDef, reason: IndexReason) -> str:
    """One reason, in words, in the reader's language."""
    language = lang()
    if reason.kind == "unique":
        return _("Unique: saving, imports and upserts look records up by it")
    if reason.kind == "reference":
        target = app.entity(reason.source)
        return _("Reference to %(entity)s: related lists, rollups and related-record gates",
                 entity=target.label.get(language) if target else reason.source)
    if reason.kind == "match":
        entity_key, _dot, field_key = reason.source.partition(".")
        entity = app.entity(entity_key)
        f = entity.field(field_key) if entity else None
        name = f"{entity.label.get(language)} · {f.label.get(language)}" if entity and f else reason.source
        return _("Narrows the choices of %(field)s", field=name)
    if reason.kind == "list_column":
        return _("A column of the default list: people sort by it")
    if reason.kind == "calendar":
        return _("Shown on the to-do calendar, asked for by date range")
    if reason.kind == "permission":
        return _("Read condition of role %(role)s: filters every list that role sees",
                 role=app.role_label(reason.source).get(language))
    return _("Chosen by an admin (\"indexed\": true)")


def entry_json(app: AppDef, entry: IndexEntry) -> dict:
    reasons = [{"kind": r.kind, "source": r.source or None, "text": reason_text(app, r)} for r in entry.reasons]
    if entry.kind != "field":
        reasons.append({"kind": entry.kind, "source": None, "text": str(KIND_TEXT[entry.kind])})
    return {"name": entry.name, "kind": entry.kind, "fields": [f.key for f in entry.fields],
            "reasons": reasons, "size_bytes": entry.size}


def report_json(app: AppDef, report: list[EntityIndexes]) -> dict:
    return {"app": app.key, "entities": [
        {"entity": e.entity.key, "indexes": [entry_json(app, x) for x in e.indexes],
         "unindexed_filters": [{"field": f.key, "saved_views": n} for f, n in e.unindexed_filters]}
        for e in report]}


def _report(app: AppDef) -> list[EntityIndexes]:
    with db().read() as conn:
        return index_report(conn, app)


@bp.get("/apps/<app_key>/admin/indexes")
@login_required
def page(app_key: str):
    place = load_app(app_key)          # 404 for non-members
    if not policy.is_app_admin(current_actor(), place.app):
        raise ForbiddenError(_("Only the administrators of this app may see its indexes."),
                             hint=_("Ask an administrator of this app for access."))
    app = place.app
    data = report_json(app, _report(app))
    return render_template("admin/indexes.html", app=app, report=data, labels={
        e.key: (e.label, {f.key: f.label for f in e.fields}) for e in app.entities})


@api_bp.get("/apps/<app_key>/indexes")
def api_report(app_key: str):
    app = admin_app(app_key)           # 404 for non-members, 403 for members who are not admins
    return jsonify(report_json(app, _report(app)))
