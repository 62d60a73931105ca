"""Comments through the JSON API: the record page's rules, with a token. Readers write,
mention readers (and only them: anyone else refuses the comment, 422 naming them), attach
files with the same checks; authors edit and delete within the window (as on the record
page), leaving a trace. A record or comment one may not read answers 404 like an unknown one."""
from __future__ import annotations

import io
from datetime import timedelta

import time_machine
import pytest
from sqlalchemy import select

from formloom.store.tables import audit, comments, files, notifications

from .api_client import api_as, token_for  # noqa: F401


@pytest.fixture
def case(make_record):
    return make_record("case", {"subject": "Printer on fire"})


def url(case, tail: str = "") -> str:
    return f"/api/v1/desk/case/{case.id}/comments{tail}"


def rows(app, table, *where):
    with app.extensions["formloom.db"].read() as conn:
        return [r._mapping for r in conn.execute(select(table).where(*where).order_by(table.c.id))]


def test_a_reader_comments_and_mentions_readers_by_id(app, api_as, case, people):
    response = api_as("agent").post(url(case), {"body": "please call them", "mentions": [people.admin]})
    assert response.status_code == 201
    made = response.get_json()
    assert made["body"] == "please call them" and made["mentions"] == [people.admin]
    assert made["author"] == people.agent and made["files"] == [] and made["edited_at"] is None
    [note] = rows(app, notifications, notifications.c.idempotency_key.like("comment:%"))
    assert note["user_id"] == people.admin


def test_a_mention_of_someone_who_cannot_read_refuses_the_comment_naming_them(app, api_as, case, people):
    response = api_as("agent").post(url(case), {"body": "hi", "mentions": [people.admin, people.other_agent]})
    assert response.status_code == 422
    [problem] = response.get_json()["errors"]
    assert problem["path"] == "/mentions" and str(people.other_agent) in problem["message"]
    assert str(people.admin) not in problem["message"].split(":")[-1]
    assert rows(app, comments) == [] and rows(app, notifications) == []


def test_a_bad_body_is_refused_with_a_clear_reason(api_as, case):
    agent = api_as("agent")
    assert agent.post(url(case), {"body": "   "}).get_json()["errors"][0]["path"] == "/body"
    assert agent.post(url(case), {"body": "x" * 4001}).status_code == 422
    assert agent.post(url(case), {"body": 3}).status_code == 400
    assert agent.post(url(case), {"body": "hi", "mentions": ["ada"]}).status_code == 400
    assert agent.post(url(case), {"body": "hi", "colour": "red"}).status_code == 400


def test_multipart_carries_files_with_the_pages_checks(app, api_as, case):
    agent = api_as("agent")
    ok = agent.client.post(url(case), data={"body": "the report", "files": [(io.BytesIO(b"a,b\n1,2\n"), "r.csv")]},
                           headers=agent.headers(), content_type="multipart/form-data")
    assert ok.status_code == 201 and [f["name"] for f in ok.get_json()["files"]] == ["r.csv"]
    bad = agent.client.post(url(case), data={"body": "x", "files": [(io.BytesIO(b"MZ\x90\x00" + bytes(60)), "a.exe")]},
                            headers=agent.headers(), content_type="multipart/form-data")
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["path"].startswith("/files")
    assert len(rows(app, comments)) == 1 and len(rows(app, files, files.c.comment_id.isnot(None))) == 1


def test_the_author_edits_within_the_window_and_leaves_a_trace(app, api_as, case):
    agent = api_as("agent")
    with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False) as traveller:
        made = agent.post(url(case), {"body": "first"}).get_json()
        edited = agent.patch(url(case, f"/{made['id']}"), {"body": "second"})
        assert edited.status_code == 200 and edited.get_json()["body"] == "second"
        assert edited.get_json()["edited_at"] is not None
        assert [a["action"] for a in rows(app, audit, audit.c.action.like("comment%"))] == ["comment_edit"]
        traveller.shift(timedelta(minutes=16))
        assert agent.patch(url(case, f"/{made['id']}"), {"body": "third"}).status_code == 403


def test_only_the_author_edits_and_deletes_as_on_the_record_page(app, api_as, case, people):
    made = api_as("agent").post(url(case), {"body": "mine"}).get_json()
    viewer = api_as("viewer")
    assert viewer.patch(url(case, f"/{made['id']}"), {"body": "yours"}).status_code == 403
    assert viewer.delete(url(case, f"/{made['id']}")).status_code == 403
    assert api_as("admin").patch(url(case, f"/{made['id']}"), {"body": "edited"}).status_code == 403
    assert api_as("admin").delete(url(case, f"/{made['id']}")).status_code == 403
    assert api_as("agent").delete(url(case, f"/{made['id']}")).status_code == 204
    [trace] = rows(app, audit, audit.c.action == "comment_delete")
    assert trace["changes"]["$comment"][0]["body"] == "mine" and trace["user_id"] == people.agent
    assert api_as("agent").delete(url(case, f"/{made['id']}")).status_code == 404      # already gone


def test_another_rep_another_app_or_another_records_comment_is_404_like_unknown(app, api_as, make_record, case):
    agent = api_as("agent")
    made = agent.post(url(case), {"body": "secret"}).get_json()
    other_case = make_record("case", {"subject": "Elsewhere"})
    other = api_as("other_agent")
    unknown = other.post(f"/api/v1/desk/case/{case.id + 1000}/comments", {"body": "x"})
    assert unknown.status_code == 404
    assert other.post(url(case), {"body": "let me in"}).status_code == 404
    assert other.patch(url(case, f"/{made['id']}"), {"body": "x"}).status_code == 404
    assert other.delete(url(case, f"/{made['id']}")).status_code == 404
    assert api_as("outsider").post(url(case), {"body": "x"}).status_code == 404
    assert agent.post(f"/api/v1/nope/case/{case.id}/comments", {"body": "x"}).status_code == 404
    assert agent.patch(url(other_case, f"/{made['id']}"), {"body": "x"}).status_code == 404
    assert agent.delete(url(other_case, f"/{made['id']}")).status_code == 404
    assert agent.delete(url(case, "/99999999")).status_code == 404
    assert [r["body"] for r in rows(app, comments)] == ["secret"]


def test_a_session_caller_needs_the_csrf_token_and_no_credentials_is_401(app, browser, case):
    assert app.test_client().post(url(case), json={"body": "x"}).status_code == 401
    browser.login("agent@example.com")
    assert browser.client.post(url(case), json={"body": "x"}).status_code in (400, 403)
    assert rows(app, comments) == []


def test_errors_speak_the_callers_language(api_as, case):
    response = api_as("agent", lang="zh").post(url(case), {"body": ""})
    assert response.status_code == 422 and "评论" in response.get_json()["errors"][0]["message"]


def test_a_whole_number_written_as_a_float_is_an_id_and_the_raw_text_keeps_the_published_limit(app, api_as, case,
                                                                                                people):
    agent = api_as("agent")
    assert agent.post(url(case), {"body": "hi", "mentions": [float(people.admin)]}).get_json()["mentions"] == \
        [people.admin]
    long = agent.post(url(case), {"body": "\u0085" + "x" * 4000})       # 4001 as sent, 4000 once trimmed
    assert long.status_code == 422 and long.get_json()["errors"][0]["path"] == "/body"


def test_a_refused_mention_is_named_in_the_callers_language(api_as, case, people):
    response = api_as("agent", lang="zh").post(url(case), {"body": "hi", "mentions": [people.outsider]})
    assert response.status_code == 422 and "无法在此提及" in response.get_json()["errors"][0]["message"]
