"""Bulk edit from a list (web/bulk.py over formloom.bulk_edit): every record goes through
the policy, validation, the stage guard, audit and events of a single edit; refusals are
reported per record with their reasons; large selections run as a worker job."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from formloom.app import create_app
from formloom.automation.worker import run_once
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.store.tables import audit, events, jobs, records, stage_history

from .pipeline_app import pipeline_app, pipeline_flow

BULK = "/apps/desk/case/bulk"
LIST = "/apps/desk/case/"


@pytest.fixture
def app(database_url, tmp_path):
    """The desk with the gated case pipeline (as in test_pipeline.py)."""
    flask_app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 64_000,
    })
    install_documents(flask_app.extensions["formloom.db"], pipeline_app(), {"case_flow": pipeline_flow()})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def db(app):
    return app.extensions["formloom.db"]


@pytest.fixture
def make(app, people):
    def create(data: dict, actor: int | None = None, stage: str | None = None):
        desk, version_id = app.extensions["formloom.catalog"].get("desk")
        with app.extensions["formloom.db"].write() as conn:
            return create_record(conn, desk, desk.entity("case"), data, actor_id=actor or people.agent,
                                 version_id=version_id, stage=stage)
    return create


def row(db, record_id):
    with db.read() as conn:
        return conn.execute(select(records).where(records.c.id == record_id)).one()


def bulk(browser, action: str, ids=(), step: str | None = "apply", **data):
    form = {"action": action, "ids": [str(i) for i in ids], **data}
    if step:
        form["step"] = step
    return browser.post(BULK, form, token_from=LIST)


def failures(html: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(r'<tr data-record="(\d+)">(.*?)</tr>', html, re.S)}


def test_the_list_offers_checkboxes_and_the_actions_the_actor_has(as_agent, make):
    case = make({"subject": "Printer"})
    page = as_agent.get(LIST).get_data(as_text=True)
    assert f'name="ids" value="{case.id}" form="bulk-form"' in page
    assert 'value="set_field"' in page and 'value="owner"' in page and 'value="stage"' in page
    assert 'value="delete"' not in page            # agents may not delete cases
    assert "All 1 matching this filter" in page


def test_set_a_field_changes_what_may_be_changed_and_reports_the_rest(as_agent, make, people, db):
    mine = [make({"subject": f"Mine {i}"}) for i in range(3)]
    theirs = make({"subject": "Secret subject"}, actor=people.other_agent)
    confirm = bulk(as_agent, "set_field", [c.id for c in mine] + [theirs.id], step=None, field="priority")
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert 'name="priority"' in page and "4 records selected" in page
    done = bulk(as_agent, "set_field", [c.id for c in mine] + [theirs.id], field="priority", priority="high")
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert "3 changed, 1 refused" in html
    refused = failures(html)
    assert list(refused) == [theirs.id]
    assert "There is no such record." in refused[theirs.id]
    assert "Secret subject" not in html                    # never the title of a record one may not read
    assert row(db, theirs.id).data.get("priority") is None
    with db.read() as conn:
        for case in mine:
            assert row(db, case.id).data["priority"] == "high"
            entry = conn.execute(select(audit).where(audit.c.record_id == case.id, audit.c.action == "update")).one()
            assert entry.user_id == people.agent and entry.via == "bulk edit"
            assert entry.changes == {"priority": [None, "high"]}
            assert conn.execute(select(events).where(events.c.record_id == case.id,
                                                     events.c.type == "record_updated")).first() is not None


def test_a_bad_value_is_refused_before_anything_changes(as_agent, make, db):
    case = make({"subject": "Budget"})
    response = bulk(as_agent, "set_field", [case.id], field="budget", budget="-5")
    assert response.status_code == 422
    assert "Apply to 1 records" in response.get_data(as_text=True)
    assert row(db, case.id).data.get("budget") is None


def test_a_field_the_actor_may_not_write_is_not_offered_nor_taken(as_agent, make, db):
    case = make({"subject": "Readonly"})
    page = bulk(as_agent, "set_field", [case.id], step=None).get_data(as_text=True)
    assert 'value="code"' not in page                     # readonly_for agents
    response = bulk(as_agent, "set_field", [case.id], field="code", code="X1")
    assert response.status_code == 422
    assert row(db, case.id).data.get("code") is None


def test_move_stage_goes_through_the_gate_record_by_record(as_agent, make, db):
    ready = make({"subject": "Ready", "priority": "high", "due": "2026-12-01"})
    missing = make({"subject": "Missing things"})
    html = bulk(as_agent, "stage", [ready.id, missing.id], stage="triage").get_data(as_text=True)
    assert "1 changed, 1 refused" in html
    refused = failures(html)
    assert list(refused) == [missing.id]
    assert "Missing things" in refused[missing.id]
    assert "Priority" in refused[missing.id] and "Due" in refused[missing.id]     # every unmet requirement
    assert row(db, ready.id).stage == "triage" and row(db, missing.id).stage == "new"
    with db.read() as conn:
        moves = conn.execute(select(stage_history).where(stage_history.c.record_id == ready.id)).all()
        assert [m.to_stage for m in moves] == ["new", "triage"]
        assert conn.execute(select(events).where(events.c.record_id == ready.id,
                                                 events.c.type == "stage_entered")).first() is not None


def test_change_owner_to_a_member_and_refuse_a_stranger(as_agent, make, people, db):
    a, b = make({"subject": "A"}), make({"subject": "B"})
    html = bulk(as_agent, "owner", [a.id], owner=str(people.other_agent)).get_data(as_text=True)
    assert "1 changed, 0 refused" in html
    assert row(db, a.id).owner_id == people.other_agent
    with db.read() as conn:
        entry = conn.execute(select(audit).where(audit.c.record_id == a.id, audit.c.action == "update")).one()
        assert entry.changes == {"$owner": [people.agent, people.other_agent]}
    html = bulk(as_agent, "owner", [b.id], owner=str(people.outsider)).get_data(as_text=True)
    assert "must be an active member" in failures(html)[b.id]
    assert row(db, b.id).owner_id == people.agent


def test_delete_needs_the_delete_right(as_agent, make, db):
    case = make({"subject": "Delete me"})
    refused = bulk(as_agent, "delete", [case.id])
    assert refused.status_code == 400
    assert row(db, case.id).deleted_at is None


def test_admin_deletes_and_can_restore(browser, people, make, db):
    assert browser.login("admin@example.com").status_code == 302
    cases = [make({"subject": f"Old {i}"}) for i in range(2)]
    html = bulk(browser, "delete", [c.id for c in cases]).get_data(as_text=True)
    assert "2 changed, 0 refused" in html
    assert all(row(db, c.id).deleted_at is not None for c in cases)


def test_all_matching_the_filter_takes_exactly_the_filtered_records(browser, people, make, db):
    assert browser.login("admin@example.com").status_code == 302
    high = [make({"subject": f"High {i}", "priority": "high"}) for i in range(3)]
    low = make({"subject": "Low", "priority": "low"})
    html = browser.post(BULK, {"action": "set_field", "all": "1", "query": "priority=high", "step": "apply",
                               "field": "budget", "budget": "250"}, token_from=LIST).get_data(as_text=True)
    assert "3 changed, 0 refused" in html
    assert [row(db, c.id).data.get("budget") for c in high] == ["250.00"] * 3
    assert row(db, low.id).data.get("budget") is None


def test_nothing_selected_is_a_clear_error(as_agent):
    response = bulk(as_agent, "set_field", [], field="priority", priority="high")
    assert response.status_code == 400
    assert "Select at least one record." in response.get_data(as_text=True)


def test_a_large_selection_runs_as_a_job_with_progress(app, as_agent, make, people, db):
    app.config["BULK_JOB_THRESHOLD"] = 2
    ready = [make({"subject": f"R{i}", "priority": "low", "due": "2026-12-01"}) for i in range(3)]
    blocked = make({"subject": "Blocked"})
    theirs = make({"subject": "Theirs"}, actor=people.other_agent)
    response = bulk(as_agent, "stage", [c.id for c in ready] + [blocked.id, theirs.id], stage="triage")
    assert response.status_code == 303
    progress_url = response.headers["Location"]
    page = as_agent.get(progress_url).get_data(as_text=True)
    assert 'data-finished="false"' in page and "0 of 5 records" in page
    assert all(row(db, c.id).stage == "new" for c in ready)         # nothing yet: the worker does it

    run_once(db, app.extensions["formloom.catalog"])
    page = as_agent.get(progress_url).get_data(as_text=True)
    assert 'data-finished="true"' in page and "5 of 5 records: 3 changed, 2 refused" in page
    assert set(failures(page)) == {blocked.id, theirs.id}
    assert all(row(db, c.id).stage == "triage" for c in ready)
    fragment = as_agent.get(progress_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.startswith('<section id="bulk-progress"') and "hx-trigger" not in fragment
    with db.read() as conn:
        assert conn.execute(select(jobs.c.status).where(jobs.c.kind == "bulk_edit")).scalar_one() == "done"


def test_a_job_resumes_after_the_last_committed_batch(app, as_agent, make, db):
    """A worker that died mid-job: the next claim starts where the last batch ended."""
    from formloom import bulk_edit
    from formloom.automation.settings import Settings
    from formloom.automation.worker import claim_jobs
    from formloom.store.records import utcnow

    app.config["BULK_JOB_THRESHOLD"] = 1
    cases = [make({"subject": f"C{i}"}) for i in range(5)]
    assert bulk(as_agent, "set_field", [c.id for c in cases], field="priority", priority="high").status_code == 303
    catalog = app.extensions["formloom.catalog"]
    token, claimed = claim_jobs(db, utcnow(), worker_id="w1")
    job = claimed[0]

    class Crash(Exception):
        pass

    real = bulk_edit.apply_batch
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Crash()
        return real(*args, **kwargs)

    bulk_edit.apply_batch = crash_on_second
    try:
        with pytest.raises(Crash):
            bulk_edit.run_bulk_job(db, catalog, job, token, utcnow(), Settings(), batch_size=2)
    finally:
        bulk_edit.apply_batch = real
    assert [row(db, c.id).data.get("priority") for c in cases] == ["high", "high", None, None, None]
    assert bulk_edit.run_bulk_job(db, catalog, job, token, utcnow(), Settings(), batch_size=2) == "done"
    assert [row(db, c.id).data.get("priority") for c in cases] == ["high"] * 5
    with db.read() as conn:
        assert len(conn.execute(select(audit).where(audit.c.via == "bulk edit")).all()) == 5


def test_someone_else_cannot_see_a_bulk_job(app, browser, people, make):
    app.config["BULK_JOB_THRESHOLD"] = 0
    case = make({"subject": "Mine"})
    assert browser.login("agent@example.com").status_code == 302
    url = bulk(browser, "set_field", [case.id], field="priority", priority="high").headers["Location"]
    browser.logout()
    assert browser.login("other@example.com").status_code == 302
    assert browser.get(url).status_code == 404


# -- the bulk API --------------------------------------------------------------------------

from .api_client import Api, token_for  # noqa: E402,F401


def test_the_bulk_api_reports_each_refusal(app, people, make, token_for, db):  # noqa: F811
    api = Api(app.test_client(), token_for(people.agent))
    ready = make({"subject": "Ready", "priority": "high", "due": "2026-12-01"})
    missing = make({"subject": "Missing"})
    theirs = make({"subject": "Theirs"}, actor=people.other_agent)
    response = api.post("/api/v1/desk/case/bulk", {"ids": [ready.id, missing.id, theirs.id], "action": "stage",
                                                   "stage": "triage"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["succeeded"], body["failed"]) == (1, 2)
    refused = {f["id"]: f["messages"] for f in body["failures"]}
    assert refused[theirs.id] == ["There is no such record."]
    assert any("Priority" in m for m in refused[missing.id])
    assert row(db, ready.id).stage == "triage"
    bad = api.post("/api/v1/desk/case/bulk", {"ids": [ready.id], "action": "set_field", "field": "company",
                                              "value": 99999999})        # fits the schema; refers to nothing
    assert bad.status_code == 200 and bad.get_json()["failed"] == 1
    assert bad.get_json()["failures"][0]["messages"][0].startswith("Company: ")
    assert api.post("/api/v1/desk/case/bulk", {"ids": [], "action": "delete"}).status_code == 400
    assert api.post("/api/v1/desk/case/bulk", {"ids": [1], "action": "explode"}).status_code == 400
    assert api.post("/api/v1/desk/case/bulk", {"ids": [1], "action": "stage", "stage": "nowhere"}).status_code == 400
    assert api.post("/api/v1/desk/case/bulk", {"ids": ["1"], "action": "owner"}).status_code == 400


def test_the_bulk_api_queues_a_large_selection(app, people, make, token_for, db):  # noqa: F811
    app.config["BULK_JOB_THRESHOLD"] = 1
    api = Api(app.test_client(), token_for(people.agent))
    cases = [make({"subject": f"C{i}"}) for i in range(3)]
    response = api.post("/api/v1/desk/case/bulk", {"ids": [c.id for c in cases], "action": "set_field",
                                                   "field": "priority", "value": "low"})
    assert response.status_code == 202
    url = response.get_json()["url"]
    assert api.get(url).get_json()["status"] == "pending"
    run_once(db, app.extensions["formloom.catalog"])
    body = api.get(url).get_json()
    assert body["status"] == "done" and body["succeeded"] == 3
    other = Api(app.test_client(), token_for(people.other_agent))
    assert other.get(url).status_code == 404
    doc = api.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/desk/case/bulk" in doc["paths"]
    assert _edit_branch(doc["paths"]["/api/v1/desk/case/bulk"]["post"]["requestBody"]["content"][
        "application/json"]["schema"])["properties"]["action"]["enum"] == ["set_field", "owner", "stage"]


def test_odd_bulk_input_never_causes_a_server_error(as_agent, make):
    case = make({"subject": "Odd"})
    assert bulk(as_agent, "owner", [case.id], owner="x").status_code == 400
    assert bulk(as_agent, "set_field", ["1" * 40]).status_code == 400
    assert as_agent.post(BULK, {"action": "set_field", "all": "1", "query": "subject=\x00"},
                         token_from=LIST).status_code == 400
    assert as_agent.post(BULK, {"action": "set_field", "all": "1", "query": "nosuchfield=1"},
                         token_from=LIST).status_code == 400
    assert as_agent.get("/apps/desk/case/bulk/jobs/99999999999999999999999").status_code == 404


def _edit_branch(schema: dict) -> dict:
    """The bulk edit's body: the same POST also takes `items` (creates and upserts, web/bulk_writes.py)."""
    return next(s for s in schema["oneOf"] if "ids" in s["properties"]) if "oneOf" in schema and \
        "ids" not in schema.get("properties", {}) else schema


def _bulk_schema(api) -> dict:
    doc = api.get("/api/v1/openapi.json").get_json()
    return _edit_branch(doc["paths"]["/api/v1/desk/case/bulk"]["post"]["requestBody"]["content"]["application/json"][
        "schema"])


def test_the_bulk_api_takes_exactly_the_bodies_its_document_allows(app, people, make, token_for):  # noqa: F811
    """The body is checked against the schema the document publishes (one object): what it
    refuses is a 400 naming the key and the rule, what it allows is never a 400."""
    from formloom.record_schema import field_validator
    api = Api(app.test_client(), token_for(people.agent))
    case = make({"subject": "Contract"})
    schema = _bulk_schema(api)
    assert schema["properties"]["field"]["enum"] == ["budget", "company", "due", "escalated", "notes", "priority",
                                                     "reason", "subject"]      # writable for an agent (not code)
    assert schema["properties"]["stage"]["enum"] == ["new", "triage", "working", "solved", "dropped"]
    validator = field_validator(schema)
    bodies = {
        "owner without the owner": ({"ids": [case.id], "action": "owner"}, "needs owner"),
        "owner with a stage of the wrong type": ({"ids": [case.id], "action": "owner", "owner": None, "stage": {}},
                                                 "stage"),
        "owner with a value": ({"ids": [case.id], "action": "owner", "owner": None, "value": "x"},
                               "value does not go with the action owner"),
        "an unknown stage": ({"ids": [case.id], "action": "stage", "stage": "nowhere"}, "stage"),
        "set without a value": ({"ids": [case.id], "action": "set_field", "field": "priority"}, "needs value"),
        "a field one may not set": ({"ids": [case.id], "action": "set_field", "field": "code", "value": "x"},
                                    "field"),
        "a value outside the field's options": ({"ids": [case.id], "action": "set_field", "field": "priority",
                                                 "value": "urgent"}, "priority"),
        "a negative budget": ({"ids": [case.id], "action": "set_field", "field": "budget", "value": -5}, "budget"),
        "ids as text": ({"ids": ["1"], "action": "owner", "owner": None}, "record"),
    }
    for name, (body, says) in bodies.items():
        assert not validator.is_valid(body), name
        response = api.post("/api/v1/desk/case/bulk", body)
        assert response.status_code == 400, (name, response.get_json())
        assert says in response.get_json()["error"]["message"], (name, response.get_json())
    for body in ({"ids": [case.id, float(case.id)], "action": "set_field", "field": "priority", "value": "low"},
                 {"ids": [case.id], "action": "set_field", "field": "reason", "value": None},
                 {"ids": [case.id], "action": "owner", "owner": None},
                 {"ids": [case.id], "action": "stage", "stage": "triage"}):
        assert validator.is_valid(body), body
        response = api.post("/api/v1/desk/case/bulk", body)
        assert response.status_code == 200, (body, response.get_json())
        assert response.get_json()["total"] == 1           # 3.0 is the id 3, counted once


def test_the_bulk_api_names_the_rule_in_the_callers_language(app, people, make, token_for):  # noqa: F811
    api = Api(app.test_client(), token_for(people.agent), lang="zh")
    case = make({"subject": "Contract"})
    response = api.post("/api/v1/desk/case/bulk", {"ids": [case.id], "action": "owner"})
    assert response.status_code == 400
    assert "owner" in response.get_json()["error"]["message"] and "操作" in response.get_json()["error"]["message"]
