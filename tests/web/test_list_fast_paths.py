"""The list page's fast paths (statements prebuilt per shape, rows read by position, each
distinct value of a column shown once per page, the page kept as a stencil) write the same
page as the plain paths: for a reader who sees every record and one who sees their own,
filtered, sorted, paged, with columns chosen, in English and Chinese (the viewer reads
Chinese, and a field is hidden from them)."""
from __future__ import annotations

import re

import pytest
from flask import render_template
from markupsafe import Markup

from formloom.store import query as store_query
from formloom.web import list_rows
from formloom.web import records as record_views

TOKENS = re.compile(r'(csrf_token" value="|X-CSRFToken": ")[^"]+')

URLS = [
    "/apps/desk/case/",
    "/apps/desk/case/?priority=low&sort=-budget",
    "/apps/desk/case/?budget__gte=50&sort=due&cols=subject,priority,budget,due,company",
    "/apps/desk/case/?priority__in=low,high&limit=2&offset=1",
    "/apps/desk/case/?due__is_empty=1",
    "/apps/desk/case/?priority=high&sort=subject&cols=subject,notes,owner",
]


@pytest.fixture
def cases(make_record, people):
    acme = make_record("company", {"name": "Acme"})
    globex = make_record("company", {"name": "Globex"})
    for i in range(7):       # values repeat down the page: the same priority, company, due date, budget
        make_record("case", {"subject": f"Case {i}", "company": (acme, globex)[i % 2].id,
                             "priority": ("low", "high")[i % 3 == 0], "budget": ("20.00", "120.50")[i % 2],
                             "due": "2026-02-01" if i % 3 else None})
    make_record("case", {"subject": "Someone else's case", "priority": "low", "company": acme.id},
                actor=people.other_agent)


def _pages(browser) -> list[str]:
    out = []
    for url in URLS:
        response = browser.get(url)
        assert response.status_code == 200
        out.append(TOKENS.sub(r"\1-", response.get_data(as_text=True)))
    return out


@pytest.mark.parametrize("reader", ["admin@example.com", "agent@example.com", "viewer@example.com"])
def test_the_fast_paths_write_the_same_list_pages(browser, cases, reader, monkeypatch):
    browser.login(reader)
    fast = _pages(browser)
    monkeypatch.setattr(store_query, "_prepared_list", lambda *args: None)
    monkeypatch.setattr(list_rows.RowWriter, "memo", False)           # every cell written afresh,
    monkeypatch.setattr(record_views, "cell_html", _through_show)     # by `show` and its markup
    monkeypatch.setattr(record_views, "list_page",         # no stencil: the templates written in full
                        lambda context: Markup(render_template("records/list.html", **context)))
    assert fast == _pages(browser)
    assert "Case 3" in fast[0] and "Case 0" in fast[0]


def _through_show(app, f, value, code, lookups) -> tuple[str, str]:
    shown = record_views.show(app, f, value, code, lookups)
    return shown.text, shown.__html__()


def test_a_value_is_written_once_per_type_not_per_equal_value():
    from formloom.definitions.compile import compile_field

    calls = []

    def cell(f, value):
        calls.append(value)
        return f"{type(value).__name__}:{value}", f"<{type(value).__name__}:{value}>"
    field = compile_field({"key": "n", "type": "number"})
    writer = list_rows.RowWriter([field], ["N"], None, "en", cell, owner_label=None, stage_label=None)
    written = [writer(7, {"n": v}, "/7", None, None) for v in (1, True, 1.0, 1, True, [1], [1])]
    assert [first for first, _html in written] == ["int:1", "bool:True", "float:1.0", "int:1", "bool:True",
                                                   "list:[1]", "list:[1]"]
    assert written[0][1] == '<td data-label="N"><int:1></td>'
    assert calls == [1, True, 1.0, [1], [1]]          # lists have no key: written each time


def test_a_cell_is_what_show_and_its_markup_write(app):
    """`cell_html` writes a list page's cell without a `Shown`: its text and markup must be
    `show`'s for every kind a column may hold, empty, odd and markup-laden values too."""
    from types import SimpleNamespace

    from formloom.definitions.compile import compile_field
    from formloom.web.display import Lookups, cell_html, show

    desk = SimpleNamespace(key="desk", settings={}, timezone=None)
    fields = [compile_field(d) for d in (
        {"key": "company", "type": "reference", "entity": "company"},
        {"key": "who", "type": "user"},
        {"key": "t", "type": "text"}, {"key": "n", "type": "number"}, {"key": "m", "type": "money"},
        {"key": "d", "type": "date"}, {"key": "dt", "type": "datetime"}, {"key": "ok", "type": "checkbox"},
        {"key": "s", "type": "select", "options": [{"value": "low", "label": {"en": "Low <1>", "zh": "低"}}]},
        {"key": "ms", "type": "multiselect", "options": [{"value": "a", "label": {"en": "A & B", "zh": "甲"}}]},
        {"key": "f", "type": "file"},
    )]
    values = [None, "", [], {}, 0, 0.5, False, True, 1, 2, 3, 4, [1, 4], [True], "low", "a<b & 'c'", "商机",
              ["a"], ["a", "zz"], "120.50", "abc", 1234.5, "2026-02-01", "2026-02-01T08:30:00Z", "not a date",
              [{"id": "f1", "name": "a<b>.png", "type": "image/png"}, {"id": "f2", "name": "c.pdf"}], {"x": 1}]
    lookups = Lookups(titles={("company", 1): "Acme & <Sons>", ("company", 2): "", ("company", 3): None},
                      names={1: "Ann <admin>", 2: "Bo"})
    with app.test_request_context("/"):
        for code in ("en", "zh"):
            for f in fields:
                for value in values:
                    assert _outcome(cell_html, desk, f, value, code, lookups) == \
                        _outcome(_through_show, desk, f, value, code, lookups), (code, f.type, value)


def _outcome(write, *args):
    """What `write` answers, or the type of what it raises (`show` fails on a file field
    holding a number: the cell must fail alike, not write something else)."""
    try:
        return write(*args)
    except Exception as problem:
        return type(problem)


@pytest.mark.parametrize("values", [
    dict(text="Acme & Sons"),
    dict(text=""),
    dict(links=(("/apps/desk/company/1", "Acme"), ("", "#7"))),
    dict(files=(("/f/1", "a.png", True), ("/f/2", "b.pdf", False)), thumbs=("/t/1", "")),
])
def test_a_cheaply_built_shown_is_the_dataclass_shown(values):
    """`_shown` skips the frozen dataclass's `__init__`: what it makes must be that `Shown`
    in every way a page or a memo can tell."""
    import dataclasses

    from formloom.web.display import EMPTY, Shown, _shown

    cheap, made = _shown(**values), Shown(**values)
    assert type(cheap) is Shown and cheap == made and hash(cheap) == hash(made) and repr(cheap) == repr(made)
    assert list(vars(cheap).items()) == list(vars(made).items())
    assert cheap.__html__() == made.__html__()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cheap.text = "changed"
    assert EMPTY == Shown(empty=True) and EMPTY.__html__() == Shown(empty=True).__html__()


def test_url_with_answers_as_the_uncached_builder_cold_and_warm(app):
    """`url_with` keeps its links per (endpoint, path, query string, changes); the kept link
    is the one the builder writes, for the first request of a URL and every later one."""
    from formloom.web import helpers

    changes = [dict(sort="-budget"), dict(sort=None), dict(offset=50), dict(offset="50", limit=2),
               dict(priority__in="low,high"), dict(cols=None, sort="due")]
    urls = URLS + ["/apps/desk/case/?_=1&sort=subject&sort=due", "/apps/desk/company/?q=Acme%20%26%20Co"]
    for _ in ("cold", "warm"):
        for url in urls:
            with app.test_request_context(url):
                for change in changes:
                    assert helpers.url_with(**change) == helpers._url_with(change), (url, change)
    kept = [k for k in app.extensions["formloom.url_cache"] if k[0] == "url_with"]
    assert len(kept) == len(urls) * len(changes)
    with app.test_request_context("/apps/desk/case/?priority=low&sort=-budget&_=9"):
        assert helpers.url_with(sort="due", offset=None) == "/apps/desk/case/?priority=low&sort=due"


def test_one_reference_is_shown_as_a_list_of_one_and_only_empty_values_are_empty(app):
    """`show` reads a single record id without the list walk (`_ids`); the links must be the
    ones the list walk writes: titled, untitled ("#id") and unreadable (no link). Empty is
    "", [], {} and None, never 0 or False."""
    from types import SimpleNamespace

    from formloom.definitions.compile import compile_field
    from formloom.web.display import EMPTY, Lookups, show

    desk = SimpleNamespace(key="desk")
    company = compile_field({"key": "company", "type": "reference", "entity": "company"})
    lookups = Lookups(titles={("company", 1): "Acme & Sons", ("company", 2): "", ("company", 3): None})
    with app.test_request_context("/"):
        for ident in (1, 2, 3, 4):
            one, listed = show(desk, company, ident, "en", lookups), show(desk, company, [ident], "en", lookups)
            assert one == listed and one.__html__() == listed.__html__()
        assert show(desk, company, 1, "en", lookups).links == (("/apps/desk/company/1", "Acme & Sons"),)
        assert show(desk, company, 3, "en", lookups).links == (("/apps/desk/company/3", "#3"),)
        assert show(desk, company, 4, "en", lookups).links == (("", "#4"),)
        assert show(desk, company, True, "en", lookups) == show(desk, company, [True], "en", lookups)
        number = compile_field({"key": "n", "type": "number"})
        check = compile_field({"key": "ok", "type": "checkbox"})
        for empty in (None, "", [], {}):
            assert show(desk, number, empty, "en", lookups) is EMPTY
        assert show(desk, number, 0, "en", lookups).text == "0"
        assert show(desk, check, False, "en", lookups) is not EMPTY


@pytest.mark.parametrize("value", ["", "plain", "Acme & Sons <b>\"quoted\" 'single'</b>", "&amp; already", "商机 & 客户",
                                   "a\u00a0b > c", "/apps/desk/case/?q=a&b=<c>"])
def test_html_text_escapes_as_markupsafe_does(value):
    """The cells' escaper skips markupsafe's Markup object, not its escaping: same text for plain
    strings; Markup (already safe), numbers and None go through `escape` itself."""
    from markupsafe import Markup, escape

    from formloom.web.display import html_text

    assert html_text(value) == str(escape(value)) and type(html_text(value)) is str
    assert html_text(Markup(value)) == str(escape(Markup(value))) == value
    for other in (12, 1.5, None, True):
        assert html_text(other) == str(escape(other))
