"""The dashboard page and its JSON: each viewer sees numbers under their own data
scope, in their language, with the period and owner filters; a dashboard is listed
in the menu only for the roles it names; bad filters get a clear 400, never a 500."""
from __future__ import annotations

import re

import pytest
import time_machine

from formloom.app import create_app
from formloom.auth.users import create_user

from . import shop

NOW = "2026-04-15T04:00:00+00:00"


@pytest.fixture
def site(database_url, tmp_path, shop_db):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "dash-test",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    db = flask_app.extensions["formloom.db"]
    with db.write() as conn:
        create_user(conn, "zh@example.com", "pw-123456789", name="Zhang", language="zh", roles=[("shop", "admin")])
    yield flask_app
    db.dispose()


def client_for(site, email):
    client = site.test_client()
    assert client.post("/login", data={"email": email, "password": "pw-123456789"}).status_code == 302
    return client


def number(html: str, key: str) -> str:
    match = re.search(rf'id="widget-{key}".*?class="big-number[^"]*"[^>]*>(?:<a [^>]*>)?([^<]*)<', html, re.S)
    assert match, key
    return match.group(1)


@time_machine.travel(NOW, tick=False)
def test_a_seller_sees_their_own_numbers_and_a_lead_the_teams(site):
    ann = client_for(site, "a@example.com").get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    lead = client_for(site, "lead@example.com").get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    assert number(ann, "deals") == "3"
    assert number(ann, "won_amount") == "400"         # d1 + d2
    assert number(lead, "deals") == "6"
    assert number(lead, "won_amount") == "600"


@time_machine.travel(NOW, tick=False)
def test_the_period_changes_the_numbers(site):
    lead = client_for(site, "lead@example.com")
    april = lead.get("/apps/shop/dashboards/board").get_data(as_text=True)     # this month by default
    march = lead.get("/apps/shop/dashboards/board?period=last_month").get_data(as_text=True)
    assert number(april, "deals") == "1"           # d2, created 1 April local time
    assert number(march, "deals") == "4"
    assert "Previous period: 300" in april


@time_machine.travel(NOW, tick=False)
def test_the_owner_filter_narrows_a_leads_numbers(site, shop_db):
    people = shop_db[3]
    lead = client_for(site, "lead@example.com")
    html = lead.get(f"/apps/shop/dashboards/board?period=all&owner={people['b']}").get_data(as_text=True)
    assert number(html, "deals") == "3"
    assert 'value="team"' in html and "Bob Seller" in html


@time_machine.travel(NOW, tick=False)
def test_a_seller_cannot_narrow_to_someone_else(site, shop_db):
    people = shop_db[3]
    answer = client_for(site, "a@example.com").get(f"/apps/shop/dashboards/board?period=all&owner={people['b']}")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "You cannot narrow the numbers to that person" in html
    assert number(html, "deals") == "3"


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("query, words", [
    ("period=forever", "The period &#39;forever&#39; is not one of the choices"),
    ("period=custom&from=2026-04-01&to=2026-03-01", "Give both custom dates as YYYY-MM-DD"),
    ("period=custom&from=yesterday", "Give both custom dates as YYYY-MM-DD"),
    ("owner=%00", "Remove the character and try again."),     # NUL: refused before any view (web/params.py)
])
def test_bad_filters_are_said_clearly(site, query, words):
    answer = client_for(site, "lead@example.com").get(f"/apps/shop/dashboards/board?{query}")
    assert answer.status_code == 400
    assert words in answer.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_the_page_in_chinese(site):
    html = client_for(site, "zh@example.com").get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    for text in ("交易看板", "赢单金额", "期间", "本月", "全部时间", "以表格显示", "新建", "洽谈"):
        assert text in html, text


@time_machine.travel(NOW, tick=False)
def test_custom_period_and_json(site):
    lead = client_for(site, "lead@example.com")
    body = lead.get("/apps/shop/dashboards/board.json?period=custom&from=2026-03-01&to=2026-03-31").get_json()
    widgets = {w["key"]: w for w in body["widgets"]}
    assert body["period"] == {"key": "custom", "start": "2026-03-01", "end": "2026-04-01"}
    assert widgets["deals"]["value"] == 4
    assert dict(zip(widgets["funnel"]["keys"], widgets["funnel"]["values"][0])) == {
        "new": 6, "talk": 5, "offer": 3, "won": 3}


@time_machine.travel(NOW, tick=False)
def test_record_list_shows_my_overdue_records_only(database_url, tmp_path, db):
    from formloom.auth.users import create_user as make_user
    from formloom.store.apps import AppCatalog
    from formloom.store.install import install_documents
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": shop.board()})
    with db.write() as conn:
        people = {k: make_user(conn, f"{k}@example.com", "pw-123456789", name=k.title(), roles=[("shop", r)])
                  for k, r in (("admin", "admin"), ("lead", "lead"), ("a", "seller"), ("b", "seller"))}
    app, vid = AppCatalog(db).get("shop")
    shop.seed(db, app, vid, people, due={"d1": "2026-04-14", "d2": "2026-04-15", "d3": "2026-01-01",
                                          "d4": "2026-04-01"})
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "INSTANCE": str(tmp_path / "i"),
                            "WTF_CSRF_ENABLED": False})
    html = client_for(flask_app, "a@example.com").get("/apps/shop/dashboards/board").get_data(as_text=True)
    section = html[html.index('id="widget-mine_due"'):]
    section = section[:section.index("</section>")]
    assert ">d1<" in section and ">d3<" in section          # due before today (15 April, Shanghai)
    assert ">d2<" not in section and ">d4<" not in section   # due today; Bob's
    flask_app.extensions["formloom.db"].dispose()


def test_the_menu_lists_dashboards_for_their_roles_only(site, shop_db):
    db, _app, _vid, _people, _ids = shop_db
    from formloom.store.install import install_documents
    only_leads = shop.board()
    only_leads["roles"] = ["lead"]
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": only_leads})
    lead = client_for(site, "lead@example.com").get("/apps/shop/").get_data(as_text=True)
    assert "/apps/shop/dashboards/board" in lead
    seller = client_for(site, "a@example.com")
    assert "/apps/shop/dashboards/board" not in seller.get("/apps/shop/").get_data(as_text=True)
    assert seller.get("/apps/shop/dashboards/board").status_code == 404
    assert seller.get("/apps/shop/dashboards/board.json").status_code == 404
    assert client_for(site, "admin@example.com").get("/apps/shop/dashboards/board").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_a_widget_downloads_as_csv_with_the_pages_filters(site, shop_db):
    db, app, vid, people, _ids = shop_db
    from formloom.store.records import create_record
    with db.write() as conn:          # a label a spreadsheet would run as a formula
        create_record(conn, app, app.entity("deal"), {"name": "=HYPERLINK(1)", "amount": 5, "due": "2026-01-01"}, actor_id=people["a"],
                      owner_id=people["a"], version_id=vid)
    lead = client_for(site, "lead@example.com")
    html = lead.get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    assert "/apps/shop/dashboards/board/by_stage.csv?period=all" in html
    answer = lead.get("/apps/shop/dashboards/board/by_stage.csv?period=all")
    assert answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Stage,Deals"
    assert lines[1:] == ["New,2.0", "Talking,1.0", "Offer,0.0", "Won,3.0", "Lost,1.0"]
    ann = client_for(site, "a@example.com").get("/apps/shop/dashboards/board/mine_due.csv").get_data(as_text=True)
    assert ann.lstrip("\ufeff").splitlines()[:2] == ["Record,Amount,Due", "'=HYPERLINK(1),5,1 Jan 2026"]
    from formloom.web.dashboards import _cell
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("-5") == "'-5" and _cell("Acme") == "Acme"
    assert lead.get("/apps/shop/dashboards/board/nope.csv").status_code == 404
