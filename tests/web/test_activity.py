"""The activity timeline: one feed on the record page and in the API, merged in
time order, paged, filterable by kind, and never showing what the reader may not."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from formloom.store.records import create_record, update_record
from formloom.workflow import move_to_stage

from .api_client import api_as, token_for  # noqa: F401

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def desk(app):
    return app.extensions["formloom.catalog"].get("desk")[0]


@pytest.fixture
def story(app, desk, people, actor_of):
    """A company and a case with a life: created, edited, moved, a rule wrote to it, a related case."""
    db = app.extensions["formloom.db"]
    agent = actor_of(people.agent)
    with time_machine.travel(T0, tick=False):
        with db.write() as conn:
            acme = create_record(conn, desk, desk.entity("company"), {"name": "Acme"}, actor_id=people.agent)
            case = create_record(conn, desk, desk.entity("case"),
                                 {"subject": "Printer on fire", "company": acme.id, "notes": "VIP secret"},
                                 actor_id=people.agent)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        with db.write() as conn:
            case = update_record(conn, desk, desk.entity("case"), case.id,
                                 {**case.data, "priority": "high", "notes": "still secret"},
                                 actor_id=people.agent, expected_version=case.version)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        with db.write() as conn:
            case = update_record(conn, desk, desk.entity("case"), case.id, {**case.data, "budget": "99"},
                                 actor_id=None, expected_version=case.version, via="rule: Budget default")
    with time_machine.travel(T0 + timedelta(days=3, hours=2), tick=False):
        with db.write() as conn:
            case = move_to_stage(conn, desk, desk.entity("case"), case.id, "closed", agent)
    with time_machine.travel(T0 + timedelta(days=4), tick=False):
        with db.write() as conn:
            other = create_record(conn, desk, desk.entity("case"), {"subject": "Olga's follow-up",
                                                                      "company": acme.id},
                                  actor_id=people.other_agent)
            mine = create_record(conn, desk, desk.entity("case"), {"subject": "My follow-up", "company": acme.id},
                                 actor_id=people.agent)
    return acme, case, other, mine


def test_the_record_page_shows_every_kind_newest_first(as_agent, story):
    _acme, case, _other, _mine = story
    page = as_agent.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    activity = page.split('id="activity-title"')[1]
    moved = activity.index("moved it from Open to Closed")
    assert "after 3d 2h in the previous stage" in activity           # the stage's duration
    rule = activity.index("Automation: Budget default")
    changed = activity.index("High")
    created = activity.index("created this record")
    assert moved < rule < changed < created                          # newest first


def test_related_records_appear_within_the_readers_scope(as_agent, story):
    acme, _case, _other, mine = story
    page = as_agent.get(f"/apps/desk/company/{acme.id}/activity?kind=related").get_data(as_text=True)
    assert "My follow-up" in page and f'href="/apps/desk/case/{mine.id}"' in page
    assert "Olga" not in page                                         # outside the agent's read scope


def test_hidden_fields_never_show_in_the_timeline(browser, story):
    _acme, case, _other, _mine = story
    browser.login("viewer@example.com")
    page = browser.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    assert "secret" not in page and "内部备注" not in page
    assert "活动" in page                                             # the viewer reads Chinese


def test_filter_by_kind_and_page(as_agent, story):
    _acme, case, _other, _mine = story
    only_stage = as_agent.get(f"/apps/desk/case/{case.id}/activity?kind=stage").get_data(as_text=True)
    assert "moved it from Open to Closed" in only_stage and "created this record" not in only_stage
    first = as_agent.get(f"/apps/desk/case/{case.id}/activity?limit=2").get_data(as_text=True)
    assert first.count('data-kind="') == 2 and "offset=2" in first and ">Older<" in first
    second = as_agent.get(f"/apps/desk/case/{case.id}/activity?limit=2&offset=2").get_data(as_text=True)
    assert ">Newer<" in second and "created this record" in second or "High" in second


def test_bad_parameters_are_400_not_500(as_agent, story):
    _acme, case, _other, _mine = story
    response = as_agent.get(f"/apps/desk/case/{case.id}/activity?kind=gossip")
    assert response.status_code == 400 and "gossip" in response.get_data(as_text=True)
    assert as_agent.get(f"/apps/desk/case/{case.id}/activity?limit=0").status_code == 400
    assert as_agent.get(f"/apps/desk/case/{case.id}/activity?offset=-1").status_code == 400


def test_a_record_the_reader_cannot_read_has_no_activity(browser, story):
    _acme, case, _other, _mine = story
    browser.login("other@example.com")
    assert browser.get(f"/apps/desk/case/{case.id}/activity").status_code == 404


def test_the_api_serves_the_same_feed(api_as, story):
    _acme, case, _other, _mine = story
    response = api_as("agent").get(f"/api/v1/desk/case/{case.id}/activity")
    assert response.status_code == 200
    body = response.get_json()
    kinds = [item["kind"] for item in body["items"]]
    assert kinds == ["stage", "rule", "change", "change", "stage"]     # newest first; the start is a stage too
    stage = body["items"][0]
    assert stage["from"] == "open" and stage["to"] == "closed" and stage["seconds_in_previous"] == 3 * 86400 + 7200
    assert body["items"][1]["via"] == "rule: Budget default" and body["items"][1]["user"] is None
    assert body["items"][2]["changes"] == [{"field": "notes", "old": "VIP secret", "new": "still secret"},
                                           {"field": "priority", "old": None, "new": "high"}]
    assert body["has_more"] is False and body["next_offset"] is None


def test_the_api_pages_filters_and_refuses(api_as, story):
    _acme, case, _other, _mine = story
    api = api_as("agent")
    page = api.get(f"/api/v1/desk/case/{case.id}/activity?limit=1&kind=change").get_json()
    assert [i["kind"] for i in page["items"]] == ["change"] and page["has_more"] and page["next_offset"] == 1
    assert api.get(f"/api/v1/desk/case/{case.id}/activity?kind=nope").status_code == 400
    assert api.get(f"/api/v1/desk/case/{case.id}/activity?colour=red").status_code == 400
    assert api_as("other_agent").get(f"/api/v1/desk/case/{case.id}/activity").status_code == 404
    assert api_as("outsider").get(f"/api/v1/desk/case/{case.id}/activity").status_code == 404
    viewer = api_as("viewer").get(f"/api/v1/desk/case/{case.id}/activity").get_json()
    assert all(c["field"] != "notes" for i in viewer["items"] for c in i.get("changes", []))


@pytest.mark.parametrize("who", ["agent", "admin"])
def test_the_record_page_timeline_equals_the_fragment_read_on_its_own(request, story, who):
    """The record page hands the timeline the related records and stage history it has already read;
    the fragment reads them itself. Both must show the same entries to the same reader."""
    acme, case, _other, _mine = story
    client = request.getfixturevalue(f"as_{who}")
    for path in (f"/apps/desk/company/{acme.id}", f"/apps/desk/case/{case.id}"):
        page = client.get(path).get_data(as_text=True)
        fragment = client.get(f"{path}/activity").get_data(as_text=True)
        on_page = page[page.index('<ol class="timeline">', page.index('id="activity-title"')):]
        alone = fragment[fragment.index('<ol class="timeline">'):]
        assert on_page[:on_page.index("</ol>")] == alone[:alone.index("</ol>")]
        assert "<li" in alone


def test_the_record_page_names_who_created_a_related_record_from_its_one_look_up_of_names(as_admin, story):
    """The related entries come without names to the record page (collab.activity.NAMES_LATER);
    their creators are named with the page's other names, even one the page shows nowhere else."""
    acme, _case, other, mine = story
    page = as_admin.get(f"/apps/desk/company/{acme.id}").get_data(as_text=True)
    activity = page[page.index('id="activity-title"'):]
    olga = activity[:activity.index(f'href="/apps/desk/case/{other.id}"')]
    assert olga[olga.rindex("<strong>"):].startswith("<strong>Olga Other</strong>")
    alex = activity[:activity.index(f'href="/apps/desk/case/{mine.id}"')]
    assert alex[alex.rindex("<strong>"):].startswith("<strong>Alex Agent</strong>")
    assert page.count("Olga Other") == 1


# -- the record page reads its stage history, the timeline's audit rows and comments in one statement --

ALL = ("comment", "attachment", "change", "stage", "related", "rule", "approval")


def _query(desk, case, actor, kinds, limit=20, offset=0):
    from formloom.collab.activity import TimelineQuery
    entity = desk.entity("case")
    return TimelineQuery(desk, entity, case.id, actor, frozenset(f.key for f in entity.fields), frozenset(kinds),
                         limit=limit, offset=offset)


@pytest.fixture
def talked(app, desk, story, people, actor_of):
    """The story's case with three comments: one edited, one deleted."""
    from formloom.collab.comments import add_comment, delete_comment, edit_comment
    case, agent, entity = story[1], actor_of(people.agent), desk.entity("case")
    now = T0 + timedelta(days=5)
    with app.extensions["formloom.db"].write() as conn:
        first = add_comment(conn, desk, entity, case, agent, "First word", now)
        second = add_comment(conn, desk, entity, case, agent, "Second word", now + timedelta(minutes=1))
        add_comment(conn, desk, entity, case, agent, "Third word", now + timedelta(minutes=2))
        edit_comment(conn, desk, entity, case, agent, first.id, "First word, edited", now + timedelta(minutes=3))
        delete_comment(conn, desk, entity, case, agent, second.id, now + timedelta(minutes=4))
    return story


def _one_statement(app, read):
    from sqlalchemy import event
    engine, seen = app.extensions["formloom.db"].engine, []
    listen = lambda *args: seen.append(args[2])          # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        found = read()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    asked = [sql for sql in seen if sql.strip().upper() not in ("BEGIN", "BEGIN (IMPLICIT)")]
    assert len(asked) == 1, asked
    return found, asked[0]


@pytest.mark.parametrize("kinds, limit", [
    (ALL, 20), (("change",), 20), (("rule",), 20), (("approval",), 20), (("change", "rule", "stage"), 1),
    (("comment", "stage"), 20), (ALL, 1)])
def test_timeline_rows_read_together_equal_what_each_read_gives(app, desk, talked, people, actor_of, kinds, limit):
    from formloom.collab.activity import _audit_statement
    from formloom.collab.comments import _COMMENTS
    from formloom.collab.page_reads import timeline_rows
    from formloom.workflow import stage_history_rows
    case, want = talked[1], limit + 1
    q = _query(desk, case, actor_of(people.agent), kinds, limit=limit)
    with app.extensions["formloom.db"].read() as conn:
        (stages, known), sql = _one_statement(app, lambda: timeline_rows(conn, q))
        assert "UNION ALL" in sql.upper()
        assert stages == stage_history_rows(conn, case.id) and [s.to_stage for s in stages] == ["open", "closed"]
        audit_alone = (conn.execute(_audit_statement(q.audit_kinds), {"record_id": case.id, "want": want}).all()
                       if q.audit_kinds else [])
        comments_alone = conn.execute(_COMMENTS, {"record_id": case.id, "want": want}).all()

    def naive(moment):
        return moment.replace(tzinfo=None) if moment is not None else None
    if q.audit_kinds:
        audit_kinds, audit_want, audited = known["audit"]
        assert audit_kinds == q.audit_kinds and audit_want == want
        assert [(a.id, a.action, a.changes, a.user_id, a.via, a.user_name, a.user_email, naive(a.at))
                for a in audited] == [(r.id, r.action, r.changes, r.user_id, r.via, r.user_name, r.user_email,
                                       naive(r.at)) for r in audit_alone]
    else:
        assert "audit" not in known
    if "comment" in kinds:
        comment_want, said = known["comments"]
        assert comment_want == want and len(said) == min(3, want)
        assert [(c.id, c.author_id, c.body, c.mentions, c.user_name, c.user_email, naive(c.created_at),
                 naive(c.edited_at), naive(c.deleted_at)) for c in said] == [
            (r.id, r.author_id, r.body, r.mentions, r.user_name, r.user_email, naive(r.created_at),
             naive(r.edited_at), naive(r.deleted_at)) for r in comments_alone]
    else:
        assert "comments" not in known
    if kinds == ("change",):
        # the comments' edit and removal, the person's update and the creation; not the rule's write
        assert [a.action for a in known["audit"][2]] == ["comment_delete", "comment_edit", "update", "create"]
        assert known["audit"][2][2].changes["priority"] == [None, "high"]
    if kinds == ALL and limit == 20:
        said = known["comments"][1]
        assert [c.body for c in said] == ["Third word", "Second word", "First word, edited"]
        assert said[1].deleted_at is not None and said[2].edited_at is not None and said[0].edited_at is None


def test_no_audit_kind_nor_comments_asked_reads_the_stage_history_alone(app, desk, talked, people, actor_of):
    from formloom.collab.page_reads import timeline_rows
    q = _query(desk, talked[1], actor_of(people.agent), ("stage", "attachment"))
    with app.extensions["formloom.db"].read() as conn:
        (stages, known), sql = _one_statement(app, lambda: timeline_rows(conn, q))
    assert known == {} and [s.to_stage for s in stages] == ["open", "closed"] and "UNION" not in sql.upper()


@pytest.mark.parametrize("known_limit", [20, 1])
def test_a_timeline_given_the_rows_equals_one_that_reads_them(app, desk, talked, people, actor_of, known_limit):
    """Rows read for a smaller page (fewer than the timeline needs) are read again."""
    from dataclasses import replace

    from formloom.collab.activity import timeline
    from formloom.collab.page_reads import timeline_rows
    case, actor = talked[1], actor_of(people.agent)
    with app.extensions["formloom.db"].read() as conn:
        stages, known = timeline_rows(conn, _query(desk, case, actor, ALL, limit=known_limit))
        for kinds in (ALL, ("comment",), ("attachment",), ("change",)):
            for limit in (2, 20):
                q = _query(desk, case, actor, kinds, limit=limit)
                given = timeline(conn, replace(q, known={"stages": stages, **known}))
                assert given == timeline(conn, q), (kinds, limit)
        page = timeline(conn, replace(_query(desk, case, actor, ALL, limit=20), known={"stages": stages, **known}))
    assert [a.kind for a in page.items].count("comment") == 3 and [a.kind for a in page.items].count("stage") == 2
