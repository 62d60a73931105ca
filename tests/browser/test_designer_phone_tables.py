"""The designer's tables on a 375 px phone, in a real Chromium: the stage's field rules and the
select-options editor stack into cards in which every checkbox and input is preceded by its
column's name (CSS `::before` from data-label), in English and in Chinese; and a refused formula
turns only the formula red, not the "Try it" record-number box beside it."""
from __future__ import annotations

import pytest

from .conftest import page  # noqa: F401
from .test_designer import _screenshot_folder, login, logout, shot  # noqa: F401  (the fixture too)
from .test_workflow_designer_stages import ADMIN, ADMIN_ZH, live_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: each cell's ::before text, whether it is shown, and whether the cell is stacked (one column)
CELL_LABELS = """sel => [...document.querySelectorAll(sel)].map(td => {
  const before = getComputedStyle(td, '::before');
  return {label: before.content.replace(/^"|"$/g, ''), shown: before.display !== 'none' && td.offsetHeight > 0};
})"""


def labels_shown(page, selector: str) -> set[str]:
    cells = page.evaluate(CELL_LABELS, selector)
    assert cells, selector
    assert all(c["shown"] and c["label"] not in ("", "none") for c in cells), cells
    return {c["label"] for c in cells}


def test_designer_tables_name_every_control_on_a_phone(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base, _ = live_server
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/stages/open")
    assert labels_shown(page, "#control-field-rules td") == {"Required", "Read-only", "Hidden"}
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "phone-stage-field-rules")

    page.goto(f"{base}/apps/desk/design/e/case/new/select")
    assert {"Value", "English label", "Chinese label", "Colour"} <= labels_shown(page, ".options-table td")
    shot(page, "phone-select-options")

    # a refused formula: the formula is red, the record-number box of "Try it" is not
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/apps/desk/design/e/case/new/formula")
    page.fill("input[name=s-label-en]", "Broken")
    page.fill("textarea[name=s-formula]", "IF(budget > 1, ")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#control-formula.has-error")).to_be_visible()
    colour = "el => getComputedStyle(el).borderTopColor"
    danger = page.locator("textarea[name=s-formula]").evaluate(colour)
    plain = page.locator("input[name=s-label-en]").evaluate(colour)
    assert danger != plain
    assert page.locator(".formula-try input[name=record]").evaluate(colour) == plain
    shot(page, "formula-refused-try-it-plain")
    logout(page)

    login(page, base, ADMIN_ZH)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/stages/open")
    assert labels_shown(page, "#control-field-rules td") == {"必填", "只读", "隐藏"}
    shot(page, "phone-stage-field-rules-zh")

    # the roles page: names typed on a phone, then read wherever roles are offered
    page.goto(f"{base}/apps/desk/design/roles")
    assert labels_shown(page, ".roles-table td") == {"英文", "中文", "人员"}
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.fill("input[name=role-agent-zh]", "客服")
    with page.expect_navigation():
        page.click("#role-labels button[type=submit]")
    expect(page.locator("input[name=role-agent-zh]")).to_have_value("客服")
    shot(page, "phone-roles-zh")
    page.goto(f"{base}/apps/desk/design/e/case")
    expect(page.locator(".permission-grid th[scope=row]").first).to_contain_text("客服")
