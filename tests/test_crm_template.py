"""The shipped CRM's own rules that reach past one record: a follow-up writes "last
follow-up at" back to its opportunity and customer; a customer without a follow-up
for 30 days goes back to the public pool with its owner cleared."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from formloom.auth import policy
from formloom.auth.users import create_user, load_actor
from formloom.automation import Settings, run_worker_once
from formloom.resources import template_dir
from formloom.store.apps import AppCatalog
from formloom.store.install import install_path
from formloom.store.query import ListQuery, list_records
from formloom.store.records import create_record, get_record
from formloom.store.tables import notifications

START = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)    # 09:30 in Shanghai, a Monday
SETTINGS = Settings(base_url="https://crm.example")


@pytest.fixture
def crm(db):
    with time_machine.travel(START, tick=False) as clock:
        install_path(db, template_dir("crm"))
        catalog = AppCatalog(db)
        with db.write() as conn:
            people = {
                "admin": create_user(conn, "admin@example.com", "pw-123456789", name="Admin", roles=[("crm", "admin")]),
                "mia": create_user(conn, "mia@example.com", "pw-123456789", name="Mia", roles=[("crm", "manager")]),
            }
            people["sally"] = create_user(conn, "sally@example.com", "pw-123456789", name="Sally",
                                          roles=[("crm", "sales")], manager_id=people["mia"])
        yield db, catalog, catalog.app("crm"), people, clock


def work(db, catalog) -> int:
    return run_worker_once(db, catalog, settings=SETTINGS)


def fetch(db, app, entity, record_id):
    with db.read() as conn:
        return get_record(conn, app, app.entity(entity), record_id, include_deleted=True)


def test_a_follow_up_writes_last_follow_up_at_to_its_opportunity_and_customer(crm):
    db, catalog, app, people, clock = crm
    sally = people["sally"]
    with db.write() as conn:
        customer = create_record(conn, app, app.entity("customer"), {"name": "Hangzhou Robotics"},
                                 actor_id=sally, owner_id=sally)
        deal = create_record(conn, app, app.entity("opportunity"),
                             {"name": "MES upgrade", "customer": customer.id}, actor_id=sally, owner_id=sally)
    work(db, catalog)
    assert fetch(db, app, "customer", customer.id).data.get("last_follow_up_at") is None

    clock.move_to(START + timedelta(days=2, hours=3))
    with db.write() as conn:
        create_record(conn, app, app.entity("follow_up"),
                      {"subject": "Demo call", "customer": customer.id, "opportunity": deal.id, "kind": "call",
                       "date": "2026-03-04T04:00:00Z", "summary": "Walked through the MES demo."},
                      actor_id=sally, owner_id=sally)
    work(db, catalog)
    expected = "2026-03-04T04:30:00Z"
    assert fetch(db, app, "opportunity", deal.id).data["last_follow_up_at"] == expected
    assert fetch(db, app, "customer", customer.id).data["last_follow_up_at"] == expected


def test_a_customer_without_follow_up_for_30_days_returns_to_the_pool_without_owner(crm):
    db, catalog, app, people, clock = crm
    sally = people["sally"]
    with db.write() as conn:
        customer = create_record(conn, app, app.entity("customer"), {"name": "Suzhou Optics"},
                                 actor_id=people["admin"], owner_id=sally)
    work(db, catalog)
    assert fetch(db, app, "customer", customer.id).stage == "owned"

    clock.move_to(START + timedelta(days=31))
    work(db, catalog)
    pooled = fetch(db, app, "customer", customer.id)
    assert (pooled.stage, pooled.owner_id, pooled.data["in_pool"]) == ("pool", None, True)
    with db.read() as conn:
        told = {row.user_id for row in conn.execute(select(notifications.c.user_id)
                                                    .where(notifications.c.record_id == customer.id))}
        manager, seller = load_actor(conn, people["mia"]), load_actor(conn, sally)
        seen_by_manager = list_records(conn, app, app.entity("customer"), manager, ListQuery()).items
        seen_by_seller = list_records(conn, app, app.entity("customer"), seller, ListQuery()).items
    assert {people["mia"], sally} <= told
    assert [r.id for r in seen_by_manager] == [customer.id]
    # the pool is open to every salesperson for reading (so it can be claimed), not for editing
    assert [r.id for r in seen_by_seller] == [customer.id]
    assert not policy.can(seller, "update", app, app.entity("customer"), pooled)


def test_a_customer_in_the_pool_is_claimed_back_and_a_manual_move_to_the_pool_clears_the_owner(crm):
    """The pool (app.json "pool") and the 30-day rule agree: the pooled customer has no
    owner, a salesperson claims it (stage Owned, the pool mark cleared, the manager told),
    and a move to the Public pool stage by hand clears the owner like a return does."""
    from formloom.collab.pools import claim
    from formloom.workflow import move_to_stage

    db, catalog, app, people, clock = crm
    sally = people["sally"]
    with db.write() as conn:
        customer = create_record(conn, app, app.entity("customer"), {"name": "Ningbo Ports"},
                                 actor_id=people["admin"], owner_id=sally)
    work(db, catalog)
    clock.move_to(START + timedelta(days=31))
    work(db, catalog)
    assert fetch(db, app, "customer", customer.id).owner_id is None
    with db.write() as conn:
        claim(conn, app, app.entity("customer"), customer.id, load_actor(conn, sally), now=START + timedelta(days=31))
    work(db, catalog)
    claimed = fetch(db, app, "customer", customer.id)
    assert (claimed.stage, claimed.owner_id, claimed.data["in_pool"]) == ("owned", sally, False)
    with db.read() as conn:
        last = conn.execute(select(notifications.c.subject).where(
            notifications.c.record_id == customer.id, notifications.c.user_id == people["mia"])
            .order_by(notifications.c.id.desc()).limit(1)).scalar()
    assert last == "Claiming a customer clears the pool mark: Ningbo Ports"

    with db.write() as conn:
        move_to_stage(conn, app, app.entity("customer"), customer.id, "pool", load_actor(conn, sally))
    work(db, catalog)
    moved = fetch(db, app, "customer", customer.id)
    assert (moved.stage, moved.owner_id, moved.data["in_pool"]) == ("pool", None, True)


def test_follow_ups_have_pages_but_no_board(database_url, tmp_path):
    """follow_up's workflow only carries rules: lists and records work, no board is offered."""
    from formloom.app import create_app

    from .web.conftest import PASSWORD, Browser

    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    db = flask_app.extensions["formloom.db"]
    try:
        install_path(db, template_dir("crm"))
        app = flask_app.extensions["formloom.catalog"].app("crm")
        with db.write() as conn:
            admin = create_user(conn, "boss@example.com", PASSWORD, name="Boss", roles=[("crm", "admin")])
            customer = create_record(conn, app, app.entity("customer"), {"name": "Ningbo Ports"},
                                     actor_id=admin, owner_id=admin)
            note = create_record(conn, app, app.entity("follow_up"),
                                 {"subject": "Intro call", "customer": customer.id, "kind": "call",
                                  "date": "2026-03-04T04:00:00Z", "summary": "First contact."},
                                 actor_id=admin, owner_id=admin)
        boss = Browser(flask_app.test_client())
        assert boss.login("boss@example.com").status_code == 302
        listing = boss.get("/apps/crm/follow_up/")
        assert listing.status_code == 200 and "Intro call" in listing.get_data(as_text=True)
        page = listing.get_data(as_text=True)
        assert "/apps/crm/follow_up/board" not in page and "/apps/crm/customer/board" in page
        assert boss.get(f"/apps/crm/follow_up/{note.id}").status_code == 200
        assert boss.get("/apps/crm/follow_up/board").status_code == 404
    finally:
        db.dispose()
