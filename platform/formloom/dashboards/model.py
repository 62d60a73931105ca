"""Compiled dashboard documents: what a dashboard shows, for whom, and how each
widget's numbers are asked for. Compiled from documents that passed validation
(dashboards.checks), so nothing here re-checks a document."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..definitions.model import Label, freeze

from .kinds import MEASURE_KINDS, WIDGET_KINDS, chart_kinds

WIDGET_TYPES = tuple(WIDGET_KINDS)
CHART_TYPES = chart_kinds()
AGGREGATES = tuple(MEASURE_KINDS)
FORMATS = ("number", "money", "percent", "days")
SOURCES = ("records", "history")


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: Label
    agg: str
    field: str | None = None           # a field key or a source variable ($duration_days ...)
    filter: Any = None                 # JSON Logic (frozen), applies to this measure only
    of: "MeasureDef | None" = None     # ratio: numerator
    per: "MeasureDef | None" = None    # ratio: denominator
    weighted: bool = False             # the field times the probability of the record's stage (/ 100)


@dataclass(frozen=True)
class GroupDef:
    by: str                            # $stage | $owner | $from_stage | $to_stage | field key
    bucket: str | None = None          # date fields: day | week | month | quarter | year


@dataclass(frozen=True)
class RelatedDef:
    entity: str                        # the entity whose records point at the widget's records
    via: str                           # ... through this reference field of theirs


@dataclass(frozen=True)
class TargetDef:
    value: float
    better: str = "higher"             # "higher" | "lower"


@dataclass(frozen=True)
class SeriesDef:
    """One series of a widget that compares several entities over the same time buckets:
    `widget` is the series as a widget of its own (its entity, one measure, filter and date,
    grouped by that date in the parent's bucket), so computing, scoping and drilling into a
    series is exactly what they are for any bucketed widget."""
    key: str
    label: Label
    widget: "WidgetDef"


@dataclass(frozen=True)
class WidgetDef:
    key: str
    type: str
    label: Label
    entity: str
    measures: tuple[MeasureDef, ...] = ()
    source: str = "records"
    group: GroupDef | None = None
    across: GroupDef | None = None     # pivot: the columns (group: the rows)
    filter: Any = None
    date: str | None = None            # what the page's period applies to; None: not filtered by period
    compare: bool = False
    target: TargetDef | None = None
    format: str = "number"
    limit: int | None = None
    columns: tuple[str, ...] = ()      # records: fields shown
    sort: str | None = None            # records: "-field" newest/largest first
    mine: bool = False                 # records: only the viewer's own
    width: int = 1
    related: RelatedDef | None = None  # the records $related_count ... count (dashboards.related)
    series: tuple[SeriesDef, ...] = ()  # several entities' measures over shared buckets (then `entity`,
                                        # `measures` and `group` are the series' own: the first's, each one's)

    def part(self, series_key: str | None) -> "WidgetDef | None":
        """The series `series_key` as a widget of its own (None: there is no such series)."""
        return next((s.widget for s in self.series if s.key == series_key), None)

    def parts(self) -> tuple["WidgetDef", ...]:
        """What is computed: each series, or the widget itself."""
        return tuple(s.widget for s in self.series) or (self,)

    def entities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.entity for p in self.parts()))


@dataclass(frozen=True)
class DashboardDef:
    key: str
    label: Label
    roles: tuple[str, ...]
    widgets: tuple[WidgetDef, ...]
    period: str = "this_month"
    description: Label | None = None
    owner: str | None = None           # the owner filter it opens with: "me" | "team" (None: everyone)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def widget(self, key: str) -> WidgetDef | None:
        return next((w for w in self.widgets if w.key == key), None)


def compile_measure(raw: Mapping[str, Any], fallback_key: str = "value") -> MeasureDef:
    key = raw.get("key", fallback_key)
    return MeasureDef(
        key=key, label=Label.of(raw.get("label"), key), agg=raw["agg"], field=raw.get("field"),
        filter=freeze(raw["filter"]) if raw.get("filter") is not None else None,
        of=compile_measure(raw["of"], "of") if raw.get("of") else None,
        per=compile_measure(raw["per"], "per") if raw.get("per") else None, weighted=bool(raw.get("weighted")))


def compile_series(parent: Mapping[str, Any], raw: Mapping[str, Any]) -> SeriesDef:
    label = Label.of(raw.get("label"), raw["key"])
    measure = {**raw["measures"][0], "key": raw["key"], "label": raw.get("label") or raw["key"]}
    widget = {"key": f"{parent['key']}.{raw['key']}", "type": parent["type"], "label": raw.get("label") or raw["key"],
              "entity": raw["entity"], "measures": [measure], "date": raw["date"],
              "group": {"by": raw["date"], "bucket": parent["group"]["bucket"]},
              "format": parent.get("format", "number"), "width": parent.get("width", 1),
              **({"filter": raw["filter"]} if raw.get("filter") is not None else {})}
    return SeriesDef(raw["key"], label, compile_widget(widget))


def compile_widget(raw: Mapping[str, Any]) -> WidgetDef:
    if raw.get("series"):
        series = tuple(compile_series(raw, s) for s in raw["series"])
        first = series[0].widget
        return WidgetDef(
            key=raw["key"], type=raw["type"], label=Label.of(raw.get("label"), raw["key"]), entity=first.entity,
            measures=tuple(s.widget.measures[0] for s in series), group=first.group,
            format=raw.get("format", "number"), width=int(raw.get("width", 1)), series=series)
    group, across = raw.get("group"), raw.get("across")
    target = raw.get("target")
    return WidgetDef(
        key=raw["key"], type=raw["type"], label=Label.of(raw.get("label"), raw["key"]), entity=raw["entity"],
        measures=tuple(compile_measure(m, f"m{i}") for i, m in enumerate(raw.get("measures", []))),
        source=raw.get("source", "records"),
        group=GroupDef(group["by"], group.get("bucket")) if group else None,
        across=GroupDef(across["by"], across.get("bucket")) if across else None,
        filter=freeze(raw["filter"]) if raw.get("filter") is not None else None,
        date=raw.get("date"), compare=bool(raw.get("compare")),
        target=TargetDef(float(target["value"]), target.get("better", "higher")) if target else None,
        format=raw.get("format", "number"), limit=raw.get("limit"), columns=tuple(raw.get("columns", ())),
        sort=raw.get("sort"), mine=bool(raw.get("mine")), width=int(raw.get("width", 1)),
        related=RelatedDef(raw["related"]["entity"], raw["related"]["via"]) if raw.get("related") else None)


def compile_dashboard(raw: Mapping[str, Any]) -> DashboardDef:
    return DashboardDef(
        key=raw["key"], label=Label.of(raw.get("label"), raw["key"]), roles=tuple(raw.get("roles", ())),
        widgets=tuple(compile_widget(w) for w in raw.get("widgets", [])),
        period=raw.get("period", "this_month"), owner=raw.get("owner"),
        description=Label.of(raw["description"]) if raw.get("description") else None)
