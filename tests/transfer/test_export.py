"""Exports: exactly the list's records (filters, sort, scope), visible columns only, as
people read them; formula injection neutralised; export -> import with upsert -> no change."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from formloom.auth import policy
from formloom.store.query import ListQuery, parse_list_args
from formloom.store.tables import audit
from formloom.transfer.export import csv_stream, export_columns, export_rows, neutralise, xlsx_file
from formloom.transfer.importer import ImportOptions, prepare

COLUMNS = ["ref", "supplier", "priority", "tags", "amount", "qty", "placed", "call_at", "paid", "buyer", "note",
           "secret", "stage", "owner"]


def rows_of(db, shop, actor, lang="en", args=None):
    app, _v = shop.get("shop")
    entity = app.entity("purchase")
    visible = policy.visible_fields(actor, app, entity)
    query = parse_list_args(entity, args or {}, visible, lang=lang) if args else ListQuery()
    columns = export_columns(app, entity, actor, COLUMNS, lang)
    return list(export_rows(db, app, entity, actor, query, columns, lang))


def seed(add, people):
    acme = add("supplier", {"name": "Acme, Ltd", "code": "AC"}, people["clerk"])
    add("purchase", {"ref": "E-1", "supplier": acme.id, "priority": "high", "tags": ["urgent", "bulk"],
                     "amount": "1234.50", "qty": 3, "placed": "2026-11-23", "call_at": "2026-11-23T01:30:05Z",
                     "paid": True, "buyer": people["clerk"].id, "note": "=1+1", "secret": "s3"}, people["clerk"])
    add("purchase", {"ref": "E-2", "priority": "low", "amount": "0", "note": "@SUM(A1)", "paid": False},
        people["clerk"])
    add("purchase", {"ref": "+E-3", "note": "\tcmd|' /C calc'!A0", "qty": 7}, people["clerk"])
    add("purchase", {"ref": "NOT-MINE", "note": "-2+3"}, people["other"])


def test_the_list_as_people_read_it_in_their_language(db, shop, people, add):
    seed(add, people)
    header, *rows = rows_of(db, shop, people["clerk"], lang="zh", args={"sort": "ref"})
    assert header == ["单号", "供应商", "优先级", "标签", "金额", "数量", "下单日期", "回电时间", "已付款", "采购员", "备注",
                      "阶段", "负责人"]                                            # no hidden "Internal" column
    assert [r[0] for r in rows] == ["'+E-3", "E-1", "E-2"]                      # scope: not the other's record
    e1 = rows[1]
    assert e1[1:5] == ["Acme, Ltd", "高", "加急, 批量", e1[4]] and str(e1[4]) == "1234.50"
    assert e1[6:12] == ["2026-11-23", "2026-11-23 09:30:05", "是", "Carl Clerk", "'=1+1", "草稿"]


def test_filters_and_sort_are_the_lists(db, shop, people, add):
    seed(add, people)
    _h, *rows = rows_of(db, shop, people["admin"], args={"priority": "High", "sort": "-ref"})
    assert [r[0] for r in rows] == ["E-1"]
    _h, *rows = rows_of(db, shop, people["admin"], args={"sort": "-ref"})
    assert [r[0] for r in rows] == ["NOT-MINE", "E-2", "E-1", "'+E-3"]


def test_injection_cells_are_neutralised_in_csv_and_xlsx(db, shop, people, add):
    seed(add, people)
    for raw in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise(raw) == "'" + raw
    assert neutralise("a=1") == "a=1" and neutralise(-5) == -5
    rows = rows_of(db, shop, people["admin"], args={"sort": "ref"})
    text = b"".join(csv_stream(rows)).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    notes = [r[10] for r in parsed[1:]]
    assert notes == ["'\tcmd|' /C calc'!A0", "'=1+1", "'@SUM(A1)", "'-2+3"]
    with xlsx_file(rows_of(db, shop, people["admin"], args={"sort": "ref"})) as handle:
        book = load_workbook(handle, read_only=True)
        cells = [row for row in book.active.iter_rows(values_only=True)]
        book.close()
    assert [c[10] for c in cells[1:]] == notes
    assert all(not (isinstance(v, str) and v[:1] in "=+-@\t\r") for row in cells for v in row)
    assert cells[2][4] == 1234.5 and cells[3][4] == 0                          # numbers stay numbers


def import_file(db, shop, path, actor):
    return prepare(db, shop, "shop", "purchase", path, path.name, actor=actor,
                   options=ImportOptions(upsert_by="ref")).run()


def test_export_then_import_with_upsert_changes_nothing(db, shop, people, add, tmp_path):
    seed(add, people)
    with db.read() as conn:
        before = conn.execute(select(func.count()).select_from(audit)).scalar()
    csv_path = tmp_path / "export.csv"
    csv_path.write_bytes(b"".join(csv_stream(rows_of(db, shop, people["clerk"], lang="zh"))))
    result = import_file(db, shop, csv_path, people["clerk"])
    assert result.as_json() == {"created": 0, "updated": 0, "skipped": 3, "failed": 0, "errors": []}
    xlsx_path = tmp_path / "export.xlsx"
    with xlsx_file(rows_of(db, shop, people["admin"])) as handle:
        xlsx_path.write_bytes(handle.read())
    result = import_file(db, shop, xlsx_path, people["admin"])
    assert result.as_json() == {"created": 0, "updated": 0, "skipped": 4, "failed": 0, "errors": []}
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit)).scalar() == before
