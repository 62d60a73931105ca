"""Loading an app template's demo data (`demo_data.json` beside app.json).

The file holds users and records; a reference is written "@entity:n" (the n-th
demo record of that entity, by its "ref") and resolved here to a real id, so a
template can ship a connected data set without knowing database ids.

Demo data describes a team that has been at work for months, as of the day the
loader runs:

- `anchor` (a date): date and datetime values in the file are as of that day; the
  loader moves them by (today - anchor) days, so "expected close in 3 days" stays
  in 3 days whenever the demo is installed;
- a record's `created_days_ago` (or `created_at`, an instant moved like the dates)
  places its creation; `stage_history`
  (`[{"stage": key, "days_ago": n}, ...]`, oldest first, ending with the record's
  stage) gives its past moves, so time in stage, the path bar and funnels have data;
- `approvals` (`[{"record": ref, "to": stage, "by": email, "hours_ago": n, "approved": [...]}]`)
  are requests started by the record's owner once the data is in, approved step by step as
  written, so approvers find them waiting under Approvals, as real ones would;
- reminders that fell due in the last `replay_days` (default 14) are delivered as
  in-app notifications, as they would have been (automation/replay.py), and
  `notifications` (`[{"to": email | "*", "days_ago": n, "subject": label, "body": label}]`)
  adds notes of the demo's own; all of them are marked as from the demo, and those
  older than `unread_days` (default 3) are already read.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from .auth.users import create_user, load_actor, set_roles, user_id_by_email
from .definitions.model import AppDef
from .store.db import Database
from .store import rollups
from .store.records import create_record
from .store.statistics import refresh_statistics
from .store.tables import events, notifications, records, stage_history, users

DEMO_FILE = "demo_data.json"
REPLAY_DAYS = 14
UNREAD_DAYS = 3


def demo_file(template_dir: Path) -> Path:
    return template_dir / DEMO_FILE


def load_demo(db: Database, app: AppDef, version_id: int, template_dir: Path, now: datetime | None = None) -> dict:
    """Create the demo users and records; idempotent (does nothing when the app has records)."""
    data = json.loads(demo_file(template_dir).read_text(encoding="utf-8"))
    now = now or datetime.now(timezone.utc)
    with db.write() as conn:
        user_ids = _ensure_users(conn, app, data.get("users", []))
        existing = conn.execute(select(func.count()).select_from(records)
                                .where(records.c.app_key == app.key)).scalar_one()
        if existing:
            return {"users": len(user_ids), "records": 0}
        refs: dict[str, int] = {}
        created = 0
        shift = _shift_days(app, data.get("anchor"), now)
        for item in data.get("records", []):
            entity = app.entity(item["entity"])
            values = {k: _resolve(v, refs) for k, v in item["data"].items()}
            if shift:
                values = _shift_dates(entity, values, shift)
            owner = user_ids.get(item.get("owner")) if item.get("owner") else None
            when = _created_at(item, shift, now)
            record = create_record(conn, app, entity, values, actor_id=owner, owner_id=owner,
                                   version_id=version_id, now=when, stage=item.get("stage"))
            if item.get("stage_history"):
                _write_stage_history(conn, record.id, item["stage_history"], owner, now)
            refs[item["ref"]] = record.id
            created += 1
        rollups.rebuild(conn, app, now=now)     # records were written at their past moments: windows count from now
        _settle_automation(conn, app, now, float(data.get("replay_days", REPLAY_DAYS)))
        _demo_notes(conn, app, data.get("notifications", []), user_ids, now)
        _open_approvals(conn, app, data.get("approvals", []), refs, user_ids, now)
        _read_older(conn, user_ids.values(), now - timedelta(days=float(data.get("unread_days", UNREAD_DAYS))))
    if created:             # the install saw an empty table: plans would use no statistics
        refresh_statistics(db)
    return {"users": len(user_ids), "records": created}


def _created_at(item: dict, shift: int, now: datetime) -> datetime:
    """`created_at` (an instant as of the anchor, moved like the dates; for records whose
    creation is the moment they describe, such as a logged call), else `created_days_ago`."""
    if item.get("created_at"):
        moment = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")) + timedelta(days=shift)
        return min(moment.astimezone(timezone.utc), now)
    return now - timedelta(days=float(item.get("created_days_ago", 0)))


def _shift_days(app: AppDef, anchor: str | None, now: datetime) -> int:
    """Days from the file's anchor to today in the app's timezone (0 without an anchor)."""
    if not anchor:
        return 0
    from .automation.timing import zone
    return (now.astimezone(zone(app.timezone)).date() - date.fromisoformat(anchor)).days


def _shift_dates(entity, values: dict, days: int) -> dict:
    out = dict(values)
    for f in entity.fields:
        value = out.get(f.key)
        if not isinstance(value, str) or not value:
            continue
        if f.type == "date":
            try:
                out[f.key] = (date.fromisoformat(value) + timedelta(days=days)).isoformat()
            except ValueError:
                pass
        elif f.type == "datetime":
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
            except ValueError:
                continue
            out[f.key] = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    return out


def _write_stage_history(conn, record_id: int, steps: list[dict], user_id: int | None, now: datetime) -> None:
    """Replace the record's one "created in this stage" row by its past moves."""
    conn.execute(stage_history.delete().where(stage_history.c.record_id == record_id))
    previous: datetime | None = None
    last_stage = None
    for step in steps:
        at = now - timedelta(days=float(step["days_ago"]))
        conn.execute(stage_history.insert().values(
            record_id=record_id, from_stage=last_stage, to_stage=step["stage"], user_id=user_id, at=at,
            seconds_in_previous=int((at - previous).total_seconds()) if previous else None))
        previous, last_stage = at, step["stage"]
    conn.execute(records.update().where(records.c.id == record_id).values(stage_entered_at=previous))


def _settle_automation(conn, app: AppDef, now: datetime, replay_days: float) -> None:
    """Demo data is a snapshot of a history that already happened: its creation events must
    not run event rules again (re-routing owners, rewriting dates); the reminders of the
    last days are delivered as they would have been, and the rest are scheduled from now
    on, as for a live app."""
    from .automation import resync_app
    from .automation.replay import replay_due
    conn.execute(events.update().where(events.c.app_key == app.key, events.c.processed_at.is_(None))
                 .values(processed_at=now))
    if replay_days > 0:
        replay_due(conn, app, now - timedelta(days=replay_days), now)
    resync_app(conn, app, now=now)


def _open_approvals(conn, app: AppDef, specs: list[dict], refs: dict[str, int], user_ids: dict[str, int],
                    now: datetime) -> None:
    """Approval requests waiting in the demo, so approvers have something under Approvals:
    started by the record's owner and approved step by step as written, through the same
    functions as the web (the workflow's approval spec says who is asked next)."""
    from .automation.channels.inapp import DEMO_PREFIX
    from .workflow.approvals import decide, start_request
    before = conn.execute(select(func.max(notifications.c.id))).scalar() or 0
    for spec in specs:
        record_id = refs[spec["record"]]
        entity = app.entity(conn.execute(select(records.c.entity_key).where(records.c.id == record_id)).scalar_one())
        at = now - timedelta(hours=float(spec.get("hours_ago", 0)))
        req = start_request(conn, app, entity, record_id, spec["to"], load_actor(conn, user_ids[spec["by"]]), now=at)
        for step in spec.get("approved", []):
            decide(conn, app, entity, record_id, req.id, load_actor(conn, user_ids[step["by"]]), "approve",
                   step.get("comment"), now=now - timedelta(hours=float(step.get("hours_ago", 0))))
    # what the requests told the approvers is demo history too: the bell marks it so
    conn.execute(notifications.update().where(notifications.c.id > before)
                 .values(idempotency_key=DEMO_PREFIX + notifications.c.idempotency_key))


def _demo_notes(conn, app: AppDef, notes: list[dict], user_ids: dict[str, int], now: datetime) -> None:
    """The demo's own notifications (a welcome, what to try), in each reader's language."""
    from .automation.channels.inapp import notify_user
    from .automation.channels.inapp import DEMO_PREFIX
    from .definitions.model import Label
    languages = dict(conn.execute(select(users.c.id, users.c.language)
                                  .where(users.c.id.in_(list(user_ids.values())))).all()) if user_ids else {}
    for i, note in enumerate(notes):
        targets = list(user_ids.values()) if note.get("to") == "*" else \
            [user_ids[e] for e in [str(note.get("to", "")).lower()] if e in user_ids]
        at = now - timedelta(days=float(note.get("days_ago", 0)))
        for user_id in targets:
            lang = languages.get(user_id) or "en"
            notify_user(conn, user_id, Label.of(note["subject"]).get(lang), Label.of(note.get("body", "")).get(lang),
                        f"{DEMO_PREFIX}note:{app.key}:{i}:u{user_id}", at, app_key=app.key)


def _read_older(conn, user_ids, before: datetime) -> None:
    conn.execute(notifications.update().where(notifications.c.user_id.in_(list(user_ids)),
                                              notifications.c.read_at.is_(None),
                                              notifications.c.created_at < before)
                 .values(read_at=notifications.c.created_at))


def _resolve(value: Any, refs: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("@") and value[1:] in refs:
        return refs[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    return value


def _ensure_users(conn, app: AppDef, specs: list[dict]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for spec in specs:
        email = spec["email"].lower()
        user_id = user_id_by_email(conn, email)
        if user_id is None:
            user_id = create_user(conn, email, spec["password"], name=spec.get("name", ""),
                                  language=spec.get("language", "en"))
        set_roles(conn, user_id, [(app.key, role) for role in spec.get("roles", [])])
        ids[email] = user_id
    for spec in specs:
        if spec.get("manager"):
            conn.execute(users.update().where(users.c.id == ids[spec["email"].lower()])
                         .values(manager_id=ids.get(spec["manager"].lower())))
    return ids


def demo_logins(template_dir: Path) -> list[dict]:
    data = json.loads(demo_file(template_dir).read_text(encoding="utf-8"))
    return [{"email": u["email"], "password": u["password"], "roles": u.get("roles", [])}
            for u in data.get("users", [])]
