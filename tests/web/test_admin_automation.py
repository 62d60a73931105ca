"""The automation admin pages: only the app's admins see them; the run log, the
pending reminders per rule, a dead letter retried from the page, and the mail
outbox when no SMTP server is configured."""
from __future__ import annotations

import copy
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from formloom.automation import Settings, run_worker_once
from formloom.store.install import install_documents
from formloom.store.tables import jobs

from .desk import CASE_FLOW, desk_app

BASE = "/apps/desk/admin/automation"
SETTINGS = Settings(base_url="https://desk.example")


class Hook:
    """A local HTTP server that takes webhooks."""

    def __init__(self):
        self.received: list[bytes] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def automated(app, people, hook):
    """The desk app with rules: email the owner on create, a webhook on create, a reminder a day before `due`."""
    flow = copy.deepcopy(CASE_FLOW)
    flow["rules"] = [
        {"key": "tell_owner", "label": {"en": "Tell the owner", "zh": "通知负责人"},
         "trigger": {"type": "record_created"},
         "actions": [{"type": "email", "to": ["owner"],
                      "subject": "New case: {{ record.subject }}", "message": "Look at {{ record.subject }}"}]},
        {"key": "push_out", "label": "Push to the hook", "trigger": {"type": "record_created"},
         "actions": [{"type": "webhook", "url": hook.url}]},
        {"key": "due_soon", "label": {"en": "Due tomorrow", "zh": "明天到期"},
         "trigger": {"type": "date_field", "field": "due", "offset": "-P1D", "at": "09:00"},
         "actions": [{"type": "notify", "to": ["owner"]}]},
    ]
    install_documents(app.extensions["formloom.db"], desk_app(), {"case_flow": flow})
    return app


def work(app, settings: Settings = SETTINGS) -> int:
    return run_worker_once(app.extensions["formloom.db"], app.extensions["formloom.catalog"], settings=settings)


def job_of(app, rule_key: str):
    with app.extensions["formloom.db"].read() as conn:
        return conn.execute(select(jobs).where(jobs.c.rule_key == rule_key, jobs.c.kind != "reminder")).one()


@pytest.mark.parametrize("path", ["", "/reminders", "/dead-letters", "/outbox"])
def test_only_the_apps_admins_see_the_automation_pages(automated, browser, path):
    browser.login("agent@example.com")
    assert browser.get(BASE + path).status_code == 403
    browser.logout()
    browser.login("outsider@example.com")
    assert browser.get(BASE + path).status_code == 404
    browser.logout()
    browser.login("admin@example.com")
    assert browser.get(BASE + path).status_code == 200


def test_the_top_bar_links_admins_to_automation(automated, browser):
    browser.login("agent@example.com")
    assert BASE not in browser.get("/").get_data(as_text=True)
    assert browser.get("/admin/automation").status_code == 404
    browser.logout()
    browser.login("admin@example.com")
    assert f'href="{BASE}"' in browser.get("/").get_data(as_text=True)
    assert browser.get("/admin/automation").headers["Location"].endswith(BASE)


def test_run_log_and_pending_reminders(automated, as_admin, make_record):
    due = date.today() + timedelta(days=10)
    case = make_record("case", {"subject": "Broken chair", "due": due.isoformat()})
    work(automated, SETTINGS.but(webhook_allow_private=True))

    page = as_admin.get(BASE).get_data(as_text=True)
    assert "Tell the owner" in page and "Push to the hook" in page
    assert f'href="/apps/desk/case/{case.id}"' in page
    assert "fired" in page and " ms<" in page

    only = as_admin.get(BASE + "?rule=push_out").get_data(as_text=True)
    assert "Push to the hook" in only and "tell_owner</span>" not in only

    reminders = as_admin.get(BASE + "/reminders").get_data(as_text=True)
    assert 'id="rule-due_soon"' in reminders and "Due tomorrow" in reminders
    day_before = due - timedelta(days=1)
    assert f"{day_before.day} {day_before.strftime('%b')} {day_before.year}, 09:00 UTC+8" in reminders  # the app's zone
    assert f'href="/apps/desk/case/{case.id}">Broken chair</a>' in reminders


def test_a_dead_letter_is_retried_from_the_page(automated, as_admin, make_record, hook, app):
    make_record("case", {"subject": "Broken chair"})
    work(automated)                                        # by default a webhook to 127.0.0.1 is refused
    job = job_of(app, "push_out")
    assert job.status == "failed" and hook.received == []

    page = as_admin.get(BASE + "/dead-letters").get_data(as_text=True)
    assert f'id="job-{job.id}"' in page and "Retry" in page
    response = as_admin.post(f"{BASE}/dead-letters/{job.id}/retry", token_from=BASE + "/dead-letters")
    assert response.status_code == 303
    assert job_of(app, "push_out").status == "pending"
    page = as_admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f'id="job-{job.id}"' not in page and f"Job {job.id} is queued again" in page

    work(automated, SETTINGS.but(webhook_allow_private=True))   # the admin allowed the address
    assert job_of(app, "push_out").status == "done" and len(hook.received) == 1

    again = as_admin.post(f"{BASE}/dead-letters/{job.id}/retry", token_from=BASE + "/dead-letters")
    assert again.status_code == 404                       # only dead letters can be retried


def test_retry_needs_an_admin_and_the_csrf_token(automated, browser, make_record, app):
    make_record("case", {"subject": "Broken chair"})
    work(automated)
    job = job_of(app, "push_out")
    browser.login("admin@example.com")
    assert browser.client.post(f"{BASE}/dead-letters/{job.id}/retry").status_code == 400
    browser.logout()
    browser.login("agent@example.com")
    assert browser.post(f"{BASE}/dead-letters/{job.id}/retry").status_code == 403
    assert job_of(app, "push_out").status == "failed"


def test_the_outbox_shows_mail_kept_without_smtp(automated, as_admin, make_record):
    make_record("case", {"subject": "Broken chair"})
    work(automated)
    page = as_admin.get(BASE + "/outbox").get_data(as_text=True)
    assert "No SMTP server is configured" in page
    assert "New case: Broken chair" in page and "agent@example.com" in page
    assert "Look at Broken chair" in page
