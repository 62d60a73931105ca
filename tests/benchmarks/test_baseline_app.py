"""The hand-coded baseline of the benchmarks must keep working: it serves its pages,
refuses an invalid form, and moves a stage only through its gate."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from werkzeug.security import generate_password_hash

from benchmarks.baseline_app import (Base, Contact, Customer, FollowUp, Opportunity, User, create_baseline_app,
                                     make_engine)

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def client(tmp_path):
    url = f"sqlite:///{tmp_path / 'baseline.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    now = datetime.now(timezone.utc)
    from sqlalchemy.orm import Session
    with Session(engine) as s:
        s.add(User(id=1, email="a@example.com", name="Ada", password_hash=generate_password_hash("pw-123456",
                   method="pbkdf2:sha256:1000"), active=True))
        s.add(Customer(id=1, name="ACME", created_at=now))
        s.flush()
        s.add(Contact(id=1, customer_id=1, name="Bob"))
        s.flush()
        s.add(Opportunity(id=1, name="Deal", customer_id=1, stage="initial_contact", stage_entered_at=now,
                          created_at=now, updated_at=now, version=1, budget_confirmed=False, in_pool=False))
        s.flush()
        s.add(FollowUp(id=1, subject="Visit", customer_id=1, opportunity_id=1, kind="visit", date=now, summary="ok",
                       created_at=now, updated_at=now))
        s.commit()
    engine.dispose()
    app = create_baseline_app(url, "test-secret")
    c = app.test_client()
    token = TOKEN.search(c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"email": "a@example.com", "password": "pw-123456", "csrf_token": token}).status_code == 302
    yield c
    app.extensions["baseline.engine"].dispose()


def _token(client, path="/opportunities/new") -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def test_pages_are_served(client):
    assert client.get("/opportunities/new").status_code == 200
    page = client.get("/opportunities/?source=referral&amount_min=100&sort=-amount")
    assert page.status_code == 200
    detail = client.get("/opportunities/1").get_data(as_text=True)
    assert "Deal" in detail and "Visit" in detail


def test_valid_form_creates_and_invalid_form_is_refused(client):
    token = _token(client)
    bad = client.post("/opportunities/new", data={"csrf_token": token, "name": "", "customer": "1", "amount": "-5"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "This field is required." in text and "at least 0" in text
    good = client.post("/opportunities/new", data={"csrf_token": token, "name": "New deal", "customer": "1",
                                                   "amount": "1200.50", "need": "80", "budget_fit": "70"})
    assert good.status_code == 303, re.findall(r"class=\"error\"[^>]*>([^<]+)", good.get_data(as_text=True))
    assert "New deal" in client.get(good.headers["Location"]).get_data(as_text=True)


def test_stage_move_goes_through_the_gate(client):
    token = _token(client, "/opportunities/1")
    blocked = client.post("/opportunities/1/stage", data={"csrf_token": token, "stage": "needs_confirmed"})
    assert blocked.status_code == 422
    assert "Budget must be confirmed" in blocked.get_data(as_text=True)


@pytest.fixture
def api(client):
    """The baseline's JSON API with a Bearer token of user 1 (its session is not used)."""
    import hashlib
    from benchmarks.baseline_app import ApiToken
    app = client.application
    from sqlalchemy.orm import Session
    with Session(app.extensions["baseline.engine"]) as s:
        s.add(ApiToken(user_id=1, token_hash=hashlib.sha256(b"secret-1").hexdigest()))
        s.commit()
    api_client = app.test_client()
    headers = {"Authorization": "Bearer secret-1"}
    return lambda method, path, body=None: api_client.open(path, method=method, json=body, headers=headers)


def test_the_api_refuses_a_missing_or_unknown_token(client):
    api_client = client.application.test_client()
    assert api_client.get("/api/opportunities").status_code == 401
    assert api_client.get("/api/opportunities", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_api_creates_validates_updates_with_versions_and_moves_through_the_gate(api):
    bad = api("POST", "/api/opportunities", {"data": {"name": "", "customer": 1, "amount": "-5"}})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"name", "amount"}
    assert api("POST", "/api/opportunities", {"data": {"nope": 1}}).status_code == 422
    made = api("POST", "/api/opportunities", {"data": {"name": "API deal", "customer": 1, "decision_maker": 1,
                                                        "amount": "1200.50", "need": 80, "budget_fit": 70}})
    assert made.status_code == 201, made.get_json()
    record = made.get_json()
    assert (record["version"], float(record["data"]["score"]), record["stage"]) == (1, 45.0, "initial_contact")
    path = f"/api/opportunities/{record['id']}"
    changed = api("PATCH", path, {"data": {"need": 100}, "version": 1})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    assert api("PATCH", path, {"data": {"need": 90}, "version": 1}).status_code == 409
    blocked = api("POST", f"{path}/stage", {"to": "needs_confirmed", "version": 2})
    assert blocked.status_code == 422 and "Budget must be confirmed" in blocked.get_data(as_text=True)
    api("PATCH", path, {"data": {"budget_confirmed": True, "needs_summary": "Phased."}, "version": 2})
    moved = api("POST", f"{path}/stage", {"to": "needs_confirmed", "version": 3})
    assert moved.status_code == 200 and moved.get_json()["stage"] == "needs_confirmed"
    listed = api("GET", "/api/opportunities?amount_min=1000&sort=-amount").get_json()
    assert [x["data"]["name"] for x in listed["items"]] == ["API deal"]
