"""The app designer in a real Chromium: an admin opens Design from the app menu,
adds a select field with two options (labels in English and Chinese) to an
entity, sees the impact and publishes; an agent then sees the new field in the
form and saves a record with it; the admin archives the field (the agent no
longer sees it, the value is kept), restores it, and the value is back. Every
page is checked by axe; screenshots of each step are taken (FORMLOOM_SCREENSHOTS=docs/designer
writes the docs page's images), and the phone width is checked too."""
from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents

from ..web.desk import CASE_FLOW, desk_app
from .conftest import page  # noqa: F401

pytestmark = pytest.mark.browser

ROOT = "designer-root@example.com"
ADMIN, AGENT, PASSWORD = "designer-admin@example.com", "designer-agent@example.com", "designer-pass-1"
#: Where screenshots go: FORMLOOM_SCREENSHOTS=docs/designer refreshes the docs page's images;
#: without it they are taken (so each step renders) into a temporary folder.
SHOTS: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def _screenshot_folder(tmp_path):
    SHOTS["dir"] = Path(os.environ.get("FORMLOOM_SCREENSHOTS") or tmp_path / "shots")


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    install_documents(db, desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})
    with db.write() as conn:
        create_user(conn, ADMIN, PASSWORD, name="Dana Designer", roles=[("desk", "admin")])
        create_user(conn, AGENT, PASSWORD, name="Alex Agent", roles=[("desk", "agent")])
        create_user(conn, ROOT, PASSWORD, name="Rita Root", is_superuser=True, language="zh")
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


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def logout(page) -> None:
    with page.expect_navigation():
        page.click("form[action$='/logout'] button")


def shot(page, name: str) -> None:
    SHOTS["dir"].mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS["dir"] / f"{name}.png"), full_page=True)


def test_admin_adds_a_select_field_publishes_and_an_agent_uses_it(live_server, page):
    from playwright.sync_api import expect

    base = live_server
    login(page, base, ADMIN)

    # Design, from the app's menu
    page.click("nav.nav details.menu summary")
    page.click("nav.nav a:has-text('Design')")
    expect(page.locator("h1")).to_contain_text("Design Support desk")
    shot(page, "1-overview")
    page.click("#entity-case a.title-link")
    expect(page.locator("#palette")).to_contain_text("Choice")
    shot(page, "2-entity")

    # a select field from the palette, with two options labelled in both languages
    page.click("#palette a[data-type=select]")
    page.fill("input[name=s-label-en]", "Channel")
    page.fill("input[name=s-label-zh]", "渠道")
    page.fill("input[name=s-key]", "channel")
    values = page.locator("input[name=s-options-value]")
    page.locator("input[name=s-options-value]").nth(0).fill("web")
    page.locator("input[name=s-options-en]").nth(0).fill("Web")
    page.locator("input[name=s-options-zh]").nth(0).fill("网站")
    values.nth(1).fill("phone")
    page.locator("input[name=s-options-en]").nth(1).fill("Phone")
    page.locator("input[name=s-options-zh]").nth(1).fill("电话")
    shot(page, "3-select-field")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#field-channel")).to_contain_text("Channel")
    expect(page.locator("#draft-status")).to_contain_text("draft")

    # keyboard-friendly reorder: move it up one place
    page.click("#field-channel button[aria-label^='Move up']")
    expect(page.locator("ol[data-sortable] > li").nth(-2)).to_have_id("field-channel")

    # or by dragging: the whole order is saved, and the page shows the draft as stored
    page.evaluate("window.scrollTo(0, 0)")
    a = page.locator("#field-code .drag-handle").bounding_box()
    b = page.locator("#field-subject").bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    for step in range(1, 16):          # intermediate moves, as SortableJS's fallback mode follows the pointer
        page.mouse.move(a["x"] + a["width"] / 2, a["y"] + (b["y"] + 4 - a["y"]) * step / 15)
        page.wait_for_timeout(30)
    with page.expect_response(lambda r: r.url.endswith("/fields/order")) as stored:
        with page.expect_navigation():              # the script reloads the page once the order is stored
            page.mouse.up()
    assert stored.value.status == 204
    page.reload()
    expect(page.locator("ol[data-sortable] > li").first).to_have_id("field-code")       # stored in the draft

    # the impact, then publish
    page.click("nav.design-tabs a >> nth=0")
    expect(page.locator("#impact")).to_contain_text("Field Channel added to Case.")
    shot(page, "4-impact")
    page.fill("#comment", "Track the channel")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("Version 2")
    expect(page.locator("#version-2")).to_contain_text("Dana Designer")
    shot(page, "5-versions")
    logout(page)

    # the agent sees the new field, in the form they fill
    login(page, base, AGENT)
    page.goto(f"{base}/apps/desk/case/new")
    page.fill("#field-subject input", "Order 42")
    page.select_option("#field-channel select", "phone")
    page.click("form.record-form button[type=submit]")
    expect(page.locator("dl.fields")).to_contain_text("Phone")
    record_url = page.url
    logout(page)

    # the admin archives the field: the agent no longer sees it, the value stays stored
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design/e/case")
    page.click("#field-channel button:has-text('Archive')")
    expect(page.locator("#archived-channel")).to_be_visible()
    page.goto(f"{base}/apps/desk/design")
    expect(page.locator("#impact")).to_contain_text("1 records keep their values")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("Version 3")
    page.goto(record_url)
    expect(page.locator("dl.fields")).not_to_contain_text("Phone")

    # and restores it: the value is back
    page.goto(f"{base}/apps/desk/design/e/case")
    shot(page, "6-archived")
    page.click("#archived-channel button:has-text('Restore')")
    expect(page.locator("#field-channel")).to_be_visible()
    page.goto(f"{base}/apps/desk/design")
    expect(page.locator("#impact")).to_contain_text("1 records have their values back")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("Version 4")
    page.goto(record_url)
    expect(page.locator("dl.fields")).to_contain_text("Phone")

    # the designer at phone width: nothing wider than the screen
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/apps/desk/design", "/apps/desk/design/e/case", "/apps/desk/design/e/case/new/select",
                 "/apps/desk/design/versions"):
        page.goto(f"{base}{path}")
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376)
            .map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, (path, wide)
    shot(page, "7-phone-versions")
    page.goto(f"{base}/apps/desk/design/e/case")
    shot(page, "7-phone-entity")
    assert page.console_problems == []


def test_a_new_app_from_the_gallery_in_chinese(live_server, page):
    from playwright.sync_api import expect

    base = live_server
    login(page, base, ROOT)
    page.click("a.button:has-text('新建应用')")
    expect(page.locator("#template-crm")).to_contain_text("商机")
    shot(page, "0-gallery")
    page.click("#template-blank summary")
    page.fill("#template-blank input[name=label-zh]", "我的笔记")
    page.fill("#template-blank input[name=key]", "my_notes")
    page.click("#template-blank button.primary")
    expect(page.locator("h1")).to_contain_text("我的笔记")
    page.click("#entity-item a.title-link")
    page.click("#palette a[data-type=number]")
    page.fill("input[name=s-label-zh]", "数量")
    page.fill("input[name=s-min]", "很多")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#control-key .error-text")).to_contain_text("请为字段填写键")
    expect(page.locator("#control-min .error-text")).to_contain_text("请输入数字")
    shot(page, "8-field-problems-zh")
    page.fill("input[name=s-key]", "qty")
    page.fill("input[name=s-min]", "0")
    page.click("form.settings-form button[type=submit]")
    expect(page.locator("#field-qty")).to_contain_text("数量")
    page.goto(f"{base}/apps/my_notes/design")
    expect(page.locator("#impact")).to_contain_text("新增字段")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("版本 2")
    assert page.console_problems == []
