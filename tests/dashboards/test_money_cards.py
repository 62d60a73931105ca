"""A number card that adds up a money field shows the amount the way record pages do: with
the field's currency symbol, in the card, its previous period and its target."""
from __future__ import annotations

import pytest
import time_machine

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents

from . import shop
from .test_pages import NOW, client_for, number


@pytest.fixture
def money_site(database_url, tmp_path, db):
    app_doc = shop.shop_app()
    deal = next(e for e in app_doc["entities"] if e["key"] == "deal")
    amount = next(f for f in deal["fields"] if f["key"] == "amount")
    amount.update(type="money", currency="USD")
    board = shop.board()
    board["widgets"][0]["target"] = {"value": 1000}
    install_documents(db, app_doc, {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": board})
    with db.write() as conn:
        lead = create_user(conn, "lead@example.com", "pw-123456789", name="Lena Lead", roles=[("shop", "lead")])
        people = {"lead": lead,
                  "admin": create_user(conn, "admin@example.com", "pw-123456789", name="Ada", roles=[("shop", "admin")]),
                  "a": create_user(conn, "a@example.com", "pw-123456789", name="Ann", roles=[("shop", "seller")],
                                   manager_id=lead),
                  "b": create_user(conn, "b@example.com", "pw-123456789", name="Bob", roles=[("shop", "seller")],
                                   manager_id=lead)}
    app, version_id = AppCatalog(db).get("shop")
    shop.seed(db, app, version_id, people)
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "dash-test",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@time_machine.travel(NOW, tick=False)
def test_a_money_card_shows_the_fields_currency(money_site):
    page = client_for(money_site, "lead@example.com").get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    assert number(page, "won_amount") == "$600.00"          # d1 + d2 + d4
    assert number(page, "deals") == "6"                     # a count stays a plain number
    month = client_for(money_site, "lead@example.com").get("/apps/shop/dashboards/board").get_data(as_text=True)
    assert "Previous period: $300.00" in month               # March: d1 + d4
    assert "Target ≥ $1,000.00" in month                     # the target, in the same money


@pytest.fixture
def chart_site(database_url, tmp_path, db):
    """The shop with money amounts in yuan and a bar of amount and deal count by stage."""
    app_doc = shop.shop_app()
    deal = next(e for e in app_doc["entities"] if e["key"] == "deal")
    next(f for f in deal["fields"] if f["key"] == "amount").update(type="money", currency="CNY")
    board = shop.board()
    board["widgets"].append({"key": "amount_by_stage", "type": "bar", "entity": "deal", "format": "money",
                             "label": {"en": "Amount by stage", "zh": "各阶段金额"}, "group": {"by": "$stage"},
                             "measures": [{"agg": "sum", "field": "amount", "label": {"en": "Amount", "zh": "金额"}},
                                          {"agg": "count", "label": {"en": "Deals", "zh": "交易数"}}]})
    install_documents(db, app_doc, {"deal_flow": shop.deal_flow()}, dashboard_docs={"board": board})
    with db.write() as conn:
        lead = create_user(conn, "lead@example.com", "pw-123456789", name="Lena", roles=[("shop", "lead")])
        zh = create_user(conn, "zh@example.com", "pw-123456789", name="Zhang", language="zh", roles=[("shop", "admin")])
        people = {"lead": lead, "zh": zh,
                  "admin": create_user(conn, "admin@example.com", "pw-123456789", name="Ada", roles=[("shop", "admin")]),
                  "a": create_user(conn, "a@example.com", "pw-123456789", name="Ann", roles=[("shop", "seller")],
                                   manager_id=lead),
                  "b": create_user(conn, "b@example.com", "pw-123456789", name="Bob", roles=[("shop", "seller")],
                                   manager_id=lead)}
    app, version_id = AppCatalog(db).get("shop")
    shop.seed(db, app, version_id, people)
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "dash-test",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": False})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


def _chart(page: str, key: str) -> dict:
    import json
    import re
    found = re.search(rf'<script type="application/json" id="chart-data-{key}">(.*?)</script>', page, re.S)
    assert found, key
    return json.loads(found.group(1))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("email", ["lead@example.com", "zh@example.com"])
def test_a_money_chart_carries_the_currency_sign_to_its_axis_tooltips_and_table(chart_site, email):
    """Won: d1 100 + d2 300 + d4 200 = 600 (three deals); the count beside it stays a plain number."""
    page = client_for(chart_site, email).get("/apps/shop/dashboards/board?period=all").get_data(as_text=True)
    chart = _chart(page, "amount_by_stage")
    amount, deals = chart["series"]
    assert (amount["format"], amount["symbol"], amount["currency"]) == ("money", "¥", "CNY")
    assert deals["format"] == "number" and "symbol" not in deals
    table = page[page.index('id="widget-amount_by_stage"'):]
    table = table[:table.index("</section>")]
    assert "<td class=\"num\">¥600.00</td>" in table and "<td class=\"num\">3</td>" in table
