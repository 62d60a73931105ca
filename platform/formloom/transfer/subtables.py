"""Subtable rows in a spreadsheet, as people keep them, in two ways.

Repeated keys: the main sheet has columns mapped to a subtable's columns
("lines.qty"). Consecutive rows with the same key (the upsert column, else the
title's column) are one record: its first row gives the record's fields and every
row of the group one subtable row. A row whose key and other record cells are all
blank continues the record above too (the layout of a sheet where the order's
cells are written once). Only consecutive rows are grouped: a key that comes back
later starts another record (or, with upsert, updates the same one again).

A child sheet (.xlsx): another sheet holds the subtable's rows, one per line, with
a column naming the parent by the same key (its header is the main sheet's key
column header, or the key field's key or label); its other columns are matched to
the subtable's columns by key or label. A child row whose key no main row has is
an error of its own, located by sheet and row.

Errors are located where the person will look: the sheet, the row of the file
(not the row's index in the subtable) and the column's header.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..definitions.model import EntityDef, FieldDef
from ..i18n import translate
from .convert import CellError, Converter, cell_text, is_blank
from .files import Table
from .mapping import normal

Cells = list[Any]


@dataclass
class Group:
    """One record's rows of the main sheet: the first, then those continuing it."""

    number: int
    cells: Cells
    more: list[tuple[int, Cells]] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.more[-1][0] if self.more else self.number

    @property
    def size(self) -> int:
        return 1 + len(self.more)

    def all(self) -> list[tuple[int, Cells]]:
        return [(self.number, self.cells), *self.more]


@dataclass(frozen=True)
class Origin:
    """Where one subtable row came from: the sheet, the file row, column key -> (header, cell)."""

    sheet: str
    row: int
    cells: dict[str, tuple[str, Any]]


def split_target(target: str) -> tuple[str, str] | None:
    """"lines.qty" -> ("lines", "qty"); None for a plain field target."""
    if "." not in target or target.startswith("$"):
        return None
    parent, column = target.split(".", 1)
    return parent, column


def key_text(raw: Any) -> str:
    return cell_text(raw).casefold()


def group_rows(rows: Iterable[tuple[int, Cells]], key_index: int | None, record_indexes: list[int]) -> Iterator[Group]:
    """Consecutive rows sharing the key cell (or blank in every record cell) as one Group."""
    group: Group | None = None
    current = ""
    for number, cells in rows:
        key = key_text(cells[key_index]) if key_index is not None else ""
        continues = group is not None and (
            (key_index is not None and key and key == current)
            or all(is_blank(cells[i]) for i in record_indexes))
        if continues:
            group.more.append((number, cells))
            continue
        if group is not None:
            yield group
        group, current = Group(number, cells), key
    if group is not None:
        yield group


class ChildSheet:
    """A sheet of subtable rows, read once and kept by parent key."""

    def __init__(self, table: Table, f: FieldDef, key_index: int, columns: dict[int, FieldDef]):
        self.table, self.field, self.key_index, self.columns = table, f, key_index, columns
        self.sheet = table.sheet or ""
        self._by_key: dict[str, list[tuple[int, Cells]]] | None = None

    @classmethod
    def open(cls, table: Table, sheet: str, f: FieldDef, key_names: Iterable[str], lang: str) -> "ChildSheet":
        """The child sheet `sheet` for subtable `f`; raises CellError (the reason) when its
        header has no key column or no column of the subtable."""
        child = table.other_sheet(sheet)
        names = {normal(n) for n in key_names if n}
        key_index = next((i for i, h in enumerate(child.headers) if normal(h) in names), None)
        if key_index is None:
            raise CellError(translate(lang, "Sheet %(sheet)s needs a column naming the parent record (%(names)s).",
                                      sheet=repr(sheet), names=", ".join(sorted(n for n in key_names if n))))
        columns: dict[int, FieldDef] = {}
        for i, header in enumerate(child.headers):
            if i == key_index:
                continue
            wanted = normal(header)
            column = next((c for c in f.columns if c.key not in {x.key for x in columns.values()}
                           and wanted in {normal(c.key), *(normal(t) for t in c.label.texts.values())}), None)
            if column is not None:
                columns[i] = column
        if not columns:
            raise CellError(translate(lang, "No column of sheet %(sheet)s matches a column of %(field)s.",
                                      sheet=repr(sheet), field=f.label.get(lang)))
        return cls(child, f, key_index, columns)

    def rows_for(self, key: str) -> list[tuple[int, Cells]]:
        return self._index().get(key, [])

    def _index(self) -> dict[str, list[tuple[int, Cells]]]:
        if self._by_key is None:
            self._by_key = {}
            for number, cells in self.table.rows():
                self._by_key.setdefault(key_text(cells[self.key_index]), []).append((number, cells))
        return self._by_key

    def orphans(self, parent_keys: set[str]) -> list[tuple[int, Cells]]:
        """Child rows naming no parent row of the main sheet."""
        return [row for key, rows in self._index().items() if key not in parent_keys for row in rows]


def convert_rows(conv: Converter, sheet: str, rows: list[tuple[int, Cells]], columns: dict[int, FieldDef],
                 headers: list[str], errors: list[tuple[Origin, str, str]]) -> tuple[list[dict], list[Origin]]:
    """Subtable rows from spreadsheet rows (rows blank in every subtable column are left out),
    with their origins; conversion failures are appended to `errors` as (origin, column key,
    message)."""
    values: list[dict] = []
    origins: list[Origin] = []
    for number, cells in rows:
        if all(is_blank(cells[i]) for i in columns):
            continue
        origin = Origin(sheet, number, {c.key: (headers[i], cells[i]) for i, c in columns.items()})
        row: dict[str, Any] = {}
        for i, column in columns.items():
            try:
                row[column.key] = conv.convert(column, cells[i])
            except CellError as error:
                errors.append((origin, column.key, error.message))
        values.append(row)
        origins.append(origin)
    return values, origins


def locate(entity: EntityDef, path: str, message: str, origins: list[Origin], lang: str
           ) -> tuple[Origin | None, str, Any, str]:
    """A subtable problem at `path` ("/lines/2/qty") -> (origin of that row, header, cell,
    message without the "Row 3, Quantity:" prefix the row's own location replaces)."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(origins):
        return None, "", None, message
    origin = origins[int(parts[1])]
    column_key = parts[2] if len(parts) > 2 else ""
    header, raw = origin.cells.get(column_key, ("", None))
    f = entity.field(parts[0])
    column = next((c for c in (f.columns if f else ()) if c.key == column_key), None)
    if column is not None:
        prefix = translate(lang, "Row %(row)s, %(column)s: %(message)s", row=int(parts[1]) + 1,
                           column=column.label.get(lang), message="")
        if message.startswith(prefix):
            message = message[len(prefix):]
    return origin, header, raw, message
