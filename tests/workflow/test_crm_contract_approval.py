"""The CRM ships contract approval: activation needs the rep's sales manager, and above
500,000 also the general manager (role gm); finance hears of the decision."""
from __future__ import annotations

import pytest
from sqlalchemy import select

import formloom.resources
from formloom.auth.users import create_user, load_actor, set_manager
from formloom.store.apps import AppCatalog
from formloom.store.install import install_path
from formloom.store.records import create_record, get_record
from formloom.store.tables import notifications
from formloom.workflow import move_to_stage
from formloom.workflow.approvals import ApprovalStarted, decide


@pytest.fixture
def crm(db):
    install_path(db, formloom.resources.template_dir("crm"))
    app, version_id = AppCatalog(db).get("crm")
    with db.write() as conn:
        ids = {name: create_user(conn, f"{name}@example.com", "password123", roles=[("crm", role)])
               for name, role in (("gm", "gm"), ("finance", "finance"), ("manager", "manager"), ("rep", "sales"))}
        set_manager(conn, ids["manager"], ids["gm"])
        set_manager(conn, ids["rep"], ids["manager"])
        people = {n: load_actor(conn, i) for n, i in ids.items()}
        customer = create_record(conn, app, app.entity("customer"), {"name": "Acme"}, actor_id=ids["rep"],
                                 version_id=version_id)
    return db, app, people, customer


def contract(db, app, people, customer, amount):
    with db.write() as conn:
        return create_record(conn, app, app.entity("contract"), {
            "name": "Robots", "customer": customer.id, "amount": amount, "status": "draft",
            "signed_on": "2026-11-20", "start_date": "2026-12-01", "end_date": "2027-11-30"},
            actor_id=people["rep"].id, stage="draft")


def request(db, app, rec, actor):
    with db.write() as conn:
        with pytest.raises(ApprovalStarted) as started:
            move_to_stage(conn, app, app.entity("contract"), rec.id, "active", actor, request_approval=True)
    return started.value.request


@pytest.mark.parametrize("amount, steps", [(100000, ["sales_manager"]),
                                           (500000, ["sales_manager"]),
                                           (600000, ["sales_manager", "general_manager"])])
def test_activation_steps_depend_on_the_amount(crm, amount, steps):
    db, app, people, customer = crm
    req = request(db, app, contract(db, app, people, customer, amount), people["rep"])
    assert [s["key"] for s in req.steps] == steps
    assert req.waiting_on == [people["manager"].id]


def test_manager_then_gm_activate_and_finance_is_notified(crm):
    db, app, people, customer = crm
    rec = contract(db, app, people, customer, 600000)
    req = request(db, app, rec, people["rep"])
    entity = app.entity("contract")
    with db.write() as conn:
        req = decide(conn, app, entity, rec.id, req.id, people["manager"], "approve")
    assert req.waiting_on == [people["gm"].id]
    with db.write() as conn:
        req = decide(conn, app, entity, rec.id, req.id, people["gm"], "approve")
        assert get_record(conn, app, entity, rec.id).stage == "active"
        told = conn.execute(select(notifications.c.user_id).where(notifications.c.record_id == rec.id)
                            ).scalars().all()
    assert people["finance"].id in told and people["rep"].id in told
