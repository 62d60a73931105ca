"""The dashboard builder: an app admin adds a dashboard and widgets to the app's draft
(with a live preview), moves, resizes and removes them, and publishes through the
designer's Publish; people outside the dashboard's roles never see it, and bad input
is a located 422, never a 500."""
from __future__ import annotations

import re

import time_machine

from ..dashboards.conftest import shop_db  # noqa: F401
from ..dashboards.test_pages import NOW, client_for, site  # noqa: F401

BASE = "/apps/shop/design/dashboards"


def revision(html: str) -> str:
    return re.search(r'name="revision" value="(\d+)"', html).group(1)


def post(client, url, data, page):
    return client.post(url, data={**data, "revision": revision(client.get(page).get_data(as_text=True))})


@time_machine.travel(NOW, tick=False)
def test_an_admin_builds_a_dashboard_and_publishes_it(site):
    admin = client_for(site, "admin@example.com")
    answer = post(admin, BASE, {"label-en": "Channels", "label-zh": "渠道", "roles": ["lead"]}, BASE)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"{BASE}/channels")
    form = admin.get(f"{BASE}/channels/widgets/new?entity=deal").get_data(as_text=True)
    for kind in ("Number card", "Pivot table", "Stage funnel"):      # from the registry of widget kinds
        assert kind in form
    preview = admin.get(f"{BASE}/channels/preview?type=pie&entity=deal&agg=count&group_by=channel&label-en=By+channel")
    assert preview.status_code == 200 and 'data-chart="chart-data-preview"' in preview.get_data(as_text=True)
    bad = admin.get(f"{BASE}/channels/preview?type=pie&entity=deal&agg=sum&field=name&group_by=channel")
    assert "&#39;sum&#39; needs a number" in bad.get_data(as_text=True)
    new = f"{BASE}/channels/widgets/new"
    for label, extra in (("By channel", {"type": "pie", "group_by": "channel"}),
                         ("Deals", {"type": "number", "target": "5"}),
                         ("Grid", {"type": "pivot", "group_by": "$stage", "across_by": "channel"})):
        answer = post(admin, new, {"entity": "deal", "agg": "count", "label-en": label, **extra}, f"{BASE}/channels")
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    board = f"{BASE}/channels"
    post(admin, f"{board}/widgets/grid/layout", {"action": "up"}, board)
    post(admin, f"{board}/widgets/grid/layout", {"action": "width-3"}, board)
    post(admin, f"{board}/widgets/by_channel/layout", {"action": "remove"}, board)
    html = admin.get(board).get_data(as_text=True)
    assert html.index('id="w-grid"') < html.index('id="w-deals"') and 'id="w-by_channel"' not in html
    assert admin.get("/apps/shop/dashboards/channels").status_code == 404          # a draft: nobody sees it yet
    answer = post(admin, "/apps/shop/design/publish", {"comment": "channels"}, "/apps/shop/design")
    assert answer.status_code == 303
    lead = client_for(site, "lead@example.com").get("/apps/shop/dashboards/channels?period=all").get_data(as_text=True)
    assert 'id="widget-grid"' in lead and "widget w3" in lead and "Target ≥ 5" in lead
    assert client_for(site, "a@example.com").get("/apps/shop/dashboards/channels").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_bad_widget_input_is_a_located_422(site):
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    answer = post(admin, f"{board}/widgets/new", {"type": "bar", "entity": "deal", "label-en": "X", "group_by": "$stage",
                                                  "filter-source": "json", "filter-json": "{not json"}, board)
    assert answer.status_code == 422 and "This is not valid JSON (line 1, column 2)" in answer.get_data(as_text=True)
    answer = post(admin, f"{board}/widgets/new", {"type": "bar", "entity": "deal", "label-en": "Deals",
                                                  "key": "deals"}, board)
    assert answer.status_code == 422 and "already has a widget with the key" in answer.get_data(as_text=True)
    assert post(admin, f"{board}/widgets/deals/layout", {"action": "explode"}, board).status_code == 400
    answer = post(admin, BASE, {"label-en": "Odd", "key": "Odd Key"}, BASE)
    assert answer.status_code == 422 and "A key is lower-case letters" in answer.get_data(as_text=True)
    assert post(admin, BASE, {"label-zh": "只有中文"}, BASE).status_code == 422
    assert client_for(site, "lead@example.com").get(board).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_a_widget_that_breaks_the_dashboard_stops_publishing_with_its_place(site):
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    post(admin, f"{board}/widgets/new", {"type": "bar", "entity": "deal", "label-en": "No group"}, board)
    html = admin.get(board).get_data(as_text=True)
    assert "needs a &#39;group&#39;" in html and "$.widgets[5]" in html
    answer = post(admin, "/apps/shop/design/publish", {}, "/apps/shop/design")
    assert answer.status_code == 422


@time_machine.travel(NOW, tick=False)
def test_the_default_owner_filter_set_in_the_builder(site):
    from ..dashboards.test_pages import number
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    settings = {"label-en": "Deals board", "roles": ["lead", "seller"], "period": "all"}
    assert post(admin, f"{board}/settings", {**settings, "owner": "me"}, board).status_code == 303
    assert post(admin, "/apps/shop/design/publish", {}, "/apps/shop/design").status_code == 303
    lead = client_for(site, "lead@example.com")
    own = lead.get("/apps/shop/dashboards/board").get_data(as_text=True)
    assert number(own, "deals") == "0"                                   # the lead owns no deal
    assert "/board/deals/records?period=all&amp;owner=me" in own         # drill-down keeps the default
    everyone = lead.get("/apps/shop/dashboards/board?owner=all").get_data(as_text=True)
    assert number(everyone, "deals") == "6" and "/board/deals/records?period=all&amp;owner=all" in everyone
    assert post(admin, f"{board}/settings", {**settings, "owner": "team"}, board).status_code == 303
    assert post(admin, "/apps/shop/design/publish", {}, "/apps/shop/design").status_code == 303
    ann = client_for(site, "a@example.com").get("/apps/shop/dashboards/board")   # no team: her own, no complaint
    assert ann.status_code == 200 and number(ann.get_data(as_text=True), "deals") == "3"
    assert number(lead.get("/apps/shop/dashboards/board").get_data(as_text=True), "deals") == "6"


def builder_rows(prefix: str, rows: list[tuple[str, str, list[str]]], mode: str = "all") -> dict:
    """What the condition builder posts for `rows` of (field, operator, values)."""
    out: dict = {f"{prefix}-mode": mode, f"{prefix}-item": [str(i) for i in range(1, len(rows) + 1)]}
    for i, (field, op, values) in enumerate(rows, start=1):
        out.update({f"{prefix}-{i}-field": field, f"{prefix}-{i}-op": op, f"{prefix}-{i}-value": values})
    return out


@time_machine.travel(NOW, tick=False)
def test_a_widget_filter_is_built_with_the_condition_builder_and_saved_as_json_logic(site):
    from formloom.design import drafts
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    form = admin.get(f"{board}/widgets/new?entity=deal").get_data(as_text=True)
    assert 'data-prefix="filter"' in form and 'data-prefix="of_filter"' in form and 'id="w-filter"' in form
    assert '<option value="$stage">Stage</option>' in form and '<option value="channel">Channel</option>' in form
    rows = builder_rows("filter", [("$stage", "in", ["won", "offer"]), ("amount", "gte", ["150"])])
    preview = admin.get(f"{board}/preview", query_string={"type": "number", "entity": "deal", "agg": "count",
                                                          "label-en": "Big", **rows})
    assert preview.status_code == 200 and 'class="big-number' in preview.get_data(as_text=True)
    answer = post(admin, f"{board}/widgets/new", {"type": "number", "entity": "deal", "agg": "count",
                                                  "label-en": "Big deals", **rows}, board)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    edit = admin.get(f"{board}/widgets/big_deals").get_data(as_text=True)
    assert 'value="amount" selected' in edit and 'value="150"' in edit
    with site.extensions["formloom.db"].read() as conn:
        draft = drafts.load_draft(conn, "shop")
    widget = next(w for w in draft.documents["dashboards"]["board"]["widgets"] if w["key"] == "big_deals")
    assert widget["filter"] == {"and": [{"in": [{"var": "$stage"}, ["won", "offer"]]}, {">=": [{"var": "amount"}, 150]}]}


@time_machine.travel(NOW, tick=False)
def test_a_condition_a_dashboard_cannot_count_is_refused_at_its_row_in_the_admins_language(site):
    board = f"{BASE}/board"
    for email, said in (("admin@example.com", "A dashboard cannot count records with “contains”"),
                        ("zh@example.com", "仪表板无法按“包含”统计记录")):
        admin = client_for(site, email)
        rows = builder_rows("filter", [("channel", "eq", ["web"]), ("name", "contains", ["acme"])])
        answer = post(admin, f"{board}/widgets/new", {"type": "number", "entity": "deal", "agg": "count",
                                                      "label-en": "Acme", **rows}, board)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 422 and said in html
        row = html[html.index('data-cb-item="2"'):]
        assert row.index(said) < row.index("</li>")                  # said at the second row, the one asking it
        preview = admin.get(f"{board}/preview", query_string={"type": "number", "entity": "deal", "agg": "count", **rows})
        assert said in preview.get_data(as_text=True)


@time_machine.travel(NOW, tick=False)
def test_editing_a_widget_keeps_what_the_form_does_not_show(site):
    """The shop's "By stage" bar gets a second, weighted measure in its document; saved again
    from the form (with a condition on the owner) it keeps it, and the first measure's label."""
    from formloom.design import drafts
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    db = site.extensions["formloom.db"]
    with db.write() as conn:
        draft = drafts.open_draft(conn, "shop", None)
        docs = draft.documents
        widget = next(w for w in docs["dashboards"]["board"]["widgets"] if w["key"] == "by_stage")
        widget["measures"].append({"key": "amount", "agg": "sum", "field": "amount", "weighted": True})
        drafts.save_draft(conn, "shop", docs, draft.revision, None)
    rows = builder_rows("filter", [("$owner", "eq", ["1"])])
    answer = post(admin, f"{board}/widgets/by_stage", {"type": "bar", "entity": "deal", "agg": "count",
                                                       "group_by": "$stage", "label-en": "By stage", **rows}, board)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    with db.read() as conn:
        saved = next(w for w in drafts.load_draft(conn, "shop").documents["dashboards"]["board"]["widgets"]
                     if w["key"] == "by_stage")
    assert saved["measures"][1] == {"key": "amount", "agg": "sum", "field": "amount", "weighted": True}
    assert saved["measures"][0]["label"] == {"en": "Deals", "zh": "交易数"}
    assert saved["filter"] == {"==": [{"var": "$owner"}, 1]}


@time_machine.travel(NOW, tick=False)
def test_a_widget_counts_related_records_and_weights_by_probability_from_the_form(site):
    admin = client_for(site, "admin@example.com")
    board = f"{BASE}/board"
    form = admin.get(f"{board}/widgets/new?entity=account").get_data(as_text=True)
    assert '<option value="deal.account" >Deal · Account</option>' in form         # deals point at accounts
    assert '<option value="$related_count"' not in form                             # offered once related is picked
    form = admin.get(f"{board}/widgets/new?entity=account&related=deal.account").get_data(as_text=True)
    assert '<option value="$related_count" data-kind="number" >Related records</option>' in form
    rows = builder_rows("filter", [("$last_activity_days", "gte", ["30"])])
    stale = {"type": "number", "entity": "account", "related": "deal.account", "agg": "count",
             "label-en": "Quiet accounts", **rows}
    preview = admin.get(f"{board}/preview", query_string=stale).get_data(as_text=True)
    assert re.search(r'class="big-number[^"]*"[^>]*>\s*2\s*<', preview)   # bolt and core: no deal for 30 days
    assert post(admin, f"{board}/widgets/new", stale, board).status_code == 303
    weighted = {"type": "number", "entity": "deal", "agg": "sum", "field": "amount", "weighted": "1",
                "label-en": "Weighted pipeline"}
    assert post(admin, f"{board}/widgets/new", weighted, board).status_code == 303
    from formloom.design import drafts
    with site.extensions["formloom.db"].read() as conn:
        widgets = {w["key"]: w for w in drafts.load_draft(conn, "shop").documents["dashboards"]["board"]["widgets"]}
    assert widgets["quiet_accounts"]["related"] == {"entity": "deal", "via": "account"}
    assert widgets["quiet_accounts"]["filter"] == {">=": [{"var": "$last_activity_days"}, 30]}
    assert widgets["weighted_pipeline"]["measures"] == [{"agg": "sum", "weighted": True, "field": "amount"}]
    bad = post(admin, f"{board}/widgets/new", {**stale, "related": "deal", "label-en": "Odd"}, board)
    assert bad.status_code == 422 and "Pick the related records from the list." in bad.get_data(as_text=True)
