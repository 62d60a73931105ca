"""End to end on the shipped CRM: a salesperson creates an opportunity through the web
form with the expected close in 3 days; at 09:00 Asia/Shanghai three days before,
one worker pass later, the owner's bell shows the reminder (and the mail is in the
admins' outbox, as no SMTP server is configured)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.automation import Settings, due_reminders, run_worker_once
from formloom.resources import template_dir
from formloom.store.install import install_path
from formloom.store.records import create_record

from .conftest import PASSWORD, Browser

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    with time_machine.travel(shanghai(2026, 3, 2, 8, 0), tick=False) as traveller:
        yield traveller


@pytest.fixture
def crm(database_url, tmp_path, clock, monkeypatch):
    monkeypatch.delenv("SMTP_URL", raising=False)
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    db = flask_app.extensions["formloom.db"]
    install_path(db, template_dir("crm"))
    app = flask_app.extensions["formloom.catalog"].app("crm")
    with db.write() as conn:
        admin = create_user(conn, "boss@example.com", PASSWORD, name="Boss", roles=[("crm", "admin")])
        sally = create_user(conn, "sally@example.com", PASSWORD, name="Sally Sales", roles=[("crm", "sales")])
        create_user(conn, "sam@example.com", PASSWORD, name="Sam Sales", roles=[("crm", "sales")])
        customer = create_record(conn, app, app.entity("customer"), {"name": "Hangzhou Robotics"},
                                 actor_id=sally, owner_id=sally)
    yield flask_app, {"admin": admin, "sally": sally, "customer": customer.id}
    db.dispose()


def work(flask_app) -> int:
    return run_worker_once(flask_app.extensions["formloom.db"], flask_app.extensions["formloom.catalog"],
                           settings=Settings.from_mapping(flask_app.config))


def bell_count(browser: Browser) -> int:
    fragment = browser.get("/notifications/bell", headers={"HX-Request": "true"}).get_data(as_text=True)
    found = re.search(r'data-unread="(\d+)"', fragment)
    return int(found.group(1)) if found else 0


def test_the_close_date_reminder_reaches_the_owners_bell(crm, clock):
    flask_app, ids = crm
    sally = Browser(flask_app.test_client())
    assert sally.login("sally@example.com").status_code == 302

    response = sally.post("/apps/crm/opportunity/new",
                          {"name": "MES upgrade phase 2", "customer": str(ids["customer"]),
                           "expected_close": "2026-03-05"}, token_from="/apps/crm/opportunity/new")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    record_path = response.headers["Location"]
    record_id = int(record_path.rstrip("/").rsplit("/", 1)[1])

    work(flask_app)                                    # 08:00: the reminder is scheduled, nothing is due yet
    assert bell_count(sally) == 0
    with flask_app.extensions["formloom.db"].read() as conn:
        due = [r for r in due_reminders(conn, shanghai(2026, 3, 2, 9, 0), "crm") if r.record_id == record_id]
    assert [(r.rule_key, r.due_at) for r in due] == [("close_date_near", shanghai(2026, 3, 2, 9, 0))]

    clock.move_to(shanghai(2026, 3, 2, 9, 0))
    assert work(flask_app) >= 1
    assert bell_count(sally) == 1
    page = sally.get("/notifications").get_data(as_text=True)
    assert "MES upgrade phase 2 is expected to close on 5 Mar 2026" in page          # as the reader reads dates
    assert f'href="{record_path}"' in page

    assert work(flask_app) == 0                        # a second pass fires nothing more
    assert bell_count(sally) == 1

    sam = Browser(flask_app.test_client())
    sam.login("sam@example.com")
    assert bell_count(sam) == 0                        # not his opportunity, not his reminder

    boss = Browser(flask_app.test_client())
    boss.login("boss@example.com")
    outbox = boss.get("/apps/crm/admin/automation/outbox").get_data(as_text=True)
    assert "Closing soon: MES upgrade phase 2" in outbox and "sally@example.com" in outbox
    runs = boss.get("/apps/crm/admin/automation?rule=close_date_near").get_data(as_text=True)
    assert f'href="{record_path}"' in runs and "fired" in runs
