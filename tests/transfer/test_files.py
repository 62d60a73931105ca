"""Reading uploaded files: CSV encodings and delimiters, .xlsx through openpyxl with
formulas read as cached values only, and the refusals (size, rows, zip and XML bombs)."""
from __future__ import annotations

import re
import zipfile

import pytest

from formloom.transfer import files
from formloom.transfer.files import FileRefused, read_table

from .conftest import write_csv, write_xlsx

ROWS = [["名称", "Amount", "Note"], ["上海某某公司", "1,234.50", "a;b"], ["", "", ""], ["Beta", "2", "x"]]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_encodings_and_delimiters(tmp_path, encoding, delimiter):
    path = write_csv(tmp_path / "f.csv", ROWS, encoding=encoding, delimiter=delimiter)
    table = read_table(path, "f.csv")
    assert table.headers == ["名称", "Amount", "Note"]             # no BOM left on the first header
    assert list(table.rows()) == [(2, ["上海某某公司", "1,234.50", "a;b"]), (4, ["Beta", "2", "x"])]
    assert table.count() == 2


def test_text_that_is_neither_utf8_nor_gb18030_is_refused(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"name\n\x81\x30\xff\xff\n")
    with pytest.raises(FileRefused, match="neither UTF-8 nor GB18030"):
        read_table(path, "f.csv")


def test_xlsx_first_or_chosen_sheet(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["Name"], ["A"]], sheets={"Second": [["Other"], ["B"], ["C"]]})
    assert list(read_table(path, "f.xlsx").rows()) == [(2, ["A"])]
    second = read_table(path, "f.xlsx", sheet="Second")
    assert second.headers == ["Other"] and second.count() == 2 and second.sheets == ["Data", "Second"]
    with pytest.raises(FileRefused, match="There is no sheet 'Nope'. Sheets: Data, Second"):
        read_table(path, "f.xlsx", sheet="Nope")


def test_formulas_are_read_as_cached_values_and_never_evaluated(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["Total", "Uncached"], ["=1+1", "=2*21"]])
    # give the first formula the value Excel would have cached when saving (a lie: never 2)
    patched = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<f>1\+1</f><v\s*/?>(</v>)?", b"<f>1+1</f><v>7</v>", data)
            dst.writestr(item, data)
    assert list(read_table(patched, "f.xlsx").rows()) == [(2, [7, None])]


def test_a_zip_bomb_is_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b"0" * (20 * 1024 * 1024) + b"</a>")
    with pytest.raises(FileRefused, match="unpacks to far more data"):
        read_table(path, "bomb.xlsx")


def test_an_xml_entity_bomb_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["Name"], ["A"]])
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    bomb = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bomb, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = laughs + re.sub(rb"^<\?xml[^>]*\?>", b"", data)
            dst.writestr(item, data)
    with pytest.raises(FileRefused, match="not a valid .xlsx"):
        read_table(bomb, "laughs.xlsx")


def test_size_row_and_type_limits(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "f.csv", [["Name"], ["a"], ["b"], ["c"]])
    monkeypatch.setattr(files, "MAX_ROWS", 2)
    with pytest.raises(FileRefused, match="more than 2 rows"):
        read_table(path, "f.csv").count()
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10)
    with pytest.raises(FileRefused, match="larger than"):
        read_table(path, "f.csv")
    with pytest.raises(FileRefused, match="Import an .xlsx or .csv file"):
        read_table(path, "f.xls")
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 10_000)
    with pytest.raises(FileRefused, match="empty"):
        read_table(empty, "e.csv")
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(FileRefused, match="not a valid .xlsx"):
        read_table(fake, "fake.xlsx")
