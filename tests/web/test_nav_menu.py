"""The top bar's apps menu is built once per reader's roles, app version and language and
kept (web/nav_menu.py); it must still follow each of them at once."""
import copy

from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app


def menu(browser, path="/") -> str:
    page = browser.get(path).get_data(as_text=True)
    return page[page.index('<nav class="nav"'):page.index("</nav>")]


def test_the_menu_follows_the_readers_roles(browser):
    browser.login("agent@example.com")
    agent = menu(browser)
    browser.logout()
    browser.login("admin@example.com")
    admin = menu(browser)
    assert "/apps/desk/case/" in agent and "/design\"" not in agent
    assert "/apps/desk/design\"" in admin


def test_the_menu_follows_a_new_version_of_the_app(app, browser):
    browser.login("agent@example.com")
    assert "Shipments" not in menu(browser)
    doc = desk_app()
    doc["entities"].append({"key": "shipment", "label": "Shipment", "plural": "Shipments", "title": "name",
                            "permissions": {"agent": {"read": "all"}},
                            "fields": [{"key": "name", "type": "text", "label": "Name"}]})
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    assert "Shipments" in menu(browser)


def test_the_menu_follows_the_language(browser):
    browser.login("agent@example.com")
    assert "Cases" in menu(browser)
    browser.post("/language", {"lang": "zh", "next": "/"})
    assert "工单" in menu(browser) and "Cases" not in menu(browser)
