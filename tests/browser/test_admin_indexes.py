"""The shipped CRM's indexes page in a real Chromium, as an admin reading English on a wide
screen and one reading Chinese on a phone: every entity's indexes with their reasons and
sizes, the saved view's unindexed filter, and no sideways scrolling at 375 px."""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.tables import saved_views

from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parent / "shots"
PASSWORD = "index-pass-12345"


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "indexes-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    with db.write() as conn:
        admin = create_user(conn, "admin@example.com", PASSWORD, name="Ada Admin", roles=[("crm", "admin")])
        create_user(conn, "zh.admin@example.com", PASSWORD, name="王管理", language="zh", roles=[("crm", "admin")])
        conn.execute(saved_views.insert().values(app_key="crm", entity_key="opportunity", name="Risky referrals",
                                                 query="source=referral&risk=high", owner_id=admin,
                                                 created_at=datetime.now(timezone.utc)))
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def login(page, base: str, email: str) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")
    expect(page).to_have_url(f"{base}/")


def test_an_admin_reads_why_each_index_exists_in_english_and_in_chinese(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, base, "admin@example.com")
    page.goto(f"{base}/apps/crm/admin/automation")
    with page.expect_navigation():
        page.get_by_role("link", name="Indexes").click()
    expect(page.locator("h1")).to_have_text("Indexes")
    opportunity = page.locator("#indexes-opportunity")
    expect(opportunity).to_contain_text("Reference to Customer: related lists, rollups and related-record gates")
    expect(opportunity).to_contain_text("Shown on the to-do calendar, asked for by date range")
    expect(opportunity).to_contain_text("Risk (saved views: 1)")
    expect(opportunity).not_to_contain_text("Source channel (saved views")     # the CRM indexes it
    expect(opportunity).not_to_contain_text("ixf_crm_opportunity_need")
    page.screenshot(path=str(SHOTS / "indexes-1-admin-en-1440.png"), full_page=False)

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.locator("#indexes-opportunity").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "indexes-2-admin-en-375.png"), full_page=False)

    page.context.clear_cookies()
    login(page, base, "zh.admin@example.com")
    page.goto(f"{base}/apps/crm/admin/indexes")
    expect(page.locator("h1")).to_have_text("索引")
    expect(page.locator("#indexes-opportunity")).to_contain_text("默认列表中的一列：用户会按它排序")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SHOTS / "indexes-3-admin-zh-375.png"), full_page=False)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.reload()
    page.screenshot(path=str(SHOTS / "indexes-4-admin-zh-1440.png"), full_page=False)
    assert page.console_problems == []
