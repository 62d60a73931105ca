"""Exporting a list: exactly the records the list shows (its filters, sort and the
viewer's scope), the chosen visible columns, as people read them (labels in the
viewer's language, option labels, references as titles the viewer may read, users
by name), streamed in constant memory.

The rows come from one query walked with a server-side cursor in chunks; titles and
names are looked up per chunk through the policy. CSV is produced by a generator;
XLSX by openpyxl's write-only workbook (rows go to a temporary file as they come).

A text cell starting with = + - @ tab or carriage return is prefixed with "'" so a
spreadsheet shows it as text instead of running it as a formula (CSV/formula
injection); numbers stay numbers. The importer removes that guard again.
"""
from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select

from ..auth import policy
from ..auth.users import Actor, user_names
from ..definitions.model import AppDef, EntityDef, FieldDef
from ..fields import field_type
from ..fields.dates import parse_datetime
from ..i18n import translate
from ..store.query import ListQuery, _never_null, _order, titles_for, where_clauses
from ..store.records import record_from_row
from ..store.tables import records
from .convert import NEUTRALISED

CHUNK = 1000
STAGE_COLUMN, OWNER_COLUMN = "stage", "owner"


def neutralise(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with a formula character gets a "'"."""
    if isinstance(value, str) and value[:1] in NEUTRALISED:
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    key: str                      # a field key, or STAGE_COLUMN / OWNER_COLUMN
    header: str
    field: FieldDef | None = None


def export_columns(app: AppDef, entity: EntityDef, actor: Actor | None, keys: Iterable[str], lang: str) -> list[Column]:
    """The asked columns the actor may see (hidden fields are never exported), in order."""
    visible = {f.key: f for f in policy.visible_fields(actor, app, entity)}
    workflow = app.workflow_for(entity.key)
    out: list[Column] = []
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        if key in visible and visible[key].type != "subtable":
            out.append(Column(key, visible[key].label.get(lang), visible[key]))
        elif key == STAGE_COLUMN and workflow and workflow.stages:
            out.append(Column(key, translate(lang, "Stage")))
        elif key == OWNER_COLUMN:
            out.append(Column(key, translate(lang, "Owner")))
    return out


class _Cells:
    """Turns one chunk of records into rows of cells."""

    def __init__(self, conn: Connection, app: AppDef, entity: EntityDef, actor: Actor | None, columns: list[Column],
                 lang: str):
        self.conn, self.app, self.entity, self.actor, self.columns, self.lang = conn, app, entity, actor, columns, lang
        self.workflow = app.workflow_for(entity.key)
        try:
            self.zone = ZoneInfo(app.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")

    def rows(self, chunk: list) -> Iterator[list[Any]]:
        titles: dict[tuple[str, int], str] = {}
        wanted: dict[str, set[int]] = {}
        user_ids: set[int] = set()
        for record in chunk:
            for c in self.columns:
                if c.key == OWNER_COLUMN and record.owner_id is not None:
                    user_ids.add(record.owner_id)
                elif c.field is not None and c.field.type in ("reference", "user"):
                    value = record.data.get(c.key)
                    ids = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]
                    if c.field.type == "user":
                        user_ids.update(ids)
                    else:
                        wanted.setdefault(c.field.entity or "", set()).update(ids)
        for entity_key, ids in wanted.items():
            for record_id, title in titles_for(self.conn, self.app, self.app.entity(entity_key), self.actor,
                                               ids).items():
                titles[(entity_key, record_id)] = title
        names = user_names(self.conn, user_ids) if user_ids else {}
        for record in chunk:
            yield [neutralise(self.cell(c, record, titles, names)) for c in self.columns]

    def cell(self, c: Column, record, titles, names) -> Any:
        if c.key == STAGE_COLUMN:
            stage = self.workflow.stage(record.stage) if self.workflow and record.stage else None
            return stage.label.get(self.lang) if stage else (record.stage or "")
        if c.key == OWNER_COLUMN:
            return names.get(record.owner_id, "") if record.owner_id is not None else ""
        f = c.field
        value = record.data.get(f.key)
        if value is None or value == "" or value == []:
            return ""
        ids = value if isinstance(value, list) else [value]
        if f.type == "reference":
            return ", ".join(titles.get((f.entity, i)) or f"#{i}" for i in ids)
        if f.type == "user":
            return ", ".join(names.get(i, f"#{i}") for i in ids)
        if f.type == "datetime":
            moment = parse_datetime(value)
            return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if moment else str(value)
        if f.type in ("number", "percent", "rating", "money", "formula") and not isinstance(value, bool):
            exported = field_type(f.type).export(f, value, self.lang)
            if isinstance(exported, (int, float, Decimal)):
                return exported
        try:
            return field_type(f.type).display(f, value, self.lang)
        except Exception:      # a value an older definition wrote
            return str(value)


def export_rows(db, app: AppDef, entity: EntityDef, actor: Actor | None, query: ListQuery, columns: list[Column],
                lang: str) -> Iterator[list[Any]]:
    """The header, then one row per record the list shows, in the list's order."""
    yield [c.header for c in columns]
    with db.read() as conn:
        dialect = conn.dialect.name
        where = where_clauses(conn, app, entity, actor, query)
        stmt = (select(records).where(*where)
                .order_by(*_order(dialect, entity, query.sort, _never_null(entity, query.filters))))
        cells = _Cells(conn, app, entity, actor, columns, lang)
        result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(stmt)
        for partition in result.partitions(CHUNK):
            yield from cells.rows([record_from_row(r) for r in partition])


def _csv_cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def csv_stream(rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads Chinese correctly), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff".encode()
    for i, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if i % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_file(rows: Iterable[list[Any]], title: str = "Export") -> tempfile.SpooledTemporaryFile:
    """An .xlsx of `rows` in a temporary file (write-only workbook: constant memory)."""
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=_sheet_title(title))
    for row in rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    return out


def _sheet_title(title: str) -> str:
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
    return cleaned or "Export"


def file_chunks(handle, size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()


def export_name(entity: EntityDef, lang: str, suffix: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return f"{entity.key}-{stamp}.{suffix}"
