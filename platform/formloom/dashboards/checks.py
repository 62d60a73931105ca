"""Validating dashboard documents: the meta-schema, then what the widgets mean
against their app (entities, fields, roles, stages), each problem located by
its JSON path with a sentence saying what to change. Small generators, listed
in DASHBOARD_CHECKS, as for apps and workflows."""
from __future__ import annotations

from typing import Any, Callable, Iterator

from ..definitions.document_parts import entity_named, fields_by_key, indexed_dicts
from ..definitions.problems import Problem, json_path, sorted_problems
from ..definitions.schema_check import check_schema
from ..definitions.wording import did_you_mean
from .filters import filter_problems
from .kinds import WIDGET_KINDS
from .related import RELATED_VARIABLES
from .variables import DATE_KINDS, GROUPABLE_KINDS, RECORD_VARIABLES, variable_kind

NUMERIC_AGGS = ("sum", "avg", "min", "max", "median")


class _Ctx:
    def __init__(self, doc: dict, app: dict, workflows: dict, source: str):
        self.doc, self.app, self.workflows, self.source = doc, app, workflows, source

    def problem(self, *parts: str | int, message: str) -> Problem:
        return Problem(self.source, json_path(*parts), message)

    def entity(self, widget: dict) -> dict | None:
        return entity_named(self.app, widget.get("entity"))

    def has_workflow(self, entity: dict) -> bool:
        key = entity.get("workflow")
        return isinstance(key, str) and key in self.workflows


Check = Callable[[_Ctx], Iterator[Problem]]


def widgets(c: _Ctx) -> list[tuple[int, dict]]:
    return indexed_dicts(c.doc.get("widgets"))


def roles_exist(c: _Ctx) -> Iterator[Problem]:
    declared = [r for r in c.app.get("roles", []) if isinstance(r, str)]
    for i, role in enumerate(c.doc.get("roles", [])):
        if role not in declared:
            yield c.problem("roles", i, message=f"The role {role!r} is not one of the app's roles "
                                                f"({', '.join(declared)}){did_you_mean(role, declared)}.")


def widget_keys_unique(c: _Ctx) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, w in widgets(c):
        key = w.get("key")
        if key in seen:
            yield c.problem("widgets", i, "key", message=f"Another widget already has the key {key!r}; "
                                                         "give each widget its own key.")
        seen.add(key)


def widget_entities(c: _Ctx) -> Iterator[Problem]:
    names = [e.get("key") for e in c.app.get("entities", []) if isinstance(e, dict)]
    for i, w in widgets(c):
        entity = c.entity(w)
        if entity is None and "series" in w and "entity" not in w:
            continue                        # each series names its own (widget_series)
        if entity is None:
            yield c.problem("widgets", i, "entity", message=f"The app has no entity {w.get('entity')!r}"
                                                            f"{did_you_mean(w.get('entity'), names)}.")
            continue
        needs_stages = w.get("type") == "funnel" or w.get("source") == "history"
        if needs_stages and not c.has_workflow(entity):
            yield c.problem("widgets", i, "entity", message=f"This widget reads stages, but {w['entity']!r} "
                                                            "has no workflow with stages.")


def widget_shapes(c: _Ctx) -> Iterator[Problem]:
    for i, w in widgets(c):
        kind = w.get("type")
        measures = w.get("measures") or []
        spec = WIDGET_KINDS.get(kind)
        if spec is None or "series" in w:
            continue                        # a widget of series: widget_series
        if isinstance(w.get("group"), dict) and not w["group"].get("by"):
            yield c.problem("widgets", i, "group", message="Say what to group by in 'by', e.g. {\"by\": \"$stage\"}.")
        if spec.measures and not measures:
            yield c.problem("widgets", i, message=f"A {kind} widget needs at least one measure in 'measures', "
                                                  "e.g. {\"agg\": \"count\"}.")
        if spec.grouped and not w.get("group"):
            yield c.problem("widgets", i, message=f"A {kind} widget needs a 'group' (what its bars, points, "
                                                  "slices or rows are), e.g. {\"by\": \"$stage\"}.")
        if kind == "number" and w.get("group"):
            yield c.problem("widgets", i, "group", message="A number card shows one number; remove 'group' "
                                                           "or use a bar or table widget.")
        if spec.across and len(measures) > 1:
            yield c.problem("widgets", i, "measures", message=f"A {kind} widget shows one measure in its cells; "
                                                              "keep only the first, or use a table widget.")
        if spec.across and not w.get("across"):
            yield c.problem("widgets", i, message=f"A {kind} widget needs 'across' (what its columns are), "
                                                  "e.g. {\"by\": \"$owner\"}.")
        if not spec.across and w.get("across"):
            yield c.problem("widgets", i, "across", message="'across' is only for pivot widgets (type \"pivot\").")
        if spec.across and any(isinstance(m, dict) and m.get("agg") == "median" for m in measures):
            yield c.problem("widgets", i, "measures", 0, "agg", message="A pivot's cells cannot be medians; "
                                                                        "use avg, or a table grouped by one thing.")
        if spec.dated_group and w.get("group") and not w["group"].get("bucket"):
            yield c.problem("widgets", i, "group", message="A line widget runs over time: group by a date "
                                                           "with a 'bucket' (day, week, month, quarter or year).")
        if w.get("compare") and not w.get("date"):
            yield c.problem("widgets", i, "compare", message="Comparing with the previous period needs 'date' "
                                                             "(which date the period applies to, e.g. \"$created\").")
        if kind != "records" and (w.get("columns") or w.get("mine")):
            key = "columns" if w.get("columns") else "mine"
            yield c.problem("widgets", i, key, message=f"'{key}' is only for record list widgets (type \"records\").")


def _fields(c: _Ctx, w: dict) -> dict:
    return fields_by_key(c.entity(w))


def widget_variables(c: _Ctx) -> Iterator[Problem]:
    """Group, date, sort and columns name fields or variables that exist and fit."""
    for i, w in widgets(c):
        entity = c.entity(w)
        if entity is None:
            continue
        fields, source = _fields(c, w), w.get("source", "records")
        for part in ("group", "across"):
            group = w.get(part)
            if isinstance(group, dict) and isinstance(group.get("by"), str):
                yield from _group_problems(c, i, part, group, fields, source, entity)
        if isinstance(w.get("date"), str):
            kind = variable_kind(fields, w["date"], source)
            if kind not in DATE_KINDS:
                yield c.problem("widgets", i, "date", message=_not_a(w["date"], kind, "a date", fields, source))
        if isinstance(w.get("sort"), str):
            name = w["sort"].lstrip("-")
            if variable_kind(fields, name, source) in (None, "list"):
                yield c.problem("widgets", i, "sort", message=_not_a(name, None, "a field to sort by", fields, source))
        for j, key in enumerate(w.get("columns") or []):
            if key not in fields:
                yield c.problem("widgets", i, "columns", j, message=_not_a(key, None, "a field", fields, source))


def _group_problems(c: _Ctx, i: int, part: str, group: dict, fields: dict, source: str,
                    entity: dict) -> Iterator[Problem]:
    by = group["by"]
    kind = variable_kind(fields, by, source)
    if kind is None or kind not in GROUPABLE_KINDS:
        yield c.problem("widgets", i, part, "by", message=_not_a(by, kind, "something to group by", fields, source))
        return
    if kind == "stage" and not c.has_workflow(entity):
        yield c.problem("widgets", i, part, "by", message=f"{entity.get('key')!r} has no workflow, so it has no stages to group by.")
    if kind in DATE_KINDS and not group.get("bucket"):
        yield c.problem("widgets", i, part, message=f"Grouping by the date {by!r} needs a 'bucket': "
                                                       "day, week, month, quarter or year.")
    if group.get("bucket") and kind not in DATE_KINDS:
        yield c.problem("widgets", i, part, "bucket", message=f"{by!r} is not a date; only dates are grouped in buckets.")


def _not_a(name: str, kind: str | None, wanted: str, fields: dict, source: str) -> str:
    if kind == "list":
        return f"{name!r} holds a list of values; it cannot be used as {wanted}."
    if kind is not None:
        return f"{name!r} is not {wanted}."
    known = list(fields) + [k for k, (_kind, sources) in RECORD_VARIABLES.items() if source in sources]
    return f"{name!r} is neither a field of this entity nor a variable of this widget's source{did_you_mean(name, known)}."


def widget_measures(c: _Ctx) -> Iterator[Problem]:
    for i, w in widgets(c):
        if c.entity(w) is None:
            continue
        fields, source = _fields(c, w), w.get("source", "records")
        for j, m in indexed_dicts(w.get("measures")):
            yield from _measure_problems(c, ("widgets", i, "measures", j), m, fields, source)


def _measure_problems(c: _Ctx, at: tuple, m: dict, fields: dict, source: str) -> Iterator[Problem]:
    agg = m.get("agg")
    if agg == "ratio":
        for part in ("of", "per"):
            if not isinstance(m.get(part), dict):
                yield c.problem(*at, message=f"A ratio needs '{part}' (a measure: 'of' is divided by 'per').")
            else:
                if m[part].get("agg") == "ratio":
                    yield c.problem(*at, part, "agg", message="A ratio's parts are counts, sums ... not ratios.")
                yield from _measure_problems(c, (*at, part), m[part], fields, source)
        if m.get("field"):
            yield c.problem(*at, "field", message="A ratio takes its fields from 'of' and 'per', not 'field'.")
    elif agg == "count":
        if m.get("field"):
            yield c.problem(*at, "field", message="'count' counts rows; remove 'field' or use 'count_distinct'.")
    elif isinstance(agg, str):
        name = m.get("field")
        if not isinstance(name, str):
            yield c.problem(*at, message=f"'{agg}' needs a 'field' to aggregate.")
        else:
            kind = variable_kind(fields, name, source)
            if kind is None or kind == "list":
                yield c.problem(*at, "field", message=_not_a(name, kind, "a value to aggregate", fields, source))
            elif agg in NUMERIC_AGGS and kind != "number":
                yield c.problem(*at, "field", message=f"'{agg}' needs a number, and {name!r} is not one.")
    if m.get("filter") is not None:
        for sentence in filter_problems(m["filter"], fields, source):
            yield c.problem(*at, "filter", message=f"This filter {sentence}.")


def widget_related(c: _Ctx) -> Iterator[Problem]:
    """`related` names an entity whose reference field points at the widget's entity, and a
    widget that counts related records ($related_count ...) says which in `related`."""
    import json
    for i, w in widgets(c):
        entity = c.entity(w)
        if entity is None:
            continue
        related = w.get("related")
        if isinstance(related, dict):
            other = entity_named(c.app, related.get("entity"))
            if other is None:
                names = [e.get("key") for e in c.app.get("entities", []) if isinstance(e, dict)]
                yield c.problem("widgets", i, "related", "entity", message=f"The app has no entity "
                                f"{related.get('entity')!r}{did_you_mean(related.get('entity'), names)}.")
                continue
            via = fields_by_key(other).get(related.get("via"))
            if via is None or via.get("type") != "reference" or via.get("entity") != w["entity"] or via.get("multiple"):
                refs = [k for k, f in fields_by_key(other).items()
                        if f.get("type") == "reference" and f.get("entity") == w["entity"] and not f.get("multiple")]
                yield c.problem("widgets", i, "related", "via", message=(
                    f"{related.get('via')!r} is not a field of {other['key']!r} that links one record to a "
                    f"{w['entity']!r}" + (f"; use {', '.join(map(repr, refs))}." if refs else ".")))
        elif any(f'"{name}"' in json.dumps(w) for name in RELATED_VARIABLES):
            yield c.problem("widgets", i, message="This widget counts related records ($related_count, "
                                                  "$first_related_hours or $last_activity_days): say which in "
                                                  "'related', e.g. {\"entity\": \"task\", \"via\": \"project\"}.")
        for j, m in indexed_dicts(w.get("measures")):
            if m.get("weighted") and (m.get("agg") not in ("sum", "avg") or not c.has_workflow(entity)):
                yield c.problem("widgets", i, "measures", j, "weighted", message="Only a sum or an average over an "
                                "entity with a workflow can be weighted by the stage's probability.")


def widget_filters(c: _Ctx) -> Iterator[Problem]:
    for i, w in widgets(c):
        if c.entity(w) is None or w.get("filter") is None:
            continue
        for sentence in filter_problems(w["filter"], _fields(c, w), w.get("source", "records")):
            yield c.problem("widgets", i, "filter", message=f"This filter {sentence}.")


#: what a widget of series takes from each series, not from itself
SERIES_OWN = ("entity", "measures", "filter", "date")
#: what a widget of series cannot have: its series are counted over their records and buckets
NOT_WITH_SERIES = ("source", "across", "related", "compare", "target", "columns", "sort", "mine", "limit")


def widget_series(c: _Ctx) -> Iterator[Problem]:
    """A widget of series (several entities over shared time buckets): a kind that takes
    them, a bucket and no `by` (each series groups by its own date), and for each series an
    entity, a date of that entity, one measure and a filter it can answer; money series in
    one currency (a chart has one money axis)."""
    for i, w in widgets(c):
        if "series" not in w:
            continue
        spec = WIDGET_KINDS.get(w.get("type"))
        takes = [k.name for k in WIDGET_KINDS.values() if k.series]
        if spec is not None and not spec.series:
            yield c.problem("widgets", i, "series", message=f"A {w.get('type')} widget shows one entity; only "
                            f"{', '.join(takes)} widgets compare series.")
            continue
        if spec is not None and len(w["series"] or []) > spec.series:
            yield c.problem("widgets", i, "series", message=f"A {w['type']} widget shows at most {spec.series} series.")
        for key in SERIES_OWN:
            if key in w:
                yield c.problem("widgets", i, key, message=f"Each series says its own '{key}'; move it into "
                                                         "the series (or remove it here).")
        for key in NOT_WITH_SERIES:
            if key in w:
                yield c.problem("widgets", i, key, message=f"A widget of series cannot use '{key}'; remove it.")
        group = w.get("group")
        if not isinstance(group, dict) or not group.get("bucket"):
            yield c.problem("widgets", i, *(("group",) if isinstance(group, dict) else ()),
                            message="A widget of series needs 'group' with a 'bucket' (day, week, month, quarter "
                                    "or year): the time buckets its series share, e.g. {\"bucket\": \"month\"}.")
        elif group.get("by"):
            yield c.problem("widgets", i, "group", "by", message="Each series is grouped by its own 'date'; "
                                                                 "remove 'by'.")
        yield from _series_problems(c, i, w)


def _series_problems(c: _Ctx, i: int, w: dict) -> Iterator[Problem]:
    names = [e.get("key") for e in c.app.get("entities", []) if isinstance(e, dict)]
    seen: set = set()
    money: list[tuple[int, str]] = []          # (series, currency) of each series adding up money
    for j, s in indexed_dicts(w.get("series")):
        at = ("widgets", i, "series", j)
        if s.get("key") in seen:
            yield c.problem(*at, "key", message=f"Another series already has the key {s.get('key')!r}; "
                                                "give each series its own key.")
        seen.add(s.get("key"))
        entity = entity_named(c.app, s.get("entity"))
        if entity is None:
            yield c.problem(*at, "entity", message=f"The app has no entity {s.get('entity')!r}"
                                                   f"{did_you_mean(s.get('entity'), names)}.")
            continue
        fields = fields_by_key(entity)
        if isinstance(s.get("date"), str):
            kind = variable_kind(fields, s["date"], "records")
            if kind not in DATE_KINDS:
                yield c.problem(*at, "date", message=_not_a(s["date"], kind, "a date", fields, "records"))
        for k, m in indexed_dicts(s.get("measures")):
            yield from _measure_problems(c, (*at, "measures", k), m, fields, "records")
            f = fields.get(m.get("field")) if isinstance(m.get("field"), str) else None
            if w.get("format") == "money" and m.get("agg") in NUMERIC_AGGS and f and f.get("type") == "money":
                money.append((j, f.get("currency") or "CNY"))
        if s.get("filter") is not None:
            for sentence in filter_problems(s["filter"], fields, "records"):
                yield c.problem(*at, "filter", message=f"This filter {sentence}.")
    for j, currency in money[1:]:
        if currency != money[0][1]:
            yield c.problem("widgets", i, "series", j, "measures", 0, "field", message=(
                f"This series adds up {currency} and the first money series {money[0][1]}; a chart has one "
                "money axis: compare amounts in one currency, or show them in separate charts."))


DASHBOARD_CHECKS: tuple[Check, ...] = (roles_exist, widget_keys_unique, widget_entities, widget_shapes,
                                       widget_variables, widget_measures, widget_related, widget_filters,
                                       widget_series)


def validate_dashboard(doc: Any, app_doc: dict | None, workflow_docs: dict, source: str) -> list[Problem]:
    """Schema and meaning problems of one dashboard document of the app `app_doc`."""
    problems = check_schema(doc, "dashboard", source)
    if not isinstance(doc, dict) or not isinstance(app_doc, dict):
        return sorted_problems(problems)
    ctx = _Ctx(doc, app_doc, dict(workflow_docs), source)
    for check in DASHBOARD_CHECKS:
        try:
            problems.extend(check(ctx))
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            if not problems:
                raise            # a document the schema accepts must never trip a check
    return sorted_problems(problems)


def validate_dashboards(docs: dict[str, tuple[str, dict]], app_doc: dict, workflow_docs: dict) -> list[Problem]:
    """Every dashboard of an app (key -> (source, document)); a file is named after its key."""
    problems: list[Problem] = []
    for name, (source, doc) in sorted(docs.items()):
        problems += validate_dashboard(doc, app_doc, workflow_docs, source)
        if isinstance(doc, dict) and doc.get("key") != name:
            problems.append(Problem(source, "$.key", f"The file is named {name}.json but its key is "
                                                    f"{doc.get('key')!r}; a dashboard file is named after its key."))
    return sorted_problems(problems)
