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


@time_machine.travel(NOW, tick=False)
def test_a_team_target_stands_for_its_peoples_where_the_card_counts_the_whole_team(site, shop_db):
    """Lena leads Ann and Bob. March targets: Ann 2, Bob 4, the team 10. March deals: Ann 2, Bob 2."""
    people = shop_db[3]
    lead = client_for(site, "lead@example.com")
    page = lead.get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert f'name="g-deals-{people["lead"]}"' in page and "Team of Lena Lead" in page
    answer = lead.post(TARGETS, data={"month": "2026-03", f"t-deals-{people['a']}": "2", f"t-deals-{people['b']}": "4",
                                      f"g-deals-{people['lead']}": "10"})
    assert answer.status_code == 303
    assert f'name="g-deals-{people["lead"]}" value="10"' in lead.get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    march = "/apps/shop/dashboards/board?period=last_month"
    assert attainment(lead.get(march).get_data(as_text=True), "deals") == "40.0% of the target 10"    # the team's
    assert attainment(lead.get(f"{march}&owner=team").get_data(as_text=True), "deals") == "40.0% of the target 10"
    ann = client_for(site, "a@example.com").get(march).get_data(as_text=True)
    assert attainment(ann, "deals") == "100.0% of the target 2"          # a rep: her own, never the team's
    bob_only = lead.get(f"{march}&owner={people['b']}").get_data(as_text=True)
    assert attainment(bob_only, "deals") == "50.0% of the target 4"      # one person of the team: his own
    admin = client_for(site, "admin@example.com").get(march).get_data(as_text=True)
    assert attainment(admin, "deals") == "40.0% of the target 10"        # everyone: the team counts as one
    quarter = lead.get("/apps/shop/dashboards/board?period=custom&from=2026-02-01&to=2026-03-31").get_data(as_text=True)
    assert attainment(quarter, "deals").endswith("of the target 10")     # February has no target at all
    lead.post(TARGETS, data={"month": "2026-03", f"t-deals-{people['a']}": "2", f"t-deals-{people['b']}": "4",
                             f"g-deals-{people['lead']}": ""})
    assert attainment(lead.get(march).get_data(as_text=True), "deals") == "66.7% of the target 6"     # back to 2 + 4


@time_machine.travel(NOW, tick=False)
def test_only_managers_and_admins_set_team_targets_and_bad_ones_are_refused(site, shop_db):
    people = shop_db[3]
    admin = client_for(site, "admin@example.com").get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert f'name="g-deals-{people["lead"]}"' in admin and f'name="g-deals-{people["a"]}"' not in admin   # Ann leads no one
    lead = client_for(site, "lead@example.com")
    bad = lead.post(TARGETS, data={"month": "2026-03", f"g-deals-{people['lead']}": "-5"})
    assert bad.status_code == 422 and 'value="-5"' in bad.get_data(as_text=True)
    assert client_for(site, "a@example.com").post(TARGETS, data={f"g-deals-{people['lead']}": "99"}).status_code == 404
    zh = client_for(site, "zh@example.com").get(f"{TARGETS}?month=2026-03").get_data(as_text=True)
    assert "Lena Lead 的团队" in zh
