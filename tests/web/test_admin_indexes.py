"""The indexes page: an app's admins see each index with its field, its reasons in their
language and its size, and the fields saved views filter by that have no index; members
who are not admins get 403, others 404; the API gives the same report as JSON."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.tables import saved_views

from .api_client import api_as, token_for  # noqa: F401 -- fixtures
from .conftest import PASSWORD
from .desk import CASE_FLOW, desk_app

PAGE = "/apps/desk/admin/indexes"
API = "/api/v1/apps/desk/indexes"


@pytest.fixture
def published(app, people):
    """The desk with the company's city marked indexed (its label holds markup) and a saved
    view filtering cases by a field nothing indexes."""
    doc = desk_app()
    next(f for f in doc["entities"][0]["fields"] if f["key"] == "city")["indexed"] = True
    db = app.extensions["formloom.db"]
    install_documents(db, doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    with db.write() as conn:
        conn.execute(saved_views.insert().values(app_key="desk", entity_key="case", name="Escalated",
                                                 query="escalated=true&sort=-budget", owner_id=people.agent,
                                                 created_at=datetime.now(timezone.utc)))
    return doc


def test_an_admin_sees_every_index_with_its_reasons(as_admin, published):
    page = as_admin.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ixf_desk_case_company" in html and "ixf_desk_case_due" in html
    assert "Reference to Company: related lists, rollups and related-record gates" in html
    assert "A column of the default list: people sort by it" in html
    assert "Chosen by an admin (&#34;indexed&#34;: true)" in html or "Chosen by an admin (&quot;indexed&quot;: true)" in html
    assert "City &lt;i&gt;{{7*7}}&lt;/i&gt;" in html and "<i>{{7*7}}" not in html
    assert "&gt;49&lt;" not in html and ">49<" not in html     # never evaluated (a bare "49" may be in a CSRF token)
    assert "Filtered or sorted by in saved views, without an index:" in html
    assert "Escalated (saved views: 1)" in html
    assert "ixf_desk_case_escalated" not in html      # a checkbox nobody queries by has none


def test_the_page_speaks_chinese(app, browser, published):
    with app.extensions["formloom.db"].write() as conn:
        create_user(conn, "zh.admin@example.com", PASSWORD, name="中文管理员", language="zh", roles=[("desk", "admin")])
    browser.login("zh.admin@example.com")
    html = browser.get(PAGE).get_data(as_text=True)
    assert "索引" in html
    assert "引用公司：用于相关列表、汇总和相关记录关卡" in html
    assert "默认列表中的一列：用户会按它排序" in html


def test_members_who_are_not_admins_get_403_and_outsiders_404(browser, published):
    browser.login("agent@example.com")
    assert browser.get(PAGE).status_code == 403
    browser.logout()
    browser.login("outsider@example.com")
    assert browser.get(PAGE).status_code == 404


def test_the_api_gives_the_same_report_to_admins_only(api_as, published):
    found = api_as("admin").get(API)
    assert found.status_code == 200
    case = next(e for e in found.get_json()["entities"] if e["entity"] == "case")
    company = next(x for x in case["indexes"] if x["name"] == "ixf_desk_case_company")
    assert company["fields"] == ["company"]
    assert [r["kind"] for r in company["reasons"]] == ["reference", "list_column"]
    assert case["unindexed_filters"] == [{"field": "escalated", "saved_views": 1}]
    assert api_as("agent").get(API).status_code == 403
    assert api_as("outsider").get(API).status_code == 404


def test_an_index_an_earlier_version_made_is_listed_until_a_publish_drops_it(app, api_as, published):
    from formloom.store.expressions import create_index_sql
    db = app.extensions["formloom.db"]
    desk, _version = app.extensions["formloom.catalog"].get("desk")
    with db.write() as conn:
        conn.exec_driver_sql(create_index_sql(db.engine.dialect.name, "desk", "case",
                                              desk.entity("case").field("escalated")))
    case = next(e for e in api_as("admin").get(API).get_json()["entities"] if e["entity"] == "case")
    stale = next(x for x in case["indexes"] if x["name"] == "ixf_desk_case_escalated")
    assert stale["kind"] == "stale"
    assert stale["reasons"][0]["text"] == "Left from an earlier version: the next publish drops it"
