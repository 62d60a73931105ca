"""Record titles and references respect data scopes (issue 10, items 1 and 2).

A second small app (not the CRM, not the desk): projects and clients each person
may read only when they own them, and memos that refer to both. A rule writes back
to the memo's project. Two reps, Rita and Sam: every title lookup (new-form
prefill, inline validation, detail links, related lists, list cells, the board)
shows only what the viewer may read; a reference to a record one cannot read is
refused exactly like one to a missing record (no existence oracle), in forms and
the API; a rule's write through a reference names the rule in the audit and the
record's history.
"""
from __future__ import annotations

import copy
import re

import pytest
from sqlalchemy import select

from formloom.automation import Settings, process_events
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record, get_record
from formloom.store.tables import audit

from .api_client import Api
from .conftest import PASSWORD, Browser

OWN = {"create": True, "read": "own", "update": "own"}

LAB_APP = {
    "key": "lab", "label": "Lab", "version": 1, "timezone": "UTC", "roles": ["admin", "rep", "lead"],
    "entities": [
        {"key": "client", "label": "Client", "title": "name",
         "permissions": {"rep": OWN, "lead": {"read": "all"}},
         "fields": [{"key": "name", "type": "text", "label": "Name", "required": True},
                    {"key": "last_memo_at", "type": "datetime", "label": "Last memo"}]},
        {"key": "project", "label": "Project", "title": "name", "workflow": "project_flow",
         "permissions": {"rep": OWN, "lead": {"read": "all"}},
         "fields": [{"key": "name", "type": "text", "label": "Name", "required": True},
                    {"key": "client", "type": "reference", "entity": "client", "label": "Client"},
                    {"key": "last_memo_at", "type": "datetime", "label": "Last memo"}]},
        {"key": "memo", "label": "Memo", "title": "text", "workflow": "memo_log",
         "permissions": {"rep": OWN, "lead": {"read": "all"}},
         "fields": [{"key": "text", "type": "text", "label": "Text", "required": True},
                    {"key": "project", "type": "reference", "entity": "project", "label": "Project"},
                    {"key": "client", "type": "reference", "entity": "client", "label": "Client"}]},
    ],
}
PROJECT_FLOW = {"key": "project_flow", "entity": "project", "label": "Projects", "kanban": {"card_fields": ["client"]},
                "stages": [{"key": "open", "label": "Open"}, {"key": "done", "label": "Done", "terminal": "won"}]}
MEMO_LOG = {"key": "memo_log", "entity": "memo", "label": "Memo log", "stages": [], "rules": [
    {"key": "touch_project", "label": {"en": "Stamp the project", "zh": "给项目盖戳"}, "trigger": {"type": "record_created"},
     "actions": [{"type": "set_field", "on": "project", "field": "last_memo_at", "value": "$now"}]},
    {"key": "tell_reps", "label": "Tell the reps", "trigger": {"type": "record_created"},
     "actions": [{"type": "notify", "to": ["role:rep", "role:lead"], "message": "New memo: {{ record.text }}"}]}]}

SECRET = "Acme secret merger"
SECRET_CLIENT = "Globex hidden client"


class Lab:
    def __init__(self, flask_app):
        self.flask_app = flask_app
        self.db = flask_app.extensions["formloom.db"]
        self.catalog = flask_app.extensions["formloom.catalog"]
        install_documents(self.db, copy.deepcopy(LAB_APP), {"project_flow": copy.deepcopy(PROJECT_FLOW),
                                                           "memo_log": copy.deepcopy(MEMO_LOG)})
        self.app = self.catalog.app("lab")
        with self.db.write() as conn:
            self.rita = create_user(conn, "rita@example.com", PASSWORD, name="Rita", roles=[("lab", "rep")])
            self.sam = create_user(conn, "sam@example.com", PASSWORD, name="Sam", roles=[("lab", "rep")])
            self.lead = create_user(conn, "lead@example.com", PASSWORD, name="Lee", roles=[("lab", "lead")])

    def create(self, entity: str, owner: int, **values):
        with self.db.write() as conn:
            return create_record(conn, self.app, self.app.entity(entity), values, actor_id=owner)

    def get(self, entity: str, record_id: int):
        with self.db.read() as conn:
            return get_record(conn, self.app, self.app.entity(entity), record_id)

    def browser(self, email: str) -> Browser:
        browser = Browser(self.flask_app.test_client())
        assert browser.login(email).status_code == 302
        return browser

    def api(self, user_id: int) -> Api:
        from formloom.auth.tokens import create_token
        with self.db.write() as conn:
            token = create_token(conn, user_id, "lab")[1]
        return Api(self.flask_app.test_client(), token)

    def process(self) -> int:
        return process_events(self.db, self.catalog, settings=Settings())


@pytest.fixture
def lab(app, people):
    return Lab(app)


@pytest.fixture
def sams(lab):
    """Sam's client and project, which Rita may not read."""
    client = lab.create("client", lab.sam, name=SECRET_CLIENT)
    project = lab.create("project", lab.sam, name=SECRET, client=client.id)
    return client, project


# -- 1. titles ------------------------------------------------------------------------------

def test_new_form_prefill_shows_no_title_of_a_record_the_actor_cannot_read(lab, sams):
    client, project = sams
    rita = lab.browser("rita@example.com")
    page = rita.get(f"/apps/lab/memo/new?project={project.id}&client={client.id}").get_data(as_text=True)
    assert SECRET not in page and SECRET_CLIENT not in page


def test_prefill_with_an_id_of_another_entity_shows_no_title(lab):
    mine = lab.create("project", lab.rita, name="Rita's own project")
    rita = lab.browser("rita@example.com")
    page = rita.get(f"/apps/lab/memo/new?client={mine.id}").get_data(as_text=True)
    assert "Rita&#39;s own project" not in page and "Rita's own project" not in page
    page = rita.get(f"/apps/lab/memo/new?project={mine.id}").get_data(as_text=True)
    assert "Rita&#39;s own project" in page       # the right entity, readable: the title shows


def test_inline_validation_answers_not_found_and_no_title_for_an_unreadable_reference(lab, sams):
    _client, project = sams
    rita = lab.browser("rita@example.com")
    answer = rita.post("/apps/lab/memo/validate/project", {"project": str(project.id)}, token_from="/apps/lab/memo/new")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert SECRET not in page
    assert f"No project record with id {project.id}." in page


def test_detail_links_and_lists_show_titles_only_of_readable_records(lab, sams):
    client, project = sams
    # a memo of Rita's that points at Sam's project (written by automation, which may)
    memo = lab.create("memo", lab.rita, text="Rita's memo", project=project.id, client=client.id)
    rita = lab.browser("rita@example.com")
    detail = rita.get(f"/apps/lab/memo/{memo.id}").get_data(as_text=True)
    assert SECRET not in detail and SECRET_CLIENT not in detail and f"#{project.id}" in detail
    listing = rita.get("/apps/lab/memo/?cols=text,project,client").get_data(as_text=True)
    assert SECRET not in listing and SECRET_CLIENT not in listing
    lead = lab.browser("lead@example.com")           # "all" scope: the titles show
    assert SECRET in lead.get(f"/apps/lab/memo/{memo.id}").get_data(as_text=True)


def test_related_lists_and_board_show_no_foreign_titles(lab, sams):
    client, project = sams
    own_client = lab.create("client", lab.rita, name="Rita's client")
    lab.create("project", lab.rita, name="Rita's project", client=client.id)
    lab.create("memo", lab.rita, text="Rita's memo", client=own_client.id, project=project.id)
    rita = lab.browser("rita@example.com")
    board = rita.get("/apps/lab/project/board/cards?stage=open")
    assert board.status_code == 200 and "Rita&#39;s project" in board.get_data(as_text=True)
    assert SECRET_CLIENT not in board.get_data(as_text=True)
    detail = rita.get(f"/apps/lab/client/{own_client.id}").get_data(as_text=True)
    assert "Rita&#39;s memo" in detail and SECRET not in detail


def test_titles_for_answers_only_readable_records_of_the_entity(lab, sams):
    from formloom.auth.users import load_actor
    from formloom.store.query import titles_for, titles_in_app

    client, project = sams
    mine = lab.create("project", lab.rita, name="Mine")
    mine_client = lab.create("client", lab.rita, name="My client")
    with lab.db.read() as conn:
        rita = load_actor(conn, lab.rita)
        projects = lab.app.entity("project")
        assert titles_for(conn, lab.app, projects, rita, [project.id, mine.id, client.id]) == {mine.id: "Mine"}
        assert titles_for(conn, lab.app, lab.app.entity("client"), rita, [mine.id]) == {}
        assert titles_for(conn, lab.app, projects, None, [mine.id]) == {}
        assert titles_in_app(conn, lab.app, rita, [project.id, client.id, mine.id, mine_client.id]) == {
            mine.id: "Mine", mine_client.id: "My client"}


# -- 2. references must be readable ------------------------------------------------------------

def _problem(answer, field):
    return next(e for e in answer.get_json()["errors"] if e["field"] == field)


def test_api_refuses_a_reference_to_an_unreadable_record_like_a_missing_one(lab, sams):
    client, project = sams
    api = lab.api(lab.rita)
    foreign = api.post("/api/v1/lab/memo", json={"data": {"text": "x", "project": project.id}})
    missing = api.post("/api/v1/lab/memo", json={"data": {"text": "x", "project": 10**9}})
    assert foreign.status_code == missing.status_code == 422
    foreign_problem, missing_problem = _problem(foreign, "project"), _problem(missing, "project")
    assert foreign_problem["code"] == missing_problem["code"] == "not_found"
    assert foreign_problem["message"].replace(str(project.id), "ID") == \
        missing_problem["message"].replace(str(10**9), "ID")
    lab.process()
    assert lab.get("project", project.id).data.get("last_memo_at") is None      # nothing written through it


def test_api_refuses_a_reference_to_a_record_of_another_entity(lab):
    mine = lab.create("client", lab.rita, name="Rita's client")
    answer = lab.api(lab.rita).post("/api/v1/lab/memo", json={"data": {"text": "x", "project": mine.id}})
    assert answer.status_code == 422 and _problem(answer, "project")["code"] == "not_found"


def test_api_patch_refuses_a_new_unreadable_reference_but_keeps_a_stored_one(lab, sams):
    client, project = sams
    memo = lab.create("memo", lab.rita, text="old", client=client.id)   # stored by someone who could
    api = lab.api(lab.rita)
    kept = api.patch(f"/api/v1/lab/memo/{memo.id}", json={"data": {"text": "new", "client": client.id},
                                                           "version": memo.version})
    assert kept.status_code == 200
    refused = api.patch(f"/api/v1/lab/memo/{memo.id}", json={"data": {"project": project.id},
                                                              "version": memo.version + 1})
    assert refused.status_code == 422 and _problem(refused, "project")["code"] == "not_found"


def test_form_refuses_an_unreadable_reference(lab, sams):
    _client, project = sams
    rita = lab.browser("rita@example.com")
    answer = rita.post("/apps/lab/memo/new", {"text": "x", "project": str(project.id)},
                       token_from="/apps/lab/memo/new")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f"No project record with id {project.id}." in page and SECRET not in page


def test_a_readable_reference_is_accepted_and_the_rule_write_names_the_rule(lab):
    mine = lab.create("project", lab.rita, name="Rita's project")
    answer = lab.api(lab.rita).post("/api/v1/lab/memo", json={"data": {"text": "called", "project": mine.id}})
    assert answer.status_code == 201
    lab.process()
    after = lab.get("project", mine.id)
    assert after.data.get("last_memo_at")
    with lab.db.read() as conn:
        [row] = conn.execute(select(audit).where(audit.c.record_id == mine.id, audit.c.action == "update")).all()
    assert row.user_id is None and row.via == "rule: Stamp the project"
    page = lab.browser("rita@example.com").get(f"/apps/lab/project/{mine.id}").get_data(as_text=True)
    assert re.search(r"Automation: Stamp the project", page)
    with lab.db.write() as conn:
        from formloom.auth.users import set_language
        set_language(conn, lab.rita, "zh")
    page = lab.browser("rita@example.com").get(f"/apps/lab/project/{mine.id}").get_data(as_text=True)
    assert "自动化：给项目盖戳" in page


def test_a_rule_message_about_a_record_reaches_only_people_who_may_read_it(lab):
    from formloom.automation.tables import rule_runs
    from formloom.store.tables import notifications

    memo = lab.create("memo", lab.rita, text="Rita's private memo")
    lab.process()
    with lab.db.read() as conn:
        told = {n.user_id for n in conn.execute(select(notifications).where(notifications.c.record_id == memo.id))}
        [run] = conn.execute(select(rule_runs).where(rule_runs.c.rule_key == "tell_reps")).all()
    assert told == {lab.rita, lab.lead}            # Sam, a rep with "own" scope, may not read Rita's memo
    assert run.outcome == "fired" and "not sent to 1 recipient(s) who may not read this record" in run.message
