"""Drill-down: the records behind one number of a widget (a card, a bar, a slice, a
funnel step, a table row or a pivot cell).

The clause is built from the very parts the number was computed with
(measures.base_where, the group's expression, the measure's own filter, the
funnel's "reached" rule), so for a count the list has exactly as many records
as the number shows, under the same data scope, period and owner filter. A
widget over the stage history lists the records whose stage changes it counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select, true

from ..store.records import record_from_row
from ..store.tables import records, stage_history
from .filters import compile_filter
from .measures import NONE_KEY, Viewer, _from, _group, _labels, _thaw, base_where
from .model import GroupDef, MeasureDef, WidgetDef
from .related import widget_entity

MAX_KEY = 200


@dataclass(frozen=True)
class Cell:
    """Which number was clicked: the row (group) key and the column (pivot) key, as in the
    widget's JSON `keys`; None means the whole widget (a card, a total)."""
    row: str | None = None
    column: str | None = None
    series: str | None = None          # a widget of series: whose records (its `series_keys`)


def counted_measure(widget: WidgetDef) -> MeasureDef | None:
    """The measure whose rows a drill-down lists: the first; of a ratio, its denominator."""
    if not widget.measures:
        return None
    m = widget.measures[0]
    return m.per if m.agg == "ratio" else m


def _measure_clause(v: Viewer, widget: WidgetDef) -> list:
    from .variables import expression
    entity = widget_entity(v.app, widget)
    m = counted_measure(widget)
    if m is None:
        return []
    out = []
    if m.filter is not None:
        out.append(compile_filter(v.dialect, entity, _thaw(m.filter), v.today, v.zone, v.slots_of(entity)))
    if m.agg != "count" and m.field:
        out.append(expression(v.dialect, entity, m.field, v.slots_of(entity)).is_not(None))
    return out


def _group_clause(v: Viewer, widget: WidgetDef, group: GroupDef, key: str) -> ColumnElement[bool]:
    expr, _order = _group(v, widget_entity(v.app, widget), widget, v.period, group)
    if key == NONE_KEY:
        return expr.is_(None)
    return cast(expr, String) == str(key)[:MAX_KEY]


def _funnel_clause(v: Viewer, widget: WidgetDef, step: str) -> ColumnElement[bool]:
    """Reached step `step`: sits there or further now, or entered it or a further step once
    (every record has reached the first step)."""
    workflow = v.app.workflow_for(widget.entity)
    steps = [s.key for s in (workflow.stages if workflow else ()) if s.terminal != "lost"]
    if step not in steps:
        return records.c.id.is_(None)
    later = steps[steps.index(step):]
    if later == steps:
        return true()
    ever = select(stage_history.c.record_id).where(stage_history.c.to_stage.in_(later))
    return or_(records.c.stage.in_(later), records.c.id.in_(ever))


def drill_where(v: Viewer, widget: WidgetDef, cell: Cell) -> list:
    """The WHERE over `records` for the records behind `cell` of `widget`."""
    if widget.series:              # the series' own records, as the bucketed widget it is
        part = widget.part(cell.series)
        return drill_where(v, part, Cell(cell.row)) if part is not None else [records.c.id.is_(None)]
    entity = widget_entity(v.app, widget)
    where = base_where(v, entity, widget, v.period)
    if widget.type == "records":
        return where
    if widget.type == "funnel":
        return where + ([_funnel_clause(v, widget, cell.row)] if cell.row is not None else [])
    parts = _measure_clause(v, widget)
    if cell.row is not None and widget.group is not None:
        parts.append(_group_clause(v, widget, widget.group, cell.row))
    if cell.column is not None and widget.across is not None:
        parts.append(_group_clause(v, widget, widget.across, cell.column))
    if widget.source == "history":         # the records whose counted stage changes these are
        changes = (select(stage_history.c.record_id).select_from(_from(widget)).where(*where, *parts))
        return [records.c.id.in_(changes)]
    return where + parts


@dataclass
class DrillPage:
    total: int
    records: list
    row_label: str | None
    column_label: str | None


def drill(v: Viewer, widget: WidgetDef, cell: Cell, *, offset: int = 0, limit: int = 50) -> DrillPage:
    where = drill_where(v, widget, cell)
    if widget.series:              # its labels are those of the series clicked
        widget = widget.part(cell.series) or widget
    total = v.conn.execute(select(func.count()).select_from(records).where(*where)).scalar_one()
    rows = v.conn.execute(select(records).where(*where).order_by(records.c.updated_at.desc(), records.c.id.desc())
                          .offset(offset).limit(limit))
    return DrillPage(total, [record_from_row(r) for r in rows], _label(v, widget, widget.group, cell.row),
                     _label(v, widget, widget.across, cell.column))


def _label(v: Viewer, widget: WidgetDef, group: GroupDef | None, key: Any) -> str | None:
    if key is None:
        return None
    if key == NONE_KEY:
        return "—"
    if widget.type == "funnel":
        workflow = v.app.workflow_for(widget.entity)
        stage = workflow.stage(key) if workflow else None
        return stage.label.get(v.lang) if stage else str(key)
    if group is None:
        return str(key)
    from dataclasses import replace
    entity = widget_entity(v.app, widget)
    typed = int(key) if str(key).isdigit() else key
    return _labels(v, entity, replace(widget, group=group), [typed]).get(typed, str(key))
