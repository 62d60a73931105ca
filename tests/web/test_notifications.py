"""The bell, the notification list, mark read / all read, the notifications API for
a Bearer token, and the worker being woken after a successful write."""
from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from formloom.automation import unread_count
from formloom.automation.channels.inapp import notify_user
from formloom.store.tables import api_tokens


@pytest.fixture
def notify(app):
    db = app.extensions["formloom.db"]
    counter = iter(range(1, 10_000))

    def send(user_id: int, subject: str, record=None, body: str = ""):
        with db.write() as conn:
            notify_user(conn, user_id, subject, body, f"test:{next(counter)}", datetime.now(timezone.utc),
                        app_key="desk", record_id=record.id if record else None)
    return send


def unread(app, user_id: int) -> int:
    with app.extensions["formloom.db"].read() as conn:
        return unread_count(conn, user_id)


def ids_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="notification-(\d+)"', page)]


def issue_token(app, user_id: int) -> str:
    """An API token for the user, through the records API's own helper when it exists."""
    try:
        from formloom.auth import tokens
    except ImportError:
        tokens = None
    db = app.extensions["formloom.db"]
    if tokens is not None and hasattr(tokens, "create_token"):
        with db.write() as conn:
            made = tokens.create_token(conn, user_id, "test")
        return made if isinstance(made, str) else made[1]
    token = secrets.token_urlsafe(32)
    with db.write() as conn:
        conn.execute(insert(api_tokens).values(user_id=user_id, name="test",
                                               token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                               created_at=datetime.now(timezone.utc)))
    return token


def test_the_bell_shows_the_unread_count_and_polls_every_30_seconds(as_agent, people, notify):
    page = as_agent.get("/").get_data(as_text=True)
    assert 'id="bell"' in page and "data-unread" not in page          # nothing unread: no badge
    notify(people.agent, "First")
    notify(people.agent, "Second")
    notify(people.other_agent, "Not yours")
    page = as_agent.get("/").get_data(as_text=True)
    bell = re.search(r'<a id="bell".*?</a>', page, re.S).group(0)
    assert 'hx-trigger="every 30s"' in bell and 'hx-get="/notifications/bell"' in bell
    assert 'data-unread="2"' in bell
    fragment = as_agent.get("/notifications/bell", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and 'data-unread="2"' in fragment.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)


def test_the_list_links_to_records_and_shows_only_my_notifications(as_agent, people, notify, make_record):
    case = make_record("case", {"subject": "Printer"})
    notify(people.agent, "Case needs you", case, body="Printer is on fire")
    notify(people.agent, "Without a record")
    notify(people.other_agent, "Olga's secret")
    response = as_agent.get("/notifications")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Case needs you" in page and "Printer is on fire" in page and "Without a record" in page
    assert f'href="/apps/desk/case/{case.id}"' in page
    assert "Olga&#39;s secret" not in page and "Olga's secret" not in page
    assert len(ids_on(page)) == 2


def test_mark_read_and_mark_all_read(as_agent, app, people, notify):
    for n in range(3):
        notify(people.agent, f"Note {n}")
    notify(people.other_agent, "Olga's")
    page = as_agent.get("/notifications").get_data(as_text=True)
    newest, *_rest = ids_on(page)

    response = as_agent.post("/notifications/read", {"id": str(newest)}, token_from="/notifications")
    assert response.status_code == 303
    assert unread(app, people.agent) == 2
    assert as_agent.get("/notifications?unread=1").get_data(as_text=True).count('id="notification-') == 2

    # another user's notification cannot be marked read by me
    with app.extensions["formloom.db"].read() as conn:
        from formloom.automation import notifications_for
        olgas = notifications_for(conn, people.other_agent)[0]["id"]
    as_agent.post("/notifications/read", {"id": str(olgas)}, token_from="/notifications")
    assert unread(app, people.other_agent) == 1

    response = as_agent.post("/notifications/read-all", token_from="/notifications")
    assert response.status_code == 303
    assert unread(app, people.agent) == 0
    assert unread(app, people.other_agent) == 1
    assert "data-unread" not in as_agent.get("/").get_data(as_text=True)


def test_marking_read_needs_the_csrf_token(as_agent, app, people, notify):
    notify(people.agent, "Keep me")
    response = as_agent.client.post("/notifications/read-all")
    assert response.status_code == 400
    assert unread(app, people.agent) == 1


def test_the_pages_need_a_login(browser, people):
    response = browser.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_api_lists_the_token_users_notifications(app, browser, people, notify, make_record):
    case = make_record("case", {"subject": "Printer"})
    notify(people.agent, "Yours", case)
    notify(people.agent, "Also yours")
    notify(people.other_agent, "Olga's")
    token = issue_token(app, people.agent)
    response = browser.client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [n["subject"] for n in body["data"]] == ["Also yours", "Yours"]
    assert body["unread"] == 2
    linked = body["data"][1]
    assert linked["record_id"] == case.id and linked["url"].endswith(f"/apps/desk/case/{case.id}")
    assert linked["read"] is False and linked["created_at"].endswith("Z")

    limited = browser.client.get("/api/v1/notifications?limit=1&unread=1",
                                 headers={"Authorization": f"Bearer {token}"}).get_json()
    assert len(limited["data"]) == 1 and limited["next_before"] == limited["data"][0]["id"]

    olga = issue_token(app, people.other_agent)
    theirs = browser.client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {olga}"}).get_json()
    assert [n["subject"] for n in theirs["data"]] == ["Olga's"]


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
def test_the_api_refuses_requests_without_a_valid_token(browser, people, header):
    headers = {"Authorization": header} if header else {}
    response = browser.client.get("/api/v1/notifications", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


class FakeWorker:
    def __init__(self):
        self.wake = threading.Event()


def test_a_successful_write_wakes_the_background_worker(app, as_agent):
    worker = app.extensions["formloom.worker"] = FakeWorker()
    as_agent.get("/apps/desk/case/")
    assert not worker.wake.is_set()                     # reading wakes nothing

    refused = as_agent.post("/apps/desk/case/new", {"subject": ""}, token_from="/apps/desk/case/new")
    assert refused.status_code == 422 and not worker.wake.is_set()

    saved = as_agent.post("/apps/desk/case/new", {"subject": "Wake up"}, token_from="/apps/desk/case/new")
    assert saved.status_code in (302, 303) and worker.wake.is_set()
