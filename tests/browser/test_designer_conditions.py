"""Conditions and formulas in the designer, in a real Chromium: an admin builds a visible_if
with the condition builder on a select field (Budget shows only for high priority), looks at
the JSON and publishes; an agent's new-case form then shows and hides Budget as Priority
changes; a Chinese-speaking admin builds another condition in Chinese; an admin writes a
spreadsheet-style formula, completes a field from its label and sees the result live.
Screenshots: FORMLOOM_SCREENSHOTS=docs/designer writes the docs page's images."""
from __future__ import annotations

import json

import pytest

from formloom.auth.users import create_user
from formloom.store.db import Database

from .conftest import page  # noqa: F401
from .test_designer import ADMIN, AGENT, PASSWORD, _screenshot_folder, live_server, login, logout, shot  # noqa: F401

pytestmark = pytest.mark.browser

ZH_ADMIN = "designer-zh-admin@example.com"


@pytest.fixture
def zh_admin(live_server, database_url):
    """A second admin of the desk who reads Chinese."""
    db = Database(database_url)
    with db.write() as conn:
        create_user(conn, ZH_ADMIN, PASSWORD, name="Zhang Admin", roles=[("desk", "admin")], language="zh")
    db.dispose()
    return ZH_ADMIN


def visible_if_builder(page, url: str):
    """The field's settings page, its More settings open: the visible_if builder."""
    page.goto(url)
    page.click("details.more-settings summary")
    return page.locator("#cb-s-visible_if")


def publish_draft(page, base: str, version_text: str) -> None:
    from playwright.sync_api import expect
    page.goto(f"{base}/apps/desk/design")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text(version_text)


def test_conditions_and_formulas_in_the_designer(live_server, zh_admin, page):
    from playwright.sync_api import expect

    base = live_server
    login(page, base, ADMIN)

    # Budget shows only when Priority is High: built with the rows, no JSON typed
    builder = visible_if_builder(page, f"{base}/apps/desk/design/e/case/fields/budget")
    builder.locator(".cb-actions [data-cb-add=row]").first.click()
    row = builder.locator(".cb-row").first
    row.locator("select[data-cb-field]").select_option("priority")
    expect(row.locator("select[data-cb-op] option")).to_have_count(5)      # is, is not, is one of, is empty, is filled in
    row.locator("select[data-cb-op]").select_option("eq")
    row.locator("[data-cb-value] select").select_option("high")
    builder.locator("details.cb-json summary").click()
    expect(builder.locator("pre[data-cb-json]")).to_contain_text('"priority"')
    assert json.loads(builder.locator("pre[data-cb-json]").inner_text()) == {"==": [{"var": "priority"}, "high"]}
    shot(page, "9-condition-builder")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#field-budget")).to_be_visible()
    builder = visible_if_builder(page, f"{base}/apps/desk/design/e/case/fields/budget")
    expect(builder.locator(".cb-row select[data-cb-field]")).to_have_value("priority")
    publish_draft(page, base, "Version 2")
    logout(page)

    # the agent's form follows the condition as Priority changes
    login(page, base, AGENT)
    page.goto(f"{base}/apps/desk/case/new")
    expect(page.locator("#field-budget")).to_be_hidden()
    page.select_option("#field-priority select", "high")
    expect(page.locator("#field-budget")).to_be_visible()
    shot(page, "10-condition-in-the-form")
    page.select_option("#field-priority select", "low")
    expect(page.locator("#field-budget")).to_be_hidden()
    logout(page)

    # in Chinese: Due shows for any of (high priority, escalated)
    login(page, base, ZH_ADMIN)
    builder = visible_if_builder(page, f"{base}/apps/desk/design/e/case/fields/due")
    builder.locator("select[data-cb-mode]").select_option("any")
    builder.locator(".cb-actions [data-cb-add=row]").first.click()
    builder.locator(".cb-actions [data-cb-add=row]").first.click()
    first, second = builder.locator(".cb-row").nth(0), builder.locator(".cb-row").nth(1)
    first.locator("select[data-cb-field]").select_option("priority")
    first.locator("[data-cb-value] select").select_option("high")
    second.locator("select[data-cb-field]").select_option("escalated")
    second.locator("[data-cb-value] select").select_option("true")
    expect(builder).to_contain_text("任一")
    builder.locator("details.cb-json summary").click()
    assert json.loads(builder.locator("pre[data-cb-json]").inner_text()) == {
        "or": [{"==": [{"var": "priority"}, "high"]}, {"==": [{"var": "escalated"}, True]}]}
    shot(page, "11-condition-builder-zh")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#field-due")).to_be_visible()
    publish_draft(page, base, "版本 3")
    logout(page)

    # a spreadsheet-style formula with a live result
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design/e/case/new/formula")
    page.fill("input[name=s-label-en]", "Tier")
    source = page.locator("textarea[name=s-formula]")
    source.click()
    source.type('IF(bud')
    page.click("[data-formula-suggestions] [data-complete=budget]")
    source.type(' > 100000, "A", "B")')
    expect(source).to_have_value('IF(budget > 100000, "A", "B")')
    page.click(".formula-try details summary")
    page.fill("input[name=sample-budget]", "200000")
    expect(page.locator("#formula-result output")).to_have_text("A")
    page.fill("input[name=sample-budget]", "5")
    expect(page.locator("#formula-result output")).to_have_text("B")
    shot(page, "12-formula")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#field-tier")).to_be_visible()

    # readable on a phone: the builder's rows wrap, nothing is wider than the screen
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/apps/desk/design/e/case/fields/due", "/apps/desk/design/e/case/fields/tier"):
        visible_if_builder(page, f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    assert page.console_problems == []
