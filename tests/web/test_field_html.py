"""The record form writes most fields in Python (web/field_html.py) instead of including
records/_field.html per field: the page is the same, byte for byte, as the one the
include writes, in English and Chinese, for every role and with errors shown."""
from __future__ import annotations

import re

import pytest

import formloom.web.records as record_views

_TOKEN = re.compile(r'(name="csrf_token" value=")[^"]*(")|("X-CSRFToken": ")[^"]*(")')


def _without_tokens(page: str) -> str:
    return _TOKEN.sub(lambda m: "".join(part or "" for part in m.groups()), page)


def _both_ways(monkeypatch, ask) -> tuple[str, str]:
    """(the page as written now, the page with every field included from _field.html)."""
    written = ask()
    with monkeypatch.context() as patched:
        patched.setattr(record_views, "written_here", lambda view: False)
        included = ask()
    return _without_tokens(written), _without_tokens(included)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("who", ["admin", "agent"])
def test_the_new_and_edit_forms_are_the_page_the_include_writes(browser, make_record, monkeypatch, language, who):
    assert browser.login(f"{who}@example.com").status_code == 302
    browser.post("/language", {"lang": language, "next": "/"})
    record = make_record("case", {"subject": "Printer <b>jam</b>", "escalated": True, "reason": "VIP",
                                  "code": "A-1"})
    for path in ("/apps/desk/case/new", f"/apps/desk/case/{record.id}/edit", "/apps/desk/company/new"):
        written, included = _both_ways(monkeypatch, lambda: browser.get(path).get_data(as_text=True))
        assert 'id="field-subject"' in written or 'id="field-name"' in written
        assert written == included, path
        if who == "agent" and "/edit" in path:
            assert "is-readonly" in written          # the audit code is read-only for agents


def test_a_refused_post_shows_its_errors_as_the_include_does(as_admin, monkeypatch):
    def post():
        page = as_admin.post("/apps/desk/case/new", {"subject": "", "budget": "lots", "due": "someday",
                                                     "escalated": "y"}, token_from="/apps/desk/case/new")
        assert page.status_code == 422
        return page.get_data(as_text=True)
    written, included = _both_ways(monkeypatch, post)
    assert 'class="field field-money has-error"' in written and 'aria-invalid="true"' in written
    assert "data-visible-if=" in written and 'class="check"' in written
    assert written == included


def test_labels_are_escaped(as_admin):
    page = as_admin.get("/apps/desk/company/new").get_data(as_text=True)
    assert "City &lt;i&gt;{{7*7}}&lt;/i&gt;" in page and "<i>{{7*7}}</i>" not in page
