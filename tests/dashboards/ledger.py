"""A small generic ledger app for the tests of widgets of series (not the CRM): orders
signed on a date, receipts counted at the moment they were recorded, two sellers and
their lead, in Asia/Shanghai. The answers are worked out by hand in test_series.py.

    orders (placed_on, a date)          receipts (recorded at, UTC -> Shanghai; status)
    o1 Ann 100  2026-01-10              r1 Ann  80  01-31 16:30Z = 02-01 00:30  received
    o2 Ann 200  2026-03-31              r2 Ann  20  03-31 15:59Z = 03-31 23:59  received
    o3 Bob 400  2026-03-01              r3 Bob 300  03-31 16:00Z = 04-01 00:00  received
    o4 Bob  50  2026-04-01              r4 Bob 999  03-10 02:00Z                 pending
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone

from formloom.auth.users import create_user
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record

PERMISSIONS = {"lead": {"create": True, "read": "team", "update": "team"},
               "seller": {"create": True, "read": "own", "update": "own"}}

LEDGER_APP = {
    "key": "ledger", "label": {"en": "Ledger", "zh": "账本"}, "version": 1, "timezone": "Asia/Shanghai",
    "roles": ["admin", "lead", "seller"],
    "entities": [
        {"key": "order", "label": {"en": "Order", "zh": "订单"}, "title": "name", "permissions": PERMISSIONS,
         "fields": [{"key": "name", "type": "text", "label": "Name", "required": True},
                    {"key": "amount", "type": "money", "currency": "CNY", "label": {"en": "Amount", "zh": "金额"}},
                    {"key": "placed_on", "type": "date", "label": {"en": "Placed on", "zh": "下单日期"}}]},
        {"key": "receipt", "label": {"en": "Receipt", "zh": "收款"}, "title": "name", "permissions": PERMISSIONS,
         "fields": [{"key": "name", "type": "text", "label": "Name", "required": True},
                    {"key": "amount", "type": "money", "currency": "CNY", "label": {"en": "Amount", "zh": "金额"}},
                    {"key": "status", "type": "select", "label": "Status", "options": ["pending", "received"]}]},
    ],
}

VERSUS = {"key": "versus", "type": "bar", "format": "money", "width": 3,
          "label": {"en": "Ordered vs received", "zh": "订单与收款"},
          "group": {"bucket": "month"},
          "series": [
              {"key": "ordered", "label": {"en": "Ordered", "zh": "订单金额"}, "entity": "order",
               "measures": [{"agg": "sum", "field": "amount"}], "date": "placed_on"},
              {"key": "received", "label": {"en": "Received", "zh": "已收款"}, "entity": "receipt",
               "measures": [{"agg": "sum", "field": "amount"}],
               "filter": {"==": [{"var": "status"}, "received"]}, "date": "$created"}]}

BOARD = {"key": "money", "label": {"en": "Money", "zh": "资金"}, "roles": ["lead", "seller"], "period": "this_year",
         "widgets": [VERSUS]}

ORDERS = [("o1", "a", 100, "2026-01-10"), ("o2", "a", 200, "2026-03-31"), ("o3", "b", 400, "2026-03-01"),
          ("o4", "b", 50, "2026-04-01")]
RECEIPTS = [("r1", "a", 80, "2026-01-31T16:30:00", "received"), ("r2", "a", 20, "2026-03-31T15:59:00", "received"),
            ("r3", "b", 300, "2026-03-31T16:00:00", "received"), ("r4", "b", 999, "2026-03-10T02:00:00", "pending")]


def ledger_app() -> dict:
    return copy.deepcopy(LEDGER_APP)


def board() -> dict:
    return copy.deepcopy(BOARD)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def install(db) -> tuple:
    """The app, its board, its people and records: (app, version_id, people, ids)."""
    install_documents(db, ledger_app(), {}, dashboard_docs={"money": board()})
    with db.write() as conn:
        lead = create_user(conn, "lead@example.com", "pw-123456789", name="Lena Lead", roles=[("ledger", "lead")])
        people = {"lead": lead,
                  "a": create_user(conn, "a@example.com", "pw-123456789", name="Ann Seller",
                                   roles=[("ledger", "seller")], manager_id=lead),
                  "b": create_user(conn, "b@example.com", "pw-123456789", name="Bob Seller",
                                   roles=[("ledger", "seller")], manager_id=lead),
                  "zh": create_user(conn, "zh@example.com", "pw-123456789", name="Zhang", language="zh",
                                    roles=[("ledger", "admin")])}
    app, version_id = AppCatalog(db).get("ledger")
    ids: dict[str, int] = {}
    with db.write() as conn:
        for name, owner, amount, placed in ORDERS:
            ids[name] = create_record(conn, app, app.entity("order"), {"name": name, "amount": amount, "placed_on": placed},
                                      actor_id=people[owner], owner_id=people[owner], version_id=version_id,
                                      now=utc("2026-01-01T00:00:00")).id
        for name, owner, amount, at, status in RECEIPTS:
            ids[name] = create_record(conn, app, app.entity("receipt"), {"name": name, "amount": amount, "status": status},
                                      actor_id=people[owner], owner_id=people[owner], version_id=version_id,
                                      now=utc(at)).id
    return app, version_id, people, ids
