"""Comments with @mentions: readers of a record comment on it, mention other readers
(and only them), the mentioned get a bell notification and an email with a link;
authors edit or delete their own for a while, and both leave a trace."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from formloom.store.tables import audit, comments, jobs, notifications

from .api_client import api_as, token_for  # noqa: F401

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def case(make_record):
    acme = make_record("company", {"name": "Acme"})
    return make_record("case", {"subject": "Printer on fire", "company": acme.id})


def url(case, tail: str = "") -> str:
    return f"/apps/desk/case/{case.id}{tail}"


def rows(app, table, *where):
    with app.extensions["formloom.db"].read() as conn:
        return [r._mapping for r in conn.execute(select(table).where(*where).order_by(table.c.id))]


def comment(browser, case, body: str, token_from: str | None = None, **kw):
    return browser.post(url(case, "/comments"), {"body": body}, token_from=token_from or url(case), **kw)


def test_a_comment_mentions_a_reader_who_gets_the_bell_and_an_email(app, as_agent, case, people):
    response = comment(as_agent, case, "@Ada Admin can you call them? cc @Olga Other @outsider@example.com")
    assert response.status_code == 302 and response.location.endswith(url(case) + "#activity")
    [stored] = rows(app, comments)
    assert stored["mentions"] == [people.admin]            # Olga and the outsider cannot read the case
    [note] = rows(app, notifications, notifications.c.idempotency_key.like("comment:%"))
    assert note["user_id"] == people.admin and note["record_id"] == case.id
    assert note["subject"] == "Alex Agent mentioned you on Printer on fire"
    [mail] = rows(app, jobs, jobs.c.kind == "email")
    assert mail["payload"]["to"] == "admin@example.com"
    assert mail["payload"]["body"].endswith(f"/apps/desk/case/{case.id}#comment-{stored['id']}")
    assert rows(app, notifications, notifications.c.user_id.in_([people.other_agent, people.outsider])) == []


def test_the_mentioned_person_reads_the_bell_in_their_language(app, browser, case, people):
    browser.login("agent@example.com")
    comment(browser, case, "@Vic Viewer please look")
    [note] = rows(app, notifications)
    assert note["user_id"] == people.viewer and note["subject"] == "Alex Agent 在 Printer on fire 中提到了你"


def test_the_picker_offers_only_people_who_can_read_the_record(as_agent, case):
    found = as_agent.get(url(case, "/mentionable")).get_json()["people"]
    assert sorted(p["name"] for p in found) == ["Ada Admin", "Vic Viewer"]       # not Olga, not the outsider
    assert [p["name"] for p in as_agent.get(url(case, "/mentionable?q=vic")).get_json()["people"]] == ["Vic Viewer"]
    assert as_agent.get(url(case, "/mentionable?limit=0")).status_code == 400


def test_nobody_outside_the_record_comments_reads_comments_or_lists_people(app, browser, as_agent, case):
    comment(as_agent, case, "secret plan")
    as_agent.logout()
    browser.login("other@example.com")
    assert comment(browser, case, "let me in", token_from="/").status_code == 404
    assert browser.get(url(case, "/mentionable")).status_code == 404
    assert browser.get(url(case, "/activity")).status_code == 404
    assert len(rows(app, comments)) == 1


def test_a_reader_who_may_not_edit_may_still_comment(app, browser, case):
    browser.login("viewer@example.com")
    assert comment(browser, case, "查看了").status_code == 302
    page = browser.get(url(case)).get_data(as_text=True)
    assert "查看了" in page and "发表了评论" in page


def test_comments_are_plain_text_escaped_in_the_timeline(as_agent, case):
    comment(as_agent, case, "<script>alert(1)</script> **not bold**\nsecond line")
    page = as_agent.get(url(case)).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **not bold**\nsecond line" in page
    assert "<script>alert(1)" not in page


def test_empty_or_too_long_comments_are_refused_with_the_reason(app, as_agent, case):
    response = comment(as_agent, case, "   ")
    assert response.status_code == 422 and "Write something before sending the comment." in response.get_data(as_text=True)
    response = comment(as_agent, case, "x" * 4001, headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "at most 4000 characters (this one has 4001)" in page
    assert 'aria-invalid="true"' in page and rows(app, comments) == []


def test_the_author_edits_within_the_window_and_it_is_audited(app, browser, case):
    as_agent = browser
    with time_machine.travel(T0, tick=False):
        browser.login("agent@example.com")
        comment(as_agent, case, "first words")
    [stored] = rows(app, comments)
    edit = url(case, f"/comments/{stored['id']}/edit")
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        page = as_agent.get(url(case)).get_data(as_text=True)
        assert f'action="{edit}"' in page                            # the author sees the controls
        assert as_agent.post(edit, {"body": "better words"}, token_from=url(case)).status_code == 302
    [stored] = rows(app, comments)
    assert stored["body"] == "better words" and stored["edited_at"] is not None
    [trace] = rows(app, audit, audit.c.action == "comment_edit")
    assert trace["changes"]["$comment"][0]["body"] == "first words"
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        response = as_agent.post(edit, {"body": "too late"}, token_from=url(case))
        assert response.status_code == 403 and "within 15 minutes" in response.get_data(as_text=True)
        assert f'action="{edit}"' not in as_agent.get(url(case)).get_data(as_text=True)
        page = as_agent.get(url(case, "/activity?kind=comment")).get_data(as_text=True)
    assert "better words" in page and "(edited)" in page and "changed" not in page


def test_only_the_author_edits_or_deletes(app, browser, case):
    browser.login("agent@example.com")
    comment(browser, case, "mine")
    [stored] = rows(app, comments)
    browser.logout()
    browser.login("admin@example.com")
    assert browser.post(url(case, f"/comments/{stored['id']}/delete"), token_from=url(case)).status_code == 403
    assert browser.post(url(case, f"/comments/{stored['id']}/edit"), {"body": "x"},
                        token_from=url(case)).status_code == 403
    assert browser.post(url(case, "/comments/999999/delete"), token_from=url(case)).status_code == 404
    assert rows(app, comments)[0]["deleted_at"] is None


def test_delete_leaves_a_trace(app, as_agent, case):
    comment(as_agent, case, "oops wrong record")
    [stored] = rows(app, comments)
    response = as_agent.post(url(case, f"/comments/{stored['id']}/delete"), token_from=url(case),
                             headers={"HX-Request": "true"})
    assert response.status_code == 200 and "This comment was deleted." in response.get_data(as_text=True)
    assert "oops wrong record" not in response.get_data(as_text=True)
    [trace] = rows(app, audit, audit.c.action == "comment_delete")
    assert trace["changes"]["$comment"][0]["body"] == "oops wrong record"
    assert as_agent.post(url(case, f"/comments/{stored['id']}/delete"), token_from=url(case)).status_code == 404


def test_the_api_feed_carries_comments_for_readers_only(api_as, as_agent, case, people):
    comment(as_agent, case, "@Ada Admin hello")
    body = api_as("admin").get(f"/api/v1/desk/case/{case.id}/activity?kind=comment").get_json()
    [item] = body["items"]
    assert item["body"] == "@Ada Admin hello" and item["mentions"] == [people.admin]
    assert item["user"] == {"id": people.agent, "name": "Alex Agent"} and item["deleted"] is False
    assert api_as("other_agent").get(f"/api/v1/desk/case/{case.id}/activity").status_code == 404


def test_a_comment_is_only_reachable_through_its_own_record(app, as_agent, case, make_record):
    other_case = make_record("case", {"subject": "Another of mine"})
    comment(as_agent, case, "belongs to the first case")
    [stored] = rows(app, comments)
    wrong = f"/apps/desk/case/{other_case.id}/comments/{stored['id']}"
    assert as_agent.post(f"{wrong}/edit", {"body": "hijack"}, token_from=url(case)).status_code == 404
    assert as_agent.post(f"{wrong}/delete", token_from=url(case)).status_code == 404
    company = case.data["company"]
    assert as_agent.post(f"/apps/desk/company/{company}/comments/{stored['id']}/delete",
                         token_from=url(case)).status_code == 404
    assert rows(app, comments)[0]["body"] == "belongs to the first case"
