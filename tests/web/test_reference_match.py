"""Reference fields that depend on the form they are in (issue 9, item 6), on the desk
app with people who work for companies: a case's contact must work for the case's
company (`"match": {"company": "company"}`), in the picker and on save; look-alike
names in a picker get a second line; a task opened from a case takes the case's company;
a datetime defaults to now."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import time_machine

from formloom.app import create_app
from formloom.store.install import install_documents
from formloom.store.records import create_record

from .api_client import api_as, token_for  # noqa: F401
from .pipeline_app import pipeline_app, pipeline_flow

PERSON = {
    "key": "person", "label": {"en": "Person", "zh": "人员"}, "title": "name",
    "permissions": {"agent": {"create": True, "read": "all", "update": "all"}},
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "姓名"}, "required": True},
        {"key": "company", "type": "reference", "entity": "company", "label": {"en": "Company", "zh": "公司"}},
    ],
}


def match_app() -> dict:
    doc = pipeline_app()
    doc["entities"].append(PERSON)
    entities = {e["key"]: e for e in doc["entities"]}
    entities["case"]["fields"] += [
        {"key": "contact", "type": "reference", "entity": "person", "match": {"company": "company"},
         "label": {"en": "Contact", "zh": "联系人"}},
        {"key": "watchers", "type": "reference", "entity": "person", "multiple": True,
         "match": {"company": "company"}, "label": {"en": "Watchers", "zh": "关注人"}},
    ]
    entities["task"]["fields"] += [
        {"key": "company", "type": "reference", "entity": "company", "label": {"en": "Company", "zh": "公司"}},
        {"key": "logged_at", "type": "datetime", "label": {"en": "Logged at", "zh": "记录时间"}, "default": "now"},
    ]
    return doc


@pytest.fixture
def app(database_url, tmp_path):
    flask_app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 64_000,
    })
    install_documents(flask_app.extensions["formloom.db"], match_app(), {"case_flow": pipeline_flow()})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def world(app, people):
    """Two companies, each with a Michael Lee, and one more person at Acme."""
    desk, version_id = app.extensions["formloom.catalog"].get("desk")

    def make(entity, data):
        return create_record(conn, desk, desk.entity(entity), data, actor_id=people.agent, version_id=version_id).id

    with app.extensions["formloom.db"].write() as conn:
        acme, lumen = make("company", {"name": "Acme"}), make("company", {"name": "Lumen"})
        ids = {"acme": acme, "lumen": lumen,
               "lee_acme": make("person", {"name": "Michael Lee", "company": acme}),
               "lee_lumen": make("person", {"name": "Michael Lee", "company": lumen}),
               "ann": make("person", {"name": "Ann Acme", "company": acme})}
        ids["case"] = make("case", {"subject": "Printer", "company": acme, "contact": ids["ann"]})
    return ids


def picks(browser, **args) -> list[tuple[str, str]]:
    html = browser.get("/apps/desk/case/pick/contact", query_string=args).get_data(as_text=True)
    return re.findall(r'data-pick-id="(\d+)"[^>]*>([^<]*)(?:<span class="pick-subtitle">([^<]*)</span>)?', html)


# -- the picker ----------------------------------------------------------------------------

def test_the_picker_offers_only_people_of_the_company_in_the_form(as_agent, world):
    found = picks(as_agent, q="", company=world["acme"])
    assert {int(i) for i, _t, _s in found} == {world["lee_acme"], world["ann"]}


def test_without_a_company_in_the_form_the_record_decides_else_everyone(as_agent, world):
    edited = picks(as_agent, q="lee", _record=world["case"])                  # the stored company: Acme
    assert [int(i) for i, _t, _s in edited] == [world["lee_acme"]]
    cleared = picks(as_agent, q="lee", company="", _record=world["case"])    # the form cleared it
    assert len(cleared) == 2
    assert picks(as_agent, q="lee", company="abc") == []                     # nothing matches nonsense
    for odd in ("999999", "9" * 30, "x", str(world["ann"])):                  # not a case: no record to ask
        assert len(picks(as_agent, q="lee", _record=odd)) == 2


def test_look_alike_titles_get_a_second_line(as_agent, world):
    found = picks(as_agent, q="michael")
    assert sorted(sub for _i, _t, sub in found) == ["Acme", "Lumen"]
    alone = picks(as_agent, q="ann")
    assert alone == [(str(world["ann"]), "Ann Acme", "")]                   # unique titles stay one line


def test_the_form_sends_the_matched_fields_with_the_search(as_agent, world):
    html = as_agent.get(f"/apps/desk/case/{world['case']}/edit").get_data(as_text=True)
    search = re.search(r'<input type="search" id="pick-contact"[^>]*>', html, re.S).group(0)
    assert "hx-include=\"#field-company [name='company']\"" in search
    assert f'"_record": "{world["case"]}"' in search


# -- the save ------------------------------------------------------------------------------

def test_a_contact_of_another_company_is_refused_naming_the_field(as_agent, world):
    page = as_agent.post("/apps/desk/case/new", {"subject": "Mixed up", "company": world["acme"],
                                                 "contact": world["lee_lumen"]}, token_from="/apps/desk/case/new")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert re.search(r'id="field-contact".*?Choose a Person whose Company is the chosen Company\.', html, re.S)


def test_the_api_refuses_a_mismatch_and_changing_the_company_under_a_contact(api_as, world):
    api = api_as("agent")
    bad = api.post("/api/v1/desk/case", {"data": {"subject": "X", "company": world["lumen"],
                                                  "watchers": [world["lee_lumen"], world["ann"]]}})
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.get_json()["errors"]] == [("watchers", "mismatch")]
    moved = api.patch(f"/api/v1/desk/case/{world['case']}", {"version": 1, "data": {"company": world["lumen"]}})
    assert moved.status_code == 422 and moved.get_json()["errors"][0]["field"] == "contact"
    ok = api.patch(f"/api/v1/desk/case/{world['case']}",
                   {"version": 1, "data": {"company": world["lumen"], "contact": world["lee_lumen"]}})
    assert ok.status_code == 200


def test_the_zh_message(api_as, world):
    bad = api_as("agent", lang="zh").post("/api/v1/desk/case", {"data": {
        "subject": "X", "company": world["acme"], "contact": world["lee_lumen"]}})
    assert bad.get_json()["errors"][0]["message"] == "请选择公司为所选公司的人员。"


# -- prefill and now -----------------------------------------------------------------------

def test_a_task_opened_from_a_case_takes_the_case_company(as_agent, world):
    html = as_agent.get(f"/apps/desk/task/new?case={world['case']}").get_data(as_text=True)
    assert re.search(rf'<input type="hidden" name="company" value="{world["acme"]}"', html)
    assert re.search(rf'<input type="hidden" name="case" value="{world["case"]}"', html)


@pytest.mark.parametrize("case", ["9" * 30, "0", "abc", "424242"])
def test_odd_prefill_arguments_fill_nothing(as_agent, world, case):
    page = as_agent.get(f"/apps/desk/task/new?case={case}")
    assert page.status_code == 200
    assert re.search(r'<input type="hidden" name="company" value=""', page.get_data(as_text=True))


def test_no_prefill_from_a_record_one_cannot_read(as_agent, app, people, world):
    desk, version_id = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:
        theirs = create_record(conn, desk, desk.entity("case"), {"subject": "Theirs", "company": world["lumen"]},
                               actor_id=people.other_agent, version_id=version_id).id
    html = as_agent.get(f"/apps/desk/task/new?case={theirs}").get_data(as_text=True)
    assert re.search(r'<input type="hidden" name="company" value=""', html)


def test_a_datetime_defaults_to_now(browser, api_as, world):
    with time_machine.travel(datetime(2026, 5, 4, 1, 2, 30, tzinfo=timezone.utc), tick=False):
        assert browser.login("agent@example.com").status_code == 302
        html = browser.get("/apps/desk/task/new").get_data(as_text=True)
        created = api_as("agent").post("/api/v1/desk/task", {"data": {"summary": "Call back"}})
    assert re.search(r'name="logged_at"[^>]*value="2026-05-04T09:02"', html)       # Asia/Shanghai
    assert created.get_json()["data"]["logged_at"] == "2026-05-04T01:02:00Z"
