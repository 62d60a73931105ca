"""Subtable rows from a spreadsheet: repeated keys on the main sheet or a child sheet,
errors located by sheet, row and column; and the batched create path writing exactly
what the row-by-row path writes."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from formloom.store.apps import AppCatalog
from formloom.store.install import install_documents
from formloom.store.tables import audit, events, records, stage_history
from formloom.transfer.importer import ImportOptions, ImportRefused, prepare
from formloom.transfer.mapping import propose

from .conftest import PURCHASE_FLOW, SHOP_APP, write_csv, write_xlsx

LINES = {"key": "lines", "type": "subtable", "label": {"en": "Lines", "zh": "明细"},
         "columns": [{"key": "item", "type": "text", "label": {"en": "Item", "zh": "物品"}, "required": True},
                     {"key": "qty", "type": "number", "label": {"en": "Quantity", "zh": "数量"}, "min": 1}]}


@pytest.fixture
def shop_lines(db, shop):
    """The purchasing app with a subtable of lines on the purchase."""
    doc = copy.deepcopy(SHOP_APP)
    doc["version"] = 2
    purchase = next(e for e in doc["entities"] if e["key"] == "purchase")
    purchase["fields"].append(copy.deepcopy(LINES))
    install_documents(db, doc, {"purchase_flow": copy.deepcopy(PURCHASE_FLOW)})
    return AppCatalog(db)


def run(db, catalog, path, actor, lang="en", mapping=None, **options):
    return prepare(db, catalog, "shop", "purchase", path, path.name, actor=actor, lang=lang, mapping=mapping,
                   options=ImportOptions(**options)).run()


def stored(db) -> dict[str, tuple]:
    with db.read() as conn:
        rows = conn.execute(select(records).where(records.c.entity_key == "purchase")).all()
    return {r.data["ref"]: r for r in rows}


def test_rows_sharing_a_key_become_one_record_with_their_subtable_rows(db, shop_lines, people, tmp_path):
    path = write_csv(tmp_path / "lines.csv", [
        ["Reference", "Amount", "Lines Item", "Lines Quantity"],
        ["P-1", "10", "Paper", "2"],
        ["P-1", "", "Toner", "1"],
        ["", "", "Staples", "5"],          # blank key and record cells: continues P-1
        ["P-2", "7", "Pens", "3"],
    ])
    result = run(db, shop_lines, path, people["admin"])
    assert (result.created, result.failed, result.done, result.total) == (2, 0, 4, 4)
    rows = stored(db)
    assert [(line["item"], line["qty"]) for line in rows["P-1"].data["lines"]] == [
        ("Paper", 2), ("Toner", 1), ("Staples", 5)]
    assert rows["P-1"].data["amount"] == "10.00"
    assert [line["item"] for line in rows["P-2"].data["lines"]] == ["Pens"]
    with db.read() as conn:
        via = conn.execute(select(audit.c.via).where(audit.c.record_id == rows["P-1"].id)).scalar()
    assert via == "import: lines.csv row 2-4"


def test_subtable_columns_are_proposed_from_their_labels_in_either_language(shop_lines):
    app, _version = shop_lines.get("shop")
    entity = app.entity("purchase")
    fields = [f for f in entity.fields if f.type not in ("formula", "auto_number")]
    # "数量" is also the purchase's own quantity field: a field of the record wins a bare column name
    assert propose(app, entity, ["单号", "明细 物品", "数量", "lines.qty", "Item"], fields) == {
        0: "ref", 1: "lines.item", 2: "qty", 3: "lines.qty"}


def test_a_bad_subtable_cell_is_located_at_its_own_row_and_column(db, shop_lines, people, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["Reference", "Lines Item", "Lines Quantity"],
        ["P-1", "Paper", "2"],
        ["P-1", "Toner", "0"],            # below the column's minimum (cleaning)
        ["P-2", "Pens", "many"],          # not a number (conversion)
        ["P-3", "Ink", "1"],
    ])
    result = run(db, shop_lines, path, people["admin"], mode="skip-bad-rows")
    assert (result.created, result.failed) == (1, 2)
    first, second = result.errors
    assert (first.row, first.column, first.value, first.sheet) == (3, "Lines Quantity", "0", "")
    assert not first.message.startswith("Row ") and "1" in first.message
    assert (second.row, second.column, second.value) == (4, "Lines Quantity", "many")
    assert [n for n, _cells, _m in result.bad_rows] == [2, 3, 4]       # the whole record's rows, to fix
    assert sorted(stored(db)) == ["P-3"]


def test_a_child_sheet_feeds_the_subtable_by_the_parents_key(db, shop_lines, people, tmp_path):
    path = write_xlsx(tmp_path / "orders.xlsx", [["Reference", "Amount"], ["P-1", 10], ["P-2", 20], ["P-3", 5]],
                      {"Lines": [["Reference", "Item", "Quantity"], ["P-1", "Paper", 2], ["P-2", "Pens", 1],
                                 ["P-1", "Toner", 1], ["P-9", "Glue", 1], ["P-3", "Ink", "lots"]]})
    result = run(db, shop_lines, path, people["admin"], mode="skip-bad-rows", child_sheets={"lines": "Lines"})
    assert (result.created, result.failed) == (2, 2)
    orphan = next(e for e in result.errors if e.value == "P-9")
    assert (orphan.sheet, orphan.row, orphan.column) == ("Lines", 5, "Reference")
    bad = next(e for e in result.errors if e.value == "lots")
    assert (bad.sheet, bad.row, bad.column) == ("Lines", 6, "Quantity")
    assert bad.as_dict()["sheet"] == "Lines"
    rows = stored(db)
    assert [(x["item"], x["qty"]) for x in rows["P-1"].data["lines"]] == [("Paper", 2), ("Toner", 1)]
    assert [x["item"] for x in rows["P-2"].data["lines"]] == ["Pens"] and "P-3" not in rows


def test_child_sheet_messages_are_in_the_importers_language(db, shop_lines, people, tmp_path):
    path = write_xlsx(tmp_path / "zh.xlsx", [["单号"], ["P-1"]], {"明细": [["单号", "物品", "数量"], ["P-1", "", 2]]})
    result = run(db, shop_lines, path, people["admin"], lang="zh", child_sheets={"lines": "明细"})
    assert result.failed == 1 and not result.committed
    error = result.errors[0]
    assert (error.sheet, error.row, error.column) == ("明细", 2, "物品") and error.message == "此项为必填项。"


def test_child_sheets_are_refused_before_any_row_when_they_cannot_match(db, shop_lines, people, tmp_path):
    path = write_xlsx(tmp_path / "r.xlsx", [["Reference"], ["P-1"]],
                      {"Lines": [["Order", "Item"], ["P-1", "Paper"]], "Other": [["Reference", "Colour"]]})
    with pytest.raises(ImportRefused, match="needs a column naming the parent record"):
        run(db, shop_lines, path, people["admin"], child_sheets={"lines": "Lines"})
    with pytest.raises(ImportRefused, match="No column of sheet 'Other' matches"):
        run(db, shop_lines, path, people["admin"], child_sheets={"lines": "Other"})
    with pytest.raises(ImportRefused, match="There is no sheet 'Nope'"):
        run(db, shop_lines, path, people["admin"], child_sheets={"lines": "Nope"})
    with pytest.raises(ImportRefused, match="not a table field"):
        run(db, shop_lines, path, people["admin"], child_sheets={"note": "Lines"})


def test_a_gate_override_needs_an_admin_and_a_reason(db, shop, people, tmp_path):
    path = write_csv(tmp_path / "g.csv", [["Reference", "Stage"], ["O-1", "approved"]])
    with pytest.raises(ImportRefused, match="Only app admins"):
        run(db, shop, path, people["clerk"], override_reason="because")
    with pytest.raises(ImportRefused, match="Say why"):
        run(db, shop, path, people["admin"], override_reason="  ")


def test_the_batched_path_writes_what_the_row_by_row_path_writes(db, shop_lines, people, tmp_path):
    """Plain creates go through store.records.create_records; with upsert_by (no match yet)
    every row goes through create_record one by one. Both files differ only in the reference."""
    def rows(prefix):
        return [["Reference", "Priority", "Amount", "Placed on", "Paid", "Buyer", "Lines Item", "Lines Quantity"],
                [f"{prefix}-1", "High", "¥1,200.50", "2026/11/23", "是", "clerk@example.com", "Paper", "2"],
                [f"{prefix}-1", "", "", "", "", "", "Toner", "1"],
                [f"{prefix}-2", "low", "", "", "no", "", "", ""],
                [f"{prefix}-3", "Nope", "5", "", "", "", "", ""]]
    batched = run(db, shop_lines, write_csv(tmp_path / "a.csv", rows("A")), people["admin"], mode="skip-bad-rows")
    single = run(db, shop_lines, write_csv(tmp_path / "b.csv", rows("B")), people["admin"], mode="skip-bad-rows",
                 upsert_by="ref")
    assert batched.as_json()["created"] == single.as_json()["created"] == 2
    assert [(e.row, e.column, e.value, e.message) for e in batched.errors] == \
        [(e.row, e.column, e.value, e.message) for e in single.errors]
    written = stored(db)

    def trail(record):
        with db.read() as conn:
            changes = [(a.action, {k: v for k, v in a.changes.items() if k != "ref"}, a.user_id, a.record_version,
                        a.via.replace(".csv", "").replace("a", "x").replace("b", "x"))
                       for a in conn.execute(select(audit).where(audit.c.record_id == record.id))]
            moves = [(h.from_stage, h.to_stage, h.user_id) for h in
                     conn.execute(select(stage_history).where(stage_history.c.record_id == record.id))]
            kinds = [(e.type, e.processed_at is not None) for e in
                     conn.execute(select(events).where(events.c.record_id == record.id))]
        data = {k: v for k, v in record.data.items() if k != "ref"}
        return (data, record.title.split("-")[1], record.stage, record.owner_id, record.version, changes, moves,
                kinds)

    for n in ("1", "2"):
        assert trail(written[f"A-{n}"]) == trail(written[f"B-{n}"])


def test_the_cli_takes_child_sheets_and_its_json_names_the_sheet(database_url, shop_lines, people, tmp_path,
                                                                  monkeypatch):
    import json

    from click.testing import CliRunner

    from formloom.cli import main
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "instance"))
    path = write_xlsx(tmp_path / "c.xlsx", [["Reference"], ["P-1"]],
                      {"Lines": [["Reference", "Item", "Quantity"], ["P-1", "Paper", "x"]]})
    result = CliRunner().invoke(main, ["import", "shop", "purchase", str(path), "--child-sheet", "lines=Lines",
                                       "--json", "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"] == [
        {"row": 2, "column": "Quantity", "value": "x", "message": "'x' is not a number.", "sheet": "Lines"}]
    result = CliRunner().invoke(main, ["import", "shop", "purchase", str(path), "--child-sheet", "lines"],
                                catch_exceptions=False)
    assert result.exit_code == 1 and "FIELD=SHEET" in result.stderr


def test_rerunning_a_workbook_with_upsert_changes_nothing_and_absent_lines_are_kept(db, shop_lines, people,
                                                                                   tmp_path):
    path = write_xlsx(tmp_path / "o.xlsx", [["Reference", "Amount"], ["P-1", 10], ["P-2", 20]],
                      {"Lines": [["Reference", "Item", "Quantity"], ["P-1", "Paper", 2]]})
    first = run(db, shop_lines, path, people["admin"], upsert_by="ref", child_sheets={"lines": "Lines"})
    again = run(db, shop_lines, path, people["admin"], upsert_by="ref", child_sheets={"lines": "Lines"})
    assert (first.created, again.created, again.updated, again.skipped) == (2, 0, 0, 2)
    fewer = write_xlsx(tmp_path / "p.xlsx", [["Reference", "Amount"], ["P-1", 11]],
                       {"Lines": [["Reference", "Item", "Quantity"], ["P-2", "Pens", 4]]})
    result = run(db, shop_lines, fewer, people["admin"], upsert_by="ref", child_sheets={"lines": "Lines"},
                 mode="skip-bad-rows")
    assert (result.updated, result.failed) == (1, 1)          # P-2's line names no row of this file
    rows = stored(db)
    assert rows["P-1"].data["amount"] == "11.00" and [x["item"] for x in rows["P-1"].data["lines"]] == ["Paper"]
    assert len(rows) == 2
