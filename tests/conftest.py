"""Shared fixtures: a migrated database per test (a fresh SQLite file, or the
PostgreSQL at FORMLOOM_TEST_DATABASE_URL emptied between tests) and a small
generic app that is not the CRM, so the engine is tested on documents alone."""
from __future__ import annotations

import copy
import os
import shutil
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from formloom.store.db import Database
from formloom.store.migrate import upgrade
from formloom.store.tables import metadata

PG_URL = os.environ.get("FORMLOOM_TEST_DATABASE_URL")

HELPDESK_APP = {
    "key": "helpdesk",
    "label": {"en": "Helpdesk", "zh": "服务台"},
    "version": 1,
    "timezone": "Europe/Berlin",
    "roles": ["admin", "agent", "viewer"],
    "entities": [
        {
            "key": "client",
            "label": {"en": "Client", "zh": "客户"},
            "title": "name",
            "permissions": {"agent": {"create": True, "read": "all", "update": "all"},
                            "viewer": {"read": "all"}},
            "fields": [
                {"key": "name", "type": "text", "label": "Name", "required": True, "max_length": 80, "unique": True},
                {"key": "email", "type": "email", "label": "Email"},
                {"key": "tier", "type": "select", "label": "Tier", "options": ["gold", "silver"]},
            ],
        },
        {
            "key": "ticket",
            "label": {"en": "Ticket", "zh": "工单"},
            "title": "subject",
            "permissions": {"agent": {"create": True, "read": "own", "update": "own"},
                            "viewer": {"read": "all"}},
            "fields": [
                {"key": "number", "type": "auto_number", "label": "No.", "format": "T-{YYYY}-{seq:4}"},
                {"key": "subject", "type": "text", "label": {"en": "Subject", "zh": "主题"}, "required": True,
                 "max_length": 60},
                {"key": "client", "type": "reference", "entity": "client", "label": "Client", "required": True},
                {"key": "priority", "type": "select", "label": "Priority",
                 "options": [{"value": "low", "label": {"en": "Low", "zh": "低"}},
                             {"value": "high", "label": {"en": "High", "zh": "高"}}]},
                {"key": "cost", "type": "money", "label": "Cost", "min": 0},
                {"key": "hours", "type": "number", "label": "Hours", "min": 0, "max": 1000, "precision": 1},
                {"key": "due", "type": "date", "label": "Due"},
                {"key": "escalated", "type": "checkbox", "label": "Escalated"},
                {"key": "reason", "type": "text", "label": "Escalation reason",
                 "visible_if": {"==": [{"var": "escalated"}, True]}, "required": True},
                {"key": "estimate", "type": "formula", "label": "Estimate", "formula": "hours * 80"},
            ],
        },
    ],
}


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """scrypt costs ~0.2 s a user; tests hash with a cheap method. Production hashing is untouched."""
    from formloom.auth import users
    monkeypatch.setattr(users, "PASSWORD_METHOD", "pbkdf2:sha256:1000")


def helpdesk_app() -> dict:
    return copy.deepcopy(HELPDESK_APP)


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_postgres():
    """A schema of this test run's own, so parallel runs on one database never collide."""
    if not PG_URL:
        yield None
        return
    schema = f"formloom_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = Database(PG_URL).engine
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)
    upgrade(url)
    yield url
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(request, tmp_path, _migrated_sqlite, _migrated_postgres) -> str:
    """A migrated, empty database for one test."""
    if _migrated_postgres:
        db = Database(_migrated_postgres)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.dispose()
        return _migrated_postgres
    path = tmp_path / "formloom.db"
    shutil.copy(_migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()
