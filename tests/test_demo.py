"""Demo data looks like a team that has been working for months (demo.py): dates follow
the day of install, deals have past stage moves, the reminders of the last days are in
every demo user's bell (marked as from the demo), and the rest are pending."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import shutil

import pytest
from sqlalchemy import func, select, text

from formloom.store.db import Database
from formloom.store.tables import metadata

from formloom.demo import load_demo
from formloom.resources import template_dir
from formloom.store.apps import AppCatalog
from formloom.store.install import install_path
from formloom.store.tables import jobs, notifications, records, stage_history, users

NOW = datetime(2027, 1, 15, 2, 0, tzinfo=timezone.utc)      # 53 days after the file's anchor


@pytest.fixture(scope="module")
def demo_file():
    return json.loads((template_dir("crm") / "demo_data.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def crm(tmp_path_factory, _migrated_sqlite, _migrated_postgres):
    """The CRM with its demo data, loaded once for this module (it takes seconds)."""
    if _migrated_postgres:
        url = _migrated_postgres
        with Database(url).engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY CASCADE"))
    else:
        path = tmp_path_factory.mktemp("demo") / "formloom.db"
        shutil.copy(_migrated_sqlite, path)
        url = f"sqlite:///{path}"
    db = Database(url)
    install_path(db, template_dir("crm"))
    app, version_id = AppCatalog(db).get("crm")
    counts = load_demo(db, app, version_id, template_dir("crm"), now=NOW)
    yield db, app, counts
    db.dispose()


def test_every_demo_user_opens_a_bell_with_something_in_it(crm, demo_file):
    db, app, counts = crm
    with db.read() as conn:
        rows = conn.execute(select(users.c.email, func.count(notifications.c.id),
                                   func.count(notifications.c.id).filter(notifications.c.read_at.is_(None)))
                            .select_from(users.outerjoin(notifications, notifications.c.user_id == users.c.id))
                            .group_by(users.c.email)).all()
        keys = conn.execute(select(notifications.c.idempotency_key, notifications.c.created_at)
                            .order_by(notifications.c.id)).all()
    assert {r[0] for r in rows} == {u["email"] for u in demo_file["users"]}
    for email, total, unread in rows:
        assert unread >= 1, f"{email} has no unread notification"
    assert all(k.startswith("demo:") for k, _ in keys)                           # marked as from the demo
    assert any(k.startswith("demo:rem:") for k, _ in keys)                       # replayed reminders, not only notes
    created = [c.replace(tzinfo=timezone.utc) if c.tzinfo is None else c for _, c in keys]
    assert min(created) < NOW - timedelta(days=5) and max(created) <= NOW       # spread over the last days
    replayed = [c for (k, _), c in zip(keys, created) if k.startswith("demo:rem:")]
    assert replayed == sorted(replayed)                  # the bell lists them newest first, as they fell due


def test_the_48_hour_proposal_rule_has_fired_and_pending_reminders(crm):
    db, app, _ = crm
    with db.read() as conn:
        statuses = dict(conn.execute(select(jobs.c.status, func.count()).where(
            jobs.c.rule_key == "proposal_silence_48h").group_by(jobs.c.status)).all())
        in_proposal = conn.execute(select(func.count()).select_from(records).where(
            records.c.app_key == "crm", records.c.stage == "proposal")).scalar_one()
    assert statuses.get("done", 0) >= 5 and statuses.get("pending", 0) >= 3, statuses
    assert statuses["done"] + statuses["pending"] <= in_proposal


def test_deals_have_past_moves_and_time_in_stage(crm, demo_file):
    db, app, _ = crm
    with db.read() as conn:
        won = conn.execute(select(records.c.id, records.c.stage_entered_at).where(
            records.c.app_key == "crm", records.c.stage == "won").limit(1)).one()
        moves = conn.execute(select(stage_history).where(stage_history.c.record_id == won.id)
                             .order_by(stage_history.c.at)).all()
    assert [m.to_stage for m in moves] == ["initial_contact", "needs_confirmed", "proposal", "quotation",
                                          "negotiation", "won"]
    assert moves[0].seconds_in_previous is None and all(m.seconds_in_previous > 0 for m in moves[1:])
    assert moves[-1].at == won.stage_entered_at


def test_dates_follow_the_day_of_install(crm, demo_file):
    db, app, _ = crm
    shift = (NOW.astimezone(timezone(timedelta(hours=8))).date() - date.fromisoformat(demo_file["anchor"])).days
    first = next(r for r in demo_file["records"] if r["entity"] == "opportunity")
    with db.read() as conn:
        stored = conn.execute(select(records.c.data).where(records.c.app_key == "crm",
                                                           records.c.entity_key == "opportunity")
                              .order_by(records.c.id).limit(1)).scalar_one()
    expected = date.fromisoformat(first["data"]["expected_close"]) + timedelta(days=shift)
    assert stored["expected_close"] == expected.isoformat()
    moment = datetime.fromisoformat(first["data"]["last_follow_up_at"].replace("Z", "+00:00")) + timedelta(days=shift)
    assert stored["last_follow_up_at"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_loading_again_adds_nothing(crm):
    db, app, _ = crm
    with db.read() as conn:
        before = conn.execute(select(func.count()).select_from(notifications)).scalar_one()
    again = load_demo(db, app, AppCatalog(db).get("crm")[1], template_dir("crm"), now=NOW)
    with db.read() as conn:
        after = conn.execute(select(func.count()).select_from(notifications)).scalar_one()
    assert again["records"] == 0 and after == before


def test_demo_data_leaves_fresh_planner_statistics(crm):
    """The install analyzed an empty table; loading the demo analyzes again, so the
    planner knows the records exist (SQLite never refreshes statistics by itself)."""
    db, _app, counts = crm
    with db.read() as conn:
        if conn.dialect.name == "postgresql":
            known = float(conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass")).scalar())
        else:
            stats = conn.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'records'")).scalars().all()
            known = max((int(s.split()[0]) for s in stats if s), default=0)
    assert counts["records"] > 0 and known >= counts["records"]


def test_the_sales_manager_finds_quotations_above_20_percent_in_the_inbox(crm, demo_file):
    """Quotations asking for a discount above 20% wait for the manager, as requested by their rep."""
    from formloom.auth.users import load_actor, user_id_by_email
    from formloom.workflow.approvals import waiting_on
    db, app, _counts = crm
    quotes = {r["ref"]: r for r in demo_file["records"] if r["entity"] == "quotation"}
    asked = [quotes[a["record"]] for a in demo_file["approvals"] if a["record"] in quotes]
    with db.read() as conn:
        manager = load_actor(conn, user_id_by_email(conn, "manager@demo.formloom"))
        waiting = [r for r in waiting_on(conn, manager, ["crm"]) if r.to_stage == "sent"]
        stages = conn.execute(select(records.c.stage).where(records.c.entity_key == "quotation",
                                                            records.c.id.in_([r.record_id for r in waiting]))
                              ).scalars().all()
    assert len(asked) >= 1 and all(r["data"]["discount"] > 20 for r in asked)
    assert len(waiting) == len(asked) and set(stages) == {"draft"}


def test_approvers_find_contracts_waiting_for_sign_off(crm, demo_file):
    """README tour step 13: the sales manager and the general manager each have a request
    waiting under Approvals; the large one was already approved by the manager."""
    from formloom.auth.users import load_actor, user_id_by_email
    from formloom.workflow.approvals import decisions_of, waiting_on

    db, app, counts = crm
    with db.read() as conn:
        ids = {who: user_id_by_email(conn, f"{who}@demo.formloom") for who in ("manager", "gm", "finance")}
        waiting = {who: [r for r in waiting_on(conn, load_actor(conn, uid), ["crm"]) if r.to_stage == "active"]
                   for who, uid in ids.items()}
        amounts = {who: [conn.execute(select(records.c.data).where(records.c.id == r.record_id)).scalar_one()["amount"]
                         for r in reqs] for who, reqs in waiting.items()}
        gm_decisions = [d["decision"] for d in decisions_of(conn, [r.id for r in waiting["gm"]])]
    assert amounts["manager"] == ["239500.00"]
    assert amounts["gm"] == ["1035765.00"] and gm_decisions == ["request", "approve"]
    assert all(r.status == "pending" and r.to_stage == "active" for reqs in waiting.values() for r in reqs)
    assert len([a for a in demo_file["approvals"] if a["to"] == "active"]) == 2
