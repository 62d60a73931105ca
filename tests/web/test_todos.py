"""My to-dos: one page with the reminders that will notify me and the calendar dates of
the records I own (an entity's `calendar_fields`), as a list and a week/month calendar
in my timezone; nobody else's records, nothing I may not read, no hidden field."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
import time_machine
from sqlalchemy import update

from formloom.automation.reminders import sync_record
from formloom.store.tables import users

from .conftest import Browser
from .leads import LEADS_APP, PROSPECT_FLOW, add_prospect, install_leads

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)          # Monday 10:00 in Shanghai
FLOW = {**copy.deepcopy(PROSPECT_FLOW), "rules": [
    {"key": "call_soon", "label": {"en": "Call tomorrow", "zh": "明天联系"},
     "trigger": {"type": "date_field", "field": "next_call", "offset": "-P1D", "at": "09:00"},
     "actions": [{"type": "notify", "to": ["owner"], "message": {"en": "Call {{ record.name }}", "zh": "联系"}}]}]}


@pytest.fixture
def leads(app):
    from formloom.store.install import install_documents
    db = app.extensions["formloom.db"]
    reps = install_leads(db)
    install_documents(db, copy.deepcopy(LEADS_APP), {"prospect_flow": copy.deepcopy(FLOW)})
    return reps


@pytest.fixture
def prospects(app, leads):
    db, catalog = app.extensions["formloom.db"], app.extensions["formloom.catalog"]
    made = {
        "ann": add_prospect(db, catalog, {"name": "Ann's lead", "next_call": "2026-03-05"}, leads.ann),
        "bob": add_prospect(db, catalog, {"name": "Bob's lead", "next_call": "2026-03-05"}, leads.bob),
        "pool": add_prospect(db, catalog, {"name": "Pooled lead", "next_call": "2026-03-05"}),
        "far": add_prospect(db, catalog, {"name": "Far lead", "next_call": "2026-05-20"}, leads.ann),
    }
    leads_app, _v = catalog.get("leads")
    with db.write() as conn:
        for record in made.values():
            sync_record(conn, leads_app, "prospect", record.id, NOW)
    return made


def login(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser


@time_machine.travel(NOW, tick=False)
def test_the_list_shows_my_dates_and_my_reminders_and_nobody_elses(app, leads, prospects):
    page = login(app, "ann@example.com").get("/todos").get_data(as_text=True)
    assert 'href="/todos"' in page                                  # the top bar links here
    assert page.count("Ann&#39;s lead") == 2                        # its next call and the reminder before it
    assert "2026-03-04" in page and "09:00" in page and "Call tomorrow" in page and "Next call" in page
    assert "Bob&#39;s lead" not in page and "Pooled lead" not in page and "Far lead" not in page


@time_machine.travel(NOW, tick=False)
def test_the_month_calendar_shows_far_dates_in_chinese(app, leads, prospects):
    bob = login(app, "bob@example.com")                              # Bob reads Chinese
    page = bob.get("/todos?view=month&day=2026-03-01").get_data(as_text=True)
    assert "我的待办" in page and "Bob&#39;s lead" in page and "Ann&#39;s lead" not in page
    assert 'class="calendar calendar-month"' in page and page.count("<tr>") == 1 + 6      # 23 Feb to 5 Apr
    ann = login(app, "ann@example.com")
    assert "Far lead" in ann.get("/todos?view=month&day=2026-05-01").get_data(as_text=True)
    week = ann.get("/todos?view=week&day=2026-03-04").get_data(as_text=True)
    assert "2026-03-02 – 2026-03-08" in week and "Ann&#39;s lead" in week


@time_machine.travel(NOW, tick=False)
def test_times_are_in_the_readers_own_timezone(app, leads, prospects):
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(update(users).where(users.c.id == leads.ann).values(timezone="America/New_York"))
    page = login(app, "ann@example.com").get("/todos").get_data(as_text=True)
    # 09:00 on 4 March in Shanghai is 20:00 on 3 March in New York
    assert "2026-03-03" in page and "20:00" in page and "America/New_York" in page
    assert "09:00" not in page


@time_machine.travel(NOW, tick=False)
def test_a_hidden_calendar_field_and_an_unreadable_record_stay_off_the_page(app, leads, prospects):
    from formloom.store.install import install_documents
    hidden = copy.deepcopy(LEADS_APP)
    hidden["entities"][0]["fields"][2]["hidden_for"] = ["rep"]
    install_documents(app.extensions["formloom.db"], hidden, {"prospect_flow": copy.deepcopy(FLOW)})
    page = login(app, "ann@example.com").get("/todos").get_data(as_text=True)
    assert "Next call" not in page
    clerk = login(app, "clerk@example.com").get("/todos").get_data(as_text=True)
    assert "Ann&#39;s lead" not in clerk and "Pooled lead" not in clerk and "Nothing is due for you" in clerk


@pytest.mark.parametrize("query", ["view=agenda", "view=month&day=2026-13-01", "day=99999-01-01", "day=20260301",
                                   "view=week&day=0001-01-01"])
def test_bad_parameters_are_a_located_400_never_a_500(app, leads, query):
    response = login(app, "ann@example.com").get(f"/todos?{query}")
    assert response.status_code == 400
    assert "is not a valid value for" in response.get_data(as_text=True)
