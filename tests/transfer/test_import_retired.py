"""An import goes through the record validation, so a retired option is refused on a new
row (with the option's label and why) and accepted on an upserted row that already holds it."""
from __future__ import annotations

import copy

from formloom.store.install import install_documents
from formloom.transfer.importer import ImportOptions, prepare

from .conftest import PURCHASE_FLOW, SHOP_APP, write_csv


def test_a_retired_option_is_refused_for_new_rows_and_kept_on_rows_that_hold_it(db, shop, people, add, tmp_path):
    add("purchase", {"ref": "P-OLD", "priority": "low"}, people["clerk"])
    doc = copy.deepcopy(SHOP_APP)
    doc["version"] = 2
    purchase = next(e for e in doc["entities"] if e["key"] == "purchase")
    next(f for f in purchase["fields"] if f["key"] == "priority")["options"][0]["retired"] = True
    install_documents(db, doc, {"purchase_flow": copy.deepcopy(PURCHASE_FLOW)})
    path = write_csv(tmp_path / "rows.csv", [["Reference", "Priority", "Note"],
                                             ["P-OLD", "Low", "still low"],
                                             ["P-NEW", "Low", "new"]])
    result = prepare(db, shop, "shop", "purchase", path, path.name, actor=people["clerk"], lang="en",
                     mapping=None, options=ImportOptions(mode="skip-bad-rows", upsert_by="ref")).run().as_json()
    assert (result["created"], result["updated"], result["failed"]) == (0, 1, 1), result
    [error] = result["errors"]
    assert error["row"] == 3 and "Low is retired" in error["message"]
