"""The CRM ships quotation approval: a discount above 20% needs the rep's sales manager
before the quotation is sent; at 20% or less it goes straight out."""
from __future__ import annotations

import pytest
from sqlalchemy import select

import formloom.resources
from formloom.auth.users import create_user, load_actor, set_manager
from formloom.errors import ForbiddenError
from formloom.store.apps import AppCatalog
from formloom.store.install import install_path
from formloom.store.records import create_record, get_record
from formloom.store.tables import stage_history
from formloom.workflow import move_to_stage
from formloom.workflow.approvals import ApprovalStarted, CommentMissing, decide


@pytest.fixture
def crm(db):
    install_path(db, formloom.resources.template_dir("crm"))
    app, version_id = AppCatalog(db).get("crm")
    with db.write() as conn:
        ids = {name: create_user(conn, f"{name}@example.com", "password123", roles=[("crm", role)])
               for name, role in (("manager", "manager"), ("rep", "sales"))}
        set_manager(conn, ids["rep"], ids["manager"])
        people = {n: load_actor(conn, i) for n, i in ids.items()}
        customer = create_record(conn, app, app.entity("customer"), {"name": "Acme"}, actor_id=ids["rep"],
                                 version_id=version_id)
        deal = create_record(conn, app, app.entity("opportunity"), {"name": "Robots", "customer": customer.id},
                             actor_id=ids["rep"], version_id=version_id)
    return db, app, people, customer, deal


def quotation(crm, discount):
    db, app, people, customer, deal = crm
    with db.write() as conn:
        return create_record(conn, app, app.entity("quotation"), {
            "name": "Robots, phase 1", "customer": customer.id, "opportunity": deal.id,
            "list_price": "100000", "discount": discount, "valid_until": "2026-12-31"},
            actor_id=people["rep"].id, stage="draft")


def send(crm, rec):
    db, app, people, *_ = crm
    with db.write() as conn:
        with pytest.raises(ApprovalStarted) as started:
            move_to_stage(conn, app, app.entity("quotation"), rec.id, "sent", people["rep"], request_approval=True)
    return started.value.request


def stage_of(crm, rec):
    db, app, *_ = crm
    with db.read() as conn:
        return get_record(conn, app, app.entity("quotation"), rec.id).stage


def test_the_quoted_amount_is_the_list_price_less_the_discount(crm):
    assert float(quotation(crm, 15).data["quoted_amount"]) == 85000


@pytest.mark.parametrize("discount", [15, 20])
def test_a_discount_of_20_percent_or_less_is_sent_at_once(crm, discount):
    db, app, people, *_ = crm
    rec = quotation(crm, discount)
    with db.write() as conn:
        move_to_stage(conn, app, app.entity("quotation"), rec.id, "sent", people["rep"], request_approval=True)
    assert stage_of(crm, rec) == "sent"


def test_a_discount_above_20_percent_waits_for_the_reps_manager(crm):
    db, app, people, *_ = crm
    rec = quotation(crm, 25)
    req = send(crm, rec)
    assert [s["key"] for s in req.steps] == ["sales_manager"]
    assert req.waiting_on == [people["manager"].id]
    assert stage_of(crm, rec) == "draft"


def test_the_managers_approval_sends_the_quotation(crm):
    db, app, people, *_ = crm
    rec = quotation(crm, 25)
    req = send(crm, rec)
    with db.write() as conn:
        req = decide(conn, app, app.entity("quotation"), rec.id, req.id, people["manager"], "approve")
    assert req.status == "approved" and stage_of(crm, rec) == "sent"


def test_a_rejection_needs_a_reason_and_keeps_the_quotation_in_draft(crm):
    db, app, people, *_ = crm
    rec = quotation(crm, 30)
    req = send(crm, rec)
    entity = app.entity("quotation")
    with db.write() as conn, pytest.raises(CommentMissing):
        decide(conn, app, entity, rec.id, req.id, people["manager"], "reject")
    with db.write() as conn:
        req = decide(conn, app, entity, rec.id, req.id, people["manager"], "reject", "30% is below our floor price")
    assert req.status == "rejected" and req.reason == "30% is below our floor price"
    assert stage_of(crm, rec) == "draft"
    with db.read() as conn:
        moves = conn.execute(select(stage_history.c.to_stage).where(stage_history.c.record_id == rec.id)
                             ).scalars().all()
    assert "sent" not in moves


def test_the_rep_cannot_approve_their_own_quotation(crm):
    db, app, people, *_ = crm
    rec = quotation(crm, 25)
    req = send(crm, rec)
    with db.write() as conn, pytest.raises(ForbiddenError):
        decide(conn, app, app.entity("quotation"), rec.id, req.id, people["rep"], "approve")
    assert stage_of(crm, rec) == "draft"


def test_the_manager_finds_the_quotation_in_the_inbox_and_on_its_pages(database_url, tmp_path):
    """The quotation's list, board and record pages and the approver's inbox all render it."""
    from formloom.app import create_app

    from ..web.conftest import PASSWORD, Browser

    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    db = flask_app.extensions["formloom.db"]
    try:
        install_path(db, formloom.resources.template_dir("crm"))
        app = flask_app.extensions["formloom.catalog"].app("crm")
        with db.write() as conn:
            boss = create_user(conn, "mia@example.com", PASSWORD, name="Mia", roles=[("crm", "manager")])
            rep = create_user(conn, "sam@example.com", PASSWORD, name="Sam", roles=[("crm", "sales")],
                              manager_id=boss, language="zh")
            customer = create_record(conn, app, app.entity("customer"), {"name": "Acme"}, actor_id=rep)
            deal = create_record(conn, app, app.entity("opportunity"), {"name": "Robots", "customer": customer.id},
                                 actor_id=rep)
            rec = create_record(conn, app, app.entity("quotation"), {
                "name": "Robots, phase 1", "customer": customer.id, "opportunity": deal.id,
                "list_price": "100000", "discount": 25, "valid_until": "2026-12-31"}, actor_id=rep, stage="draft")
            with pytest.raises(ApprovalStarted):
                move_to_stage(conn, app, app.entity("quotation"), rec.id, "sent", load_actor(conn, rep),
                              request_approval=True)
        mia = Browser(flask_app.test_client())
        assert mia.login("mia@example.com").status_code == 302
        assert mia.get("/apps/crm/quotation/board").status_code == 200     # its columns load afterwards
        for url in ("/approvals", "/apps/crm/quotation/", f"/apps/crm/quotation/{rec.id}"):
            page = mia.get(url)
            assert page.status_code == 200 and "Robots, phase 1" in page.get_data(as_text=True), url
        html = mia.get(f"/apps/crm/quotation/{rec.id}").get_data(as_text=True)
        assert "awaiting approval (step 1 of 1: Sales manager)" in html
        assert '<dt>Quoted amount</dt><dd>75000</dd>' in html
        assert 'action="/apps/crm/quotation/%d/approvals/' % rec.id in html
        sam = Browser(flask_app.test_client())
        assert sam.login("sam@example.com").status_code == 302
        form = sam.get("/apps/crm/quotation/new")
        assert form.status_code == 200 and all(w in form.get_data(as_text=True) for w in ("目录价", "折扣", "有效期至"))
    finally:
        db.dispose()
