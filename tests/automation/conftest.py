"""A generic support-desk app (not the CRM) whose ticket workflow gets the rules a
test asks for, its users, and helpers that drive automation with explicit times."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import insert, select

from formloom.auth.users import set_roles
from formloom.automation import Settings, process_events, run_once
from formloom.automation.tables import rule_runs  # noqa: F401 -- registers the tables for the fixtures' TRUNCATE
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record, update_record
from formloom.store.tables import jobs, notifications, users

UTC = timezone.utc

SUPPORT_APP = {
    "key": "support", "label": {"en": "Support", "zh": "支持"}, "version": 1, "timezone": "Europe/Berlin",
    "roles": ["admin", "agent", "lead"],
    "entities": [
        {"key": "ticket", "label": {"en": "Ticket", "zh": "工单"}, "title": "subject", "workflow": "ticket_flow",
         # leads read their team's tickets: messages about a record reach only people who may read it
         "permissions": {"agent": {"create": True, "read": "all", "update": "all"}, "lead": {"read": "team"}},
         "fields": [
             {"key": "subject", "type": "text", "label": "Subject", "required": True},
             {"key": "priority", "type": "select", "label": "Priority", "options": ["low", "high"]},
             {"key": "due", "type": "date", "label": "Due"},
             {"key": "callback_at", "type": "datetime", "label": "Call back at"},
             {"key": "score", "type": "number", "label": "Score"},
             {"key": "hits", "type": "number", "label": "Hits"},
             {"key": "resolution", "type": "text", "label": "Resolution"},
             {"key": "watcher", "type": "user", "label": "Watcher"},
         ]},
        {"key": "note", "label": {"en": "Note", "zh": "备注"}, "title": "text",
         "permissions": {"agent": {"create": True, "read": "all", "update": "all"}},
         "fields": [
             {"key": "text", "type": "text", "label": "Text", "required": True},
             {"key": "ticket", "type": "reference", "entity": "ticket", "label": "Ticket", "required": True},
             {"key": "due", "type": "date", "label": "Due"},
         ]},
    ],
}

WORKFLOW = {
    "key": "ticket_flow", "entity": "ticket", "label": "Ticket flow", "skip": "allow",
    "stages": [
        {"key": "new", "label": "New"},
        {"key": "open", "label": "Open"},
        {"key": "waiting", "label": {"en": "Waiting", "zh": "等待"}},
        {"key": "solved", "label": "Solved", "terminal": "won", "gate": {"require": ["resolution"]}},
        {"key": "dropped", "label": "Dropped", "terminal": "lost", "from": ["*"]},
    ],
    "rules": [],
}

SETTINGS = Settings(backoff_base=10.0, backoff_cap=600.0, max_attempts=3, lease_seconds=60.0,
                    base_url="https://desk.example")


def at(text: str) -> datetime:
    """An aware UTC datetime from ISO text ("2026-03-02T08:00:00Z")."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class Desk:
    """The installed app plus helpers; every write happens at the frozen clock time."""

    def __init__(self, db, catalog, app, users, clock):
        self.db, self.catalog, self.app, self.users, self.clock = db, catalog, app, users, clock

    def now(self) -> datetime:
        return datetime.now(UTC)

    def travel(self, when: str | datetime) -> None:
        self.clock.move_to(at(when) if isinstance(when, str) else when)

    def create(self, entity="ticket", owner="ann", **values):
        values.setdefault("subject" if entity == "ticket" else "text", "Printer on fire")
        with self.db.write() as conn:
            return create_record(conn, self.app, self.app.entity(entity), values, actor_id=self.users[owner],
                                 owner_id=self.users[owner])

    def update(self, record, entity="ticket", **values):
        with self.db.write() as conn:
            return update_record(conn, self.app, self.app.entity(entity), record.id, values,
                                 actor_id=None, expected_version=None)

    def move(self, record, stage, **kw):
        from formloom.workflow.moves import move_to_stage
        from formloom.automation.actions import SYSTEM_ACTOR

        with self.db.write() as conn:
            return move_to_stage(conn, self.app, self.app.entity("ticket"), record.id, stage, SYSTEM_ACTOR, **kw)

    def get(self, record, entity="ticket"):
        from formloom.store.records import get_record

        with self.db.read() as conn:
            return get_record(conn, self.app, self.app.entity(entity), record.id, include_deleted=True)

    def process(self) -> int:
        return process_events(self.db, self.catalog, settings=SETTINGS)

    def work(self, settings: Settings = SETTINGS) -> int:
        return run_once(self.db, self.catalog, settings=settings)

    def rows(self, table, *where):
        with self.db.read() as conn:
            return conn.execute(select(table).where(*where).order_by(table.c.id)).all()

    def notes_for(self, user: str):
        return self.rows(notifications, notifications.c.user_id == self.users[user])

    def pending(self, rule_key=None):
        where = [jobs.c.status == "pending", jobs.c.kind == "reminder"]
        if rule_key:
            where.append(jobs.c.rule_key == rule_key)
        return self.rows(jobs, *where)

    def runs(self, rule_key=None):
        return self.rows(rule_runs, *([rule_runs.c.rule_key == rule_key] if rule_key else []))

    def reinstall(self, rules, **app_changes):
        install(self.db, rules, **app_changes)
        self.app = self.catalog.app("support")


def install(db, rules, validate_workflows=True, **app_changes):
    app_doc = copy.deepcopy(SUPPORT_APP) | app_changes
    workflow = copy.deepcopy(WORKFLOW) | {"rules": rules}
    install_documents(db, app_doc, {"ticket_flow": workflow}, validate_workflows=validate_workflows)


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk_factory(db, clock):
    def make(rules=(), validate_workflows=True, **app_changes) -> Desk:
        """`validate_workflows=False` installs rules the validator would refuse, to see how
        the engine copes with them at run time."""
        install(db, list(rules), validate_workflows, **app_changes)
        with db.write() as conn:
            boss = add_user(conn, "boss", "lead")
            ann = add_user(conn, "ann", "agent", manager_id=boss)
            bob = add_user(conn, "bob", "agent", manager_id=boss, language="zh")
            cy = add_user(conn, "cy", "agent")
        catalog = AppCatalog(db)
        return Desk(db, catalog, catalog.app("support"), {"boss": boss, "ann": ann, "bob": bob, "cy": cy}, clock)
    return make


def add_user(conn, name, role, manager_id=None, language="en") -> int:
    """A user without the cost of hashing a password (nobody logs in here)."""
    user_id = conn.execute(insert(users).values(
        email=f"{name}@example.com", name=name.title(), password_hash="!", active=True, is_superuser=False,
        language=language, manager_id=manager_id, session_epoch=0, created_at=datetime.now(UTC))).inserted_primary_key[0]
    set_roles(conn, user_id, [("support", role)])
    return user_id


def rule(key, trigger, *actions, **extra):
    return {"key": key, "trigger": trigger, "actions": list(actions) or [{"type": "notify", "to": ["owner"]}],
            **extra}
