"""Whatever people type and whatever documents say is shown literally, never run."""
from __future__ import annotations

import pytest

HOSTILE = "<script>alert(1)</script>{{7*7}}'\""


@pytest.fixture
def hostile(make_record):
    company = make_record("company", {"name": HOSTILE, "city": "<img src=x onerror=alert(1)>"})
    case = make_record("case", {"subject": "<b>bold</b> {{7*7}}", "company": company.id})
    return company, case


def assert_escaped(html: str) -> None:
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html
    # "{{7*7}}" must never have been evaluated; a bare "49" could be a timestamp, so look for it
    # where the template text stood
    assert "</script>49" not in html and "</b> 49" not in html and ">49<" not in html


@pytest.mark.parametrize("path", ["/apps/desk/company/", "/apps/desk/company/{company}",
                                  "/apps/desk/case/", "/apps/desk/case/{case}", "/apps/desk/case/{case}/edit",
                                  "/apps/desk/case/pick/company?q=script", "/apps/desk/company/?q=<script>"])
def test_hostile_values_are_escaped_everywhere(as_agent, hostile, path):
    company, case = hostile
    response = as_agent.get(path.format(company=company.id, case=case.id))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "&lt;script&gt;" in html or "&lt;b&gt;" in html      # the hostile value is on the page, escaped
    assert_escaped(html)


def test_hostile_values_appear_literally(as_agent, hostile):
    company, _case = hostile
    html = as_agent.get(f"/apps/desk/company/{company.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in html


def test_document_labels_are_escaped(as_agent, hostile):
    company, _case = hostile
    for path in ("/apps/desk/company/?cols=name,city", f"/apps/desk/company/{company.id}",
                 f"/apps/desk/company/{company.id}/edit"):
        html = as_agent.get(path).get_data(as_text=True)
        assert "City &lt;i&gt;{{7*7}}&lt;/i&gt;" in html
        assert "<i>" not in html


def test_an_invalid_hostile_value_is_echoed_escaped(as_agent):
    response = as_agent.post("/apps/desk/case/new", {"subject": "<script>x</script>" * 10})
    assert response.status_code == 422
    assert "<script>x</script>" not in response.get_data(as_text=True)


def test_visible_if_rules_are_json_escaped_in_attributes(as_agent):
    html = as_agent.get("/apps/desk/case/new").get_data(as_text=True)
    assert "data-visible-if='{\"==\": [{\"var\": \"escalated\"}, true]}'" in html
