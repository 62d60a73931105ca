"""A small generic shop app for the dashboard tests (not the CRM), with a fixed data set
whose every answer is worked out by hand in the tests' docstrings."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

SHOP_APP = {
    "key": "shop", "label": {"en": "Shop", "zh": "商店"}, "version": 1, "timezone": "Asia/Shanghai",
    "roles": ["admin", "lead", "seller"],
    "entities": [
        {"key": "account", "label": "Account", "title": "name",
         "permissions": {"lead": {"create": True, "read": "all", "update": "all"},
                         "seller": {"create": True, "read": "own", "update": "own"}},
         "fields": [{"key": "name", "type": "text", "label": "Name", "required": True}]},
        {"key": "deal", "label": {"en": "Deal", "zh": "交易"}, "title": "name", "workflow": "deal_flow",
         "permissions": {"lead": {"create": True, "read": "team", "update": "team"},
                         "seller": {"create": True, "read": "own", "update": "own"}},
         "fields": [
             {"key": "name", "type": "text", "label": "Name", "required": True},
             {"key": "account", "type": "reference", "entity": "account", "label": "Account"},
             {"key": "amount", "type": "number", "label": "Amount"},
             {"key": "channel", "type": "select", "label": {"en": "Channel", "zh": "渠道"},
              "options": [{"value": "web", "label": {"en": "Web", "zh": "网站"}}, "shop", "phone", "mail"]},
             {"key": "tags", "type": "multiselect", "label": "Tags", "options": ["a", "b"]},
             {"key": "closed_on", "type": "date", "label": "Closed on"},
             {"key": "due", "type": "date", "label": "Due"},
         ]},
    ],
}

DEAL_FLOW = {
    "key": "deal_flow", "entity": "deal", "skip": "allow",
    "stages": [
        {"key": "new", "label": {"en": "New", "zh": "新建"}, "probability": 10},
        {"key": "talk", "label": {"en": "Talking", "zh": "洽谈"}, "probability": 50},
        {"key": "offer", "label": {"en": "Offer", "zh": "报价"}, "probability": 70},
        {"key": "won", "label": {"en": "Won", "zh": "赢单"}, "terminal": "won", "probability": 100},
        {"key": "lost", "label": {"en": "Lost", "zh": "输单"}, "terminal": "lost", "probability": 0, "from": ["*"]},
    ],
}

SALES_BOARD = {
    "key": "board", "label": {"en": "Deals board", "zh": "交易看板"}, "roles": ["lead", "seller"],
    "period": "this_month",
    "widgets": [
        {"key": "won_amount", "type": "number", "entity": "deal", "format": "money",
         "label": {"en": "Won amount", "zh": "赢单金额"},
         "measures": [{"agg": "sum", "field": "amount"}],
         "filter": {"==": [{"var": "$stage"}, "won"]}, "date": "$created", "compare": True},
        {"key": "deals", "type": "number", "entity": "deal", "label": {"en": "Deals", "zh": "交易数"},
         "measures": [{"agg": "count"}], "date": "$created"},
        {"key": "by_stage", "type": "bar", "entity": "deal", "label": {"en": "By stage", "zh": "按阶段"},
         "measures": [{"agg": "count", "label": {"en": "Deals", "zh": "交易数"}}], "group": {"by": "$stage"}},
        {"key": "funnel", "type": "funnel", "entity": "deal", "label": "Funnel"},
        {"key": "mine_due", "type": "records", "entity": "deal", "label": "Due", "mine": True,
         "columns": ["amount", "due"], "filter": {"<": [{"var": "due"}, {"var": "$today"}]}},
    ],
}

#: (name, owner, amount, channel, created at UTC, stages moved through with their UTC times, account)
DEALS = [
    ("d1", "a", 100, "web", "2026-03-01T10:00:00", [("talk", "2026-03-03T10:00:00"), ("won", "2026-03-05T10:00:00")], "acme"),
    # 17:00 UTC on 31 March is 01:00 on 1 April in Shanghai: an April deal
    ("d2", "a", 300, "shop", "2026-03-31T17:00:00", [("won", "2026-04-02T17:00:00")], "acme"),
    ("d3", "a", 50, "web", "2026-03-15T02:00:00", [("talk", "2026-03-16T02:00:00"), ("lost", "2026-03-20T02:00:00")], "bolt"),
    ("d4", "b", 200, "web", "2026-03-10T02:00:00", [("talk", "2026-03-12T02:00:00"), ("offer", "2026-03-13T02:00:00"),
                                                     ("won", "2026-03-14T02:00:00")], "bolt"),
    ("d5", "b", 400, "phone", "2026-02-20T02:00:00", [("talk", "2026-02-21T02:00:00")], "core"),
    ("d6", "b", None, None, "2026-03-05T02:00:00", [], None),
]


def shop_app() -> dict:
    return copy.deepcopy(SHOP_APP)


def deal_flow() -> dict:
    return copy.deepcopy(DEAL_FLOW)


def board() -> dict:
    return copy.deepcopy(SALES_BOARD)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def seed(db, app, version_id, people: dict[str, int], due: dict[str, str] | None = None) -> dict[str, int]:
    """The deals (and their accounts, owned by the deals' owners); returns name -> record id."""
    from formloom.auth.users import load_actor
    from formloom.store.records import create_record
    from formloom.workflow import move_to_stage
    account, deal = app.entity("account"), app.entity("deal")
    ids: dict[str, int] = {}
    with db.write() as conn:
        for name, owner in (("acme", "a"), ("bolt", "b"), ("core", "b")):
            ids[name] = create_record(conn, app, account, {"name": name.title()}, actor_id=people[owner],
                                      owner_id=people[owner], version_id=version_id,
                                      now=utc("2026-01-01T00:00:00")).id
        admin = load_actor(conn, people["admin"])
        for name, owner, amount, channel, created, moves, acct in DEALS:
            data = {"name": name, "amount": amount, "channel": channel, "account": ids.get(acct)}
            if due and name in due:
                data["due"] = due[name]
            record = create_record(conn, app, deal, {k: v for k, v in data.items() if v is not None},
                                   actor_id=people[owner], owner_id=people[owner], version_id=version_id,
                                   now=utc(created))
            ids[name] = record.id
            for stage, at in moves:
                move_to_stage(conn, app, deal, record.id, stage, admin, now=utc(at))
    return ids
