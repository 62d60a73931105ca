"""Replaying reminders that fell due in the past, for data that arrives with a history.

A live app never fires a reminder whose due time has passed when it is first
computed (adding a rule must not flood people with stale reminders). Data loaded
with a past, such as a template's demo data, is different: a team that has been
working for months has a bell with the reminders of the last days in it. `replay_due`
delivers, for every time-triggered rule and live record, the occurrences due in
(since, now]: it writes the reminder row as done (so it never fires again) and runs
only the rule's in-app actions (notify, escalate) as of the due time, marking each
notification with `key_prefix` (the bell shows such notifications as from the demo).
Mail, webhooks and field changes are not replayed: the data already is what they
would have made it, and nobody should get mail about the past.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import Connection, select, update

from ..definitions.model import AppDef
from ..store.expressions import live
from ..store.records import record_from_row
from ..store.tables import jobs, records
from .channels.inapp import DEMO_PREFIX
from .jobs import enqueue
from .reminders import REMINDER, TimeContext, _record_rules, reminder_prefix, wanted
from .settings import Settings

#: The actions a replay runs: the ones whose only effect is an in-app notification.
IN_APP_ACTIONS = ("notify", "escalate")


def replay_due(conn: Connection, app: AppDef, since: datetime, now: datetime, *,
               key_prefix: str = DEMO_PREFIX, note: str = "demo history",
               settings: Settings | None = None) -> int:
    """Deliver the in-app part of every reminder due in (since, now]; returns how many fired."""
    from .actions import RuleContext, fire_rule   # actions import the store; keep this module light

    since, now = since.astimezone(timezone.utc), now.astimezone(timezone.utc)
    settings = settings or Settings()
    tc = TimeContext(conn, app, now)
    fired = 0
    due_list = []
    for entity in app.entities:
        rules = [(w, r) for w, r in _record_rules(app, entity.key)
                 if any(a.get("type") in IN_APP_ACTIONS for a in r.actions)]
        if not rules:
            continue
        for row in conn.execute(select(records).where(live(app.key, entity.key)).order_by(records.c.id)).all():
            record = record_from_row(row)
            for workflow, rule in rules:
                for occurrence, due in wanted(tc, workflow, rule, record).items():
                    if since < due <= now:
                        due_list.append((due, entity, workflow, rule, record, occurrence))
    due_list.sort(key=lambda item: (item[0], item[4].id))       # in the order they fell due, app-wide
    for due, entity, workflow, rule, record, occurrence in due_list:
        key = reminder_prefix(app.key, workflow.key, rule.key, record.id) + occurrence
        if not enqueue(conn, REMINDER, key, {"workflow": workflow.key, "rule": rule.key,
                                             "occurrence": occurrence, "repeat": 0, "replayed": True},
                       due, due, app_key=app.key, rule_key=rule.key, record_id=record.id):
            continue        # fired (or replayed) before
        conn.execute(update(jobs).where(jobs.c.idempotency_key == key[:300])
                     .values(status="done", attempts=1, finished_at=due))
        in_app = replace(rule, actions=tuple(a for a in rule.actions if a.get("type") in IN_APP_ACTIONS))
        ctx = RuleContext(conn=conn, app=app, rule=in_app, workflow=workflow, entity=entity, record=record,
                          key=key_prefix + key, now=due, settings=settings, depth=0,
                          trigger=rule.trigger.get("type", ""), notes=[note])
        if fire_rule(ctx) == "fired":
            fired += 1
    return fired
