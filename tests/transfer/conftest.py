"""A small purchasing app (not the CRM) for import and export tests: a supplier with a
non-unique name and a unique code, and an order with every kind of field an import
converts, a hidden field, and a workflow whose gate needs an amount."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from formloom.auth.users import create_user, load_actor
from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.records import create_record

SHOP_APP = {
    "key": "shop", "label": {"en": "Purchasing", "zh": "采购"}, "version": 1, "timezone": "Asia/Shanghai",
    "roles": ["admin", "clerk", "viewer"],
    "entities": [
        {"key": "supplier", "label": {"en": "Supplier", "zh": "供应商"}, "title": "name",
         "permissions": {"clerk": {"create": True, "read": "own", "update": "own"}, "viewer": {"read": "all"}},
         "fields": [
             {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
             {"key": "code", "type": "text", "label": {"en": "Code", "zh": "编码"}, "unique": True},
         ]},
        {"key": "purchase", "label": {"en": "Purchase", "zh": "采购单"}, "title": "ref", "workflow": "purchase_flow",
         "permissions": {"clerk": {"create": True, "read": "own", "update": "own"}, "viewer": {"read": "all"}},
         "fields": [
             {"key": "ref", "type": "text", "label": {"en": "Reference", "zh": "单号"}, "required": True,
              "unique": True, "max_length": 40},
             {"key": "supplier", "type": "reference", "entity": "supplier", "label": {"en": "Supplier", "zh": "供应商"}},
             {"key": "priority", "type": "select", "label": {"en": "Priority", "zh": "优先级"},
              "options": [{"value": "low", "label": {"en": "Low", "zh": "低"}},
                          {"value": "high", "label": {"en": "High", "zh": "高"}}]},
             {"key": "tags", "type": "multiselect", "label": {"en": "Tags", "zh": "标签"},
              "options": [{"value": "urgent", "label": {"en": "Urgent", "zh": "加急"}},
                          {"value": "bulk", "label": {"en": "Bulk", "zh": "批量"}}]},
             {"key": "amount", "type": "money", "label": {"en": "Amount", "zh": "金额"}, "min": 0},
             {"key": "qty", "type": "number", "label": {"en": "Quantity", "zh": "数量"}, "min": 0},
             {"key": "placed", "type": "date", "label": {"en": "Placed on", "zh": "下单日期"}},
             {"key": "call_at", "type": "datetime", "label": {"en": "Call at", "zh": "回电时间"}},
             {"key": "paid", "type": "checkbox", "label": {"en": "Paid", "zh": "已付款"}},
             {"key": "buyer", "type": "user", "label": {"en": "Buyer", "zh": "采购员"}},
             {"key": "note", "type": "text", "label": {"en": "Note", "zh": "备注"}},
             {"key": "secret", "type": "text", "label": {"en": "Internal", "zh": "内部"}, "hidden_for": ["clerk"]},
         ]},
    ],
}
PURCHASE_FLOW = {
    "key": "purchase_flow", "entity": "purchase", "label": "Purchase flow",
    "stages": [
        {"key": "draft", "label": {"en": "Draft", "zh": "草稿"}},
        {"key": "approved", "label": {"en": "Approved", "zh": "已批准"}, "gate": {"require": ["amount"]}},
        {"key": "closed", "label": {"en": "Closed", "zh": "已关闭"}, "terminal": "won"},
    ],
}


@pytest.fixture
def shop(db):
    install_documents(db, copy.deepcopy(SHOP_APP), {"purchase_flow": copy.deepcopy(PURCHASE_FLOW)})
    return AppCatalog(db)


@pytest.fixture
def people(db, shop):
    with db.write() as conn:
        admin = create_user(conn, "admin@example.com", "password123", name="Ada Admin", roles=[("shop", "admin")])
        clerk = create_user(conn, "clerk@example.com", "password123", name="Carl Clerk", roles=[("shop", "clerk")])
        other = create_user(conn, "other@example.com", "password123", name="Olga Other", roles=[("shop", "clerk")])
        twin1 = create_user(conn, "lee1@example.com", "password123", name="Lee", roles=[("shop", "clerk")])
        twin2 = create_user(conn, "lee2@example.com", "password123", name="Lee", roles=[("shop", "clerk")])
        return {k: load_actor(conn, v) for k, v in
                dict(admin=admin, clerk=clerk, other=other, twin1=twin1, twin2=twin2).items()}


@pytest.fixture
def add(db, shop):
    def make(entity_key: str, data: dict, actor):
        app, version_id = shop.get("shop")
        with db.write() as conn:
            return create_record(conn, app, app.entity(entity_key), data, actor_id=actor.id, version_id=version_id)
    return make


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    import csv
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], sheets: dict[str, list[list]] | None = None) -> Path:
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "Data"
    for row in rows:
        sheet.append(row)
    for name, more in (sheets or {}).items():
        extra = book.create_sheet(name)
        for row in more:
            extra.append(row)
    book.save(path)
    return path
