"""The dashboard builder and drill-down in a real Chromium (axe checks every page): an
admin adds a pivot to the CRM's sales dashboard, watching the live preview, and a number
card filtered with the condition builder (the preview follows the rows), and publishes; the manager, in Chinese, clicks a bar of the pipeline chart and a step of the funnel
and lands on the list of exactly those records; a rep's drill-down holds only their own
deals. Screenshots at 1440 and 375 px go to docs/screenshots/."""
from __future__ import annotations

import re

import pytest

from formloom.auth.users import create_user
from formloom.store.tables import users

from .test_dashboard import PASSWORD, SHOTS, live_server, login, settle  # noqa: F401  (fixture)
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def click_bar(page, canvas_selector: str, index: int) -> None:
    """Click the middle of bar (or step) `index` of a Chart.js chart, where a person would."""
    page.locator(canvas_selector).scroll_into_view_if_needed()
    settle(page)
    point = page.evaluate("""([sel, i]) => {
        const canvas = document.querySelector(sel);
        const el = Chart.getChart(canvas).getDatasetMeta(0).data[i];
        const box = canvas.getBoundingClientRect();
        const p = el.getCenterPoint ? el.getCenterPoint() : {x: el.x, y: el.y};
        return {x: box.left + p.x, y: box.top + p.y};
    }""", [canvas_selector, index])
    page.mouse.click(point["x"], point["y"])


def chart_values(page, widget: str, series: int) -> list[float]:
    return page.evaluate("([w, s]) => JSON.parse(document.getElementById('chart-data-' + w).textContent)"
                         ".series[s].values", [widget, series])


def drill_count(page) -> int:
    return int(page.locator(".drill-count").get_attribute("data-count"))


def test_build_publish_and_drill_down(live_server, db, page):  # noqa: F811
    from playwright.sync_api import expect
    base = live_server
    with db.write() as conn:
        create_user(conn, "ada@example.com", PASSWORD, name="Ada Admin", roles=[("crm", "admin")])
        conn.execute(users.update().where(users.c.email == "boss@example.com").values(language="zh"))

    # the admin adds a pivot with the live preview, and publishes
    login(page, base, "ada@example.com")
    page.goto(f"{base}/apps/crm/design/dashboards/sales")
    page.click("#add-widget")
    with page.expect_navigation():
        page.select_option("#w-entity", "opportunity")                  # the form reloads with its fields
    expect(page.locator("#w-entity")).to_have_value("opportunity")
    page.select_option("#w-type", "bar")
    page.fill("input[name=label-en]", "Deals by owner")
    page.fill("input[name=label-zh]", "各负责人商机")
    page.select_option("#w-group", "$owner")
    expect(page.locator("#widget-preview canvas")).to_be_visible()   # a chart, drawn from the live data
    page.select_option("#w-type", "pivot")
    page.select_option("#w-across", "$stage")
    expect(page.locator("#widget-preview .pivot-table")).to_be_visible()
    expect(page.locator("#widget-preview .pivot-table tfoot")).to_contain_text("5")    # every deal, once
    expect(page.locator("[data-needs=across]")).to_be_visible()
    page.set_viewport_size({"width": 1440, "height": 900})
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-builder-1440.png"), full_page=True)
    page.click("#save-widget")
    expect(page.locator("#w-deals_by_owner")).to_be_visible()

    # a number card whose filter is built with the condition builder: amount at least 60,000
    with page.expect_navigation():
        page.click("#add-widget")
    with page.expect_navigation():
        page.select_option("#w-entity", "opportunity")              # the form reloads with its fields
    expect(page.locator("#w-entity")).to_have_value("opportunity")
    page.select_option("#w-type", "number")
    page.fill("input[name=label-en]", "Big deals")
    page.fill("input[name=label-zh]", "大单")
    expect(page.locator("#widget-preview .big-number")).to_have_text("5")        # no condition yet: every deal
    page.click("#cb-filter [data-cb-add=row]")
    page.select_option("#cb-filter select[name=filter-1-field]", "amount")
    page.select_option("#cb-filter select[name=filter-1-op]", "gte")
    page.fill("#cb-filter input[name=filter-1-value]", "60000")
    page.locator("#cb-filter input[name=filter-1-value]").dispatch_event("change")
    expect(page.locator("#widget-preview .big-number")).to_have_text("3")        # 100,000, 250,000 and 80,000
    expect(page.locator("#cb-filter [data-cb-json]")).to_have_text('{">=":[{"var":"amount"},60000]}')
    page.set_viewport_size({"width": 375, "height": 800})
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(SHOTS / "dashboard-builder-condition-375.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    with page.expect_navigation():
        page.click("#save-widget")
    expect(page.locator("#w-big_deals")).to_be_visible()
    page.click("#w-deals_by_owner button[value=up]")
    page.click("#to-publish")
    page.click("#publish button.primary")
    expect(page).to_have_url(re.compile(r"/design/versions"))
    with page.expect_navigation():
        page.click("form[action$='/logout'] button")

    # the manager, in Chinese, clicks a bar and a funnel step
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, base, "boss@example.com")
    page.goto(f"{base}/apps/crm/dashboards/sales")
    expect(page.locator("#widget-deals_by_owner h2")).to_have_text("各负责人商机")
    expect(page.locator("#widget-deals_by_owner tfoot")).to_contain_text("5")
    expect(page.locator("#widget-big_deals h2")).to_have_text("大单")
    expect(page.locator("#widget-big_deals .big-number")).to_have_text("3")
    counts = chart_values(page, "pipeline", 1)               # the deals in each stage (the bars: their amounts)
    index = next(i for i, n in enumerate(counts) if n)
    click_bar(page, "#widget-pipeline canvas", index)
    expect(page).to_have_url(re.compile(r"/dashboards/sales/pipeline/records\?"))
    assert drill_count(page) == counts[index]
    page.go_back()
    first_step = chart_values(page, "funnel", 0)[0]
    click_bar(page, "#widget-funnel canvas", 0)
    expect(page).to_have_url(re.compile(r"/dashboards/sales/funnel/records\?"))
    assert drill_count(page) == first_step
    page.set_viewport_size({"width": 375, "height": 800})
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(SHOTS / "dashboard-drill-zh-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_navigation():
        page.click("form[action$='/logout'] button")

    # a rep's drill-down holds their deals only
    login(page, base, "li@example.com")
    page.goto(f"{base}/apps/crm/dashboards/sales")
    page.click("#widget-deals_by_owner tfoot td.total:last-child a")
    expect(page.locator(".drill-table")).to_contain_text("Lumen")
    expect(page.locator(".drill-table")).not_to_contain_text("Northwind")
    assert drill_count(page) == 3
    assert page.console_problems == []
