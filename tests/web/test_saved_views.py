"""Saved views: a list's filters, sort and columns under a name; private, or shared
with a role by an app admin; shown as tabs; the list checks them again."""
from __future__ import annotations

from sqlalchemy import select

from formloom.store.tables import saved_views

LIST = "/apps/desk/case/"


def save(browser, name: str, query: str, role: str = "", token_from: str = LIST):
    return browser.post(f"{LIST}views", {"name": name, "query": query, "role": role}, token_from=token_from)


def stored(app):
    with app.extensions["formloom.db"].read() as conn:
        return [r._mapping for r in conn.execute(select(saved_views).order_by(saved_views.c.id))]


def test_save_the_current_list_and_pick_it_from_the_tabs(app, as_agent, make_record):
    make_record("case", {"subject": "Hot one", "priority": "high"})
    make_record("case", {"subject": "Cold one", "priority": "low"})
    page = as_agent.get(f"{LIST}?priority=high&sort=-subject&cols=subject&offset=0").get_data(as_text=True)
    assert 'name="query" value="priority=high&amp;sort=-subject&amp;cols=subject"' in page   # not the page position
    response = save(as_agent, "  Hot   cases ", "priority=high&sort=-subject&cols=subject&offset=20")
    assert response.status_code == 303 and response.location.endswith(f"{LIST}?priority=high&sort=-subject&cols=subject")
    [view] = stored(app)
    assert view["name"] == "Hot cases" and view["role"] is None
    listing = as_agent.get(response.location).get_data(as_text=True)
    assert 'aria-current="page">Hot cases</a>' in listing
    assert "Hot one" in listing and "Cold one" not in listing
    assert 'aria-current="page">All records' in as_agent.get(LIST).get_data(as_text=True)


def test_saving_again_under_the_same_name_replaces(app, as_agent):
    save(as_agent, "Mine", "priority=high")
    save(as_agent, "Mine", "priority=low")
    assert [(v["name"], v["query"]) for v in stored(app)] == [("Mine", "priority=low")]


def test_private_views_stay_private(app, browser):
    browser.login("agent@example.com")
    save(browser, "Alex's view", "priority=high")
    browser.logout()
    browser.login("other@example.com")
    page = browser.get(LIST).get_data(as_text=True)
    assert "Alex&#39;s view" not in page and "Alex's view" not in page
    view_id = stored(app)[0]["id"]
    assert browser.post(f"{LIST}views/{view_id}/delete", token_from=LIST).status_code == 404
    assert len(stored(app)) == 1


def test_admins_share_with_a_role_and_only_admins(app, browser):
    browser.login("agent@example.com")
    response = save(browser, "For everyone", "priority=high", role="agent")
    assert response.status_code == 403 and "Only an administrator" in response.get_data(as_text=True)
    assert 'name="role"' not in browser.get(LIST).get_data(as_text=True)
    browser.logout()
    browser.login("admin@example.com")
    assert 'id="view-role"' in browser.get(LIST).get_data(as_text=True)
    assert save(browser, "Urgent", "priority=high", role="agent").status_code == 303
    assert save(browser, "Bad role", "priority=high", role="wizard").status_code == 422
    browser.logout()
    browser.login("other@example.com")
    page = browser.get(LIST).get_data(as_text=True)
    assert ">Urgent <span" in page and "shared with agent" in page
    view_id = stored(app)[0]["id"]
    assert browser.post(f"{LIST}views/{view_id}/delete", token_from=LIST).status_code == 403
    browser.logout()
    browser.login("viewer@example.com")
    assert "Urgent" not in browser.get(LIST).get_data(as_text=True)     # shared with agents, not viewers


def test_bad_views_are_refused_with_the_reason(app, as_agent):
    response = save(as_agent, "", "priority=high")
    assert response.status_code == 422 and "Give the view a name." in response.get_data(as_text=True)
    response = save(as_agent, "x" * 81, "priority=high")
    assert response.status_code == 422 and "at most 80 characters" in response.get_data(as_text=True)
    response = save(as_agent, "Nonsense", "colour=red")
    assert response.status_code == 400 and "colour" in response.get_data(as_text=True)
    response = save(as_agent, "Hidden", "notes__contains=x")          # hidden_for viewer only: agents see it
    assert response.status_code == 303
    assert [v["name"] for v in stored(app)] == ["Hidden"]


def test_delete_my_view(app, as_agent):
    save(as_agent, "Gone soon", "priority=low")
    view_id = stored(app)[0]["id"]
    response = as_agent.post(f"{LIST}views/{view_id}/delete", token_from=LIST)
    assert response.status_code == 303 and stored(app) == []


def test_views_in_chinese(browser):
    browser.login("viewer@example.com")
    page = browser.get(LIST).get_data(as_text=True)
    assert "全部记录" in page and "保存视图" in page
