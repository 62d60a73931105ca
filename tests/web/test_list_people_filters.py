"""Lists as people use them: a shared pool readable through `read_if`, filters that take
what people see (option labels in either language, titles, names), Owner and Stage
filters and an Owner column, totals, and a stale badge that says why."""
from __future__ import annotations

import copy
import re
from datetime import datetime, timezone

import pytest
import time_machine

from formloom.app import create_app
from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app

#: The desk, where escalated cases are a pool every agent may read (not edit), and an
#: open case goes stale after 3 days.
POOL_RULE = {"==": [{"var": "escalated"}, True]}


@pytest.fixture
def app(database_url, tmp_path):
    doc = desk_app()
    doc["entities"][1]["permissions"]["agent"]["read_if"] = POOL_RULE
    flow = copy.deepcopy(CASE_FLOW)
    flow["stages"][0]["rot_after"] = "P3D"
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True,
                            "MAX_CONTENT_LENGTH": 64_000})
    install_documents(flask_app.extensions["formloom.db"], doc, {"case_flow": flow})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def cases(make_record, people):
    acme = make_record("company", {"name": "Acme Ltd."})
    globex = make_record("company", {"name": "Globex"})
    made = {
        "fire": make_record("case", {"subject": "Printer on fire", "company": acme.id, "priority": "high",
                                     "budget": "300.00"}),
        "reset": make_record("case", {"subject": "Password reset", "company": globex.id, "priority": "low"}),
        "vpn": make_record("case", {"subject": "VPN is slow", "company": acme.id, "priority": "low",
                                    "budget": "120.50"}),
        "pooled": make_record("case", {"subject": "Escalated elsewhere", "company": acme.id, "priority": "high",
                                       "escalated": True, "reason": "VIP"}, actor=people.other_agent),
        "private": make_record("case", {"subject": "Someone else's case", "priority": "high"},
                               actor=people.other_agent),
    }
    return made, acme, globex


def subjects(html: str) -> list[str]:
    return sorted(re.findall(r'class="title-link" href="[^"]+">([^<]+)</a>', html))


def board_cards(client, query: str = "") -> str:
    """The board's columns load their cards lazily: the cards of every column."""
    html = client.get(f"/apps/desk/case/board{query}").get_data(as_text=True)
    urls = re.findall(r'hx-get="([^"]+/board/cards\?[^"]+)"', html)
    assert urls
    return "".join(client.get(u.replace("&amp;", "&")).get_data(as_text=True) for u in urls)


def alert(html: str) -> str:
    match = re.search(r'role="alert">([^<]+)<', html)
    return match.group(1) if match else ""


# -- 3. a pool readable by every agent, and nothing else widened ---------------------------

def test_an_agent_reads_the_pool_in_lists_boards_details_and_the_api(as_agent, cases):
    made, _acme, _globex = cases
    pooled = made["pooled"]
    listing = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    assert subjects(listing) == ["Escalated elsewhere", "Password reset", "Printer on fire", "VPN is slow"]
    assert "Someone else" not in listing
    board = board_cards(as_agent)
    assert "Escalated elsewhere" in board and "Someone else" not in board
    assert as_agent.get(f"/apps/desk/case/{pooled.id}").status_code == 200
    assert as_agent.get(f"/apps/desk/case/{made['private'].id}").status_code == 404
    api = as_agent.get("/api/v1/desk/case").get_json()
    assert "Escalated elsewhere" in {item["data"]["subject"] for item in api["items"]}
    assert as_agent.get(f"/api/v1/desk/case/{pooled.id}").status_code == 200


def test_reading_the_pool_does_not_allow_editing_it(as_agent, cases):
    made, *_ = cases
    pooled = made["pooled"]
    assert as_agent.get(f"/apps/desk/case/{pooled.id}/edit").status_code == 403
    board = board_cards(as_agent)
    card = board.split(f'id="card-{pooled.id}"')[1].split("</article>")[0]
    assert "data-movable" not in card.split(">")[0]


# -- 4. filters take what people see ---------------------------------------------------------

@pytest.mark.parametrize("value", ["high", "High", "HIGH", "高"])
def test_a_select_filter_takes_the_value_or_a_label_in_either_language(as_agent, cases, value):
    page = as_agent.get(f"/apps/desk/case/?priority={value}").get_data(as_text=True)
    assert subjects(page) == ["Escalated elsewhere", "Printer on fire"]


def test_an_unknown_option_is_a_clear_400_in_the_users_language(browser, cases):
    browser.login("agent@example.com")
    answer = browser.get("/apps/desk/case/?priority=urgent")
    assert answer.status_code == 400
    assert alert(answer.get_data(as_text=True)) == (
        "&#39;urgent&#39; is not an option of Priority. Choose one of: Low, High.")
    browser.logout()
    browser.login("viewer@example.com")                # a zh user
    answer = browser.get("/apps/desk/case/?priority=urgent")
    assert answer.status_code == 400
    assert "不是“优先级”的选项" in answer.get_data(as_text=True) and "低, 高" in answer.get_data(as_text=True)


def test_a_reference_filter_takes_the_title(as_agent, cases):
    _made, acme, _globex = cases
    by_title = as_agent.get("/apps/desk/case/?company=acme%20ltd.").get_data(as_text=True)
    by_id = as_agent.get(f"/apps/desk/case/?company={acme.id}").get_data(as_text=True)
    assert subjects(by_title) == subjects(by_id) == ["Escalated elsewhere", "Printer on fire", "VPN is slow"]
    assert ">Acme Ltd.</strong>" in by_id                         # the chip shows the title, not the id
    not_acme = as_agent.get("/apps/desk/case/?company__ne=Acme%20Ltd.").get_data(as_text=True)
    assert subjects(not_acme) == ["Password reset"]
    both = as_agent.get("/apps/desk/case/?company__in=Globex").get_data(as_text=True)
    assert subjects(both) == ["Password reset"]


def test_the_api_takes_titles_and_labels_too(as_agent, cases):
    items = as_agent.get("/api/v1/desk/case?company=Acme%20Ltd.&priority=Low").get_json()["items"]
    assert [i["data"]["subject"] for i in items] == ["VPN is slow"]
    answer = as_agent.get("/api/v1/desk/case?budget=lots")
    assert answer.status_code == 400
    assert "'lots' is not a valid value for budget." in answer.get_data(as_text=True)    # the API names keys


def test_the_filter_panel_offers_labels_a_picker_owner_and_stage(as_agent, cases):
    page = as_agent.get("/apps/desk/case/").get_data(as_text=True)
    panel = page.split("data-filter-form")[1].split("</form>")[0]
    assert '<option value="owner" data-ops="eq">Owner</option>' in panel
    assert '<option value="stage" data-ops="eq">Stage</option>' in panel
    assert '<option value="high">High</option>' in panel             # options by label
    assert 'data-filter-value="company"' in panel and "/apps/desk/case/pick/company" in panel
    assert '<option value="open">Open</option>' in panel
    assert 'value="owner"' in page.split("columns-form")[1]           # an Owner column to choose


def test_owner_filter_takes_a_name_an_email_or_me(browser, cases, people):
    browser.login("viewer@example.com")                 # reads every case
    for owner in ("Olga%20Other", "other@example.com", "OLGA OTHER", str(people.other_agent)):
        page = browser.get(f"/apps/desk/case/?owner={owner}").get_data(as_text=True)
        assert subjects(page) == ["Escalated elsewhere", "Someone else&#39;s case"], owner
    assert subjects(browser.get("/apps/desk/case/?owner=me").get_data(as_text=True)) == []
    assert subjects(browser.get("/apps/desk/case/?owner=nobody").get_data(as_text=True)) == []


def test_stage_filter_takes_the_key_or_a_label(browser, cases):
    browser.login("viewer@example.com")
    for stage in ("open", "Open", "待处理"):
        assert len(subjects(browser.get(f"/apps/desk/case/?stage={stage}").get_data(as_text=True))) == 5
    answer = browser.get("/apps/desk/case/?stage=archived")
    assert answer.status_code == 400
    assert "不是这里的阶段" in answer.get_data(as_text=True) and "待处理, 已关闭" in answer.get_data(as_text=True)


def test_owner_column(browser, cases):
    browser.login("viewer@example.com")
    page = browser.get("/apps/desk/case/?cols=subject,owner&sort=subject").get_data(as_text=True)
    header = page.split("<thead>")[1].split("</thead>")[0]
    assert "负责人" in header or "Owner" in header
    assert "Olga Other" in page and "Alex Agent" in page


@pytest.mark.parametrize("query", [
    "budget=abc", "budget__gte=1e999", "due=2026-13-01", "priority=nope", "company=%00", "owner=%00x",
    "stage=%00", "escalated=maybe", "owner=99999999999999999999999", "company=99999999999999999999999",
    "company__in=,,,", "nope=1", "subject__gte=a", "limit=0", "offset=-1", "sort=nope",
])
def test_bad_filter_values_are_400_never_500(as_agent, cases, query):
    for path in ("/apps/desk/case/", "/api/v1/desk/case", "/apps/desk/case/board"):
        answer = as_agent.get(f"{path}?{query}")
        assert answer.status_code in (200, 400), (path, query, answer.status_code)


# -- 8. totals and the stale badge -------------------------------------------------------------

def test_the_list_shows_its_total(as_agent, cases):
    page = as_agent.get("/apps/desk/case/?limit=2&sort=subject").get_data(as_text=True)
    assert "Records 1–2" in page and "4 records" in page
    page = as_agent.get("/apps/desk/case/?priority=high").get_data(as_text=True)
    assert "2 records" in page


def test_the_stale_badge_says_since_when_and_why(app, browser, people):
    from formloom.store.apps import AppCatalog
    from formloom.store.records import create_record
    db = app.extensions["formloom.db"]
    desk, version_id = AppCatalog(db).get("desk")
    with time_machine.travel(datetime(2030, 3, 2, 3, 0, tzinfo=timezone.utc), tick=False):
        with db.write() as conn:
            old = create_record(conn, desk, desk.entity("case"), {"subject": "Forgotten"}, actor_id=people.agent,
                                version_id=version_id)
    with time_machine.travel(datetime(2030, 3, 20, 3, 0, tzinfo=timezone.utc), tick=False):
        browser.login("agent@example.com")
        board = board_cards(browser)
        detail = browser.get(f"/apps/desk/case/{old.id}").get_data(as_text=True)
    why = "In Open since 2030-03-02 — stale after 3 days"      # the date in the app's zone (Asia/Shanghai)
    card = board.split(f'id="card-{old.id}"')[1].split("</article>")[0]
    assert f'title="{why}"' in card and f'<span class="visually-hidden">: {why}</span>' in card
    assert f'title="{why}"' in detail


def test_totals_and_owner_column_in_chinese(browser, cases):
    browser.login("viewer@example.com")
    page = browser.get("/apps/desk/case/?cols=subject,owner").get_data(as_text=True)
    pager = page.split('class="pager"')[1].split("</nav>")[0]
    assert "共 5 条记录" in pager
    assert "负责人" in page.split("<thead>")[1].split("</thead>")[0]
