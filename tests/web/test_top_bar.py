"""The top bar is rendered once per reader, language, menu and counts and kept
(web/top_bar.py); each page still gets its own CSRF token and path, and the bar follows
the counts, the reader's name and language, and a new version of the app at once."""
from __future__ import annotations

import copy
import re
from datetime import datetime, timezone

from formloom.auth.users import set_name
from formloom.automation.channels.inapp import notify_user
from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app


def bar(browser, path: str = "/") -> str:
    page = browser.get(path).get_data(as_text=True)
    return page[page.index('<header class="topbar">'):page.index("</header>")]


def test_each_page_gets_its_own_path_and_the_sessions_token(as_agent):
    on_home, on_cases = bar(as_agent, "/"), bar(as_agent, "/apps/desk/case/?priority=high&q=a%22b")
    assert 'name="next" value="/"' in on_home
    assert 'name="next" value="/apps/desk/case/?priority=high&amp;q=a%22b"' in on_cases
    tokens = re.findall(r'name="csrf_token" value="([^"]+)"', on_cases)
    assert len(tokens) == 2 and "0fl0" not in on_cases
    changed = as_agent.post("/language", {"lang": "zh", "next": "/"}, token_from="/apps/desk/case/")
    assert changed.status_code in (302, 303)           # the kept bar's token is one the session accepts


def test_the_bar_follows_the_unread_count(app, as_agent, people):
    assert 'class="badge"' not in bar(as_agent)
    with app.extensions["formloom.db"].write() as conn:
        notify_user(conn, people.agent, "Case assigned", "", "top-bar:1", datetime.now(timezone.utc))
    assert 'data-unread="1"' in bar(as_agent)


def test_the_bar_follows_the_readers_name_and_language(app, as_agent, people):
    assert "Alex Agent" in bar(as_agent) and "My to-dos" in bar(as_agent)
    with app.extensions["formloom.db"].write() as conn:
        set_name(conn, people.agent, "Alexandra Agent")
    assert "Alexandra Agent" in bar(as_agent)
    as_agent.post("/language", {"lang": "zh", "next": "/"})
    assert "My to-dos" not in bar(as_agent)


def test_the_bar_follows_a_new_version_of_the_app(app, as_agent):
    assert "Shipments" not in bar(as_agent)
    doc = desk_app()
    doc["entities"].append({"key": "shipment", "label": "Shipment", "plural": "Shipments", "title": "name",
                            "permissions": {"agent": {"read": "all"}},
                            "fields": [{"key": "name", "type": "text", "label": "Name"}]})
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    assert "Shipments" in bar(as_agent)


def test_logged_out_pages_have_the_bar_without_the_readers_links(browser):
    page = bar(browser, "/login")
    assert "lang-switch" in page and "Log out" not in page
