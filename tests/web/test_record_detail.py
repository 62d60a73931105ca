"""Record detail: display values, references, related lists, history, policy."""
from __future__ import annotations

import pytest


@pytest.fixture
def acme_case(make_record):
    acme = make_record("company", {"name": "Acme", "city": "Shanghai"})
    case = make_record("case", {"subject": "Printer on fire", "company": acme.id, "priority": "high",
                                "budget": "1234.50", "due": "2026-03-01", "notes": "VIP customer"})
    return acme, case


def test_detail_shows_values_as_people_read_them(as_agent, acme_case):
    acme, case = acme_case
    page = as_agent.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    assert "Printer on fire" in page
    assert f'<a href="/apps/desk/company/{acme.id}">Acme</a>' in page
    assert "High" in page and "1 Mar 2026" in page and "1,234.50" in page   # dates as people read them
    assert "Escalation reason" not in page          # visible_if is false and it is empty
    assert '<span class="badge">Open</span>' in page
    assert f'href="/apps/desk/case/{case.id}/edit"' in page


def test_detail_lists_records_that_point_here(as_agent, acme_case, make_record):
    acme, case = acme_case
    page = as_agent.get(f"/apps/desk/company/{acme.id}").get_data(as_text=True)
    assert "Cases" in page
    assert f'href="/apps/desk/case/{case.id}">Printer on fire</a>' in page
    assert f'href="/apps/desk/case/new?company={acme.id}"' in page     # new related record, prefilled


def test_related_lists_respect_the_readers_scope(browser, acme_case, make_record, people):
    acme, _case = acme_case
    make_record("case", {"subject": "Olga's own", "company": acme.id}, actor=people.other_agent)
    browser.login("agent@example.com")
    page = browser.get(f"/apps/desk/company/{acme.id}").get_data(as_text=True)
    assert "Printer on fire" in page and "Olga" not in page


def test_the_new_related_link_prefills_the_reference(as_agent, acme_case):
    acme, _case = acme_case
    page = as_agent.get(f"/apps/desk/case/new?company={acme.id}").get_data(as_text=True)
    assert f'name="company" value="{acme.id}"' in page
    assert "<span>Acme</span>" in page


def test_history_shows_who_changed_what(as_agent, acme_case):
    _acme, case = acme_case
    as_agent.post(f"/apps/desk/case/{case.id}/edit",
                  {"_version": case.version, "subject": "Printer fixed", "company": case.data["company"],
                   "priority": "low", "budget": "1234.50", "due": "2026-03-01"})
    page = as_agent.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    history = page.split(">Activity<")[1]
    assert "Alex Agent" in history
    assert "created this record" in history and "changed" in history
    assert "Printer on fire" in history and "Printer fixed" in history
    assert "High" in history and "Low" in history


def test_hidden_fields_stay_hidden_in_detail_and_history(browser, acme_case):
    _acme, case = acme_case
    browser.login("viewer@example.com")
    page = browser.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    assert "VIP customer" not in page
    assert "内部备注" not in page


def test_a_record_outside_the_readers_scope_is_404(browser, make_record, people):
    theirs = make_record("case", {"subject": "Not yours"}, actor=people.other_agent)
    browser.login("agent@example.com")
    assert browser.get(f"/apps/desk/case/{theirs.id}").status_code == 404
    assert browser.get(f"/apps/desk/case/{theirs.id}/edit").status_code == 404


def test_unknown_record_or_wrong_entity_is_404(as_agent, acme_case):
    acme, case = acme_case
    assert as_agent.get("/apps/desk/case/999999").status_code == 404
    assert as_agent.get(f"/apps/desk/case/{acme.id}").status_code == 404     # a company is not a case


def test_viewer_sees_no_edit_button(browser, acme_case):
    _acme, case = acme_case
    browser.login("viewer@example.com")
    page = browser.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    assert "/edit" not in page
