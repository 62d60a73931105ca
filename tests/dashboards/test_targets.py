"""Targets: a lead sets each seller's monthly target on a number card; the card shows
attainment against the targets of the people it counts (a seller their own, the lead the
team's, summed over the period's months); sellers cannot set targets; a bad value is a
422 that keeps what was typed and saves nothing.

    deals created in March (Shanghai): Ann d1, d3 · Bob d4, d6  (d2 is 1 April local time)
"""
from __future__ import annotations

import re

import time_machine

from .test_pages import NOW, client_for, site  # noqa: F401  (the fixture)

TARGETS = "/apps/shop/dashboards/board/targets"


def attainment(html: str, key: str) -> str:
    section = html[html.index(f'id="widget-{key}"'):]
    match = re.search(r'class="small attainment">.*?</meter>\s*([^<]*)<', section[:section.index("</section>")], re.S)
    return match.group(1).strip() if match else ""


@time_machine.travel(NOW, tick=False)
def test_a_lead_sets_targets_and_the_card_shows_attainment(site, shop_db):
    people = shop_db[3]
    lead = client_for(site, "lead@example.com")
    page = lead.get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert "Ann Seller" in page and "Bob Seller" in page and 'name="t-deals-' in page
    assert 'name="t-won_amount-' in page                # a sum card with a date takes targets too
    answer = lead.post(TARGETS, data={"month": "2026-03", f"t-deals-{people['a']}": "2", f"t-deals-{people['b']}": "4"})
    assert answer.status_code == 303
    team = lead.get("/apps/shop/dashboards/board?period=last_month").get_data(as_text=True)
    assert attainment(team, "deals") == "66.7% of the target 6"          # 4 deals of 2 + 4
    ann = client_for(site, "a@example.com").get("/apps/shop/dashboards/board?period=last_month").get_data(as_text=True)
    assert attainment(ann, "deals") == "100.0% of the target 2"          # her 2 of her 2
    narrowed = lead.get(f"/apps/shop/dashboards/board?period=last_month&owner={people['b']}").get_data(as_text=True)
    assert attainment(narrowed, "deals") == "50.0% of the target 4"
    assert attainment(lead.get("/apps/shop/dashboards/board?period=this_month").get_data(as_text=True), "deals") == ""
    assert attainment(lead.get("/apps/shop/dashboards/board?period=last_30_days").get_data(as_text=True), "deals") == ""
    api = lead.get("/apps/shop/dashboards/board.json?period=last_month").get_json()
    deals = {w["key"]: w for w in api["widgets"]}["deals"]
    assert deals["personal_target"] == 6 and round(deals["attainment"], 3) == 0.667
    again = lead.post(TARGETS, data={"month": "2026-03", f"t-deals-{people['a']}": "", f"t-deals-{people['b']}": "4"})
    assert again.status_code == 303
    assert attainment(lead.get("/apps/shop/dashboards/board?period=last_month").get_data(as_text=True),
                      "deals") == "100.0% of the target 4"


@time_machine.travel(NOW, tick=False)
def test_sellers_cannot_set_targets_and_bad_values_are_refused(site, shop_db):
    people = shop_db[3]
    ann = client_for(site, "a@example.com")
    assert ann.get(TARGETS).status_code == 404
    assert ann.post(TARGETS, data={f"t-deals-{people['a']}": "99"}).status_code == 404
    assert "Set targets" not in ann.get("/apps/shop/dashboards/board").get_data(as_text=True)
    lead = client_for(site, "lead@example.com")
    assert "Set targets" in lead.get("/apps/shop/dashboards/board").get_data(as_text=True)
    bad = lead.post(TARGETS, data={"month": "2026-03", f"t-deals-{people['a']}": "lots", f"t-deals-{people['b']}": "4"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'value="lots"' in html and "Write a number from 0 up" in html
    assert f'name="t-deals-{people["b"]}" value=""' in lead.get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert "value=\"lots\"" not in lead.get(f"{TARGETS}?month=2026-03").get_data(as_text=True)   # nothing saved
    assert lead.get(f"{TARGETS}?month=2026-13").status_code == 400
    zh = client_for(site, "zh@example.com").get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert "2026-03 的目标" in zh and "保存目标" in zh
