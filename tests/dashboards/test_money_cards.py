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
