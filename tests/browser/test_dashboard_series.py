"""The CRM finance dashboard's "Contract amount vs collected by month" in a real Chromium:
the finance user and a manager see both series in one chart (in English and Chinese), and a
click on a bar of the collected series opens the payments behind it, as many as the bar
holds and adding up to it. Screenshots at 1440 and 375 px go to docs/screenshots/."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.records import create_record

from .test_dashboard import PASSWORD, SHOTS, login, settle
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

CHART = "#widget-signed_vs_collected canvas"


@pytest.fixture
def finance_server(database_url, tmp_path):
    """Contracts signed this month (120,000) and on 1 January (80,000); payments received this
    month (50,000 + 30,000), on 1 January (20,000), and one still open (40,000, not collected)."""
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "series-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    crm, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    today = datetime.now(ZoneInfo(crm.timezone)).date()
    new_year = date(today.year, 1, 1)
    customer, contract, payment = crm.entity("customer"), crm.entity("contract"), crm.entity("payment")
    with db.write() as conn:
        boss = create_user(conn, "boss@example.com", PASSWORD, name="Mia Manager", roles=[("crm", "manager")])
        create_user(conn, "finance@example.com", PASSWORD, name="Fay Finance", roles=[("crm", "finance")])
        li = create_user(conn, "li@example.com", PASSWORD, name="Li Wei", roles=[("crm", "sales")], manager_id=boss)

        def make(entity, data, stage):
            return create_record(conn, crm, entity, data, actor_id=li, owner_id=li, stage=stage,
                                 version_id=version_id, now=datetime.now(timezone.utc))

        lumen = make(customer, {"name": "Lumen Data Ltd."}, "owned")
        big = make(contract, {"name": "Lumen rollout", "customer": lumen.id, "amount": 120000, "status": "active",
                              "signed_on": today.isoformat()}, "active")
        make(contract, {"name": "Lumen pilot", "customer": lumen.id, "amount": 80000, "status": "active",
                        "signed_on": new_year.isoformat()}, "active")
        for name, amount, day, stage in (("First instalment", 50000, today, "received"),
                                         ("Second instalment", 30000, today, "received"),
                                         ("Pilot payment", 20000, new_year, "received"),
                                         ("Third instalment", 40000, None, "open")):
            data = {"contract": big.id, "name": name, "amount": amount, "due_date": (day or today).isoformat(),
                    "status": "received" if stage == "received" else "planned"}
            if day:
                data["received_on"] = day.isoformat()
            make(payment, data, stage)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", today
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def series_shown(page) -> dict:
    """The chart's series as Chart.js drew them: label -> {month label: value}. Chart.js and the
    page's script are deferred, so a heading can be on screen before the chart exists."""
    page.wait_for_function("selector => window.Chart && Chart.getChart(document.querySelector(selector))",
                           arg=CHART)
    return page.evaluate("""selector => {
        const chart = Chart.getChart(document.querySelector(selector));
        const out = {};
        chart.data.datasets.forEach(d => { out[d.label] = {};
            chart.data.labels.forEach((l, i) => { out[d.label][l] = d.data[i]; }); });
        return out; }""", CHART)


def bar_point(page, series: int, label: str) -> dict:
    """Where the bar of `series` for bucket `label` is, in the canvas' own pixels."""
    return page.evaluate("""([selector, series, label]) => {
        const chart = Chart.getChart(document.querySelector(selector));
        const bar = chart.getDatasetMeta(series).data[chart.data.labels.indexOf(label)];
        return {x: bar.x, y: (bar.y + bar.base) / 2}; }""", [CHART, series, label])


def test_finance_and_manager_see_contract_amount_vs_collected_and_drill_into_payments(finance_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base, today = finance_server
    month, january = f"{today.year}-{today.month:02d}", f"{today.year}-01"
    login(page, base, "finance@example.com")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/apps/crm/dashboards/finance")
    expect(page.locator("#widget-signed_vs_collected h2")).to_have_text("Contract amount vs collected by month")
    expect(page.locator(CHART)).to_be_visible()
    shown = series_shown(page)
    assert list(shown) == ["Contract amount signed", "Collected"]
    if month != january:
        assert shown["Contract amount signed"][month] == 120000 and shown["Collected"][month] == 80000
        assert shown["Contract amount signed"][january] == 80000 and shown["Collected"][january] == 20000
    ticks = page.evaluate(f"Chart.getChart(document.querySelector('{CHART}')).scales.y.ticks.map(t => t.label)")
    assert all(t.startswith("¥") for t in ticks)                 # money on the axis
    expect(page.locator("#widget-contract_amount .big-number")).to_be_visible()      # the cards stay
    page.click("#widget-signed_vs_collected summary")            # the table beside it, for screen readers
    table = page.locator("#widget-signed_vs_collected table")
    expect(table.locator("thead")).to_contain_text("Collected")
    row = table.locator("tbody tr", has_text=month)
    collected_cell = row.locator("td").nth(1)
    expect(collected_cell).to_have_text("¥80,000.00" if month != january else "¥100,000.00")
    page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-series-1440.png"), full_page=True)

    # a click on this month's bar of the collected series opens those payments
    page.locator(CHART).scroll_into_view_if_needed()
    point = bar_point(page, 1, month)
    with page.expect_navigation():
        page.locator(CHART).click(position=point)
    assert "series=collected" in page.url and "/signed_vs_collected/records" in page.url
    count = page.locator(".drill-count")
    expect(count).to_have_attribute("data-count", "2" if month != january else "3")
    expect(page.locator("h1")).to_contain_text("Collected")
    expect(page.locator(".drill-table")).to_contain_text("First instalment")
    expect(page.locator(".drill-table")).to_contain_text("Second instalment")
    expect(page.locator(".drill-table")).not_to_contain_text("Third instalment")       # still open
    links = page.locator(".drill-table tbody th a")                 # payments, not contracts
    assert all("/apps/crm/payment/" in h for h in links.evaluate_all("els => els.map(a => a.href)"))
    with page.expect_navigation():                                 # the table's cell opens the same list
        page.go_back()
    page.click("#widget-signed_vs_collected summary")
    with page.expect_navigation():
        page.locator("#widget-signed_vs_collected tbody tr", has_text=month).locator("td a").nth(1).click()
    expect(page.locator(".drill-count")).to_have_attribute("data-count", "2" if month != january else "3")

    # in Chinese, on a wide screen and on a phone
    page.goto(f"{base}/apps/crm/dashboards/finance")
    with page.expect_navigation():                                 # the language is a form post
        page.click("button[name=lang][value=zh]")
    expect(page.locator("#widget-signed_vs_collected h2")).to_have_text("每月签约金额与回款")
    assert list(series_shown(page)) == ["签约金额", "已回款"]
    page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-series-zh-1440.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    settle(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > 380).slice(0, 5)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert width <= 375, f"the page is {width}px wide on a 375px screen: {wide}"
    page.locator("#widget-signed_vs_collected").screenshot(path=str(SHOTS / "dashboard-series-zh-375.png"))
    with page.expect_navigation():
        page.click("button[name=lang][value=en]")
    page.set_viewport_size({"width": 1440, "height": 900})

    # a manager sees the same chart
    with page.expect_navigation():
        page.click("form[action$='/logout'] button")
    login(page, base, "boss@example.com")
    page.goto(f"{base}/apps/crm/dashboards/finance")
    assert series_shown(page) == shown
    with page.expect_navigation():                                 # the language is a form post
        page.click("button[name=lang][value=zh]")
    assert list(series_shown(page)) == ["签约金额", "已回款"]
    with page.expect_navigation():
        page.click("button[name=lang][value=en]")
    assert page.console_problems == []


def test_an_admin_builds_a_chart_of_series_in_the_builder(finance_server, db, page):  # noqa: F811
    """Compare several entities turns a bar into series; changing a series' entity re-offers its
    fields and dates; the live preview draws one bar per series; saving puts it in the draft."""
    from playwright.sync_api import expect

    base, _today = finance_server
    with db.write() as conn:
        create_user(conn, "ada@example.com", PASSWORD, name="Ada Admin", roles=[("crm", "admin")])
    login(page, base, "ada@example.com")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base}/apps/crm/design/dashboards/finance")
    with page.expect_navigation():
        page.click("#add-widget")
    page.select_option("#w-type", "bar")
    expect(page.locator("#series-add")).to_be_visible()          # the registry says bars take series
    page.fill("input[name=label-en]", "Signed vs received")
    page.fill("input[name=label-zh]", "签约与到账")
    with page.expect_navigation():
        page.click("#series-add")
    expect(page.locator("[data-series-row]")).to_have_count(2)
    for n, (entity, date_field) in enumerate((("contract", "signed_on"), ("payment", "received_on"))):
        with page.expect_navigation():                           # its fields and dates are the choices
            page.select_option(f"#s{n}-entity", entity)
        expect(page.locator(f"#s{n}-entity")).to_have_value(entity)
        page.select_option(f"#s{n}-agg", "sum")
        page.select_option(f"#s{n}-field", "amount")
        page.select_option(f"#s{n}-date", date_field)
    page.select_option("#w-format", "money")
    page.fill("input[name=s0_label-en]", "Signed")
    page.fill("input[name=s1_label-en]", "Received")
    page.locator("input[name=s1_label-en]").dispatch_event("change")
    page.wait_for_function("""() => {              // the preview redrawn with the series' names
        const canvas = document.querySelector('#widget-preview canvas');
        const chart = canvas && Chart.getChart(canvas);
        return chart && chart.data.datasets.map(d => d.label).join('|') === 'Signed|Received'; }""")
    expect(page.locator("#widget-preview table")).to_contain_text("¥120,000.00")      # this month's contract
    page.evaluate("window.scrollTo(0, 0)")
    settle(page)
    page.screenshot(path=str(SHOTS / "dashboard-builder-series-1440.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1440, "height": 900})
    with page.expect_navigation():
        page.click("#save-widget")
    expect(page.locator("#w-signed_vs_received")).to_be_visible()
    assert page.console_problems == []
