"""The drill-down page and the pivot on the dashboard page: a lead clicks a number and
lands on a list of exactly that many records, under the page's period and owner filter;
a seller's drill-down holds only their own records; in Chinese too."""
from __future__ import annotations

import re

import time_machine

from formloom.store.install import install_documents

from . import shop
from .test_pages import NOW, client_for, site  # noqa: F401  (the fixture)

PIVOT = {"key": "grid", "type": "pivot", "entity": "deal", "label": {"en": "Stage by channel", "zh": "阶段 × 渠道"},
         "measures": [{"agg": "count"}], "group": {"by": "$stage"}, "across": {"by": "channel"}, "width": 3}


def with_pivot(shop_db):
    db = shop_db[0]
    board = shop.board()
    board["widgets"].append(PIVOT)
    install_documents(db, shop.shop_app(), {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": board})


def drill_count(html: str) -> int:
    return int(re.search(r'class="drill-count" data-count="(\d+)"', html).group(1))


@time_machine.travel(NOW, tick=False)
def test_every_link_on_the_page_opens_as_many_records_as_it_shows(site, shop_db):
    with_pivot(shop_db)
    lead = client_for(site, "lead@example.com")
    html = lead.get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    numbers = re.findall(r'<a href="([^"]+)" class="drill"[^>]*>([0-9,]+)</a>', html)        # cards, pivot cells
    rows = re.findall(r'<th scope="row"><a href="([^"]+)" class="drill">[^<]*</a></th>\s*<td class="num">([0-9,]+)<',
                      html)                                                           # bars, steps: their table
    assert len(numbers) >= 30 and len(rows) >= 9
    for url, shown in [(u, n) for u, n in numbers + rows if "/won_amount/" not in u]:   # counts, not sums
        page = lead.get(url.replace("&amp;", "&"))
        assert page.status_code == 200, url
        assert drill_count(page.get_data(as_text=True)) == int(shown.replace(",", "")), url


@time_machine.travel(NOW, tick=False)
def test_the_pivot_shows_rows_columns_and_totals(site, shop_db):
    with_pivot(shop_db)
    html = client_for(site, "lead@example.com").get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    grid = html[html.index('id="widget-grid"'):]
    grid = grid[:grid.index("</section>")]
    assert "pivot-table" in grid and ">Web<" in grid and ">Total<" in grid
    csv = client_for(site, "lead@example.com").get("/apps/shop/dashboards/board/grid.csv?period=all")
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Stage,Web,shop,phone,mail,—,Total"
    assert lines[4] == "Won,2.0,1.0,0.0,0.0,0.0,3.0"
    assert lines[-1] == "Total,3.0,1.0,1.0,0.0,1.0,6.0"


@time_machine.travel(NOW, tick=False)
def test_a_drill_down_keeps_the_period_and_the_owner(site, shop_db):
    people = shop_db[3]
    lead = client_for(site, "lead@example.com")
    march = lead.get("/apps/shop/dashboards/board/deals/records?period=last_month").get_data(as_text=True)
    assert drill_count(march) == 4
    bob = lead.get(f"/apps/shop/dashboards/board/by_stage/records?period=all&owner={people['b']}&row=new")
    assert drill_count(bob.get_data(as_text=True)) == 1 and ">d6<" in bob.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_a_sellers_drill_down_holds_only_their_records(site):
    html = client_for(site, "a@example.com").get("/apps/shop/dashboards/board/by_stage/records?period=all&row=won")
    text = html.get_data(as_text=True)
    assert drill_count(text) == 2 and ">d1<" in text and ">d2<" in text and ">d4<" not in text


@time_machine.travel(NOW, tick=False)
def test_the_drill_down_in_chinese_and_its_bad_addresses(site):
    zh = client_for(site, "zh@example.com")
    text = zh.get("/apps/shop/dashboards/board/funnel/records?period=all&row=talk").get_data(as_text=True)
    assert drill_count(text) == 5 and "洽谈" in text and "返回看板" in text
    assert zh.get("/apps/shop/dashboards/board/nope/records").status_code == 404
    assert zh.get("/apps/shop/dashboards/board/funnel/records?offset=-1").status_code == 400
    assert zh.get("/apps/shop/dashboards/board/funnel/records?row=" + "x" * 5000).status_code == 200
