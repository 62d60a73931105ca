"""The CRM's sales dashboard in a real Chromium (axe checks every page): a manager opens
it from the menu, sees this month's numbers as the records say, changes the period and
sees last month's; a rep sees only their own numbers and their overdue follow-ups.
Screenshots at 1440 and 375 px go to docs/screenshots/."""
from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.records import create_record

from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

PASSWORD = "dash-pass-12345"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "dashboard-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    crm, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    zone = ZoneInfo(crm.timezone)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    first_local = datetime.now(zone).date().replace(day=1)
    last_month = datetime.combine(first_local - timedelta(days=10), time(12), zone).astimezone(timezone.utc)
    today_local = datetime.now(zone).date()
    customer, opportunity, follow_up = crm.entity("customer"), crm.entity("opportunity"), crm.entity("follow_up")
    with db.write() as conn:
        boss = create_user(conn, "boss@example.com", PASSWORD, name="Mia Manager", roles=[("crm", "manager")])
        li = create_user(conn, "li@example.com", PASSWORD, name="Li Wei", roles=[("crm", "sales")], manager_id=boss)
        zhang = create_user(conn, "zhang@example.com", PASSWORD, name="Zhang Min", roles=[("crm", "sales")],
                            manager_id=boss)

        def make(entity, data, owner, stage=None, when=now):
            return create_record(conn, crm, entity, data, actor_id=owner, owner_id=owner, stage=stage,
                                 version_id=version_id, now=when)

        lumen = make(customer, {"name": "Lumen Data Ltd."}, li, stage="owned")
        north = make(customer, {"name": "Northwind Trading"}, zhang, stage="owned")
        signed = today_local.isoformat()
        make(opportunity, {"name": "Lumen rollout", "customer": lumen.id, "amount": 100000,
                           "contract_signed_on": signed}, li, stage="won")
        make(opportunity, {"name": "Northwind ERP", "customer": north.id, "amount": 250000,
                           "contract_signed_on": signed}, zhang, stage="won")
        make(opportunity, {"name": "Northwind pilot", "customer": north.id, "amount": 30000,
                           "lost_reason": "price"}, zhang, stage="lost")
        make(opportunity, {"name": "Lumen phase 2", "customer": lumen.id, "amount": 80000}, li, stage="proposal")
        make(opportunity, {"name": "Lumen pilot", "customer": lumen.id, "amount": 50000,
                           "contract_signed_on": (first_local - timedelta(days=10)).isoformat()},
             li, stage="won", when=last_month)
        make(follow_up, {"subject": "Call Lumen back", "customer": lumen.id, "kind": "call",
                         "date": (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "summary": "Asked for a quote", "next_date": (today_local - timedelta(days=1)).isoformat()},
             li)
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


def settle(page):  # noqa: F811
    """Let Chart.js redraw after a viewport change (its resize runs on animation frames)."""
    page.wait_for_timeout(300)
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def login(page, base, email):  # noqa: F811
    from playwright.sync_api import expect
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{base}/")


def test_manager_and_rep_dashboards(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base = live_server
    login(page, base, "boss@example.com")
    # the dashboard is in the app's menu
    page.click("nav.nav details.menu summary")
    page.click("nav.nav a:has-text('Sales dashboard')")
    expect(page).to_have_url(f"{base}/apps/crm/dashboards/sales")
    expect(page.locator("#period")).to_have_value("last_30_days")      # the board opens on a rolling month
    page.select_option("#period", "this_month")
    expect(page).to_have_url(f"{base}/apps/crm/dashboards/sales?period=this_month")
    won = page.locator("#widget-won_amount .big-number")
    expect(won).to_have_text("¥350,000.00")                              # 100,000 + 250,000 this month
    expect(page.locator("#widget-won_count .big-number")).to_have_text("2")
    expect(page.locator("#widget-win_rate .big-number")).to_have_text("66.7%")   # 2 won of 3 closed
    expect(page.locator("#widget-win_rate .target")).to_contain_text("on target")
    expect(page.locator("#widget-open_pipeline .big-number")).to_have_text("¥80,000.00")
    expect(page.locator("#widget-won_amount")).to_contain_text("Previous period: ¥50,000.00")
    # the leaderboard ranks the reps by won amount
    board = page.locator("#widget-leaderboard tbody tr")
    expect(board).to_have_count(2)
    expect(board.nth(0)).to_contain_text("Zhang Min")
    expect(board.nth(0)).to_contain_text("250,000")
    # charts are drawn, and their tables hold the same numbers
    expect(page.locator("#widget-pipeline canvas")).to_be_visible()
    ticks = page.evaluate("Chart.getChart(document.querySelector('#widget-pipeline canvas'))"
                          ".scales.y.ticks.map(t => t.label)")
    assert "¥80,000" in ticks and all(t.startswith("¥") for t in ticks)     # money: the currency on the axis
    page.click("#widget-pipeline summary")
    expect(page.locator("#widget-pipeline table")).to_contain_text("¥80,000.00")   # and in the table beside it
    funnel = page.locator("#widget-funnel tbody tr")       # 4 deals created this month; 3 reached a proposal
    expect(funnel.nth(0)).to_contain_text("4")
    expect(funnel.nth(2)).to_contain_text("3")
    expect(page.locator("#widget-leaderboard thead")).to_contain_text("Owner")
    page.click("#widget-loss_reasons summary")
    expect(page.locator("#widget-loss_reasons table")).to_contain_text("Price")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-1440.png"), full_page=True)

    # last month: only the Lumen pilot was won
    page.select_option("#period", "last_month")
    expect(page).to_have_url(f"{base}/apps/crm/dashboards/sales?period=last_month")
    expect(won).to_have_text("¥50,000.00")
    expect(page.locator("#widget-won_count .big-number")).to_have_text("1")

    # narrowed to one rep
    page.select_option("#period", "this_month")
    page.select_option("#owner", label="Li Wei")
    expect(won).to_have_text("¥100,000.00")

    # the same page on a phone
    page.goto(f"{base}/apps/crm/dashboards/sales?period=this_month")
    page.set_viewport_size({"width": 375, "height": 800})
    expect(won).to_have_text("¥350,000.00")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-375.png"), full_page=True)

    # a rep sees only their own numbers
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_navigation():
        page.click("form[action$='/logout'] button")
    login(page, base, "li@example.com")
    page.goto(f"{base}/apps/crm/dashboards/sales?period=this_month")
    expect(won).to_have_text("¥100,000.00")
    expect(page.locator("#widget-won_count .big-number")).to_have_text("1")
    expect(page.locator("#widget-win_rate .big-number")).to_have_text("100.0%")
    expect(page.locator("#widget-leaderboard tbody tr")).to_have_count(1)
    expect(page.locator("#widget-leaderboard")).not_to_contain_text("Zhang Min")
    expect(page.locator("#widget-overdue_follow_ups")).to_contain_text("Call Lumen back")

    # and in Chinese
    page.click("button[name=lang][value=zh]")
    expect(page.locator("h1")).to_have_text("销售看板")
    expect(page.locator("#widget-won_amount h2")).to_have_text("赢单金额")
    page.set_viewport_size({"width": 375, "height": 800})
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-zh-375.png"), full_page=True)
    assert page.console_problems == []
