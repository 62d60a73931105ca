"""Working together on a deal, in a real Chromium (issue 17): a rep comments on an
opportunity mentioning the manager (picked from the @ list, which offers only people
who may read it); the manager sees the bell, opens the record on a phone-sized screen
and replies; the timeline shows both comments with the stage moves; the manager saves
a view of the list and finds the deal through the top bar's search. Every page is
checked by axe. Screenshots land in FORMLOOM_SCREENSHOTS when it is set."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user, load_actor, set_manager
from formloom.store.records import create_record
from formloom.workflow import move_to_stage

from .test_contract_approval import login, shot
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

REP, MANAGER = "li.wei@demo.formloom", "manager@demo.formloom"
ZH_MANAGER = "zhao@demo.formloom"


@pytest.fixture
def crm(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "collab",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        admin = create_user(conn, "admin@demo.formloom", "demo1234", name="Ada Admin", roles=[("crm", "admin")])
        manager = create_user(conn, MANAGER, "demo1234", name="Wang Manager", roles=[("crm", "manager")])
        rep = create_user(conn, REP, "demo1234", name="Li Wei", roles=[("crm", "sales")])
        create_user(conn, "other@demo.formloom", "demo1234", name="Wanda Otherrep", roles=[("crm", "sales")])
        create_user(conn, ZH_MANAGER, "demo1234", name="赵经理", roles=[("crm", "manager")], language="zh")
        set_manager(conn, rep, manager)
        customer = create_record(conn, app_def, app_def.entity("customer"), {"name": "Acme Robotics",
                                                                                  "address": "上海市浦东新区张江路88号"},
                                 actor_id=rep, version_id=version_id)
        deal = create_record(conn, app_def, app_def.entity("opportunity"), {
            "name": "Acme robot arms", "customer": customer.id, "amount": 250000},
            actor_id=rep, version_id=version_id)
        move_to_stage(conn, app_def, app_def.entity("opportunity"), deal.id, "needs_confirmed",
                      load_actor(conn, admin), override_reason="Confirmed on the phone")
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", deal.id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def part(page, selector: str, name: str) -> None:
    """A screenshot of one element (readable at phone width, unlike a whole tall page)."""
    folder = os.environ.get("FORMLOOM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.locator(selector).first.screenshot(path=str(Path(folder) / f"{name}.png"))


def test_rep_mentions_manager_who_replies_saves_a_view_and_searches(crm, page):  # noqa: F811
    from playwright.sync_api import expect

    base, deal_id = crm
    record = f"{base}/apps/crm/opportunity/{deal_id}"

    # 1. the rep writes a comment and picks the manager from the @ list (not the other rep)
    login(page, base, REP)
    page.goto(record)
    box = page.locator("#comment-body")
    box.click()
    box.press_sequentially("Price agreed? @Wa")
    options = page.locator("#mention-options [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("Wang Manager")             # Wanda cannot read the deal
    part(page, ".comment-form", "collab-1a-picker")
    options.first.click()
    box.press_sequentially("please check the discount.")
    expect(box).to_have_value("Price agreed? @Wang Manager please check the discount.")
    shot(page, "collab-1-rep-mentions")
    page.get_by_role("button", name="Post comment", exact=True).click()
    expect(page.locator(".activity-comment .comment-body").first).to_have_text(
        "Price agreed? @Wang Manager please check the discount.")

    # 2. the manager, on a phone, sees the bell, opens the notification, then the record
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, base, MANAGER)
    expect(page.locator("#bell .badge")).to_have_text("1")
    page.locator("#bell").click()
    page.get_by_role("link", name="Li Wei mentioned you on Acme robot arms").click()
    expect(page).to_have_url(record)
    shot(page, "collab-2-manager-phone")

    # 3. the manager replies; the timeline shows both comments and the stage move, newest first
    page.fill("#comment-body", "@Li Wei 5% is fine, go ahead.")
    page.get_by_role("button", name="Post comment", exact=True).click()
    comments = page.locator(".activity-comment .comment-body")
    expect(comments).to_have_count(2)
    expect(comments.nth(0)).to_have_text("@Li Wei 5% is fine, go ahead.")
    expect(comments.nth(1)).to_have_text("Price agreed? @Wang Manager please check the discount.")
    expect(page.locator(".activity-stage").first).to_contain_text("moved it from Initial contact to Needs confirmed")
    page.get_by_role("link", name="Stage moves").click()
    expect(page.locator("#activity [data-kind]")).to_have_count(2)           # the start and the move
    expect(page.locator(".activity-comment")).to_have_count(0)
    shot(page, "collab-3-timeline")
    page.get_by_role("link", name="All", exact=True).click()
    expect(page.locator(".activity-comment")).to_have_count(2)
    part(page, "#activity", "collab-3a-activity-phone")

    # 4. a saved view of the list, picked from the tabs
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/apps/crm/opportunity/?sort=-amount")
    page.locator(".views-panel summary").click()
    page.fill("#view-name", "Biggest first")
    page.get_by_role("button", name="Save view").click()
    tab = page.locator(".view-tabs a", has_text="Biggest first")
    expect(tab).to_have_attribute("aria-current", "page")
    page.locator(".view-tabs a", has_text="All records").click()
    expect(tab).not_to_have_attribute("aria-current", "page")
    tab.click()
    expect(page).to_have_url(f"{base}/apps/crm/opportunity/?sort=-amount")
    shot(page, "collab-4-saved-view")

    # 5. the top bar's search finds the deal and its customer, grouped by entity
    page.get_by_role("searchbox", name="Search all records").fill("acme")
    page.get_by_role("searchbox", name="Search all records").press("Enter")
    expect(page.get_by_role("heading", name="Opportunities")).to_be_visible()
    expect(page.get_by_role("link", name="Acme robot arms")).to_be_visible()
    expect(page.get_by_role("link", name="Acme Robotics")).to_be_visible()
    shot(page, "collab-5-search")
    with page.expect_navigation():
        page.get_by_role("link", name="Acme robot arms").click()
    expect(page).to_have_url(record)

    # 6. a Chinese-speaking manager on a phone finds the customer by part of its Chinese address
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, base, ZH_MANAGER)
    box = page.get_by_role("searchbox", name="搜索所有记录")
    box.fill("浦东新区")
    with page.expect_navigation():
        box.press("Enter")
    expect(page.locator(".search-group h2")).to_have_count(1)
    expect(page.locator(".search-group h2")).to_contain_text("客户")
    expect(page.get_by_role("link", name="Acme Robotics")).to_be_visible()
    expect(page.get_by_role("link", name="Acme robot arms")).to_have_count(0)
    shot(page, "collab-6-search-zh-phone")
    assert page.console_problems == []
