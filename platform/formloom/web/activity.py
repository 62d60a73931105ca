"""The record's activity timeline on its page (a fragment htmx pages through and
filters by kind) and the same feed at GET /api/v1/<app>/<entity>/<id>/activity.

The feed itself is collab/activity.py; here it is checked against the policy
(the record must be readable, 404 otherwise) and turned into what a person reads.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup, escape

from ..auth import policy
from ..auth.users import reports_of
from ..collab.comments import EDIT_WINDOW
from ..collab.activity import DEFAULT_LIMIT, KINDS, MAX_LIMIT, ActivityPage, TimelineQuery, parse_kinds, timeline
from ..definitions.model import AppDef, EntityDef
from ..errors import FormloomError
from ..store.records import Record
from ..store.uploads import MAX_COMMENT_FILES, comment_limits
from . import api
from .display import Shown, lookups_for, record_url, show
from .helpers import current_actor, db, lang, load_entity
from .params import int_arg

bp = Blueprint("activity", __name__)
api_bp = Blueprint("activity_api", __name__)


_KIND_LABELS: dict[str, dict[str, str]] = {}


def kind_labels() -> dict[str, str]:
    """The kinds in the reader's language (kept per language: the compiled catalogs do not
    change while the app runs; a copy, so no caller can change them for the next)."""
    code = lang()
    found = _KIND_LABELS.get(code)
    if found is None:
        found = _KIND_LABELS[code] = _kind_labels()
    return dict(found)


def _kind_labels() -> dict[str, str]:
    return {"comment": _("Comments"), "attachment": _("Attachments"), "change": _("Changes"), "stage": _("Stage moves"),
            "related": _("Related records"), "rule": _("Automation"), "approval": _("Approvals")}


def _query(app: AppDef, entity: EntityDef, record: Record, actor, stage_key, known=None) -> TimelineQuery:
    kinds, unknown = parse_kinds(request.args.getlist("kind"))
    if unknown:
        raise FormloomError(_("%(value)s is not a valid value for %(name)s.", value=repr(unknown[0][:50]), name="kind"),
                            hint=_("Use one of: %(values)s.", values=", ".join(KINDS)))
    stage = api.stage_def(app, entity, stage_key)
    visible = frozenset(f.key for f in policy.visible_fields(actor, app, entity, stage))
    return TimelineQuery(app, entity, record.id, actor, visible, kinds,
                         limit=int_arg("limit", DEFAULT_LIMIT, high=MAX_LIMIT),
                         offset=int_arg("offset", 0, low=0, high=10**9), known=known or {})


def timeline_query(app: AppDef, entity: EntityDef, record: Record, known=None) -> TimelineQuery:
    """The asked slice of the record's timeline (the request's kind, limit and offset)."""
    return _query(app, entity, record, current_actor(), record.stage, known)


def read_timeline(conn, app: AppDef, entity: EntityDef, record: Record, known=None, *,
                  query: TimelineQuery | None = None) -> tuple[TimelineQuery, ActivityPage]:
    """The asked page of the record's timeline (the request's kind, limit and offset).
    `known`: rows the page has already read in this transaction (collab.activity.TimelineQuery.known);
    `query`: the slice when the page has worked it out already (`timeline_query`)."""
    if query is None:
        query = _query(app, entity, record, current_actor(), record.stage, known)
    elif known is not None:
        query = replace(query, known=known)
    return query, timeline(conn, query)


def change_values(page: ActivityPage, entity: EntityDef) -> tuple[list[dict], list[int]]:
    """What the page's change entries show, for one look-up of titles and names: values keyed by
    field (as a record's data is), and the owners an owner change names."""
    keys = {f.key for f in entity.fields}
    changes = [c for a in page.items for c in a.detail.get("changes", ())]
    values = [{c["field"]: v} for c in changes if c["field"] in keys for v in (c["old"], c["new"]) if v is not None]
    owners = [c.get(k) for c in changes if c["field"] == "$owner" for k in ("old", "new")]
    return values, owners


def timeline_view(conn, app: AppDef, entity: EntityDef, record: Record, known=None, *,
                  read: tuple[TimelineQuery, ActivityPage] | None = None, lookups=None,
                  current: dict[str, tuple] | None = None) -> dict:
    """What records/_activity.html needs: the page of entries as people read them, the filter and paging.
    The record page passes what it has already: the timeline it read (`read_timeline`), the titles
    and names of the whole page (`lookups`), and `current`, field key -> (stored value, Shown) of
    the values it shows, so a change to the value the record still holds (every field of the
    create entry, often) is not worked out again."""
    actor = current_actor()
    query, page = read if read is not None else read_timeline(conn, app, entity, record, known)
    fields = {f.key: f for f in entity.fields}
    if lookups is None:
        values, owners = change_values(page, entity)
        lookups = lookups_for(conn, app, entity.fields, values, extra_users=owners, actor=actor)
    code = lang()
    entries = [_entry(app, entity, a, fields, lookups, code, current or {}) for a in page.items]
    base = record_url("activity.fragment", record.id, app_key=app.key, entity_key=entity.key)
    chosen = sorted(query.kinds) if query.kinds != frozenset(KINDS) else []
    record_args = dict(app_key=app.key, entity_key=entity.key, record_id=record.id)
    can_comment = policy.can_comment(actor, app, entity, record, team_of=lambda uid: reports_of(conn, uid))
    now = datetime.now(timezone.utc)
    for e in entries:
        if e["kind"] == "comment":
            cid = e["detail"]["id"]
            e["changeable"] = (can_comment and not e["detail"]["deleted"] and policy.can_change_comment(
                actor, e["user_id"], e["at"], now, EDIT_WINDOW))
            e["edit_url"] = url_for("comments.edit", comment_id=cid, **record_args)
            e["delete_url"] = url_for("comments.remove", comment_id=cid, **record_args)
            e["files"] = [_attachment(app, item) for item in e["detail"].get("files", ())]
    form = g.get("comment_form") or {}
    limits = comment_limits()
    return {"entries": entries, "can_comment": can_comment,
            "attach_accept": ",".join(f".{e}" for e in limits.extensions), "attach_max_files": MAX_COMMENT_FILES,
            "attach_max_mb": f"{limits.max_bytes / 1_000_000:g}",
            "post_url": record_url("comments.create", record.id, app_key=app.key, entity_key=entity.key),
            "mention_url": record_url("comments.people", record.id, app_key=app.key, entity_key=entity.key),
            "comment_error": form.get("comment_error"), "comment_draft": form.get("comment_draft", ""), "page": page, "kinds": kind_labels(), "chosen": chosen, "base": base,
            "older": (f"{base}?{_args(chosen, page.next_offset, page.limit)}" if page.has_more else None),
            "newer": (f"{base}?{_args(chosen, max(0, page.offset - page.limit), page.limit)}"
                      if page.offset else None)}


def _attachment(app: AppDef, item: dict) -> dict:
    """A comment's file as the timeline shows it: a link, with a thumbnail for an image."""
    image = str(item.get("type", "")).startswith("image/")
    return {"name": item["name"], "size": size_text(item["size"]), "image": image,
            "href": url_for("files.serve", app_key=app.key, file_id=item["id"]),
            "thumb": url_for("files.serve_thumbnail", app_key=app.key, file_id=item["id"]) if image else None}


def size_text(size: int) -> str:
    """A file's size in units read alike in English and Chinese (B, KB, MB)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def _args(kinds: list[str], offset: int | None, limit: int) -> str:
    parts = [f"kind={k}" for k in kinds] + [f"offset={offset or 0}"]
    if limit != DEFAULT_LIMIT:
        parts.append(f"limit={limit}")
    return "&".join(parts)


def _person(name: str | None) -> Shown:
    """An owner in a change entry, shown like any other value (a dash for nobody)."""
    return Shown(text=name) if name else Shown(empty=True)


_NOTHING = Shown(empty=True)


def _same(held, value) -> bool:
    """The same stored value, type included (1 and True, or 1 and 1.0, may read differently)."""
    return type(held) is type(value) and held == value


def _entry(app: AppDef, entity: EntityDef, a, fields, lookups, code: str, current: dict[str, tuple]) -> dict:
    from .stage_panel import duration_text
    from .records import _writer
    entry = {"kind": a.kind, "at": a.at, "user": a.user_name or _writer(app, a.via), "detail": a.detail,
             "user_id": a.user_id}
    if a.kind in ("change", "rule"):
        changes = []
        for c in a.detail.get("changes", ()):
            if c["field"] == "$owner":
                changes.append({"label": _("Owner"), "old": _person(lookups.names.get(c["old"])),
                                "new": _person(lookups.names.get(c["new"]))})
                continue
            f = fields.get(c["field"])
            before = _NOTHING if c["old"] is None else show(app, f, c["old"], code, lookups)
            held = current.get(c["field"])
            after = held[1] if held is not None and _same(held[0], c["new"]) else show(app, f, c["new"], code, lookups)
            if before != after:
                changes.append({"label": f.label.get(code), "old": before, "new": after})
        entry["changes"] = changes
        entry["changes_html"] = Markup("".join(
            f'        <li><span class="change-field">{escape(c["label"])}</span>:\n'
            f'          <span class="old">{c["old"].__html__()}</span> → <span class="new">{c["new"].__html__()}</span></li>\n'
            for c in changes))
    elif a.kind == "stage":
        workflow = app.workflow_for(entity.key)
        label = (lambda key: (workflow.stage(key).label.get(code) if workflow and key and workflow.stage(key)
                              else key))
        entry.update(from_label=label(a.detail["from"]), to_label=label(a.detail["to"]),
                     spent=duration_text(a.detail.get("seconds_in_previous")) if a.detail["from"] else None)
    elif a.kind == "related":
        rel = app.entity(a.detail["entity"])
        entry.update(entity_label=rel.label.get(code) if rel else a.detail["entity"],
                     url=record_url("records.detail", a.detail["id"], app_key=app.key, entity_key=a.detail["entity"]))
    return entry


@bp.get("/apps/<app_key>/<entity_key>/<int:record_id>/activity")
@login_required
def fragment(app_key: str, entity_key: str, record_id: int):
    from .records import readable_record
    place = load_entity(app_key, entity_key)
    with db().read() as conn:
        record = readable_record(place, record_id, conn)
        view = timeline_view(conn, place.app, place.entity, record)
    return render_template("records/_activity.html", app=place.app, activity=view)


# -- the API --------------------------------------------------------------------------

api_bp.before_request(api.authenticate)
api_bp.register_error_handler(api.Unauthorized, api._unauthorized)


@api_bp.get("/api/v1/<app_key>/<entity_key>/<int:record_id>/activity")
def api_feed(app_key: str, entity_key: str, record_id: int):
    app, _version_id, entity = api.place(app_key, entity_key)
    unknown = sorted(set(request.args) - {"kind", "limit", "offset"})
    if unknown:
        raise FormloomError(_("%(name)s is not a parameter here.", name=unknown[0][:50]),
                            hint=_("Use kind, limit and offset."))
    with db().read() as conn:
        record = api.readable(conn, app, entity, record_id)
        page: ActivityPage = timeline(conn, _query(app, entity, record, api.actor(), record.stage))
    return jsonify({"items": [a.as_json() for a in page.items], "limit": page.limit, "offset": page.offset,
                    "has_more": page.has_more, "next_offset": page.next_offset})
