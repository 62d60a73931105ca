"""Role x action x scope x route, for the web screens and the API alike.

The desk app gets a `lead` role with team scope (the agent reports to the lead,
and a junior reports to the agent: teams are transitive), and `notes` is hidden
from leads too. Every refused request is checked to leave the rows unchanged,
and a record one may not read answers 404 wherever its id is guessed.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.tables import audit, records, users

from .api_client import Api, token_for  # noqa: F401
from .conftest import PASSWORD, Browser
from .desk import CASE_FLOW, desk_app



CASES = "/api/v1/desk/case"


def team_app() -> dict:
    doc = desk_app()
    doc["roles"] = ["admin", "agent", "viewer", "lead"]
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["permissions"]["lead"] = {"create": True, "read": "team", "update": "team", "delete": "team"}
    next(f for f in case["fields"] if f["key"] == "notes")["hidden_for"] = ["viewer", "lead"]
    return doc


@pytest.fixture
def world(app, people, make_record):
    """Users and three cases: A (the agent's), O (another agent's), J (a junior's, reporting to the agent)."""
    db = app.extensions["formloom.db"]
    install_documents(db, team_app(), {"case_flow": dict(CASE_FLOW)})
    with db.write() as conn:
        lead = create_user(conn, "lead@example.com", PASSWORD, name="Lee Lead", roles=[("desk", "lead")])
        junior = create_user(conn, "junior@example.com", PASSWORD, name="Jun Junior", roles=[("desk", "agent")],
                             manager_id=people.agent)
        conn.execute(update(users).where(users.c.id == people.agent).values(manager_id=lead))
    ids = {"admin": people.admin, "agent": people.agent, "other": people.other_agent, "viewer": people.viewer,
           "outsider": people.outsider, "lead": lead, "junior": junior}
    cases = {"A": make_record("case", {"subject": "Agent case", "notes": "secret-a"}, actor=people.agent).id,
             "O": make_record("case", {"subject": "Other case", "notes": "secret-o"}, actor=people.other_agent).id,
             "J": make_record("case", {"subject": "Junior case", "notes": "secret-j"}, actor=junior).id}
    return ids, cases


READS = {
    "admin": {"A", "O", "J"}, "agent": {"A"}, "other": {"O"}, "viewer": {"A", "O", "J"},
    "lead": {"A", "J"}, "junior": {"J"}, "outsider": set(),
}
UPDATES = {"admin": {"A", "O", "J"}, "agent": {"A"}, "other": {"O"}, "viewer": set(), "lead": {"A", "J"},
           "junior": {"J"}, "outsider": set()}
DELETES = {"admin": {"A", "O", "J"}, "lead": {"A", "J"}}
ROLES = list(READS)


def snapshot(app):
    with app.extensions["formloom.db"].read() as conn:
        rows = conn.execute(select(records.c.id, records.c.data, records.c.version, records.c.stage,
                                   records.c.deleted_at, records.c.owner_id).order_by(records.c.id)).all()
        audits = conn.execute(select(func.count()).select_from(audit)).scalar_one()
    return [tuple(r) for r in rows], audits


@pytest.fixture
def api_of(app, world, token_for):
    ids, _cases = world
    return lambda who: Api(app.test_client(), token_for(ids[who]))


def expected(allowed: set, readable: set, key: str, ok: int) -> int:
    if key in allowed:
        return ok
    return 403 if key in readable else 404


@pytest.mark.parametrize("who", ROLES)
def test_api_read_and_list_follow_the_scope(world, api_of, who):
    _ids, cases = world
    api = api_of(who)
    for key, record_id in cases.items():
        assert api.get(f"{CASES}/{record_id}").status_code == (200 if key in READS[who] else 404), key
    listed = api.get(CASES)
    if who == "outsider":
        assert listed.status_code == 404
    else:
        assert {r["id"] for r in listed.get_json()["items"]} == {cases[k] for k in READS[who]}


@pytest.mark.parametrize("who", ROLES)
def test_api_update_follows_the_scope_and_refusals_change_nothing(app, world, api_of, who):
    _ids, cases = world
    api = api_of(who)
    for key, record_id in cases.items():
        before = snapshot(app)
        response = api.patch(f"{CASES}/{record_id}", {"version": 1, "data": {"subject": f"By {who}"}})
        assert response.status_code == expected(UPDATES[who], READS[who], key, 200), (key, response.get_json())
        if response.status_code != 200:
            assert snapshot(app) == before


@pytest.mark.parametrize("who", ROLES)
def test_api_delete_follows_the_scope_and_refusals_change_nothing(app, world, api_of, who):
    _ids, cases = world
    api = api_of(who)
    for key, record_id in cases.items():
        before = snapshot(app)
        response = api.delete(f"{CASES}/{record_id}")
        assert response.status_code == expected(DELETES.get(who, set()), READS[who], key, 204), key
        if response.status_code != 204:
            assert snapshot(app) == before


@pytest.mark.parametrize("who", ROLES)
def test_api_stage_moves_follow_the_update_scope(app, world, api_of, who):
    _ids, cases = world
    api = api_of(who)
    for key, record_id in cases.items():
        before = snapshot(app)
        response = api.post(f"{CASES}/{record_id}/stage", {"to": "closed"})
        assert response.status_code == expected(UPDATES[who], READS[who], key, 200), key
        if response.status_code != 200:
            assert snapshot(app) == before


@pytest.mark.parametrize("who,status", [("admin", 201), ("agent", 201), ("lead", 201), ("viewer", 403),
                                        ("outsider", 404)])
def test_api_create_needs_the_create_right(app, world, api_of, who, status):
    before = snapshot(app)
    response = api_of(who).post(CASES, {"data": {"subject": "New"}})
    assert response.status_code == status
    if status != 201:
        assert snapshot(app) == before


def test_restore_is_for_app_admins_only(app, world, api_of):
    _ids, cases = world
    assert api_of("lead").delete(f"{CASES}/{cases['A']}").status_code == 204
    for who in ("agent", "lead", "viewer"):
        before = snapshot(app)
        assert api_of(who).post(f"{CASES}/{cases['A']}/restore").status_code == 403
        assert snapshot(app) == before
    assert api_of("outsider").post(f"{CASES}/{cases['A']}/restore").status_code == 404
    assert api_of("admin").post(f"{CASES}/{cases['A']}/restore").status_code == 200


# -- fields: hidden and readonly -------------------------------------------------------

@pytest.mark.parametrize("who", ["viewer", "lead"])
def test_hidden_fields_are_absent_from_responses(world, api_of, who):
    _ids, cases = world
    api = api_of(who)
    assert "notes" not in api.get(f"{CASES}/{cases['J']}").get_json()["data"]
    assert all("notes" not in r["data"] for r in api.get(CASES).get_json()["items"])
    assert "secret" not in api.get(CASES).get_data(as_text=True)


@pytest.mark.parametrize("query", ["notes=secret-a", "notes__contains=secret", "notes__is_empty=1",
                                   "sort=notes", "sort=-notes", "notes__ne=x"])
@pytest.mark.parametrize("who", ["viewer", "lead"])
def test_hidden_fields_cannot_be_filtered_or_sorted_on(world, api_of, who, query):
    response = api_of(who).get(f"{CASES}?{query}")
    assert response.status_code == 400
    assert "secret" not in response.get_data(as_text=True)


def test_the_agent_can_filter_on_notes_which_it_may_see(world, api_of):
    _ids, cases = world
    found = api_of("agent").get(f"{CASES}?notes__contains=secret").get_json()["items"]
    assert [r["id"] for r in found] == [cases["A"]]


def test_mass_assignment_of_a_readonly_field_is_422_and_stores_nothing(app, world, api_of):
    _ids, cases = world
    api = api_of("agent")
    before = snapshot(app)
    response = api.patch(f"{CASES}/{cases['A']}", {"version": 1, "data": {"subject": "Fine", "code": "X-1"}})
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.get_json()["errors"]] == [("code", "readonly")]
    assert snapshot(app) == before
    created = api.post(CASES, {"data": {"subject": "New", "code": "X-2"}})
    assert created.status_code == 422
    assert snapshot(app) == before


def test_writing_a_hidden_field_is_refused_like_an_unknown_one(app, world, api_of):
    _ids, cases = world
    before = snapshot(app)
    response = api_of("lead").patch(f"{CASES}/{cases['J']}", {"version": 1, "data": {"notes": "overwrite"}})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "unknown_field"
    unknown = api_of("lead").patch(f"{CASES}/{cases['J']}", {"version": 1, "data": {"nosuchfield": "x"}})
    assert unknown.get_json()["errors"][0]["code"] == "unknown_field"           # the same answer: no probing
    assert snapshot(app) == before


def test_system_columns_cannot_be_mass_assigned(app, world, api_of):
    _ids, cases = world
    before = snapshot(app)
    for data in ({"owner": 1}, {"stage": "closed"}, {"id": 99}, {"version": 5}, {"created_by": 1}):
        response = api_of("agent").patch(f"{CASES}/{cases['A']}", {"version": 1, "data": data})
        assert response.status_code == 422, data
    assert api_of("agent").patch(f"{CASES}/{cases['A']}", {"version": 1, "owner": 1, "data": {}}).status_code == 400
    assert snapshot(app) == before


# -- the web screens --------------------------------------------------------------------

def browser_for(app, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser


EMAILS = {"admin": "admin@example.com", "agent": "agent@example.com", "other": "other@example.com",
          "viewer": "viewer@example.com", "lead": "lead@example.com", "junior": "junior@example.com",
          "outsider": "outsider@example.com"}


@pytest.mark.parametrize("who", ROLES)
def test_web_detail_edit_and_list_follow_the_same_policy(app, world, who):
    _ids, cases = world
    browser = browser_for(app, EMAILS[who])
    for key, record_id in cases.items():
        detail = browser.get(f"/apps/desk/case/{record_id}")
        assert detail.status_code == (200 if key in READS[who] else 404), (who, key)
        edit = browser.get(f"/apps/desk/case/{record_id}/edit")
        assert edit.status_code == expected(UPDATES[who], READS[who], key, 200), (who, key)
    listing = browser.get("/apps/desk/case/")
    if who == "outsider":
        assert listing.status_code == 404
    else:
        page = listing.get_data(as_text=True)
        for key, subject in (("A", "Agent case"), ("O", "Other case"), ("J", "Junior case")):
            assert (subject in page) == (key in READS[who]), (who, key)


@pytest.mark.parametrize("who", ["agent", "viewer", "lead", "outsider"])
def test_web_posts_to_records_one_may_not_change_leave_them_unchanged(app, world, who):
    _ids, cases = world
    browser = browser_for(app, EMAILS[who])
    for key, record_id in cases.items():
        if key in UPDATES[who]:
            continue
        before = snapshot(app)
        response = browser.post(f"/apps/desk/case/{record_id}/edit", {"subject": "Hijacked", "_version": "1"})
        assert response.status_code in (403, 404), (who, key)
        assert snapshot(app) == before


def test_web_form_ignores_a_posted_readonly_field(app, world):
    _ids, cases = world
    browser = browser_for(app, EMAILS["agent"])
    response = browser.post(f"/apps/desk/case/{cases['A']}/edit",
                            {"subject": "Agent case", "code": "FORGED", "_version": "1"})
    assert response.status_code in (303, 200, 422)
    with app.extensions["formloom.db"].read() as conn:
        data = conn.execute(select(records.c.data).where(records.c.id == cases["A"])).scalar_one()
    assert data.get("code") in (None, "")
    if response.status_code in (200, 303):         # the save went through: the writable part was written
        assert data.get("subject") == "Agent case"


def test_web_list_cannot_filter_or_sort_on_a_hidden_field(app, world):
    browser = browser_for(app, EMAILS["viewer"])
    for query in ("notes__contains=secret", "sort=notes"):
        response = browser.get(f"/apps/desk/case/?{query}")
        assert response.status_code == 400
        assert "secret-" not in response.get_data(as_text=True)


def test_web_detail_never_shows_a_hidden_field(app, world):
    _ids, cases = world
    page = browser_for(app, EMAILS["lead"]).get(f"/apps/desk/case/{cases['J']}").get_data(as_text=True)
    assert "secret-j" not in page and "Junior case" in page


def test_idor_on_the_inline_validation_endpoint_is_404(app, world):
    _ids, cases = world
    browser = browser_for(app, EMAILS["agent"])
    response = browser.post("/apps/desk/case/validate/subject", {"_record": str(cases["O"]), "subject": "x"})
    assert response.status_code == 404
