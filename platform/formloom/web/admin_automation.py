"""Automation admin pages, for the app's admins only: the rule run log (what
fired, when, for which record, outcome, duration), pending reminders per rule,
dead letters with a Retry button, and the mail outbox (mail kept when no
SMTP_URL is configured).

A member of the app who is not one of its admins gets 403; anyone else 404
(the app's existence is never revealed).
"""
from __future__ import annotations

from datetime import timezone
from typing import Iterable

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from ..auth import policy
from ..automation import Settings, dead_letters, pending_reminders, retry_job, run_log
from ..automation.channels.email import message_id_for
from ..definitions.model import AppDef
from ..errors import ForbiddenError, NotFoundError
from ..ids import parse_int
from ..store.tables import jobs, outbox_mail, records
from .helpers import Place, catalog, current_actor, db, load_app, local_time
from .params import int_arg

bp = Blueprint("admin_automation", __name__)

LOG_LIMIT = 200
OUTBOX_LIMIT = 100


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
        return url_for("admin_automation.runs", app_key=found[0].key)
    return url_for("admin_automation.choose")


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
    for r in rows:
        r["when"] = local_time(r["at"], place.app)
        r["url"] = urls.get(r["record_id"])
    return _page("admin/automation.html", place, "runs", rows=rows, rule_key=rule_key, record_id=record_id)


@bp.get("/apps/<app_key>/admin/automation/reminders")
def reminders(app_key: str):
    place = load_admin_app(app_key)
    only = request.args.get("rule") or None
    with db().read() as conn:
        pending = pending_reminders(conn, place.app.key, rule_key=only, limit=1000)
        urls = record_urls(conn, place.app, (r["record_id"] for r in pending))
    groups: dict[str, list[dict]] = {}
    triggers = rule_triggers(place.app)
    for key, trigger in triggers.items():       # every time-triggered rule, even with nothing pending
        if trigger in ("date_field", "stage_idle", "no_related", "schedule") and (only is None or key == only):
            groups[key] = []
    for r in pending:
        r["when"] = local_time(r["due_at"], place.app)
        r["url"] = urls.get(r["record_id"])
        groups.setdefault(r["rule_key"], []).append(r)
    return _page("admin/automation_reminders.html", place, "reminders", groups=groups, triggers=triggers,
                 only=only, total=len(pending))


@bp.get("/apps/<app_key>/admin/automation/dead-letters")
def dead(app_key: str):
    place = load_admin_app(app_key)
    with db().read() as conn:
        rows = dead_letters(conn, place.app.key, limit=LOG_LIMIT)
        urls = record_urls(conn, place.app, (r["record_id"] for r in rows))
    for r in rows:
        r["when"] = local_time(r["finished_at"], place.app)
        r["url"] = urls.get(r["record_id"])
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

