"""Contract approval on the shipped CRM, in a real Chromium (issue 18): a rep (reading
Chinese) asks to activate a 600,000 contract; the sales manager approves from the inbox;
the general manager rejects with a comment; the rep sees the reason on the record, in
Chinese and then in English. Screenshots land in FORMLOOM_SCREENSHOTS when it is set."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user, set_manager
from formloom.store.records import create_record

from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

PASSWORD = "demo1234"
REP, MANAGER, GM = "li.wei@demo.formloom", "manager@demo.formloom", "gm@demo.formloom"


@pytest.fixture
def crm(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "approvals",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        gm = create_user(conn, GM, PASSWORD, name="Zhao GM", roles=[("crm", "gm")])
        manager = create_user(conn, MANAGER, PASSWORD, name="Wang Manager", roles=[("crm", "manager")])
        rep = create_user(conn, REP, PASSWORD, name="李伟", language="zh", roles=[("crm", "sales")])
        set_manager(conn, manager, gm)
        set_manager(conn, rep, manager)
        customer = create_record(conn, app_def, app_def.entity("customer"), {"name": "Acme Robotics"},
                                 actor_id=rep, version_id=version_id)
        contract = create_record(conn, app_def, app_def.entity("contract"), {
            "name": "Acme robots 2027", "customer": customer.id, "amount": 600000, "status": "draft",
            "signed_on": "2026-11-20", "start_date": "2026-12-01", "end_date": "2027-11-30"},
            actor_id=rep, version_id=version_id, stage="draft")
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", contract.id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def login(page, base: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")


def shot(page, name: str) -> None:
    folder = os.environ.get("FORMLOOM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_rep_asks_manager_approves_gm_rejects_rep_sees_the_reason(crm, page):  # noqa: F811
    from playwright.sync_api import expect

    base, contract_id = crm
    record = f"{base}/apps/crm/contract/{contract_id}"

    # 1. the rep asks to activate: the record now waits on the sales manager (step 1 of 2)
    login(page, base, REP)
    page.goto(record)
    page.select_option("#move-to", "active")
    page.click(".move-form button[type=submit]")
    expect(page.locator(".approval-status")).to_contain_text("等待审批（第 1 / 2 步：销售经理）")
    expect(page.locator(".move-form")).to_have_count(0)
    shot(page, "1-rep-requested-zh")

    # 2. the manager approves from the inbox, which shows the contract and its amount
    login(page, base, MANAGER)
    page.goto(f"{base}/approvals")
    item = page.locator(".approval-item", has_text="Acme robots 2027")
    expect(item).to_contain_text("awaiting approval (step 1 of 2: Sales manager)")
    expect(item).to_contain_text("600,000")
    shot(page, "2-manager-inbox-en")
    item.get_by_role("button", name="Approve").click()
    expect(page.locator("text=Nothing is waiting on you.")).to_be_visible()

    # 3. the GM must give a reason to reject; then rejects
    login(page, base, GM)
    page.goto(f"{base}/approvals")
    item = page.locator(".approval-item", has_text="Acme robots 2027")
    expect(item).to_contain_text("step 2 of 2: General manager")
    expect(item).to_contain_text("Acme Robotics")                # the GM reads customers: a title, not #1
    item.get_by_role("button", name="Reject").click()           # the browser refuses an empty reason
    expect(page).to_have_url(f"{base}/approvals")
    item.get_by_label("Reason for rejecting (required)").fill("Discount too deep for a first order")
    shot(page, "3-gm-rejecting-en")
    item.get_by_role("button", name="Reject").click()
    expect(page.locator("text=Nothing is waiting on you.")).to_be_visible()

    # 4. the rep sees the record still in Draft, with the reason, in Chinese and in English
    login(page, base, REP)
    page.goto(record)
    panel = page.locator("section.approvals")
    expect(panel).to_contain_text("已驳回")
    expect(panel).to_contain_text("原因：Discount too deep for a first order")
    expect(page.locator(".path-step.current")).to_have_attribute("data-stage", "draft")
    shot(page, "4-rep-sees-reason-zh")
    page.get_by_role("button", name="English").click()
    page.goto(record)
    expect(panel).to_contain_text("Reason: Discount too deep for a first order")
    expect(panel).to_contain_text("rejected")
    shot(page, "5-rep-sees-reason-en")
    assert page.console_problems == []
