"""The dashboard builder makes widgets of series: the admin turns a bar into a comparison of
entities, adds and removes series (each with its own entity, measure, date and filter from
pickers), sees the live preview with one bar per series, saves to the draft and publishes
through the designer's Publish like any widget."""
from __future__ import annotations

import re

import time_machine

from ..dashboards.conftest import shop_db  # noqa: F401
from ..dashboards.test_pages import NOW, client_for, site  # noqa: F401
from .test_dashboard_builder import BASE, builder_rows, post

BOARD = f"{BASE}/board"
NEW = f"{BOARD}/widgets/new"
WIDGET = {"type": "bar", "entity": "deal", "agg": "sum", "field": "amount", "date": "$created",
          "label-en": "Deals vs accounts", "label-zh": "交易与客户", "group_bucket": "month"}


def selected(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}"[^>]*>.*?<option value="([^"]*)" selected', html, re.S)
    return found.group(1) if found else ""


@time_machine.travel(NOW, tick=False)
def test_an_admin_adds_and_removes_series_with_their_own_pickers(site):
    admin = client_for(site, "admin@example.com")
    form = admin.get(f"{NEW}?entity=deal&type=bar").get_data(as_text=True)
    assert 'id="series-add"' in form and "Compare several entities" in form
    two = post(admin, NEW, {**WIDGET, "series_action": "add"}, BOARD)
    assert two.status_code == 200
    html = two.get_data(as_text=True)
    assert 'name="series_count" value="2"' in html and 'data-prefix="s0_filter"' in html and 'data-prefix="s1_filter"' in html
    assert selected(html, "s0_entity") == "deal" and selected(html, "s0_field") == "amount"
    assert selected(html, "s0_date") == "$created" and selected(html, "s1_entity") == "account"
    assert 'name="entity"' not in html                  # each series says its own entity
    one = post(admin, NEW, {**WIDGET, "series_count": "2", "s0_entity": "deal", "s0_agg": "count",
                            "s1_entity": "account", "s1_agg": "count", "s1_date": "$created",
                            "series_action": "remove-0"}, BOARD).get_data(as_text=True)
    assert 'name="series_count" value="1"' in one and selected(one, "s0_entity") == "account"
    assert selected(one, "s0_date") == "$created"


@time_machine.travel(NOW, tick=False)
def test_a_widget_of_series_previews_saves_to_the_draft_and_publishes(site):
    from formloom.design import drafts
    admin = client_for(site, "admin@example.com")
    rows = {"series_count": "2",
            "s0_key": "won", "s0_label-en": "Won amount", "s0_label-zh": "赢单金额", "s0_entity": "deal",
            "s0_agg": "sum", "s0_field": "amount", "s0_date": "$created",
            **builder_rows("s0_filter", [("$stage", "in", ["won"])]),
            "s1_key": "accounts", "s1_label-en": "Accounts", "s1_entity": "account", "s1_agg": "count",
            "s1_date": "$created"}
    base = {k: v for k, v in WIDGET.items() if k not in ("entity", "agg", "field", "date")}
    preview = admin.get(f"{BOARD}/preview", query_string={**base, **rows})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-chart="chart-data-preview"' in page
    assert "Won amount" in page and "Accounts" in page
    bad = admin.get(f"{BOARD}/preview", query_string={**base, **rows, "s1_date": "name"}).get_data(as_text=True)
    assert "&#39;name&#39; is not a date" in bad
    answer = post(admin, NEW, {**base, **rows}, BOARD)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    with site.extensions["formloom.db"].read() as conn:
        draft = drafts.load_draft(conn, "shop")
    widget = next(w for w in draft.documents["dashboards"]["board"]["widgets"] if w["key"] == "deals_vs_accounts")
    assert "entity" not in widget and widget["group"] == {"bucket": "month"}
    assert widget["series"] == [
        {"key": "won", "label": {"en": "Won amount", "zh": "赢单金额"}, "entity": "deal",
         "measures": [{"agg": "sum", "field": "amount"}], "date": "$created",
         "filter": {"in": [{"var": "$stage"}, ["won"]]}},
        {"key": "accounts", "label": {"en": "Accounts"}, "entity": "account", "measures": [{"agg": "count"}],
         "date": "$created"}]
    edit = admin.get(f"{BOARD}/widgets/deals_vs_accounts").get_data(as_text=True)
    assert selected(edit, "s1_entity") == "account" and 'value="Won amount"' in edit
    assert post(admin, "/apps/shop/design/publish", {"comment": "series"}, "/apps/shop/design").status_code == 303
    lead = client_for(site, "lead@example.com")
    body = lead.get("/api/v1/shop/dashboards/board/deals_vs_accounts?period=all").get_json()
    assert body["series"] == ["Won amount", "Accounts"] and body["series_keys"] == ["won", "accounts"]
    # won deals by the month they were created: d1, d4 in March (100 + 200), d2 in April (300); accounts in January
    by_month = dict(zip(body["keys"], zip(*body["values"])))
    assert by_month["2026-03-01"] == (300.0, 0.0) and by_month["2026-04-01"] == (300.0, 0.0)
    assert by_month["2026-01-01"] == (0.0, 3.0)


@time_machine.travel(NOW, tick=False)
def test_bad_series_input_is_a_located_422_or_a_preview_problem_never_a_500(site):
    admin = client_for(site, "admin@example.com")
    rows = {"series_count": "2", "s0_entity": "deal", "s0_agg": "count", "s0_date": "$created",
            "s1_entity": "nope", "s1_agg": "count", "s1_date": "$created"}
    base = {k: v for k, v in WIDGET.items() if k not in ("entity", "agg", "field", "date")}
    preview = admin.get(f"{BOARD}/preview", query_string={**base, **rows}).get_data(as_text=True)
    assert "The app has no entity &#39;nope&#39;" in preview
    post(admin, NEW, {**base, **rows}, BOARD)           # kept in the draft, said at its place, stops publishing
    html = admin.get(BOARD).get_data(as_text=True)
    assert "The app has no entity &#39;nope&#39;" in html and "$.widgets[5].series[1].entity" in html
    assert post(admin, "/apps/shop/design/publish", {}, "/apps/shop/design").status_code == 422
    post(admin, f"{BOARD}/widgets/deals_vs_accounts/layout", {"action": "remove"}, BOARD)
    for odd in ({"series_count": "x"}, {"series_count": "999"}, {"series_action": "remove-77"},
                {"series_action": "boom"}, {"s0_agg": "ratio"}, {"s0_key": "Bad Key"}):
        answer = post(admin, NEW, {**base, **rows, "s1_entity": "account", **odd}, BOARD)
        assert answer.status_code in (200, 303, 422), (odd, answer.status_code)
    ratio = post(admin, NEW, {**base, **rows, "s1_entity": "account", "s0_agg": "ratio"}, BOARD)
    assert ratio.status_code == 422 and "A series counts, adds up or averages" in ratio.get_data(as_text=True)
