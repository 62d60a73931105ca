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
