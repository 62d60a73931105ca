"""The kinds of widget and of measure a dashboard may use, as registries.

The meaning checks, the page and the browser builder read what a kind needs
(a group, measures, a second group across, a chart) from here, so the builder's
choices are generated from these entries and a kind registered by an extension
appears there with no change elsewhere (its drawing aside).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..registry import Registry


@dataclass(frozen=True)
class WidgetKind:
    name: str
    label: Mapping[str, str]
    measures: int = 1                 # how many measures it shows at most (0: none)
    grouped: bool = False             # needs a group: its bars, slices, points or rows
    across: bool = False              # needs a second group: the columns of a pivot
    chart: bool = False               # drawn as a chart (with a table fallback)
    dated_group: bool = False         # its group must be a date in buckets
    series: int = 0                   # how many series (each its own entity, measure, filter and date,
                                      # sharing the time bucket) it may compare instead of one entity (0: none)


@dataclass(frozen=True)
class MeasureKind:
    name: str
    label: Mapping[str, str]
    field: str = "any"                # "none" | "any" | "number" | "parts" (a ratio: of / per)


WIDGET_KINDS: Registry[WidgetKind] = Registry("widget kind")
MEASURE_KINDS: Registry[MeasureKind] = Registry("measure")

for _kind in (
    WidgetKind("number", {"en": "Number card", "zh": "数字卡片"}),
    WidgetKind("bar", {"en": "Bar chart", "zh": "柱状图"}, measures=6, grouped=True, chart=True,
               series=6),
    WidgetKind("line", {"en": "Line over time", "zh": "折线图"}, measures=6, grouped=True, chart=True,
               dated_group=True, series=6),
    WidgetKind("pie", {"en": "Pie chart", "zh": "饼图"}, grouped=True, chart=True),
    WidgetKind("donut", {"en": "Donut chart", "zh": "环形图"}, grouped=True, chart=True),
    WidgetKind("funnel", {"en": "Stage funnel", "zh": "阶段漏斗"}, measures=0, chart=True),
    WidgetKind("table", {"en": "Table / leaderboard", "zh": "表格 / 排行榜"}, measures=6, grouped=True),
    WidgetKind("pivot", {"en": "Pivot table", "zh": "透视表"}, grouped=True, across=True),
    WidgetKind("records", {"en": "Record list", "zh": "记录列表"}, measures=0),
):
    WIDGET_KINDS.add(_kind)

for _measure in (
    MeasureKind("count", {"en": "Count", "zh": "计数"}, field="none"),
    MeasureKind("count_distinct", {"en": "Count of distinct values", "zh": "去重计数"}),
    MeasureKind("sum", {"en": "Sum", "zh": "求和"}, field="number"),
    MeasureKind("avg", {"en": "Average", "zh": "平均值"}, field="number"),
    MeasureKind("min", {"en": "Minimum", "zh": "最小值"}, field="number"),
    MeasureKind("max", {"en": "Maximum", "zh": "最大值"}, field="number"),
    MeasureKind("median", {"en": "Median", "zh": "中位数"}, field="number"),
    MeasureKind("ratio", {"en": "Ratio of two measures", "zh": "两个度量之比"}, field="parts"),
):
    MEASURE_KINDS.add(_measure)


def grouped_kinds() -> tuple[str, ...]:
    return tuple(k.name for k in WIDGET_KINDS.values() if k.grouped)


def series_kinds() -> tuple[str, ...]:
    return tuple(k.name for k in WIDGET_KINDS.values() if k.series)


def chart_kinds() -> tuple[str, ...]:
    return tuple(k.name for k in WIDGET_KINDS.values() if k.chart)
