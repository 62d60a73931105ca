"""Pending reminders read like a work list, not a developer tool: a page of 50 at a
time with record titles, rule labels and local times (no ids, rule keys or raw
timestamps); the run log's words are translated; a manager who is not an admin sees,
read-only, the pending reminders of their team's records instead of a 403."""
from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import update

from formloom.automation import run_worker_once
from formloom.store.tables import users

from .test_admin_automation import BASE, SETTINGS, automated, hook  # noqa: F401  (fixtures)


def _cases(make_record, n: int, actor=None, prefix="Case"):
    due = date.today() + timedelta(days=10)
    return [make_record("case", {"subject": f"{prefix} {i:03d}", "due": (due + timedelta(days=i)).isoformat()},
                        actor=actor) for i in range(n)]


def _work(app):
    run_worker_once(app.extensions["formloom.db"], app.extensions["formloom.catalog"], settings=SETTINGS)


def test_pending_reminders_are_paged_with_titles_labels_and_local_times(automated, as_admin, make_record):
    _cases(make_record, 60)
    _work(automated)
    first = as_admin.get(BASE + "/reminders").get_data(as_text=True)
    assert first.count('<tr>') - 1 == 50                       # the header row, then 50
    assert "Pending reminders 1–50 of 60" in first and 'rel="next"' in first
    assert ">Case 000</a>" in first and ">Case 049</a>" in first and ">Case 050</a>" not in first
    assert "Due tomorrow" in first
    text = re.sub(r"<[^>]*>", " ", first)
    assert "due_soon" not in text and "date_field" not in text             # no rule keys, no trigger types
    assert not re.search(r"(?<!&)#\d+", text) and not re.search(r"\d{4}-\d\d-\d\dT", text)
    second = as_admin.get(BASE + "/reminders?page=2").get_data(as_text=True)
    assert "Pending reminders 51–60 of 60" in second and ">Case 059</a>" in second and 'rel="next"' not in second
    assert as_admin.get(BASE + "/reminders?page=99999999999").status_code == 200


def test_run_log_reads_in_chinese(automated, browser, make_record, app, people):
    make_record("case", {"subject": "Broken chair"})
    _work(automated)
    browser.login("admin@example.com")
    browser.post("/language", data={"lang": "zh", "next": "/"})
    page = browser.get(BASE).get_data(as_text=True)
    text = re.sub(r"<[^>]*>", " ", page)
    assert "记录创建" in text and ("已触发" in text or "失败" in text)
    assert "record_created" not in text and ">fired<" not in page and ">failed<" not in page
    dead_page = browser.get(BASE + "/dead-letters").get_data(as_text=True)
    dead = re.sub(r"<[^>]*>", " ", dead_page)
    assert "Webhook 推送" in dead and "失败" in dead and "Broken chair" in dead     # the refused webhook
    assert ">webhook<" not in dead_page and ">failed<" not in dead_page


def test_a_manager_sees_the_team_reminders_read_only(automated, browser, make_record, app, people):
    with app.extensions["formloom.db"].write() as conn:     # the viewer manages the agent
        conn.execute(update(users).where(users.c.id == people.agent).values(manager_id=people.viewer))
    _cases(make_record, 3, actor=people.agent, prefix="Team")
    _cases(make_record, 2, actor=people.other_agent, prefix="Other")
    _work(automated)
    browser.login("viewer@example.com")
    home = browser.get("/").get_data(as_text=True)
    assert f'href="{BASE}/reminders"' in home
    response = browser.get(BASE + "/reminders")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert ">Team 000</a>" in page and ">Team 002</a>" in page and "Other 000" not in page
    assert "retry" not in page.lower() and f'href="{BASE}/dead-letters"' not in page
    for path in ("", "/dead-letters", "/outbox"):
        assert browser.get(BASE + path).status_code == 403
    browser.logout()
    browser.login("other@example.com")                     # manages nobody
    assert browser.get(BASE + "/reminders").status_code == 403
