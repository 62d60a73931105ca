"""Which fields get an index: those the app queries records by, each for its reasons; a
publish makes the new ones and drops those no longer wanted; `indexed` decides over the engine."""
from __future__ import annotations

import copy

from formloom.definitions.compile import compile_app
from formloom.store.index_catalog import field_indexes
from formloom.store.index_policy import wanted_indexes
from formloom.store.install import install_documents

#: A small generic app (not the CRM) with one field for each reason and fields for none.
STOCK = {
    "key": "stockroom", "label": "Stockroom", "version": 1, "timezone": "UTC",
    "roles": ["admin", "clerk"],
    "entities": [
        {"key": "supplier", "label": "Supplier", "title": "name",
         "list_columns": ["name"],
         "fields": [
             {"key": "name", "type": "text", "label": "Name", "unique": True},
             {"key": "rating", "type": "number", "label": "Rating"},
         ]},
        {"key": "item", "label": "Item", "title": "sku",
         "list_columns": ["sku", "supplier", "price"],
         "calendar_fields": ["restock_on"],
         "permissions": {"clerk": {"create": True, "read": "own", "update": "own",
                                   "read_if": {"==": [{"var": "shared"}, True]}}},
         "fields": [
             {"key": "sku", "type": "text", "label": "SKU"},
             {"key": "supplier", "type": "reference", "entity": "supplier", "label": "Supplier"},
             {"key": "alternate", "type": "reference", "entity": "supplier", "label": "Alternate",
              "match": {"rating": "weight"}},
             {"key": "price", "type": "money", "label": "Price"},
             {"key": "weight", "type": "number", "label": "Weight"},
             {"key": "restock_on", "type": "date", "label": "Restock on"},
             {"key": "shared", "type": "checkbox", "label": "Shared"},
             {"key": "colour", "type": "select", "label": "Colour", "indexed": True,
              "options": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]},
             {"key": "checked_on", "type": "date", "label": "Checked on"},
             {"key": "tags", "type": "reference", "entity": "supplier", "multiple": True, "label": "Others"},
         ]},
    ],
}


def stock() -> dict:
    return copy.deepcopy(STOCK)


def reasons(app_doc: dict) -> dict[str, list[str]]:
    return {f"{w.entity.key}.{w.field.key}": [r.kind + (f":{r.source}" if r.source else "") for r in w.reasons]
            for w in wanted_indexes(compile_app(app_doc, {}))}


def test_each_field_is_indexed_for_what_queries_it_and_nothing_else():
    assert reasons(stock()) == {
        "supplier.name": ["unique"],
        "supplier.rating": ["match:item.alternate"],
        "item.supplier": ["reference:supplier", "list_column"],
        "item.alternate": ["reference:supplier"],
        "item.price": ["list_column"],
        "item.restock_on": ["calendar"],
        "item.shared": ["permission:clerk"],
        "item.colour": ["chosen"],
    }
    # weight (a number), checked_on (a date) are queried by nothing; a multiple reference is a list


def test_indexed_false_takes_a_field_out_whatever_its_reasons():
    doc = stock()
    fields = doc["entities"][1]["fields"]
    next(f for f in fields if f["key"] == "price")["indexed"] = False
    next(f for f in fields if f["key"] == "checked_on")["indexed"] = True
    found = reasons(doc)
    assert "item.price" not in found
    assert found["item.checked_on"] == ["chosen"]


def test_install_makes_exactly_the_wanted_indexes_and_a_publish_drops_the_unwanted(db):
    install_documents(db, stock(), {})
    with db.read() as conn:
        names = {i.name for i in field_indexes(conn, "stockroom")}
    assert names == {"ixf_stockroom_supplier_name", "ixf_stockroom_supplier_rating", "ixf_stockroom_item_supplier",
                     "ixf_stockroom_item_alternate", "ixf_stockroom_item_price", "ixf_stockroom_item_restock_on",
                     "ixf_stockroom_item_shared", "ixf_stockroom_item_colour"}
    doc = stock()
    item = doc["entities"][1]
    item["list_columns"] = ["sku", "supplier", "weight"]            # price leaves the list, weight joins it
    next(f for f in item["fields"] if f["key"] == "colour")["indexed"] = False
    install_documents(db, doc, {})
    with db.read() as conn:
        after = {i.name for i in field_indexes(conn, "stockroom")}
    assert after == names - {"ixf_stockroom_item_price", "ixf_stockroom_item_colour"} | {"ixf_stockroom_item_weight"}


def test_another_apps_indexes_are_left_alone(db):
    other = stock()
    other["key"] = "stockroom2"
    install_documents(db, other, {})
    doc = stock()
    doc["entities"][1]["list_columns"] = ["sku"]
    install_documents(db, doc, {})
    with db.read() as conn:
        assert "ixf_stockroom2_item_price" in {i.name for i in field_indexes(conn, "stockroom2")}
        assert "ixf_stockroom_item_price" not in {i.name for i in field_indexes(conn, "stockroom")}


def test_installing_the_same_documents_again_applies_the_current_policy(db, tmp_path):
    """An instance upgraded to this engine keeps the indexes the old one made until
    `formloom install` runs again, even with unchanged documents."""
    import json

    from formloom.store.expressions import create_index_sql
    from formloom.store.install import install_path
    (tmp_path / "app.json").write_text(json.dumps(stock()))
    install_path(db, tmp_path)
    item = compile_app(stock(), {}).entity("item")
    with db.write() as conn:      # what the engine made before issue 16: an index for the type alone
        conn.exec_driver_sql(create_index_sql(db.engine.dialect.name, "stockroom", "item", item.field("weight")))
    install_path(db, tmp_path)
    with db.read() as conn:
        assert "ixf_stockroom_item_weight" not in {i.name for i in field_indexes(conn, "stockroom")}
