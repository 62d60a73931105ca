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


def test_one_and_two_character_queries_find_cjk_and_latin_text(as_agent, make_record):
    make_record("company", {"name": "Delta", "city": "上海浦东新区"})
    make_record("company", {"name": "Epsilon", "city": "北京"})
    page = as_agent.get("/search?find=浦").get_data(as_text=True)
    assert ">Delta</a>" in page and "Epsilon" not in page
    page = as_agent.get("/search?find=北京").get_data(as_text=True)
    assert ">Epsilon</a>" in page and "Delta" not in page
    page = as_agent.get("/search?find=EP").get_data(as_text=True)
    assert ">Epsilon</a>" in page and "Delta" not in page


def test_a_hidden_fields_text_never_makes_a_record_match_at_any_query_length(browser, make_record, people):
    make_record("case", {"subject": "Quiet", "notes": "zq 机密文件"}, actor=people.agent)
    browser.login("viewer@example.com")                                 # reads every case, not their notes
    for q in ("z", "zq", "机密", "机密文件", "zq 机"):
        page = browser.get("/search?find=" + q).get_data(as_text=True)
        assert ">Quiet</a>" not in page, q
    browser.logout()
    browser.login("agent@example.com")                                  # sees the notes of their own case
    for q in ("zq", "机密文件"):
        assert ">Quiet</a>" in browser.get("/search?find=" + q).get_data(as_text=True), q


def test_a_manager_finds_every_record_a_rep_only_their_own(browser, make_record, people):
    make_record("case", {"subject": "发票问题 Alex"}, actor=people.agent)
    make_record("case", {"subject": "发票问题 Olga"}, actor=people.other_agent)
    browser.login("agent@example.com")
    page = browser.get("/search?find=发票问题").get_data(as_text=True)
    assert "发票问题 Alex" in page and "Olga" not in page
    page = browser.get("/search?find=发票").get_data(as_text=True)       # the short path keeps the scope too
    assert "发票问题 Alex" in page and "Olga" not in page
    browser.logout()
    browser.login("viewer@example.com")
    page = browser.get("/search?find=发票问题").get_data(as_text=True)
    assert "发票问题 Alex" in page and "发票问题 Olga" in page


def test_text_across_line_breaks_and_letter_case_is_found(as_agent, make_record, people):
    make_record("case", {"subject": "Wrapped", "notes": "first line\nSECOND line"}, actor=people.agent)
    assert ">Wrapped</a>" in as_agent.get("/search?find=line second").get_data(as_text=True)


def test_deleted_records_are_not_found(as_agent, make_record, app):
    from formloom.store.records import delete_record
    gone = make_record("company", {"name": "Vanished Ltd"})
    desk, _ = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:
        delete_record(conn, desk, desk.entity("company"), gone.id, actor_id=None)
    assert "Vanished" not in as_agent.get("/search?find=vanished").get_data(as_text=True)


def test_results_in_chinese(browser, make_record):
    make_record("company", {"name": "华东电子", "city": "杭州"})
    browser.login("viewer@example.com")                                 # their language is Chinese
    page = browser.get("/search?find=华东电").get_data(as_text=True)
    assert ">华东电子</a>" in page and "公司" in page and "支持台" in page and "搜索" in page


def test_the_designer_chooses_the_fields_search_finds_records_by(app, browser, make_record, people):
    from .test_designer import CASE, post, publish
    make_record("case", {"subject": "Jammed", "notes": "toner everywhere", "code": "AUD-7"}, actor=people.agent)
    browser.login("admin@example.com")
    page = browser.get(CASE).get_data(as_text=True)
    assert 'name="search_fields" value="notes"' in page and 'name="search_fields" value="budget"' not in page
    answer = post(browser, f"{CASE}/settings", {"label-en": "Case", "label-zh": "工单", "plural-en": "Cases",
                                                "title": "subject", "search_fields": ["code", "budget"]})
    assert answer.status_code == 303
    assert publish(browser).status_code == 303
    assert app.extensions["formloom.catalog"].app("desk").entity("case").search_fields == ("code",)
    assert ">Jammed</a>" in browser.get("/search?find=aud-7").get_data(as_text=True)
    assert ">Jammed</a>" not in browser.get("/search?find=toner").get_data(as_text=True)   # no longer searched


def test_the_newest_matches_come_first(as_agent, make_record):
    made = [make_record("company", {"name": f"Customer {n} Co."}) for n in range(8)]
    page = as_agent.get("/search?find=customer").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'href="/apps/desk/company/(\d+)"', page)]
    assert shown == [r.id for r in reversed(made)][:5]
    page = as_agent.get("/search?find=r 4").get_data(as_text=True)          # a phrase across a space
    assert re.findall(r'href="/apps/desk/company/(\d+)"', page) == [str(made[4].id)]
