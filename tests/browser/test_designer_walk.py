"""Issue 12's walk, in a real Chromium, from nothing: an admin makes an app from the
blank template in the gallery, adds an entity to refer to, a select field with
options, a field shown only when the select says so (visible_if, built as a row in
the condition builder), a required field and a reference; sets the permissions and
publishes. The admin adds a user with a role of the new app; that user creates a
record with the form and sees the conditional field appear and disappear. The admin
archives a field that has data and publishes (the value leaves the record page),
restores it and publishes again: the value is back. The designer is viewable at
375 px. Every page is checked by axe (conftest); screenshots of each step go to
FORMLOOM_SCREENSHOTS (docs/designer refreshes the docs page's images)."""
from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user

from .conftest import page  # noqa: F401
from .test_designer import PASSWORD, _screenshot_folder, login, logout, shot  # noqa: F401  (same steps, same folder)

pytestmark = pytest.mark.browser

ADMIN, MEMBER = "walk-admin@example.com", "walk-member@example.com"


@pytest.fixture
def live_server(database_url, tmp_path):
    """An empty platform: no app yet, one superuser (who may make apps)."""
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-walk",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    with db.write() as conn:
        create_user(conn, ADMIN, PASSWORD, name="Wendy Walker", is_superuser=True)
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


def add_field(page, type_name: str, label: str, key: str, fill=None) -> None:
    """From the entity page's palette: a field of `type_name`, its settings, saved to the draft."""
    page.click(f"#palette a[data-type={type_name}]")
    page.fill("input[name=s-label-en]", label)
    page.fill("input[name=s-key]", key)
    if fill:
        fill()
    page.click("form.settings-form button[type=submit]")
    page.wait_for_selector(f"#field-{key}")


def publish(page, base: str, comment: str, number: int) -> None:
    from playwright.sync_api import expect
    page.goto(f"{base}/apps/projects/design")
    page.fill("#comment", comment)
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text(f"Version {number}")


def test_an_app_built_in_the_browser_is_used_by_a_second_person(live_server, page):
    from playwright.sync_api import expect

    base = live_server
    login(page, base, ADMIN)

    # a new app from the blank template
    page.click("a.button:has-text('New app')")
    page.click("#template-blank summary")
    page.fill("#template-blank input[name=label-en]", "Projects")
    page.fill("#template-blank input[name=key]", "projects")
    page.click("#template-blank button.primary")
    expect(page.locator("h1")).to_contain_text("Design Projects")

    # an entity to refer to
    page.click("details.add-entity summary")
    page.fill("details.add-entity input[name=label-en]", "Team")
    page.fill("#entity-key", "team")
    page.click("details.add-entity button[type=submit]")
    expect(page.locator("#palette")).to_be_visible()
    page.goto(f"{base}/apps/projects/design")
    shot(page, "walk-1-new-app")

    # the item: a select with options, a field shown only for one option, a required field, a reference
    page.click("#entity-item a.title-link")

    def options():
        for i, (value, text) in enumerate((("normal", "Normal"), ("urgent", "Urgent"))):
            page.locator("input[name=s-options-value]").nth(i).fill(value)
            page.locator("input[name=s-options-en]").nth(i).fill(text)
    add_field(page, "select", "Priority", "priority", options)

    def only_when_urgent():
        page.click("details.more-settings summary")
        builder = page.locator("#cb-s-visible_if")
        builder.locator("[data-cb-add=row]").first.click()
        builder.locator("select[data-cb-field]").first.select_option("priority")
        builder.locator("select[data-cb-op]").first.select_option("eq")
        builder.locator(".cb-value select").first.select_option(label="Urgent")
        expect(builder.locator("[data-cb-json]")).to_have_text(re.compile(
            r'\{"==":\s*\[\{"var":\s*"priority"\},\s*"urgent"\]\}'))
        shot(page, "walk-2-condition")
    add_field(page, "text", "Why urgent", "why_urgent", only_when_urgent)

    add_field(page, "number", "Budget", "budget", lambda: page.check("input[name=s-required]"))
    add_field(page, "reference", "Team", "team", lambda: page.select_option("select[name=s-entity]", "team"))

    # permissions: members create items and read every team
    page.select_option("#permissions select[name=member-read]", "all")
    with page.expect_navigation():
        page.click("#permissions button[type=submit]")
    page.goto(f"{base}/apps/projects/design/e/team")
    page.select_option("#permissions select[name=member-read]", "all")
    with page.expect_navigation():
        page.click("#permissions button[type=submit]")
    expect(page.locator("#permissions select[name=member-read]")).to_have_value("all")
    page.goto(f"{base}/apps/projects/design/e/item")
    shot(page, "walk-3-item-fields")
    page.goto(f"{base}/apps/projects/design")
    expect(page.locator("#impact")).to_contain_text("Field Priority added to Item.")
    shot(page, "walk-4-impact")
    publish(page, base, "Items with priority, budget and team", 2)

    # a team to refer to, and a second person with the member role
    page.goto(f"{base}/apps/projects/team/new")
    page.fill("#field-name input", "Platform")
    page.click("form.record-form button[type=submit]")
    expect(page.locator("dl.fields")).to_contain_text("Platform")
    page.goto(f"{base}/admin/users/new")
    page.fill("#email", MEMBER)
    page.fill("#name", "Max Member")
    page.fill("#password", PASSWORD)
    page.check("input[name=role][value='projects:member']")
    page.click("form button.primary")
    expect(page.locator("h1")).to_contain_text("Max Member")
    logout(page)

    # the member fills the form: the conditional field appears and disappears with the priority
    login(page, base, MEMBER)
    page.goto(f"{base}/apps/projects/item/new")
    why = page.locator("#field-why_urgent")
    page.fill("#field-name input", "Replace the build server")
    page.select_option("#field-priority select", "urgent")
    expect(why).to_be_visible()
    page.fill("#field-why_urgent input", "Builds fail daily")
    shot(page, "walk-5-member-form")
    page.select_option("#field-priority select", "normal")
    expect(why).to_be_hidden()
    page.select_option("#field-priority select", "urgent")
    expect(why).to_be_visible()
    page.fill("#field-budget input", "12000")
    page.fill("#pick-team", "Plat")
    page.locator("#field-team .picker-results button", has_text="Platform").click()
    expect(page.locator("#field-team .picked")).to_contain_text("Platform")
    page.click("form.record-form button[type=submit]")
    details = page.locator("dl.fields")
    expect(details).to_contain_text("Builds fail daily")
    expect(details).to_contain_text("12,000")
    expect(details).to_contain_text("Platform")
    record_url = page.url
    assert re.search(r"/apps/projects/item/\d+$", record_url)
    shot(page, "walk-6-member-record")
    logout(page)

    # the admin archives the budget (it has a value), publishes, restores it, publishes: the value is back
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/projects/design/e/item")
    page.click("#field-budget button:has-text('Archive')")
    expect(page.locator("#archived-budget")).to_be_visible()
    page.goto(f"{base}/apps/projects/design")
    expect(page.locator("#impact")).to_contain_text("1 records keep their values")
    publish(page, base, "No budgets for now", 3)
    page.goto(record_url)
    expect(page.locator("dl.fields")).not_to_contain_text("12,000")
    page.goto(f"{base}/apps/projects/design/e/item")
    page.click("#archived-budget button:has-text('Restore')")
    expect(page.locator("#field-budget")).to_be_visible()
    page.goto(f"{base}/apps/projects/design")
    expect(page.locator("#impact")).to_contain_text("1 records have their values back")
    publish(page, base, "Budgets are back", 4)
    shot(page, "walk-7-versions")
    page.goto(record_url)
    expect(page.locator("dl.fields")).to_contain_text("12,000")

    # viewable on a phone
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/apps/projects/design", "/apps/projects/design/e/item",
                 "/apps/projects/design/e/item/fields/why_urgent"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    page.goto(f"{base}/apps/projects/design/e/item")
    shot(page, "walk-8-phone-item")
    assert page.console_problems == []
