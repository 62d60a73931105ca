"""The form layout in a real Chromium: an admin builds two sections of two columns in the
designer, previews the draft's form as the agent role, and publishes; the agent then sees
two columns at 1280 px and one at 375 px, and the detail page in sections, in Chinese too.
Screenshots: FORMLOOM_SCREENSHOTS=docs/designer writes the docs page's images."""
from __future__ import annotations

import pytest

from .conftest import page  # noqa: F401
from .htmx import swapped
from .test_designer import ADMIN, AGENT, _screenshot_folder, live_server, login, logout, shot  # noqa: F401

pytestmark = pytest.mark.browser


def columns(page, section: str) -> int:
    """How many grid columns the section's fields are laid out in, as the browser computed them."""
    return page.evaluate("""(key) => getComputedStyle(document.querySelector(
        `[data-section="${key}"] .section-grid`)).gridTemplateColumns.split(' ').length""", section)


def test_admin_lays_out_the_form_previews_it_as_a_role_and_agents_see_it(live_server, page):
    from playwright.sync_api import expect

    base = live_server
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design/e/case")
    page.click("#layout-link")
    expect(page.locator("h1")).to_contain_text("Form layout")

    # two sections
    page.fill("input[name=new-title-en]", "Basics")
    page.fill("input[name=new-title-zh]", "基本信息")
    page.click("button[name=do][value=add]")
    expect(page.locator("fieldset#basics")).to_be_visible()
    page.fill("input[name=new-title-en]", "Handling")
    page.fill("input[name=new-title-zh]", "处理")
    page.click("button[name=do][value=add]")
    expect(page.locator("fieldset#handling")).to_be_visible()

    # two columns each; fields placed with the section menu...
    page.select_option("select[name=sec-basics-columns]", "2")
    page.select_option("select[name=sec-handling-columns]", "2")
    for key in ("subject", "company", "priority", "due"):
        page.select_option(f"select[name=fld-{key}-section]", "basics")
    page.select_option("select[name=fld-notes-section]", "handling")
    page.select_option("select[name=fld-code-section]", "handling")
    page.click("button[name=do][value=save]")
    expect(page.locator("fieldset#basics li.layout-row")).to_have_count(4)
    page.uncheck("input[name=fld-code-create]")                 # where it shows: once it is in a section
    page.click("button[name=do][value=save]")
    expect(page.locator("input[name=fld-code-create]")).not_to_be_checked()

    # ...and by dragging a field from "not in a section" into Handling
    page.set_viewport_size({"width": 1280, "height": 2600})      # source and target both on screen
    page.evaluate("window.scrollTo(0, 0)")
    a = page.locator("#row-budget .drag-handle").bounding_box()
    b = page.locator("fieldset#handling ol.layout-fields").bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(a["x"] + a["width"] / 2, a["y"] + (b["y"] + b["height"] - 6 - a["y"]) * step / 15)
        page.wait_for_timeout(30)
    with page.expect_navigation():                 # the drop saves the layout; the page shows the draft
        page.mouse.up()
    expect(page.locator("fieldset#handling #row-budget")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})

    # the preview: the draft's form as the agent role sees it (code is read-only for agents)
    with swapped(page, "#form-preview"):                            # htmx swaps the preview in
        page.select_option("#preview-role", "agent")
    expect(page.locator("#form-preview [data-section=basics]")).to_be_visible()
    expect(page.locator("#form-preview #field-code")).to_have_count(0)            # not on create
    with swapped(page, "#form-preview"):
        page.select_option("#preview-mode", "edit")
    expect(page.locator("#form-preview #field-code.is-readonly")).to_be_visible()
    page.check("#form-preview #field-escalated input")
    expect(page.locator("#form-preview #field-reason")).to_be_visible()          # visible_if, live
    shot(page, "9-layout")

    # options are reordered with their arrow buttons (the saved order is the rows' order)
    page.goto(f"{base}/apps/desk/design/e/case/fields/priority")
    page.click("button[aria-label='Option 1: move down']")
    with page.expect_navigation():
        page.click("form.settings-form button[type=submit]")
    page.goto(f"{base}/apps/desk/design/e/case/fields/priority")
    assert page.locator("input[name=s-options-value]").evaluate_all("els => els.map(e => e.value)")[:2] == [
        "high", "low"]

    page.goto(f"{base}/apps/desk/design")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("Version 2")
    logout(page)

    # the agent: two columns on a wide screen, one on a phone
    login(page, base, AGENT)
    page.goto(f"{base}/apps/desk/case/new")
    expect(page.locator("form.record-form [data-section=basics] summary")).to_contain_text("Basics")
    assert columns(page, "basics") == 2
    assert page.locator("#field-code").count() == 0
    page.fill("#field-subject input", "Broken chair")
    page.select_option("#field-priority select", "high")
    page.click("form.record-form button[type=submit]")
    expect(page.locator("[data-section=basics] dl.fields")).to_contain_text("Broken chair")
    assert columns(page, "basics") == 2
    shot(page, "10-layout-detail")
    detail = page.url
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base}/apps/desk/case/new")
    assert columns(page, "basics") == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "11-layout-phone")

    # in Chinese
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(detail)
    page.click("form.lang-switch button[value=zh]")
    expect(page.locator("[data-section=basics] summary")).to_contain_text("基本信息")
    expect(page.locator("[data-section=handling] summary")).to_contain_text("处理")
    shot(page, "12-layout-detail-zh")
    assert page.console_problems == []
