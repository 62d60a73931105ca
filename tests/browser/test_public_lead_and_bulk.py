"""Leads from the web, in a real Chromium: the CRM admin publishes the shipped lead form,
an anonymous visitor on a 375 px phone in Chinese fills it in, the rules route the lead
to the sales rep, who finds it in the Leads list; then the rep bulk-moves every lead to
Contacted, tries Disqualified (the gate refuses, the reason is listed per record) and
hands two leads to a colleague with a bulk owner change.

Screenshots land in tests/browser/shots/ (not committed) for a person to look at."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.automation.worker import run_once
from formloom.auth.users import create_user
from formloom.store.records import create_record
from formloom.store.tables import records

from . import a11y
from .conftest import EXPECTED_STATUS
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "shots"
PASSWORD = "demo1234"


@pytest.fixture
def crm(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "leads", "INSTANCE": str(tmp_path / "i")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        ids = {"admin": create_user(conn, "boss@demo.formloom", PASSWORD, name="Boss", roles=[("crm", "admin")]),
               "rep": create_user(conn, "li.wei@demo.formloom", PASSWORD, name="李伟", language="zh",
                                  roles=[("crm", "sales")]),
               "colleague": create_user(conn, "zhao@demo.formloom", PASSWORD, name="赵敏", language="zh",
                                        roles=[("crm", "manager")])}
        for name in ("Acme Robotics", "Borealis Foods"):
            ids[name] = create_record(conn, app_def, app_def.entity("lead"),
                                      {"company": name, "contact_name": "Chen", "phone": "021 5555 0101"},
                                      actor_id=ids["rep"], version_id=version_id).id
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids, flask_app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def login(tab, base: str, email: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("button.primary")
    tab.wait_for_url(re.compile(r".*/$"))


def lead_rows(flask_app):
    with flask_app.extensions["formloom.db"].read() as conn:
        return {r.data["company"]: r for r in conn.execute(select(records).where(records.c.entity_key == "lead"))}


def test_a_published_lead_form_reaches_the_rep_who_then_bulk_edits_leads(crm, page):  # noqa: F811
    from playwright.sync_api import expect

    base, ids, flask_app = crm
    SHOTS.mkdir(exist_ok=True)

    # 1. the admin publishes the shipped lead form
    login(page, base, "boss@demo.formloom")
    page.goto(f"{base}/apps/crm/")
    page.get_by_role("link", name="Public forms").click()
    page.locator('[data-preset="lead"] a.button').click()
    expect(page.locator("#pf-on-company")).to_be_checked()
    page.screenshot(path=str(SHOTS / "1-admin-setup.png"), full_page=True)
    page.locator("form.public-form-settings button.primary").click()
    link = page.locator(".share a.public-link")
    expect(link).to_be_visible()
    url = link.get_attribute("href")
    assert re.fullmatch(r"/f/[A-Za-z0-9_-]{32}", url)
    page.screenshot(path=str(SHOTS / "2-admin-published.png"), full_page=True)

    # 2. an anonymous visitor on a phone, in Chinese
    browser = page.context.browser
    phone = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN",
                                extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    visitor = phone.new_page()
    visitor.set_default_timeout(10_000)
    problems = []
    visitor.on("console", lambda m: m.type == "error" and not EXPECTED_STATUS.search(m.text) and problems.append(m.text))
    a11y.attach(phone, visitor)
    visitor.goto(f"{base}{url}")
    expect(visitor.locator("h1")).to_have_text("留下您的需求")
    expect(visitor.locator("button.primary")).to_have_text("提交")
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 375      # no sideways scrolling
    visitor.fill("#field-company input", "澜图数据科技")
    visitor.fill("#field-contact_name input", "王芳")
    visitor.fill("#field-phone input", "138 0013 8000")
    visitor.fill("#field-email input", "wang@lantu.example")
    visitor.fill("#field-needs textarea", "需要为40名分析师搭建BI看板，预计下季度采购")
    visitor.locator("#field-source select").select_option("referral")
    visitor.screenshot(path=str(SHOTS / "3-visitor-filled-375-zh.png"), full_page=True)
    visitor.locator("button.primary").click()
    expect(visitor.locator(".public-thanks")).to_contain_text("感谢您的留言")
    visitor.screenshot(path=str(SHOTS / "4-visitor-thanks.png"), full_page=True)
    a11y.flush(visitor)
    assert problems == []
    phone.close()

    lead = lead_rows(flask_app)["澜图数据科技"]
    assert lead.owner_id is None and lead.data["score"] == 100
    run_once(flask_app.extensions["formloom.db"], flask_app.extensions["formloom.catalog"])   # the rules
    assert lead_rows(flask_app)["澜图数据科技"].owner_id == ids["rep"]

    # 3. the rep sees the new lead in the Leads list
    page.context.clear_cookies()
    login(page, base, "li.wei@demo.formloom")
    page.goto(f"{base}/apps/crm/lead/")
    expect(page.locator("table.records")).to_contain_text("澜图数据科技")
    page.screenshot(path=str(SHOTS / "5-rep-list.png"), full_page=True)

    # 4. bulk: move every lead to Contacted ...
    page.locator("input[data-select-all]").check()
    expect(page.locator('input[name="ids"]:checked')).to_have_count(3)
    page.locator("#bulk-action").select_option("stage")
    page.locator("#bulk-form button[type=submit]").click()
    page.locator("#bulk-stage").select_option("contacted")
    page.screenshot(path=str(SHOTS / "6-bulk-stage-confirm.png"), full_page=True)
    page.locator("form.bulk-apply button.primary").click()
    expect(page.locator(".bulk-summary")).to_contain_text("3 条已修改")
    assert {r.stage for r in lead_rows(flask_app).values()} == {"contacted"}

    # ... and try Disqualified: the gate wants a reason, so each lead is refused with it
    page.goto(f"{base}/apps/crm/lead/")
    page.locator(f'input[name="ids"][value="{ids["Acme Robotics"]}"]').check()
    page.locator("#bulk-action").select_option("stage")
    page.locator("#bulk-form button[type=submit]").click()
    page.locator("#bulk-stage").select_option("disqualified")
    page.locator("form.bulk-apply button.primary").click()
    expect(page.locator(".bulk-summary")).to_contain_text("1 条未通过")
    expect(page.locator(f'.bulk-failures tr[data-record="{ids["Acme Robotics"]}"]')).to_contain_text("无效原因")
    page.screenshot(path=str(SHOTS / "7-bulk-gate-refused.png"), full_page=True)

    # 5. hand two leads to a colleague
    page.goto(f"{base}/apps/crm/lead/")
    for name in ("Acme Robotics", "Borealis Foods"):
        page.locator(f'input[name="ids"][value="{ids[name]}"]').check()
    page.locator("#bulk-action").select_option("owner")
    page.locator("#bulk-form button[type=submit]").click()
    page.locator("#bulk-owner").select_option(str(ids["colleague"]))
    page.locator("form.bulk-apply button.primary").click()
    expect(page.locator(".bulk-summary")).to_contain_text("2 条已修改")
    page.screenshot(path=str(SHOTS / "8-bulk-owner-done.png"), full_page=True)
    rows = lead_rows(flask_app)
    assert rows["Acme Robotics"].owner_id == ids["colleague"] == rows["Borealis Foods"].owner_id
    assert rows["澜图数据科技"].owner_id == ids["rep"]
    page.goto(f"{base}/apps/crm/lead/?cols=company&cols=owner")    # the rep made them, so still sees them
    expect(page.locator(f'tr:has(input[value="{ids["Acme Robotics"]}"])')).to_contain_text("赵敏")
    page.screenshot(path=str(SHOTS / "9-rep-list-owners.png"), full_page=True)
