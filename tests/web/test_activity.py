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


# -- the record page reads its stage history and the timeline's audit rows in one statement --------

def _query(desk, case, actor, kinds, limit=20, offset=0):
    from formloom.collab.activity import TimelineQuery
    entity = desk.entity("case")
    return TimelineQuery(desk, entity, case.id, actor, frozenset(f.key for f in entity.fields), frozenset(kinds),
                         limit=limit, offset=offset)


@pytest.mark.parametrize("kinds, limit", [
    (("comment", "attachment", "change", "stage", "related", "rule", "approval"), 20),
    (("change",), 20), (("rule",), 20), (("approval",), 20), (("change", "rule", "stage"), 1)])
def test_stages_and_audit_read_together_equal_what_each_read_gives(app, desk, story, people, actor_of, kinds, limit):
    from sqlalchemy import event

    from formloom.collab.activity import _audit_statement
    from formloom.collab.page_reads import stages_and_audit
    from formloom.workflow import stage_history_rows
    _acme, case, _other, _mine = story
    q = _query(desk, case, actor_of(people.agent), kinds, limit=limit)
    engine, seen = app.extensions["formloom.db"].engine, []
    with app.extensions["formloom.db"].read() as conn:
        listen = lambda *args: seen.append(args[2])          # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            stages, (audit_kinds, want, audited) = stages_and_audit(conn, q)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        assert len(seen) == 1 and "UNION ALL" in seen[0].upper()
        assert stages == stage_history_rows(conn, case.id) and [s.to_stage for s in stages] == ["open", "closed"]
        alone = conn.execute(_audit_statement(audit_kinds), {"record_id": case.id, "want": want}).all()
    assert audit_kinds == frozenset(kinds) & {"change", "rule", "approval"} and want == limit + 1
    assert [(a.id, a.action, a.changes, a.user_id, a.via, a.user_name, a.user_email) for a in audited] == [
        (r.id, r.action, r.changes, r.user_id, r.via, r.user_name, r.user_email) for r in alone]
    assert [a.at.replace(tzinfo=None) for a in audited] == [r.at.replace(tzinfo=None) for r in alone]
    if kinds == ("change",):
        assert [a.action for a in audited] == ["update", "create"]     # the rule's write is "rule"
        assert audited[0].changes["priority"] == [None, "high"]


def test_no_audit_kind_asked_reads_the_stage_history_alone(app, desk, story, people, actor_of):
    from formloom.collab.page_reads import stages_and_audit
    _acme, case, _other, _mine = story
    with app.extensions["formloom.db"].read() as conn:
        stages, audited = stages_and_audit(conn, _query(desk, case, actor_of(people.agent), ("stage", "comment")))
    assert audited is None and [s.to_stage for s in stages] == ["open", "closed"]


@pytest.mark.parametrize("known_limit", [20, 1])
def test_a_timeline_given_the_audit_rows_equals_one_that_reads_them(app, desk, story, people, actor_of, known_limit):
    """Rows read for a smaller page (fewer than the timeline needs) are read again."""
    from dataclasses import replace

    from formloom.collab.activity import KINDS, timeline
    from formloom.collab.page_reads import stages_and_audit
    _acme, case, _other, _mine = story
    actor = actor_of(people.agent)
    q = _query(desk, case, actor, KINDS, limit=2)
    with app.extensions["formloom.db"].read() as conn:
        stages, audit_rows = stages_and_audit(conn, _query(desk, case, actor, KINDS, limit=known_limit))
        given = timeline(conn, replace(q, known={"stages": stages, "audit": audit_rows}))
        alone = timeline(conn, q)
        stale = timeline(conn, replace(q, kinds=frozenset({"change"}), known={"audit": audit_rows}))
        change_only = timeline(conn, replace(q, kinds=frozenset({"change"})))
    assert given == alone and len(given.items) == 2 and given.has_more
    assert stale == change_only          # other kinds than the rows were read for: read again
