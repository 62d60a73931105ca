"""Entity lists: scope, columns, search, filters, sort, pages without counting."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event


@pytest.fixture
def cases(make_record, people):
    acme = make_record("company", {"name": "Acme", "city": "Shanghai"})
    globex = make_record("company", {"name": "Globex"})
    rows = [
        ("Printer on fire", acme.id, "high", "300.00", "2026-01-10"),
        ("Password reset", globex.id, "low", "20.00", "2026-02-01"),
        ("VPN is slow", acme.id, "low", "120.50", None),
    ]
    made = [make_record("case", {"subject": s, "company": c, "priority": p, "budget": b, "due": d})
            for s, c, p, b, d in rows]
    make_record("case", {"subject": "Someone else's case", "priority": "high"}, actor=people.other_agent)
    return made


def subjects(html: str) -> list[str]:
    return re.findall(r'class="title-link" href="[^"]+">([^<]+)</a>', html)


def test_agent_sees_only_own_cases(as_agent, cases):
    page = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert sorted(subjects(page)) == ["Password reset", "Printer on fire", "VPN is slow"]


def test_viewer_sees_every_case(browser, cases):
    browser.login("viewer@example.com")
    page = browser.get("/apps/desk/case/").get_data(as_text=True)
    assert "Someone else&#39;s case" in page


def test_list_shows_display_values_and_links(as_agent, cases):
    page = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert ">Acme</a>" in page                  # reference shown by title, as a link
    assert "High" in page                       # the option label, not "high"
    assert 'data-label="Budget"' in page         # cards on phones know their labels


def test_columns_can_be_chosen(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?cols=subject,due").get_data(as_text=True)
    header = page.split("<thead>")[1].split("</thead>")[0]
    assert "Due" in header and "Budget" not in header and "Priority" not in header


def test_search_matches_titles(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?q=printer").get_data(as_text=True)
    assert subjects(page) == ["Printer on fire"]


def test_filter_by_select_value(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?priority=low").get_data(as_text=True)
    assert sorted(subjects(page)) == ["Password reset", "VPN is slow"]


def test_filter_by_money_range(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?budget__gte=100").get_data(as_text=True)
    assert sorted(subjects(page)) == ["Printer on fire", "VPN is slow"]


def test_filter_by_reference(as_agent, cases):
    acme = cases[0].data["company"]
    page = as_agent.get(f"/apps/desk/case/?company={acme}").get_data(as_text=True)
    assert sorted(subjects(page)) == ["Printer on fire", "VPN is slow"]


def test_the_add_filter_form_redirects_to_a_shareable_address(as_agent, cases):
    response = as_agent.get("/apps/desk/case/?q=p&ff=budget&fo=lt&fv=100")
    assert response.status_code == 302
    assert response.headers["Location"] == "/apps/desk/case/?q=p&budget__lt=100"


def test_active_filters_show_as_removable_chips(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?priority=low").get_data(as_text=True)
    assert 'class="chip"' in page
    assert 'href="/apps/desk/case/" class="chip-remove"' in page


def test_a_bad_filter_is_explained(as_agent, cases):
    response = as_agent.get("/apps/desk/case/?budget__gte=lots")
    assert response.status_code == 400
    assert "is not a valid value for" in response.get_data(as_text=True)
    response = as_agent.get("/apps/desk/case/?nope=1")
    assert response.status_code == 400


def test_a_hidden_field_can_not_be_filtered_or_shown(browser, cases):
    browser.login("viewer@example.com")
    assert browser.get("/apps/desk/case/?notes__contains=x").status_code == 400
    page = browser.get("/apps/desk/case/?cols=subject,notes").get_data(as_text=True)
    assert "内部备注" not in page and "Internal notes" not in page


def test_sort_by_clicking_headers(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?sort=budget").get_data(as_text=True)
    assert subjects(page) == ["Password reset", "VPN is slow", "Printer on fire"]
    assert 'href="/apps/desk/case/?sort=-budget"' in page           # clicking again reverses
    page = as_agent.get("/apps/desk/case/?sort=-budget").get_data(as_text=True)
    assert subjects(page) == ["Printer on fire", "VPN is slow", "Password reset"]


def test_pages_move_with_previous_and_next_without_counting(app, as_agent, cases):
    statements = []
    engine = app.extensions["formloom.db"].engine
    listener = lambda conn, cursor, statement, *args: statements.append(statement.lower())  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        first = as_agent.get("/apps/desk/case/?sort=subject&limit=2").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert subjects(first) == ["Password reset", "Printer on fire"]
    assert 'rel="next" href="/apps/desk/case/?sort=subject&amp;limit=2&amp;offset=2"' in first
    assert 'rel="prev"' not in first
    # the records are never counted in full: only a count that stops at a bound (LIMIT)
    # (a per-user unread-notification badge may count its own rows)
    counts = [s for s in statements if "count(" in s and "from records" in s.replace("\n", " ")]
    assert all("limit" in s for s in counts)
    second = as_agent.get("/apps/desk/case/?sort=subject&limit=2&offset=2").get_data(as_text=True)
    assert subjects(second) == ["VPN is slow"]
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_htmx_search_answers_only_the_rows(as_agent, cases):
    response = as_agent.get("/apps/desk/case/?q=vpn", headers={"HX-Request": "true", "HX-Target": "results"})
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert subjects(body) == ["VPN is slow"]


def test_the_stage_shows_as_a_badge(as_agent, cases):
    page = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert '<span class="badge">Open</span>' in page


def test_the_new_button_shows_only_to_those_who_may_create(browser, as_agent, cases):
    assert "/apps/desk/case/new" in as_agent.get("/apps/desk/case/").get_data(as_text=True)
    as_agent.logout()
    browser.login("viewer@example.com")
    assert "/apps/desk/case/new" not in browser.get("/apps/desk/case/").get_data(as_text=True)


def test_unknown_app_or_entity_is_404(as_agent):
    assert as_agent.get("/apps/nope/").status_code == 404
    assert as_agent.get("/apps/desk/nope/").status_code == 404
    assert as_agent.get("/apps/nope/case/").status_code == 404


def test_an_app_the_user_does_not_belong_to_is_404(browser, cases):
    browser.login("outsider@example.com")
    assert browser.get("/apps/desk/case/").status_code == 404
    assert "Support desk" not in browser.get("/").get_data(as_text=True)


def test_a_bad_filter_in_a_live_search_answers_a_swappable_422(as_agent, cases):
    response = as_agent.get("/apps/desk/case/?budget__gte=lots", headers={"HX-Request": "true"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" not in body and "is not a valid value for" in body
