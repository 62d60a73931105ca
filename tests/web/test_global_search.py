"""Global search from the top bar: every entity the reader may read, by title and the
text fields they may see, within their scope, grouped by entity; CJK by substring."""
from __future__ import annotations

import re


def test_the_top_bar_has_the_search_box(as_agent):
    page = as_agent.get("/apps/desk/").get_data(as_text=True)
    assert 'action="/search"' in page and 'aria-label="Search all records"' in page


def test_results_are_grouped_by_entity_and_link_to_records(as_agent, make_record):
    acme = make_record("company", {"name": "Acme Printing", "city": "Shanghai"})
    case = make_record("case", {"subject": "Printer on fire", "company": acme.id})
    make_record("case", {"subject": "Unrelated"})
    page = as_agent.get("/search?find=PRINT").get_data(as_text=True)
    assert page.index("Companies") < page.index(f'href="/apps/desk/company/{acme.id}"')
    assert page.index("Cases") < page.index(f'href="/apps/desk/case/{case.id}"')
    assert "Unrelated" not in page


def test_text_fields_are_searched_cjk_by_substring(as_agent, make_record):
    make_record("company", {"name": "Beta", "city": "上海浦东新区"})
    page = as_agent.get("/search?find=浦东").get_data(as_text=True)
    assert ">Beta</a>" in page


def test_only_records_in_scope_and_fields_the_reader_sees(browser, make_record, people):
    make_record("case", {"subject": "Olga's case", "notes": "zebra"}, actor=people.other_agent)
    make_record("case", {"subject": "Alex's case", "notes": "zebra"}, actor=people.agent)
    browser.login("agent@example.com")
    page = browser.get("/search?find=zebra").get_data(as_text=True)
    assert "Alex&#39;s case" in page and "Olga" not in page        # agents read their own cases only
    browser.logout()
    browser.login("viewer@example.com")                                 # reads all, but notes are hidden
    page = browser.get("/search?find=zebra").get_data(as_text=True)
    assert "Alex&#39;s case" not in page and "没有与“zebra”匹配的记录。" in page
    assert "Olga&#39;s case" in browser.get("/search?find=Olga").get_data(as_text=True)


def test_outsiders_find_nothing(browser, make_record):
    make_record("company", {"name": "Acme"})
    browser.login("outsider@example.com")
    page = browser.get("/search?find=Acme").get_data(as_text=True)
    assert 'href="/apps/desk/company/1"' not in page and ">Acme<" not in page


def test_odd_queries_are_harmless(as_agent, make_record):
    make_record("company", {"name": "100% Cotton_Co"})
    make_record("company", {"name": "1000 Cottonwood"})
    page = as_agent.get("/search?find=100%25").get_data(as_text=True)    # % is a character, not a wildcard
    assert "100% Cotton_Co" in page and "Cottonwood" not in page
    assert as_agent.get("/search?find=" + "x" * 5000).status_code == 200
    assert as_agent.get("/search?find=%00").status_code == 400          # refused clearly, as everywhere
    assert "Type a name" in as_agent.get("/search?find=++").get_data(as_text=True)


def test_many_matches_are_capped_per_entity(as_agent, make_record):
    for n in range(7):
        make_record("company", {"name": f"Gamma {n}"})
    page = as_agent.get("/search?find=gamma").get_data(as_text=True)
    assert len(re.findall(r'href="/apps/desk/company/\d+"', page)) == 5 and "More match" in page
