"""The demo's first hour in a real Chromium: each demo user (admin, manager, two reps)
logs in, in English and in 中文, and finds something in the bell (the reminders of the
last days, marked as from the demo); their first screen is saved as a screenshot in
docs/screenshots/ (1440 px wide, and one at 375 px). Along the way: a kanban card is
dragged by its title (the link does not swallow the drag, and still opens the record on
a click), the new-opportunity form leaves out what a new deal cannot have and asks for
an Owner, no page breaks the CSP (htmx writes no inline style), and the zh "应用" button
stays on one line."""
from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.demo import load_demo
from formloom.resources import template_dir
from formloom.store.db import Database
from formloom.store.install import install_path
from formloom.store.tables import metadata

from .test_kanban import drag
from . import a11y
from .conftest import CHROMIUM, EXPECTED_STATUS, LAUNCH_ARGS

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "demo1234"
USERS = [("admin", "admin@demo.formloom"), ("manager", "manager@demo.formloom"),
         ("li.wei", "li.wei@demo.formloom"), ("tom", "tom@demo.formloom")]
#: Recorded in every page before its own scripts run: what the CSP refused.
CSP_PROBE = ("window.__csp = [];"
             "document.addEventListener('securitypolicyviolation', function (e) {"
             " window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || '')); });")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, _migrated_sqlite, _migrated_postgres):
    """A server with the CRM and its demo data, as `formloom demo` leaves it."""
    if _migrated_postgres:
        url = _migrated_postgres
        with Database(url).engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY CASCADE"))
    else:
        path = tmp_path_factory.mktemp("demo") / "formloom.db"
        shutil.copy(_migrated_sqlite, path)
        url = f"sqlite:///{path}"
    flask_app = create_app({"DATABASE_URL": url, "SECRET_KEY": "demo-browser-test",
                            "INSTANCE": str(tmp_path_factory.mktemp("instance"))})
    db = flask_app.extensions["formloom.db"]
    install_path(db, template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    load_demo(db, app_def, version_id, template_dir("crm"))
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


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set FORMLOOM_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_tab(chromium):
    contexts = []

    def make(width: int = 1440, height: int = 900):
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.add_init_script(CSP_PROBE)
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        tab.console_problems = []
        tab.on("console", lambda msg: msg.type == "error" and not EXPECTED_STATUS.search(msg.text)
               and not re.search(r"status of (409|422)", msg.text) and tab.console_problems.append(msg.text))
        tab.on("pageerror", lambda error: tab.console_problems.append(str(error)))
        a11y.attach(context, tab)           # every page these tests visit is checked with axe-core too
        tabs.append(tab)
        return tab
    tabs = []
    yield make
    try:
        for tab in tabs:
            a11y.flush(tab)
    finally:
        for context in contexts:
            context.close()


def log_in(tab, base: str, email: str, lang: str) -> None:
    tab.goto(f"{base}/login")
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("button.primary")
    tab.wait_for_url(re.compile(r"/$"))
    tab.click(f'.lang-switch button[value="{lang}"]')
    tab.wait_for_selector(f'.lang-switch button[value="{lang}"][aria-current="true"]')


def csp_violations(tab) -> list[str]:
    return tab.evaluate("window.__csp || []")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name,email", USERS, ids=[u[0] for u in USERS])
def test_each_demo_user_opens_a_bell_with_something_in_it(demo, open_tab, name, email, lang):
    from playwright.sync_api import expect

    tab = open_tab()
    log_in(tab, demo, email, lang)
    tab.goto(f"{demo}/apps/crm/")
    badge = tab.locator("#bell .badge")
    expect(badge).to_be_visible()
    assert int(badge.get_attribute("data-unread")) >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"first-screen-{name}-{lang}.png"))

    tab.locator("#bell").click()
    tab.wait_for_url(re.compile(r"/notifications"))
    expect(tab.locator(".notifications li").first).to_be_visible()
    expect(tab.locator(".notifications .badge.demo").first).to_be_visible()     # marked as from the demo
    times = tab.locator(".notifications time").all_inner_texts()
    assert times and not any(re.search(r"\d{4}-\d\d-\d\dT", t) for t in times)
    assert csp_violations(tab) == [] and tab.console_problems == []


def test_the_first_screen_on_a_phone(demo, open_tab):
    tab = open_tab(375, 800)
    log_in(tab, demo, "li.wei@demo.formloom", "zh")
    tab.goto(f"{demo}/apps/crm/")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "first-screen-li.wei-zh-375.png"))
    assert csp_violations(tab) == []


def test_a_card_is_dragged_by_its_title_and_the_title_still_opens_it(demo, open_tab):
    from playwright.sync_api import expect

    tab = open_tab()
    log_in(tab, demo, "li.wei@demo.formloom", "en")
    tab.goto(f"{demo}/apps/crm/opportunity/board")
    card = tab.locator("#cards-initial_contact .kanban-card[data-movable]").first
    expect(card).to_be_visible()
    card_id = card.get_attribute("id")
    board_url = tab.url
    with tab.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/stage")) as answer:
        drag(tab, card.locator(".kanban-card-title a"), tab.locator("#cards-needs_confirmed"))
    assert answer.value.status in (200, 409, 422)                # the server judged the move
    assert tab.url == board_url                                  # the link did not swallow the drag
    if answer.value.status != 200:                               # the gate asks for what is missing
        dialog = tab.locator("dialog.gate-dialog[open]")
        expect(dialog).to_be_visible()
        dialog.locator("form[method=dialog] button").click()
        expect(tab.locator("dialog.gate-dialog[open]")).to_have_count(0)
    title = tab.locator(f"#{card_id} .kanban-card-title a")
    title.click()
    tab.wait_for_url(re.compile(r"/apps/crm/opportunity/\d+$"))
    assert csp_violations(tab) == []


def test_the_new_opportunity_form_asks_what_a_new_deal_has(demo, open_tab):
    from playwright.sync_api import expect

    tab = open_tab()
    log_in(tab, demo, "manager@demo.formloom", "en")
    tab.goto(f"{demo}/apps/crm/opportunity/new")
    for key in ("contract_signed_on", "last_follow_up_at", "in_pool"):
        expect(tab.locator(f"#field-{key}")).to_have_count(0)
    owner = tab.locator("#owner-select")
    expect(owner).to_be_visible()
    assert owner.locator("option:checked").inner_text().strip() == "王芳 Wang Fang"
    assert "李伟" in owner.inner_text()
    # inline validation (htmx swaps) and a refused submit: nothing for the CSP to refuse
    tab.fill("#field-amount input", "-5")
    tab.locator("#field-amount input").blur()
    expect(tab.locator("#field-amount .error-text")).to_be_visible()
    tab.click("form.record-form button[type=submit]")
    expect(tab.locator(".alert.error")).to_be_visible()
    assert csp_violations(tab) == [] and tab.console_problems == []
    assert tab.evaluate("htmx.config.includeIndicatorStyles") is False
    assert "style" not in tab.evaluate("htmx.config.attributesToSettle")


def test_the_admin_automation_pages_in_chinese(demo, open_tab):
    from playwright.sync_api import expect

    tab = open_tab()
    log_in(tab, demo, "admin@demo.formloom", "zh")
    tab.goto(f"{demo}/apps/crm/admin/automation")
    apply = tab.locator("form.toolbar button[type=submit]")
    expect(apply).to_have_text("应用")
    assert tab.evaluate("b => { const r = document.createRange(); r.selectNodeContents(b);"
                        " return r.getClientRects().length; }", apply.element_handle()) == 1
    tab.goto(f"{demo}/apps/crm/admin/automation/reminders")
    expect(tab.locator("table.reminders tbody tr")).to_have_count(50)
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / "automation-reminders-admin-zh.png"))
    assert csp_violations(tab) == []
