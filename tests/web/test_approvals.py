"""Approvals through the screens and the API: the move dialog starts a request, the
record shows what it waits on, the inbox lists it, approve / reject / withdraw with
the same checks in the browser and the API (support-desk app, not the CRM)."""
from __future__ import annotations

import copy

import pytest

from formloom.store.install import install_documents

from .api_client import api_as, token_for  # noqa: F401  (fixtures)
from .desk import CASE_FLOW, desk_app

APPROVAL = {"steps": [{"key": "lead", "label": {"en": "Desk lead", "zh": "组长"}, "approvers": ["role:admin"]}]}


@pytest.fixture
def gated(app, people):
    flow = copy.deepcopy(CASE_FLOW)
    flow["stages"][1]["gate"] = {"approval": APPROVAL}
    install_documents(app.extensions["formloom.db"], desk_app(), {"case_flow": flow})
    return app


@pytest.fixture
def case(gated, make_record):
    return make_record("case", {"subject": "Printer on fire", "priority": "high"})


def test_move_starts_a_request_and_the_record_says_what_it_waits_on(gated, case, as_agent):
    page = f"/apps/desk/case/{case.id}"
    answer = as_agent.post(f"{page}/stage", {"to": "closed"}, token_from=page)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(page)
    html = as_agent.get(page).get_data(as_text=True)
    assert "awaiting approval (step 1 of 1: Desk lead)" in html
    assert "Withdraw the request" in html
    assert ">Edit<" not in html             # read-only while it waits
    refused = as_agent.post(f"{page}/edit", {"subject": "Changed", "_version": str(case.version)}, token_from=page)
    assert refused.status_code == 409


def test_htmx_move_redirects_to_the_record_and_a_second_move_is_refused_in_the_dialog(gated, case, as_agent):
    page = f"/apps/desk/case/{case.id}"
    answer = as_agent.post(f"{page}/stage", {"to": "closed", "view": "board"}, token_from=page,
                           headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["HX-Redirect"].endswith(page)
    again = as_agent.post(f"{page}/stage", {"to": "closed", "view": "board"}, token_from=page,
                          headers={"HX-Request": "true"})
    assert again.status_code == 422
    assert "awaiting approval" in again.get_data(as_text=True)


def test_inbox_lists_the_request_and_the_approver_approves(gated, case, as_agent, browser, app):
    page = f"/apps/desk/case/{case.id}"
    as_agent.post(f"{page}/stage", {"to": "closed"}, token_from=page)
    as_agent.logout()
    browser.login("admin@example.com")
    inbox = browser.get("/approvals").get_data(as_text=True)
    assert "Printer on fire" in inbox and "High" in inbox         # title and key fields
    import re
    action = re.search(r'action="(/apps/desk/case/\d+/approvals/\d+/approve)"', inbox).group(1)
    done = browser.post(action, {"next": "/approvals"}, token_from="/approvals")
    assert done.status_code == 303
    html = browser.get(page).get_data(as_text=True)
    assert "Closed" in html and "approved" in html
    assert "Nothing is waiting on you." in browser.get("/approvals").get_data(as_text=True)


def test_reject_from_the_record_needs_a_reason_and_the_requester_sees_it_in_chinese(gated, case, as_agent,
                                                                                   browser, app):
    page = f"/apps/desk/case/{case.id}"
    as_agent.post(f"{page}/stage", {"to": "closed"}, token_from=page)
    as_agent.logout()
    browser.login("admin@example.com")
    import re
    html = browser.get(page).get_data(as_text=True)
    action = re.search(r'action="(/apps/desk/case/\d+/approvals/\d+/reject)"', html).group(1)
    assert browser.post(action, {"comment": " ", "next": page}, token_from=page).status_code == 422
    assert browser.post(action, {"comment": "Needs a root cause", "next": page}, token_from=page).status_code == 303
    browser.logout()
    browser.login("agent@example.com")
    browser.post("/language", {"lang": "zh", "next": page})
    html = browser.get(page).get_data(as_text=True)
    assert "Needs a root cause" in html and "已驳回" in html


def test_api_move_answers_202_with_the_request(gated, case, api_as):
    agent, admin, viewer = api_as("agent"), api_as("admin"), api_as("viewer")
    moved = agent.post(f"/api/v1/desk/case/{case.id}/stage", json={"to": "closed"})
    assert moved.status_code == 202
    req = moved.get_json()["approval"]
    assert req["status"] == "pending" and req["status_text"] == "awaiting approval (step 1 of 1: Desk lead)"
    again = agent.post(f"/api/v1/desk/case/{case.id}/stage", json={"to": "closed"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "approval_pending"
    assert agent.patch(f"/api/v1/desk/case/{case.id}",
                       json={"version": case.version, "data": {"subject": "x"}}).status_code == 409
    listed = admin.get("/api/v1/approvals?mine=1").get_json()["approvals"]
    assert [a["id"] for a in listed] == [req["id"]] and listed[0]["title"] == "Printer on fire"
    assert agent.get("/api/v1/approvals?mine=1").get_json()["approvals"] == []
    assert [a["id"] for a in agent.get("/api/v1/approvals?mine=0").get_json()["approvals"]] == [req["id"]]
    base = f"/api/v1/desk/case/{case.id}/approvals/{req['id']}"
    assert agent.post(f"{base}/approve", json={}).status_code == 403           # not waiting on the requester
    assert viewer.post(f"{base}/approve", json={}).status_code == 403          # may read, may not decide
    assert admin.post(f"{base}/reject", json={}).status_code == 422
    rejected = admin.post(f"{base}/reject", json={"comment": "No"})
    assert rejected.status_code == 200 and rejected.get_json()["approval"]["status"] == "rejected"
    assert admin.post(f"{base}/approve", json={}).status_code == 409           # already decided
    record = agent.get(f"/api/v1/desk/case/{case.id}").get_json()
    assert record["stage"] == "open"


def test_api_approve_moves_and_withdraw(gated, case, make_record, api_as):
    agent, admin = api_as("agent"), api_as("admin")
    req = agent.post(f"/api/v1/desk/case/{case.id}/stage", json={"to": "closed"}).get_json()["approval"]
    ok = admin.post(f"/api/v1/desk/case/{case.id}/approvals/{req['id']}/approve")
    assert ok.status_code == 200
    assert agent.get(f"/api/v1/desk/case/{case.id}").get_json()["stage"] == "closed"
    other = make_record("case", {"subject": "Second"})
    req = agent.post(f"/api/v1/desk/case/{other.id}/stage", json={"to": "closed"}).get_json()["approval"]
    gone = agent.post(f"/api/v1/desk/case/{other.id}/approvals/{req['id']}/withdraw", json={"comment": "oops"})
    assert gone.status_code == 200 and gone.get_json()["approval"]["status"] == "withdrawn"


def test_outsiders_and_wrong_records_get_404(gated, case, make_record, api_as):
    agent, outsider = api_as("agent"), api_as("outsider")
    req = agent.post(f"/api/v1/desk/case/{case.id}/stage", json={"to": "closed"}).get_json()["approval"]
    assert outsider.post(f"/api/v1/desk/case/{case.id}/approvals/{req['id']}/approve").status_code == 404
    other = make_record("case", {"subject": "Other"})
    assert api_as("admin").post(f"/api/v1/desk/case/{other.id}/approvals/{req['id']}/approve").status_code == 404
    assert api_as("admin").post(f"/api/v1/desk/case/{case.id}/approvals/{req['id']}/dance").status_code == 404
    assert api_as("admin").get("/api/v1/approvals?mine=2").status_code == 400


def test_openapi_documents_the_approval_paths(gated, api_as):
    doc = api_as("agent").get("/api/v1/openapi.json").get_json()
    assert "/api/v1/approvals" in doc["paths"]
    assert "202" in doc["paths"]["/api/v1/desk/case/{id}/stage"]["post"]["responses"]
    decide = doc["paths"]["/api/v1/desk/case/{id}/approvals/{request}/{action}"]["post"]
    assert {"200", "409", "422"} <= set(decide["responses"])


def test_odd_input_never_errors(gated, case, as_admin, api_as):
    req = api_as("agent").post(f"/api/v1/desk/case/{case.id}/stage", json={"to": "closed"}).get_json()["approval"]
    huge = 2**70
    page = f"/apps/desk/case/{case.id}"
    assert as_admin.post(f"{page}/approvals/{huge}/approve", {}, token_from=page).status_code == 404
    assert api_as("admin").post(f"/api/v1/desk/case/{case.id}/approvals/{huge}/approve").status_code == 404
    nul = as_admin.post(f"{page}/approvals/{req['id']}/reject", {"comment": "bad\x00idea", "next": page},
                        token_from=page)
    assert nul.status_code == 400                      # NUL is refused everywhere (web/params.py), nothing decided
    assert "badidea" not in as_admin.get(page).get_data(as_text=True)


def test_inbox_in_chinese(gated, case, as_agent, browser):
    page = f"/apps/desk/case/{case.id}"
    as_agent.post(f"{page}/stage", {"to": "closed"}, token_from=page)
    as_agent.logout()
    browser.login("admin@example.com")
    browser.post("/language", {"lang": "zh", "next": "/approvals"})
    html = browser.get("/approvals").get_data(as_text=True)
    assert "待我审批" in html and "等待审批（第 1 / 1 步：组长）" in html and "驳回原因（必填）" in html
