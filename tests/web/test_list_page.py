"""The list page is kept as a stencil per app version, entity, language and what the reader's
permissions put in its head (web/list_page.py), and each request fills the holes with its
own blocks of the page's templates. The page must be the one the templates write in full:
for every reader, language and list, whichever request made the stencil, and it must follow
a new version of the app at once."""
from __future__ import annotations

import copy
import re

import pytest
from flask import render_template, render_template_string
from markupsafe import Markup

from formloom.store.install import install_documents
from formloom.web import records as record_views
from formloom.web import rows_head

from .desk import CASE_FLOW, desk_app

TOKENS = re.compile(r'(csrf_token" value="|X-CSRFToken": ")[^"]+')
LIST = "/apps/desk/case/"
URLS = ["", "?priority=low", "?q=%22%3E%3Cscript%3E", "?priority=bogus", "?limit=2&offset=2", "?offset=100",
        "?cols=owner&sort=-budget", "?x=1&y=%3Cb%3E&q=Case"]
READERS = ["admin@example.com", "agent@example.com", "viewer@example.com", "other@example.com"]


@pytest.fixture
def cases(browser, make_record, people):
    """Cases, a company with markup in its name, and saved views: one the admin shares with
    agents, one an agent keeps (tabs, "shared with", delete buttons differ per reader)."""
    acme = make_record("company", {"name": "Acme & <Sons>"})
    for i in range(5):
        make_record("case", {"subject": f"Case {i}", "company": acme.id, "priority": ("low", "high")[i % 2],
                             "budget": ("20.00", "120.50")[i % 2], "due": "2026-02-01" if i % 3 else None})
    make_record("case", {"subject": "Someone else's case", "priority": "low"}, actor=people.other_agent)
    for reader, name, query, role in (("admin@example.com", "Team <view>", "sort=-budget", "agent"),
                                      ("agent@example.com", "Mine & low", "priority=low", "")):
        browser.login(reader)
        assert browser.post(f"{LIST}views", {"name": name, "query": query, "role": role},
                            token_from=LIST).status_code == 303
        browser.logout()


def _page(browser, url: str, **kw) -> tuple[int, str]:
    response = browser.get(LIST + url, **kw)
    return response.status_code, TOKENS.sub(r"\1-", response.get_data(as_text=True))


def _every_page(browser) -> list[tuple[int, str]]:
    """Every reader and URL in English, then in Chinese: so each stencil is made by one
    request and filled for others."""
    out = []
    for reader in READERS:
        browser.login(reader)
        for lang, urls in (("en", URLS), ("zh", URLS[::-1])):
            browser.post("/language", {"lang": lang, "next": "/"})
            out.extend(_page(browser, url) for url in urls)
        browser.logout()
    return out


def _written_in_full(monkeypatch) -> None:
    """No stencils: the page, and its table's head, rendered by their templates in full."""
    monkeypatch.setattr(record_views, "list_page",
                        lambda context: Markup(render_template("records/list.html", **context)))
    monkeypatch.setattr(rows_head.RowsHead, "__call__",
                        lambda self, bulk: Markup(render_template(rows_head.HEAD, **{**self.context, "bulk": bulk})))


def test_the_stencil_writes_the_page_the_templates_write(app, browser, cases, monkeypatch):
    filled = _every_page(browser)
    kept = app.extensions["formloom.stencils.list_page"]
    assert len(kept) == 6         # en and zh for the admin, the agents (alike) and the viewer
    heads = app.extensions["formloom.stencils.rows_head"]
    assert {key[-5:-2] for key in heads} >= {(("subject", "company", "priority", "budget", "due"), "", True),
                                             (("subject", "company", "priority", "budget", "due"), "-budget", True)}
    _written_in_full(monkeypatch)
    assert filled == _every_page(browser)
    statuses = [status for status, _page in filled]
    assert statuses.count(400) == 2 * 2 * len(READERS) and set(statuses) == {200, 400}   # a bad value, an unknown argument
    page = filled[0][1]
    assert "<!--hole" not in page and "Case 3" in page and "Team &lt;view&gt;" in page


def test_a_fragment_is_the_rows_template_alone(browser, cases, monkeypatch):
    browser.login("agent@example.com")
    status, rows = _page(browser, "?priority=low", headers={"HX-Request": "true"})
    assert status == 200 and rows.lstrip().startswith("<table") and "view-tabs" not in rows
    _written_in_full(monkeypatch)
    assert (status, rows) == _page(browser, "?priority=low", headers={"HX-Request": "true"})


def test_each_request_writes_its_own_tokens_tabs_query_and_rows(browser, cases):
    browser.login("agent@example.com")
    first = browser.get(LIST + "?priority=low").get_data(as_text=True)
    second = browser.get(LIST + "?q=Case%201").get_data(as_text=True)
    assert 'aria-current="page">Mine &amp; low' in first and 'aria-current="page">Mine' not in second
    assert 'name="query" value="priority=low"' in first and 'name="query" value="q=Case+1"' in second
    assert 'name="q" value="Case 1"' in second and 'name="q" value=""' in first
    assert '<input type="hidden" name="priority" value="low">' in first
    assert "Case 3" not in second and "Case 1" in second
    assert f'href="{LIST}?priority=low&amp;sort=subject"' in first       # the head's sort links: the
    assert f'href="{LIST}?q=Case+1&amp;sort=subject"' in second            # request's own arguments
    tokens = re.findall(r'(?:csrf_token" value="|X-CSRFToken": ")([^"]+)', second)
    assert len(tokens) >= 3 and len(set(tokens)) == 1 and "<!--hole" not in second


def test_the_head_follows_the_readers_permissions(browser, cases):
    browser.login("agent@example.com")
    agent = browser.get(LIST).get_data(as_text=True)
    browser.logout()
    browser.login("viewer@example.com")
    viewer = browser.get(LIST).get_data(as_text=True)
    assert f'href="{LIST}new"' in agent and f'href="{LIST}new"' not in viewer


def test_the_page_follows_a_new_version_of_the_app(app, browser, cases):
    browser.login("agent@example.com")
    assert "<h1>Cases</h1>" in browser.get(LIST).get_data(as_text=True)
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["plural"] = {"en": "Tickets", "zh": "工单"}
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    page = browser.get(LIST).get_data(as_text=True)
    assert "<h1>Tickets</h1>" in page and "<title>Tickets · Formloom</title>" in page


def test_every_hole_is_a_block_of_the_page(app):
    """The stencil template overrides blocks only, each with the hole of its own name, and
    the page (or its base) has each block: a misnamed hole would leave a part unfilled."""
    env = app.jinja_env
    stencil = env.get_template("records/_list_stencil.html")
    page, base = env.get_template("records/list.html"), env.get_template("base.html")
    assert {"csrf_header", "page_bar", "view_tabs", "results", "bulk_bar"} <= set(stencil.blocks)
    for name in stencil.blocks:
        assert name in page.blocks or name in base.blocks, name
        source = env.loader.get_source(env, "records/_list_stencil.html")[0]
        assert f"{{% block {name} %}}{{{{ hole('{name}') }}}}{{% endblock %}}" in source


@pytest.mark.parametrize("query", ["", "a=1", "q=x&offset=5&b=%3C%22%3E&b=2", "q=%E5%95%86%E6%9C%BA&cols=a,b"])
def test_hidden_inputs_write_what_the_hidden_args_macro_writes(app, query):
    with app.test_request_context(f"/?{query}"):
        for exclude in ((), ("q", "offset"), ("offset",)):
            macro = render_template_string('{% from "records/_macros.html" import hidden_args %}'
                                           "{{ hidden_args(exclude=exclude) }}", exclude=exclude)
            assert render_template_string("{{ hidden_inputs(exclude) }}", exclude=exclude) == macro


def test_a_kept_table_head_never_shows_one_reader_what_is_anothers(browser, cases):
    """The head's stencil is kept per columns and per whether the page offers bulk actions:
    the admin's head (a select-all box, the internal notes column) made first must not be
    the viewer's, who may not act in bulk and from whom the notes are hidden (both reading
    English, so the language does not tell their stencils apart)."""
    urls = ["?cols=subject,notes,priority&sort=-priority", "?cols=subject,priority&sort=-priority"]
    pages = {}
    for reader in ("admin@example.com", "viewer@example.com"):
        browser.login(reader)
        browser.post("/language", {"lang": "en", "next": "/"})
        pages[reader] = [re.search(r"<thead>.*?</thead>", _page(browser, url)[1], re.S).group(0) for url in urls]
        browser.logout()
    admin, viewer = pages["admin@example.com"], pages["viewer@example.com"]
    assert all("data-select-all" in head for head in admin)
    assert "Internal notes" in admin[0] and "Internal notes" not in admin[1]
    assert not any("data-select-all" in head or "Internal notes" in head for head in viewer)
    assert all('aria-sort="descending"' in head for head in viewer)
    assert f'href="{LIST}?cols=subject,priority&amp;sort=priority"' in viewer[1]
