"""A person in a real Chromium: log in, fill a generated form with a mistake, see
the field error (inline on blur, then on submit), fix it, and find the record
in the filtered list. The app, entity and field names are parameters, so the
same scenario can run against any installed app (the CRM opportunity later).
"""
from __future__ import annotations

import copy
import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..web.desk import CASE_FLOW, desk_app

pytestmark = pytest.mark.browser

# -- the scenario's parameters ---------------------------------------------------------
APP_KEY = "desk"
ENTITY_KEY = "case"
TITLE_FIELD = "subject"                 # the entity's title field (text)
MISTAKE_FIELD, MISTAKE_VALUE, MISTAKE_MESSAGE = "budget", "-5", "at least 0"   # a money field with min 0
FIXED_VALUE = "250.00"
REFERENCE_FIELD = "company"             # a reference field, filled through the picker
REFERENCE_ENTITY = "company"
REFERENCE_TITLE = "Acme Corporation"    # a record of REFERENCE_ENTITY to pick
REFERENCE_SEARCH = "acme"
SELECT_FIELD, SELECT_VALUE = "priority", "high"
TRIGGER_FIELD, DEPENDENT_FIELD = "escalated", "reason"   # checkbox, and the field its visible_if shows
FILTER_FIELD, FILTER_VALUE = "priority", "high"           # the list filter that finds the new record
ROLE = "agent"
EMAIL, PASSWORD = "browser@example.com", "browser-pass-1"


def install(flask_app) -> None:
    """Install the app the scenario runs against and give it one record to reference."""
    db = flask_app.extensions["formloom.db"]
    install_documents(db, desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})
    app_def, version_id = flask_app.extensions["formloom.catalog"].get(APP_KEY)
    with db.write() as conn:
        user_id = create_user(conn, EMAIL, PASSWORD, name="Browser Person", roles=[(APP_KEY, ROLE)])
        create_record(conn, app_def, app_def.entity(REFERENCE_ENTITY), {"name": REFERENCE_TITLE},
                      actor_id=user_id, version_id=version_id)
        create_record(conn, app_def, app_def.entity(REFERENCE_ENTITY), {"name": "Other Ltd"},
                      actor_id=user_id, version_id=version_id)


#: The browser logs every 4xx it receives; a 422 (field errors) is an answer, not a problem.
EXPECTED_STATUS = re.compile(r"Failed to load resource: the server responded with a status of 422")
CHROMIUM = Path(os.environ.get("FORMLOOM_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-test",
                            "INSTANCE": str(tmp_path / "instance")})
    install(flask_app)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set FORMLOOM_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.console_problems = []
        tab.on("console", lambda msg: msg.type == "error" and not EXPECTED_STATUS.search(msg.text)
               and tab.console_problems.append(msg.text))
        tab.on("pageerror", lambda error: tab.console_problems.append(str(error)))
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def test_create_with_a_mistake_fix_it_and_find_it(live_server, page):
    from playwright.sync_api import expect

    title = "Browser flow record"
    # log in
    page.goto(f"{live_server}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{live_server}/")

    # open the generated form
    page.goto(f"{live_server}/apps/{APP_KEY}/{ENTITY_KEY}/new")

    page.fill(f"#field-{TITLE_FIELD} input", title)

    # a mistake; leaving the field validates it inline (htmx swaps in the 422 fragment)
    page.fill(f"#field-{MISTAKE_FIELD} input", MISTAKE_VALUE)
    page.locator(f"#field-{MISTAKE_FIELD} input").blur()
    expect(page.locator(f"#field-{MISTAKE_FIELD} .error-text")).to_contain_text(MISTAKE_MESSAGE)
    expect(page.locator(f"#field-{MISTAKE_FIELD}")).to_have_class(re.compile(r"\bhas-error\b"))

    # visible_if is live in the browser
    dependent = page.locator(f"#field-{DEPENDENT_FIELD}")
    expect(dependent).to_be_hidden()
    page.check(f"#field-{TRIGGER_FIELD} input[type=checkbox]")
    expect(dependent).to_be_visible()
    page.uncheck(f"#field-{TRIGGER_FIELD} input[type=checkbox]")
    expect(dependent).to_be_hidden()

    # the reference picker searches on the server and fills the field
    page.fill(f"#pick-{REFERENCE_FIELD}", REFERENCE_SEARCH)
    choice = page.locator(f"#field-{REFERENCE_FIELD} .picker-results button", has_text=REFERENCE_TITLE)
    choice.click()
    expect(page.locator(f"#field-{REFERENCE_FIELD} .picked")).to_contain_text(REFERENCE_TITLE)

    page.select_option(f"#field-{SELECT_FIELD} select", SELECT_VALUE)

    # submitting with the mistake still in place: the server refuses, the error stays by the field
    page.click("form.record-form button[type=submit]")
    expect(page.locator(".alert.error")).to_be_visible()
    expect(page.locator(f"#field-{MISTAKE_FIELD} .error-text")).to_contain_text(MISTAKE_MESSAGE)
    expect(page.locator(f"#field-{REFERENCE_FIELD} .picked")).to_contain_text(REFERENCE_TITLE)
    expect(page.locator(f"#field-{TITLE_FIELD} input")).to_have_value(title)

    # fix it: the inline error goes away, and saving opens the new record
    page.fill(f"#field-{MISTAKE_FIELD} input", FIXED_VALUE)
    page.locator(f"#field-{MISTAKE_FIELD} input").blur()
    expect(page.locator(f"#field-{MISTAKE_FIELD} .error-text")).to_have_count(0)
    page.click("form.record-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator("dl.fields")).to_contain_text(REFERENCE_TITLE)

    # find it in the filtered list, through the filter form
    page.goto(f"{live_server}/apps/{APP_KEY}/{ENTITY_KEY}/")
    page.click("details.panel summary >> nth=0")
    page.select_option("select[name=ff]", FILTER_FIELD)
    page.select_option("select[name=fo]", "eq")
    page.fill("input[name=fv]", FILTER_VALUE)
    page.click("form[data-filter-form] button[type=submit]")
    expect(page).to_have_url(f"{live_server}/apps/{APP_KEY}/{ENTITY_KEY}/?{FILTER_FIELD}={FILTER_VALUE}")
    expect(page.locator("table.records")).to_contain_text(title)

    # live search narrows the rows without a page load
    page.fill("input[name=q]", "no such thing")
    expect(page.locator("#results")).to_contain_text("No records match")
    page.fill("input[name=q]", title[:7])
    expect(page.locator("table.records")).to_contain_text(title)

    # on a phone the table becomes cards
    page.set_viewport_size({"width": 375, "height": 800})
    cell = page.locator("table.records td").first
    assert cell.evaluate("el => getComputedStyle(el).display") == "flex"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    assert page.console_problems == []
