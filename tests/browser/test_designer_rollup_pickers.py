"""A rollup built by pointing, in a real Chromium: a Chinese-speaking admin on a 375 px phone adds
"high-priority case budget, last 30 days" to Company by choosing the related entity (the form
reloads with that entity's fields), the reference it comes through, the field summed, the window's
date and a condition row — no key or JSON typed — publishes, and the company's page shows the sum
of exactly the cases that match. Screenshots: FORMLOOM_SCREENSHOTS=<folder>."""
from __future__ import annotations

from datetime import date

import pytest

from formloom.store.apps import AppCatalog
from formloom.store.db import Database
from formloom.store.records import create_record

from .conftest import page  # noqa: F401
from .test_designer import _screenshot_folder, live_server, login, shot  # noqa: F401
from .test_designer_conditions import publish_draft, zh_admin  # noqa: F401

pytestmark = pytest.mark.browser


def _store(database_url: str, entity: str, data: dict) -> int:
    db = Database(database_url)
    try:
        with db.write() as conn:
            app, version_id = AppCatalog(db).get("desk")
            return create_record(conn, app, app.entity(entity), data, actor_id=None, version_id=version_id).id
    finally:
        db.dispose()


def test_a_phone_admin_builds_a_rollup_by_picking_and_the_sum_is_right(live_server, zh_admin, database_url, page):
    from playwright.sync_api import expect

    base = live_server
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, base, zh_admin)
    page.goto(f"{base}/apps/desk/design/e/company/new/rollup")
    expect(page.locator("#control-via")).to_contain_text("请先选择关联实体。")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.fill("[name=s-label-en]", "Hot case budget (30 days)")
    page.fill("[name=s-label-zh]", "近30天高优先级工单预算")
    page.fill("[name=s-key]", "hot_budget")
    with page.expect_navigation():                                  # choosing the entity reloads the form
        page.select_option("[name=s-source]", "case")
    expect(page.locator("[name=s-label-zh]")).to_have_value("近30天高优先级工单预算")
    page.select_option("[name=s-function]", "sum")
    page.select_option("[name=s-via]", "company")
    page.select_option("[name=s-field]", "budget")
    page.select_option("[name=s-window-field]", "due")
    page.fill("[name=s-window-last]", "P30D")
    builder = page.locator("#cb-s-where")
    builder.locator(".cb-actions [data-cb-add=row]").first.click()
    row = builder.locator(".cb-row").first
    row.locator("select[data-cb-field]").select_option("priority")
    row.locator("select[data-cb-op]").select_option("eq")
    row.locator("[data-cb-value] select").select_option("high")
    shot(page, "rollup-pickers-zh-375")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    with page.expect_navigation():
        page.click("form.settings-form .actions button.primary")
    expect(page.locator("#field-hot_budget")).to_be_visible()
    publish_draft(page, base, "2")

    today = date.today().isoformat()
    acme = _store(database_url, "company", {"name": "Acme"})
    for subject, priority, budget in (("Outage", "high", 1200), ("Upgrade", "high", 300), ("Typo", "low", 999)):
        _store(database_url, "case", {"subject": subject, "company": acme, "priority": priority, "budget": budget,
                                      "due": today})
    page.goto(f"{base}/apps/desk/company/{acme}")
    expect(page.locator("body")).to_contain_text("近30天高优先级工单预算")
    expect(page.locator("body")).to_contain_text("1,500")
    shot(page, "rollup-value-zh-375")
