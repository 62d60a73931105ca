"""Reading an uploaded spreadsheet as rows of cells, safely.

.xlsx goes through openpyxl in read-only mode with `data_only=True`: a formula is
read as the value Excel cached when it saved the file and is never evaluated (a
formula cell without a cached value reads as empty). Before openpyxl sees the
file, the zip directory is checked against a total unpacked size and a
compression ratio (zip bombs); with defusedxml installed openpyxl parses every
XML part through it (entity expansion, external entities). .csv is decoded as
UTF-8 (with or without a byte-order mark) or, failing that, GB18030, and its
delimiter (comma, semicolon or tab) is sniffed from the first lines.

Rows come back numbered as a spreadsheet numbers them (the header is row 1), so a
report can say "row 7" and mean what the person sees.
"""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import FormloomError
from ..i18n import translate

MAX_FILE_BYTES = 50 * 1024 * 1024          # the upload itself
MAX_ROWS = 200_000                         # data rows (without the header)
MAX_COLUMNS = 500
MAX_UNPACKED_BYTES = 500 * 1024 * 1024     # everything inside an .xlsx, unpacked
MAX_RATIO = 200                            # unpacked / packed, per zip member
MAX_CELL_CHARS = 32_767                    # Excel's own limit
SUFFIXES = (".xlsx", ".csv")


class FileRefused(FormloomError):
    """The file cannot be imported as it is (type, size, structure); the message says why."""

    status = 400
    code = "file_refused"


@dataclass
class Table:
    """The header of the chosen sheet and a way to walk its rows (more than once)."""

    headers: list[str]
    sheets: list[str]
    sheet: str | None
    _rows: Callable[[], Iterator[tuple[int, list[Any]]]] = field(repr=False)
    _open: Callable[[str], "Table"] | None = field(default=None, repr=False)

    def other_sheet(self, name: str) -> "Table":
        """Another sheet of the same workbook (a child sheet of subtable rows); FileRefused
        for a CSV or a sheet the workbook does not have."""
        if self._open is None:
            raise FileRefused(translate("en", "There is no sheet %(sheet)s. Sheets: %(sheets)s.",
                                        sheet=repr(name[:60]), sheets="-"))
        return self._open(name)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(row number as the spreadsheet shows it, cells), blank rows left out."""
        return self._rows()

    def count(self) -> int:
        return sum(1 for _ in self.rows())


def read_table(path: Path, filename: str, *, sheet: str | None = None, lang: str = "en") -> Table:
    """Open `path` (uploaded as `filename`) and read its header; raise FileRefused."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise FileRefused(translate(lang, "Import an .xlsx or .csv file, not %(name)s.", name=repr(filename[:80])),
                          hint=translate(lang, "Save the spreadsheet as Excel (.xlsx) or CSV and try again."))
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileRefused(translate(lang, "The file is larger than %(limit)s MB.", limit=MAX_FILE_BYTES // 2**20))
    if size == 0:
        raise FileRefused(translate(lang, "The file is empty."))
    if suffix == ".xlsx":
        return _xlsx(path, sheet, lang)
    return _csv(path, lang)


def _header(cells: list[Any], lang: str) -> list[str]:
    headers = [("" if c is None else str(c)).strip() for c in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not any(headers):
        raise FileRefused(translate(lang, "The first row must name the columns, and it is empty."))
    if len(headers) > MAX_COLUMNS:
        raise FileRefused(translate(lang, "The file has more than %(limit)s columns.", limit=MAX_COLUMNS))
    return headers


def _limited(rows: Iterator[tuple[int, list[Any]]], width: int, lang: str) -> Iterator[tuple[int, list[Any]]]:
    count = 0
    for number, cells in rows:
        cells = list(cells[:width]) + [None] * (width - len(cells))
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        count += 1
        if count > MAX_ROWS:
            raise FileRefused(translate(lang, "The file has more than %(limit)s rows; split it into smaller files.",
                                        limit=f"{MAX_ROWS:,}"))
        for c in cells:
            if isinstance(c, str) and len(c) > MAX_CELL_CHARS:
                raise FileRefused(translate(lang, "Row %(row)s has a cell longer than %(limit)s characters.",
                                            row=number, limit=MAX_CELL_CHARS))
        yield number, cells


# -- xlsx ------------------------------------------------------------------------

def _check_zip(path: Path, lang: str) -> None:
    refused = FileRefused(translate(lang, "This is not a valid .xlsx file."),
                          hint=translate(lang, "Open it in Excel and save it again as .xlsx."))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise refused from None
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if total > MAX_UNPACKED_BYTES or (member.file_size > 1024 * 1024 and ratio > MAX_RATIO):
            raise FileRefused(translate(lang, "The file unpacks to far more data than it holds; it is refused "
                                              "as unsafe."))
    if not any(m.filename == "xl/workbook.xml" for m in members):
        raise refused


def _xlsx(path: Path, sheet: str | None, lang: str) -> Table:
    import openpyxl
    from openpyxl.xml import DEFUSEDXML
    if not DEFUSEDXML:      # openpyxl would parse XML without defusedxml's protections
        raise FileRefused("defusedxml is not installed; .xlsx import is disabled.")
    _check_zip(path, lang)

    def open_book():
        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as error:          # openpyxl raises many kinds for a broken file
            raise FileRefused(translate(lang, "This is not a valid .xlsx file."),
                              hint=str(error)[:200]) from None

    book = open_book()
    try:
        names = list(book.sheetnames)
        if sheet and sheet not in names:
            raise FileRefused(translate(lang, "There is no sheet %(sheet)s. Sheets: %(sheets)s.",
                                        sheet=repr(sheet[:60]), sheets=", ".join(names)))
        chosen = sheet or names[0]
        first = next(book[chosen].iter_rows(min_row=1, max_row=1, values_only=True), None)
    finally:
        book.close()
    if first is None:
        raise FileRefused(translate(lang, "The sheet %(sheet)s is empty.", sheet=repr(chosen)))
    headers = _header(list(first), lang)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        book = open_book()
        try:
            numbered = ((i, list(r)) for i, r in enumerate(book[chosen].iter_rows(min_row=2, values_only=True),
                                                           start=2))
            yield from _limited(numbered, len(headers), lang)
        finally:
            book.close()

    return Table(headers, names, chosen, rows, lambda name: _xlsx(path, name, lang))


# -- csv -------------------------------------------------------------------------

ENCODINGS = ("utf-8-sig", "gb18030")
DELIMITERS = ",;\t"


def detect_encoding(path: Path, lang: str = "en") -> str:
    """UTF-8 (a BOM is dropped) when the whole file decodes as UTF-8, else GB18030."""
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise FileRefused(translate(lang, "The file is neither UTF-8 nor GB18030 text."),
                      hint=translate(lang, "Save the CSV as UTF-8 and try again."))


def sniff_delimiter(sample: str) -> str:
    """The delimiter among , ; and tab that splits the first lines most consistently."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _csv(path: Path, lang: str) -> Table:
    encoding = detect_encoding(path, lang)
    with path.open(encoding=encoding, newline="") as handle:
        delimiter = sniff_delimiter(handle.read(64 * 1024))

    def reader(handle) -> Iterator[tuple[int, list[Any]]]:
        csv.field_size_limit(MAX_CELL_CHARS + 1)
        for row in csv.reader(handle, delimiter=delimiter):
            yield row

    with path.open(encoding=encoding, newline="") as handle:
        try:
            first = next(reader(handle), None)
        except csv.Error as error:
            raise FileRefused(translate(lang, "The CSV file cannot be read: %(reason)s.", reason=str(error))) from None
    if first is None:
        raise FileRefused(translate(lang, "The file is empty."))
    headers = _header(first, lang)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        with path.open(encoding=encoding, newline="") as handle:
            parsed = reader(handle)
            next(parsed, None)
            try:
                numbered = ((i, r) for i, r in enumerate(parsed, start=2))
                yield from _limited(numbered, len(headers), lang)
            except csv.Error as error:
                raise FileRefused(translate(lang, "The CSV file cannot be read: %(reason)s.",
                                            reason=str(error))) from None

    return Table(headers, [], None, rows)
