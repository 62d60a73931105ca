"""A list page's body cells as markup built once per cell in Python.

A page of 50 records and eight columns is 400 cells; rendering each through Jinja (a loop
variable, an attribute look-up per test, a translation call per row for the owner and stage
labels, a macro call per stage badge) was most of the list page's cost. The markup is the
same as the template wrote it; every value and label goes through `escape`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from markupsafe import Markup, escape

from ..definitions.model import FieldDef, StageDef
from .display import html_text


def stage_badge(stage: StageDef | None, code: str) -> str:
    """The same markup as the `stage_badge` macro in records/_macros.html."""
    if stage is None:
        return ""
    terminal = f" {escape(stage.terminal)}" if stage.terminal else ""
    return f'<span class="badge{terminal}">{escape(stage.label.get(code))}</span>'


class RowCells:
    """What the `<td>` cells of every row of one page share (one instance per page: labels,
    the title column and stage badges are worked out once, not per row); `RowWriter` writes
    the cells."""

    def __init__(self, columns: Sequence[FieldDef], column_labels: Sequence[str], title_key: str | None,
                 code: str, *, owner_label: str | None, stage_label: str | None):
        self.heads = [f'<td data-label="{escape(text)}">' for text in column_labels]
        self.title_index = next((i for i, f in enumerate(columns) if f.key == title_key), None)
        self.owner_head = f'<td data-label="{escape(owner_label)}">' if owner_label is not None else None
        self.stage_head = f'<td data-label="{escape(stage_label)}">' if stage_label is not None else None
        self.code = code
        self.badges: dict[str, str] = {}

    def _badge(self, stage: StageDef | None) -> str:
        if stage is None:
            return ""
        found = self.badges.get(stage.key)
        if found is None:
            found = self.badges[stage.key] = stage_badge(stage, self.code)
        return found


class RowWriter:
    """Writes each row's `<td>` cells of one page from the records' values (one instance
    per page), each distinct value of a column formatted and escaped once.

    `cell(field, value)` answers `(text, markup)` of a value as `show` and `Shown.__html__`
    would (display.cell_html: no `Shown` in between). A page repeats options, dates, formula
    tiers and references down a column, and what a cell shows depends only on the field, the
    value, the language and the page's look-ups, so each column keeps its answers per
    distinct value: a repeated value costs one dictionary look-up. Keyed by the value's type
    too: True == 1 and 1 == 1.0, but they are not shown alike; lists and dicts (multiselects,
    files) have no key and are written each time. tests/web/test_list_fast_paths.py compares
    the pages with kept answers on and off, and each cell with `show`'s markup."""

    #: Off, every cell is written afresh (the plain path the tests compare against).
    memo = True

    def __init__(self, columns: Sequence[FieldDef], column_labels: Sequence[str], title_key: str | None,
                 code: str, cell: Callable[[FieldDef, Any], tuple[str, str]], *, owner_label: str | None,
                 stage_label: str | None):
        self.columns = list(columns)
        self.row = RowCells(columns, column_labels, title_key, code, owner_label=owner_label,
                            stage_label=stage_label)
        self.cell = cell
        self.kept: list[dict] = [{} for _f in self.columns]

    def __call__(self, record_id: int, data: dict, url: str, owner: str | None,
                 stage: StageDef | None) -> tuple[str, Markup]:
        """The text of the row's first cell (its checkbox's name) and its cells' markup."""
        row, cell, memo = self.row, self.cell, self.memo
        heads, title_index = row.heads, row.title_index
        first, parts = "", []
        for i, f in enumerate(self.columns):
            value = data.get(f.key)
            found = None
            if memo:
                kept = self.kept[i]
                try:
                    key = (type(value), value)
                    found = kept.get(key)
                    if found is None:
                        found = kept[key] = cell(f, value)
                except TypeError:           # a list or a dict: no key
                    pass
            if found is None:
                found = cell(f, value)
            text, inner = found
            if i == 0:
                first = text
            if i == title_index:
                inner = f'<a class="title-link" href="{html_text(url)}">{html_text(text or f"#{record_id}")}</a>'
            parts.append(f"{heads[i]}{inner}</td>")
        if row.owner_head is not None:
            parts.append(f"{row.owner_head}{html_text(owner or '')}</td>")
        if row.stage_head is not None:
            parts.append(f"{row.stage_head}{row._badge(stage)}</td>")
        return first, Markup("".join(parts))


def select_label(pattern: str, first_text: str, record_id: Any) -> str:
    """The row checkbox's accessible name from the translated pattern "Select %(title)s" and
    the text of the row's first cell."""
    return pattern % {"title": first_text or f"#{record_id}"}


def rows_html(rows: Sequence[dict], selectable: bool) -> Markup:
    """The table's rows of one page in one join (the template looped over them: attribute
    look-ups and an escape per row), with the select box when the page offers bulk actions."""
    if not selectable:
        return Markup("".join(f"<tr>{row['html']}</tr>\n" for row in rows))
    return Markup("".join(
        f'<tr><td class="select-col"><input type="checkbox" name="ids" value="{int(row["record"].id)}" '
        f'form="bulk-form" aria-label="{html_text(row["select_label"])}"></td>{row["html"]}</tr>\n' for row in rows))
