"""A list page's body cells as markup built once per cell in Python.

A page of 50 records and eight columns is 400 cells; rendering each through Jinja (a loop
variable, an attribute look-up per test, a translation call per row for the owner and stage
labels, a macro call per stage badge) was most of the list page's cost. The markup is the
same as the template wrote it; every value and label goes through `escape`.
"""
from __future__ import annotations

from typing import Any, Sequence

from markupsafe import Markup, escape

from ..definitions.model import FieldDef, StageDef
from .display import Shown, html_text


def stage_badge(stage: StageDef | None, code: str) -> str:
    """The same markup as the `stage_badge` macro in records/_macros.html."""
    if stage is None:
        return ""
    terminal = f" {escape(stage.terminal)}" if stage.terminal else ""
    return f'<span class="badge{terminal}">{escape(stage.label.get(code))}</span>'


class RowCells:
    """Builds the `<td>` cells of each row of one page (one instance per page: labels,
    the title column and stage badges are worked out once, not per row)."""

    def __init__(self, columns: Sequence[FieldDef], column_labels: Sequence[str], title_key: str | None,
                 code: str, *, owner_label: str | None, stage_label: str | None):
        self.heads = [f'<td data-label="{escape(text)}">' for text in column_labels]
        self.title_index = next((i for i, f in enumerate(columns) if f.key == title_key), None)
        self.owner_head = f'<td data-label="{escape(owner_label)}">' if owner_label is not None else None
        self.stage_head = f'<td data-label="{escape(stage_label)}">' if stage_label is not None else None
        self.code = code
        self.badges: dict[str, str] = {}

    def __call__(self, record_id: int, cells: Sequence[Shown], url: str, owner: str | None,
                 stage: StageDef | None) -> Markup:
        parts = []
        for i, shown in enumerate(cells):
            if i == self.title_index:
                inner = f'<a class="title-link" href="{html_text(url)}">{html_text(shown.text or f"#{record_id}")}</a>'
            else:
                inner = shown.__html__()
            parts.append(f"{self.heads[i]}{inner}</td>")
        if self.owner_head is not None:
            parts.append(f"{self.owner_head}{html_text(owner or '')}</td>")
        if self.stage_head is not None:
            parts.append(f"{self.stage_head}{self._badge(stage)}</td>")
        return Markup("".join(parts))

    def _badge(self, stage: StageDef | None) -> str:
        if stage is None:
            return ""
        found = self.badges.get(stage.key)
        if found is None:
            found = self.badges[stage.key] = stage_badge(stage, self.code)
        return found


def select_label(pattern: str, cells: Sequence[Shown], record_id: Any) -> str:
    """The row checkbox's accessible name from the translated pattern "Select %(title)s"."""
    return pattern % {"title": (cells[0].text if cells else "") or f"#{record_id}"}


def rows_html(rows: Sequence[dict], selectable: bool) -> Markup:
    """The table's rows of one page in one join (the template looped over them: attribute
    look-ups and an escape per row), with the select box when the page offers bulk actions."""
    if not selectable:
        return Markup("".join(f"<tr>{row['html']}</tr>\n" for row in rows))
    return Markup("".join(
        f'<tr><td class="select-col"><input type="checkbox" name="ids" value="{int(row["record"].id)}" '
        f'form="bulk-form" aria-label="{html_text(row["select_label"])}"></td>{row["html"]}</tr>\n' for row in rows))
