"""Automation admin pages, for the app's admins: the rule run log (what fired,
when, for which record, outcome, duration), pending reminders (paged, with record
titles, rule labels and local times), dead letters with a Retry button, and the
mail outbox (mail kept when no SMTP_URL is configured).

A member who manages people (someone's `manager_id` points at them) gets a
read-only view of the pending reminders of records their team owns and they may
read (through the policy); other members get 403; anyone else 404 (the app's
existence is never revealed).
"""
from __future__ import annotations

from datetime import timezone
from typing import Iterable

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import and_, func, or_, select, true

from ..auth import policy
from ..auth.users import reports_of
from ..automation import Settings, dead_letters, retry_job, run_log
from ..automation.channels.email import message_id_for
from ..definitions.model import AppDef
from ..errors import ForbiddenError, NotFoundError
from ..store.query import titles_in_app
from ..ids import parse_int
from ..store.tables import jobs, outbox_mail, records
from .helpers import Place, cached_url_for, catalog, current_actor, db, load_app, local_time, page_read
from .params import int_arg

bp = Blueprint("admin_automation", __name__)

LOG_LIMIT = 200
OUTBOX_LIMIT = 100
REMINDERS_PAGE = 50

#: What the run log's trigger, outcome and message words mean, in the reader's language.
TRIGGER_TEXT = {
    "record_created": _l("Record created"), "record_updated": _l("Record updated"),
    "field_changed": _l("Field changed"), "stage_entered": _l("Stage entered"), "stage_left": _l("Stage left"),
    "date_field": _l("Date reached"), "stage_idle": _l("Idle in a stage"), "no_related": _l("No related record"),
    "schedule": _l("Schedule"), "reminder": _l("Reminder"),
}
OUTCOME_TEXT = {"fired": _l("fired"), "skipped": _l("skipped"), "failed": _l("failed"), "dead": _l("dead")}
KIND_TEXT = {"email": _l("Email"), "webhook": _l("Webhook"), "reminder": _l("Reminder")}
MESSAGE_TEXT = {
    "the condition does not hold": _l("the condition does not hold"),
    "the record was deleted": _l("the record was deleted"),
    "late": _l("late"),
    "notify: nobody to notify": _l("notify: nobody to notify"),
    "email: nobody to email": _l("email: nobody to email"),
    "demo history": _l("demo history"),
}


def message_text(message: str | None) -> str:
    """A run-log message in the reader's language: the engine's fixed phrases are
    translated piece by piece; anything else (an error's own words) is kept."""
    if not message:
        return ""
    return "; ".join(str(MESSAGE_TEXT.get(part, part)) for part in message.split("; "))


@bp.before_request
@login_required
def _require_login():
    return None


def admin_apps() -> list[AppDef]:
    """The installed apps the actor administers (for the top bar link)."""
    actor = current_actor()
    if actor is None:
        return []
    return [app for app in catalog().installed() if policy.is_app_admin(actor, app)]


@bp.app_template_global()
def automation_admin_url() -> str | None:
    """Where the top bar's Automation link goes, or None for people who administer no app."""
    found = admin_apps()
    if not found:
        return None
    if len(found) == 1:
        return cached_url_for("admin_automation.runs", app_key=found[0].key)
    return cached_url_for("admin_automation.choose")


def manages_people(actor) -> bool:
    """Someone reports to the actor (once per request)."""
    if actor is None:
        return False
    cached = g.get("_formloom_manages")
    if cached is None:
        with page_read() as conn:
            cached = g._formloom_manages = bool(reports_of(conn, actor.id))
    return cached


def team_view_apps() -> list[AppDef]:
    """Apps whose pending reminders the actor may see read-only (members who manage people)."""
    actor = current_actor()
    if actor is None or not manages_people(actor):
        return []
    return [app for app in catalog().installed()
            if policy.is_member(actor, app) and not policy.is_app_admin(actor, app)]


@bp.app_template_global()
def automation_team_url() -> str | None:
    """The top bar link to the team's pending reminders, for managers who are not admins."""
    found = team_view_apps()
    return url_for("admin_automation.reminders", app_key=found[0].key) if found else None


def load_admin_app(app_key: str) -> Place:
    place = load_app(app_key)          # 404 for non-members
    if not policy.is_app_admin(current_actor(), place.app):
        raise ForbiddenError(_("Only the administrators of this app may see its automation."),
                             hint=_("Ask an administrator of this app for access."))
    return place


def rule_labels(app: AppDef) -> dict[str, object]:
    """rule key -> its label (or key), over every workflow of the app."""
    out: dict[str, object] = {}
    for workflow in app.workflows.values():
        for rule in workflow.rules:
            out[rule.key] = rule.label or rule.key
    return out


def rule_triggers(app: AppDef) -> dict[str, str]:
    return {rule.key: rule.trigger.get("type", "") for wf in app.workflows.values() for rule in wf.rules}


def record_urls(conn, app: AppDef, record_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in record_ids if i is not None})
    if not ids:
        return {}
    rows = conn.execute(select(records.c.id, records.c.entity_key)
                        .where(records.c.id.in_(ids), records.c.app_key == app.key))
    return {r.id: url_for("records.detail", app_key=app.key, entity_key=r.entity_key, record_id=r.id) for r in rows}


def _page(template: str, place: Place, tab: str, **context):
    context.setdefault("admin", True)
    return render_template(template, app=place.app, tab=tab, labels=rule_labels(place.app), **context)


# -- pages ------------------------------------------------------------------------------

@bp.get("/admin/automation")
def choose():
    found = admin_apps()
    if not found:
        raise NotFoundError(_("This page does not exist."))
    if len(found) == 1:
        return redirect(url_for("admin_automation.runs", app_key=found[0].key))
    return render_template("admin/automation_choose.html", apps=found)


@bp.get("/apps/<app_key>/admin/automation")
def runs(app_key: str):
    place = load_admin_app(app_key)
    rule_key = request.args.get("rule") or None
    record_id = int_arg("record")
    with db().read() as conn:
        rows = run_log(conn, place.app.key, rule_key=rule_key, record_id=record_id, limit=LOG_LIMIT)
        urls = record_urls(conn, place.app, (r["record_id"] for r in rows))
        titles = titles_in_app(conn, place.app, current_actor(), (r["record_id"] for r in rows))
    for r in rows:
        r["when"] = local_time(r["at"], place.app)
        r["url"] = urls.get(r["record_id"])
        r["title"] = titles.get(r["record_id"])
        r["trigger_text"] = TRIGGER_TEXT.get(r["trigger"], r["trigger"])
        r["outcome_text"] = OUTCOME_TEXT.get(r["outcome"], r["outcome"])
        r["message_text"] = message_text(r["message"])
    return _page("admin/automation.html", place, "runs", rows=rows, rule_key=rule_key, record_id=record_id)


@bp.get("/apps/<app_key>/admin/automation/reminders")
def reminders(app_key: str):
    """Pending reminders, soonest first, a page at a time: admins see all of them; a
    manager sees, read-only, those of records their team owns and they may read."""
    place = load_app(app_key)          # 404 for non-members
    actor = current_actor()
    admin = policy.is_app_admin(actor, place.app)
    if not admin and not manages_people(actor):
        raise ForbiddenError(_("Only the administrators of this app and managers may see its reminders."),
                             hint=_("Ask an administrator of this app for access."))
    only = request.args.get("rule") or None
    page_arg = request.args.get("page", "")
    page = max(int(page_arg), 1) if page_arg.isdigit() and len(page_arg) < 7 else 1
    triggers = rule_triggers(place.app)
    with db().read() as conn:
        where = _reminder_filter(conn, place.app, actor, admin)
        counts = dict(conn.execute(select(jobs.c.rule_key, func.count())
                                   .select_from(jobs.outerjoin(records, records.c.id == jobs.c.record_id))
                                   .where(where).group_by(jobs.c.rule_key)).all())
        query = (select(jobs.c.id, jobs.c.rule_key, jobs.c.record_id, jobs.c.due_at, jobs.c.payload,
                        records.c.title, records.c.entity_key, records.c.owner_id)
                 .select_from(jobs.outerjoin(records, records.c.id == jobs.c.record_id)).where(where))
        if only:
            query = query.where(jobs.c.rule_key == only)
        rows = [dict(r._mapping) for r in conn.execute(
            query.order_by(jobs.c.due_at, jobs.c.id).offset((page - 1) * REMINDERS_PAGE).limit(REMINDERS_PAGE))]
        from ..auth.users import user_names
        owners = user_names(conn, {r["owner_id"] for r in rows if r["owner_id"]})
    for r in rows:
        entity = place.app.entity(r["entity_key"]) if r["entity_key"] else None
        r["due_at"] = r["due_at"] if r["due_at"].tzinfo else r["due_at"].replace(tzinfo=timezone.utc)
        r["entity"] = entity
        r["url"] = (url_for("records.detail", app_key=place.app.key, entity_key=entity.key, record_id=r["record_id"])
                    if entity is not None and r["record_id"] else None)
        r["owner"] = owners.get(r["owner_id"])
        r["repeat"] = (r["payload"] or {}).get("repeat", 0)
    rules = [(key, counts.get(key, 0)) for key, trigger in triggers.items()
             if trigger in ("date_field", "stage_idle", "no_related", "schedule")]
    total = counts.get(only, 0) if only else sum(counts.values())
    first = (page - 1) * REMINDERS_PAGE
    return _page("admin/automation_reminders.html", place, "reminders", rows=rows, rules=rules, only=only,
                 total=total, page=page, first=first + 1 if rows else 0, last=first + len(rows),
                 has_next=first + len(rows) < total, admin=admin)


def _reminder_filter(conn, app: AppDef, actor, admin: bool):
    """Pending reminders of the app the actor may see: all for admins; for a manager,
    those of records owned by them or their team and readable under the policy."""
    base = and_(jobs.c.kind == "reminder", jobs.c.app_key == app.key, jobs.c.status == "pending")
    if admin:
        return base
    team = reports_of(conn, actor.id) | {actor.id}
    readable = or_(*[and_(records.c.entity_key == e.key,
                          policy.record_scope_clause(actor, "read", app, e, team_of=lambda _id: team))
                     for e in app.entities]) if app.entities else true()
    return and_(base, records.c.id.is_not(None), records.c.deleted_at.is_(None),
                records.c.owner_id.in_(sorted(team)), readable)


@bp.get("/apps/<app_key>/admin/automation/dead-letters")
def dead(app_key: str):
    place = load_admin_app(app_key)
    with db().read() as conn:
        rows = dead_letters(conn, place.app.key, limit=LOG_LIMIT)
        urls = record_urls(conn, place.app, (r["record_id"] for r in rows))
        titles = titles_in_app(conn, place.app, current_actor(), (r["record_id"] for r in rows))
    for r in rows:
        r["when"] = local_time(r["finished_at"], place.app)
        r["url"] = urls.get(r["record_id"])
        r["title"] = titles.get(r["record_id"])
        r["status_text"] = OUTCOME_TEXT.get(r["status"], r["status"])
        r["kind_text"] = KIND_TEXT.get(r["kind"], r["kind"])
    retried = request.args.get("retried", "")
    return _page("admin/automation_dead.html", place, "dead", rows=rows,
                 retried=parse_int(retried))


@bp.post("/apps/<app_key>/admin/automation/dead-letters/<int:job_id>/retry")
def retry(app_key: str, job_id: int):
    place = load_admin_app(app_key)
    with db().write() as conn:
        owner = conn.execute(select(jobs.c.app_key).where(jobs.c.id == job_id)).scalar()
        if owner != place.app.key or not retry_job(conn, job_id):
            raise NotFoundError(_("There is no such dead letter."),
                                hint=_("It may have been retried already."))
    # the after_request hook wakes the background worker: the job runs right away
    return redirect(url_for("admin_automation.dead", app_key=place.app.key, retried=job_id), code=303)


@bp.get("/apps/<app_key>/admin/automation/outbox")
def mail_outbox(app_key: str):
    """Mail this app's rules sent while no SMTP server was configured, newest first."""
    place = load_admin_app(app_key)
    with db().read() as conn:
        keys = conn.execute(select(jobs.c.idempotency_key).where(jobs.c.kind == "email",
                                                                 jobs.c.app_key == place.app.key)
                            .order_by(jobs.c.id.desc()).limit(5000)).scalars().all()
        wanted = [message_id_for(k) for k in keys]
        rows = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows += [dict(r._mapping) for r in conn.execute(
                select(outbox_mail).where(outbox_mail.c.message_id.in_(chunk)))]
    rows.sort(key=lambda r: r["id"], reverse=True)
    rows = rows[:OUTBOX_LIMIT]
    for r in rows:
        created = r["created_at"]
        if created is not None and created.tzinfo is None:
            created = r["created_at"] = created.replace(tzinfo=timezone.utc)
        r["when"] = local_time(created, place.app)
    smtp = bool(Settings.from_mapping(current_app.config).smtp_url)
    return _page("admin/automation_outbox.html", place, "outbox", rows=rows, smtp=smtp)

