"""The customer pool and My to-dos, in a real Chromium (issue 17), on the CRM: two reps
have the pool open and claim the same customer; one wins, the other (reading Chinese,
on a phone) is told who was first; the winner returns another customer with a reason,
which the timeline shows; a rep opens My to-dos as a list and as a month calendar, in
Chinese at 375 px. Every page is checked by axe. Screenshots go to tests/browser/shots/."""
from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.records import create_record

from . import a11y
from .test_contract_approval import login
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent / "shots"
LI, ZHANG = "li.wei@demo.formloom", "zhang.min@demo.formloom"


@pytest.fixture
def crm(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "pool",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    soon = (date.today() + timedelta(days=2)).isoformat()
    with db.write() as conn:
        li = create_user(conn, LI, "demo1234", name="Li Wei", roles=[("crm", "sales")])
        zhang = create_user(conn, ZHANG, "demo1234", name="张敏 Zhang Min", language="zh", roles=[("crm", "sales")])
        customers = app_def.entity("customer")
        for name in ("Acme Robotics", "北方钢铁"):
            create_record(conn, app_def, customers, {"name": name, "in_pool": True}, actor_id=None,
                          version_id=version_id, stage="pool")
        mine = create_record(conn, app_def, customers, {"name": "Old Mill Bakery"}, actor_id=li,
                             version_id=version_id, stage="owned")
        create_record(conn, app_def, app_def.entity("opportunity"), {
            "name": "Bakery ovens", "customer": mine.id, "amount": 80000, "expected_close": soon},
            actor_id=li, version_id=version_id)
        steel = create_record(conn, app_def, customers, {"name": "南方港务"}, actor_id=zhang,
                              version_id=version_id, stage="owned")
        create_record(conn, app_def, app_def.entity("opportunity"), {
            "name": "港口调度系统", "customer": steel.id, "amount": 120000, "expected_close": soon},
            actor_id=zhang, version_id=version_id)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", mine.id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_two_reps_race_for_a_customer_one_returns_one_and_both_see_their_to_dos(crm, page):  # noqa: F811
    from playwright.sync_api import expect

    base, mine_id = crm
    pool = f"{base}/apps/crm/customer/pool"

    # 1. both reps have the pool open: Li on a desktop, Zhang (Chinese) on a phone
    login(page, base, LI)
    page.goto(f"{base}/apps/crm/customer/")
    page.get_by_role("link", name="Pool", exact=True).click()
    expect(page).to_have_url(pool)
    expect(page.locator(".pool-held")).to_contain_text("You hold 1 of at most 30.")
    expect(page.locator("table.pool")).to_contain_text("北方钢铁")
    other_context = page.context.browser.new_context(viewport={"width": 375, "height": 800})
    other = other_context.new_page()
    other.set_default_timeout(10_000)
    other.console_problems = []
    other.on("pageerror", lambda error: other.console_problems.append(str(error)))
    a11y.attach(other_context, other)
    login(other, base, ZHANG)
    other.goto(pool)
    expect(other.get_by_role("heading", name="公海：客户")).to_be_visible()

    # 2. Li claims Acme first; Zhang's click on the same row loses, with a clear message
    page.get_by_role("button", name="Claim Acme Robotics").click()
    expect(page).to_have_url(re.compile(r"/apps/crm/customer/[0-9]+$"))
    expect(page.locator("h1")).to_contain_text("Acme Robotics")
    expect(page.locator(".activity")).to_contain_text("claimed it from the pool")
    expect(page.locator("h1")).to_contain_text("Owned")
    other.get_by_role("button", name="领取 Acme Robotics").click()
    refusal = other.locator(".pool-refusal")
    expect(refusal).to_contain_text("Li Wei 已抢先领取了这条记录。")
    expect(other.locator("table.pool")).not_to_contain_text("Acme Robotics")
    expect(other.locator("table.pool")).to_contain_text("北方钢铁")
    shot(other, "pool-1-loser-zh-375")

    # 3. Li returns an old customer to the pool, saying why; the timeline keeps the reason
    page.goto(f"{base}/apps/crm/customer/{mine_id}")
    page.fill("#pool-reason", "Closed their shop; nobody to talk to.")
    shot(page, "pool-2-return-with-reason")
    page.get_by_role("button", name="Return to pool").click()
    expect(page).to_have_url(pool)
    expect(page.locator("table.pool")).to_contain_text("Old Mill Bakery")
    page.get_by_role("link", name="Old Mill Bakery").click()
    expect(page.locator(".activity")).to_contain_text("returned it to the pool")
    expect(page.locator(".activity")).to_contain_text("Reason: Closed their shop; nobody to talk to.")
    expect(page.get_by_role("button", name="Claim", exact=True)).to_be_visible()

    # 4. Li's to-dos: the deal's expected close date, as a list and on the month calendar
    page.get_by_role("link", name="My to-dos").click()
    expect(page.locator(".todo-day")).to_contain_text("Bakery ovens")
    expect(page.locator(".todo-day")).to_contain_text("Expected close")
    shot(page, "todos-1-list")
    page.get_by_role("link", name="Month", exact=True).click()
    expect(page.locator("table.calendar-month")).to_contain_text("Bakery ovens")
    shot(page, "todos-2-month")

    # 5. Zhang's to-dos on the phone, in Chinese: the month calendar (nothing of Li's)
    other.get_by_role("link", name="我的待办").click()
    other.get_by_role("link", name="月", exact=True).click()
    expect(other.locator("table.calendar-month")).to_be_visible()
    expect(other.locator("table.calendar-month")).to_contain_text("港口调度系统")
    expect(other.locator("table.calendar-month")).not_to_contain_text("Bakery ovens")
    shot(other, "todos-3-month-zh-375")
    width = other.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the month calendar scrolls sideways on a phone ({width} px)"
    a11y.flush(other)
    other_context.close()
    assert page.console_problems == [] and other.console_problems == []
