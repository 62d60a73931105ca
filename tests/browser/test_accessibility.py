"""The CRM demo's pages pass axe-core: every page a new team opens in its first hour
(home, app home, every list and board in the menu, a new form, a record, the bell,
the profile, the user and automation admin), as the admin in English and 中文 on a
desktop and a phone, and as a sales rep. The check itself is the one every browser
test runs (tests/browser/a11y.py); here it is pointed at the whole demo, and every
page's findings are gathered before failing so one run shows them all."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

import formloom.resources
from formloom.app import create_app
from formloom.demo import load_demo
from formloom.store.install import install_path

from . import a11y

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "demo1234"
ADMIN, REP = "admin@demo.formloom", "li.wei@demo.formloom"
WIDTHS = (1440, 375)


@pytest.fixture
def demo_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "a11y-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    folder = formloom.resources.template_dir("crm")
    install_path(db, folder)
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    load_demo(db, app_def, version_id, folder)
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


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def choose_language(page, code: str) -> None:
    if page.locator(f'.lang-switch button[value="{code}"][aria-current]').count():
        return
    with page.expect_navigation():
        page.click(f'.lang-switch button[value="{code}"]')


def first_day_pages(page, base: str, admin: bool) -> list[str]:
    """The pages the issue's walk-through opened, found the way a person finds them: the menu."""
    page.goto(f"{base}/")
    menu = page.locator("nav.nav .menu a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    page.goto(f"{base}/apps/crm/opportunity/")
    record = page.locator("a.title-link").first.get_attribute("href")
    pages = ["/", "/apps/crm/", *menu, "/apps/crm/opportunity/new", record, f"{record}/edit",
             "/notifications", "/profile/"]
    if admin:
        pages += ["/admin/users/", "/admin/users/new", "/admin/automation"]
    return pages


def visit(page, base: str, path: str) -> None:
    """Open one page; the check waits for htmx requests in flight, so a board is checked with its cards."""
    page.goto(base + path)
    assert page.locator(".kanban-loading").count() == 0, f"{path}: checked before its columns loaded"


def open_a_gate_dialog(page, base: str) -> None:
    """The dialog a move that needs more data opens on the board (Lost asks for a reason)."""
    from playwright.sync_api import expect

    page.goto(f"{base}/apps/crm/opportunity/board")
    card = page.locator(".kanban-card:has(button[data-move-to='lost'])").first
    card.locator(".move-menu summary").click()
    card.locator("button[data-move-to='lost']").click()
    expect(page.locator("dialog.gate-dialog")).to_be_visible()
    a11y.assert_accessible(page)
    page.keyboard.press("Escape")                      # and it lets go of the keyboard
    expect(page.locator("dialog.gate-dialog[open]")).to_have_count(0)


@pytest.mark.parametrize("who", ["admin", "rep"])
def test_the_demo_pages_pass_axe(demo_server, page, who):
    admin = who == "admin"
    page.a11y.gather = True            # every page's findings in one report, not only the first's
    page.a11y.context = who
    log_in(page, demo_server, ADMIN if admin else REP)
    visited = 0
    for lang in ("en", "zh") if admin else ("zh",):
        choose_language(page, lang)
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        pages = first_day_pages(page, demo_server, admin)
        assert len(pages) >= (11 if admin else 9)
        for width in WIDTHS if admin else (375,):
            page.set_viewport_size({"width": width, "height": 900})
            page.a11y.context = f"{who} {lang} {width}"
            for path in pages:
                visit(page, demo_server, path)
                visited += 1
            open_a_gate_dialog(page, demo_server)
    a11y.flush(page)
    found = page.a11y.take()
    assert not found, f"{visited} page visits; " + a11y.report(found)
    assert page.console_problems == []
