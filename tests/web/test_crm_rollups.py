"""On the shipped CRM: logging a follow-up through the web form raises the customer's activity in
the last 30 days at once (no worker pass), shown in the customer list and on the customer's page
with its profile completeness; 30 days later the worker has counted it out again."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.automation import Settings, run_worker_once
from formloom.resources import template_dir
from formloom.store.install import install_path
from formloom.store.records import create_record, get_record

from .conftest import PASSWORD, Browser

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def crm(database_url, tmp_path):
    with time_machine.travel(NOW, tick=False) as traveller:
        flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                                "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
        db = flask_app.extensions["formloom.db"]
        install_path(db, template_dir("crm"))
        app = flask_app.extensions["formloom.catalog"].app("crm")
        with db.write() as conn:
            admin = create_user(conn, "boss@example.com", PASSWORD, name="Boss", roles=[("crm", "admin")])
            customer = create_record(conn, app, app.entity("customer"),
                                     {"name": "Hangzhou Robotics", "industry": "manufacturing", "region": "east",
                                      "phone": "0571-88886666"}, actor_id=admin, owner_id=admin)
        yield flask_app, app, admin, customer.id, traveller
        db.dispose()


def activity(flask_app, app, customer_id) -> dict:
    with flask_app.extensions["formloom.db"].read() as conn:
        return get_record(conn, app, app.entity("customer"), customer_id).data


def test_a_follow_up_logged_in_the_form_counts_at_once_and_ages_out(crm):
    flask_app, app, admin, customer_id, traveller = crm
    browser = Browser(flask_app.test_client())
    browser.login("boss@example.com")
    assert activity(flask_app, app, customer_id)["activity_30d"] == 0
    response = browser.post("/apps/crm/follow_up/new", {
        "subject": "Site visit", "customer": str(customer_id), "kind": "visit",
        "date": "2026-03-02T09:30", "summary": "Walked the line."}, token_from="/apps/crm/follow_up/new")
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    data = activity(flask_app, app, customer_id)
    assert data["activity_30d"] == 1
    assert data["profile_completeness"] == 38          # industry, region and phone: 3 of the 8 key fields
    listing = browser.get("/apps/crm/customer/").get_data(as_text=True)
    assert "Activity (30 days)" in listing and "Profile completeness (%)" in listing
    page = browser.get(f"/apps/crm/customer/{customer_id}").get_data(as_text=True)
    assert "Activity (30 days)" in page
    traveller.move_to(NOW + timedelta(days=31))
    run_worker_once(flask_app.extensions["formloom.db"], flask_app.extensions["formloom.catalog"],
                    settings=Settings.from_mapping(flask_app.config))
    assert activity(flask_app, app, customer_id)["activity_30d"] == 0
