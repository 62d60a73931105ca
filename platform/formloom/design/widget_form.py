"""The dashboard builder's widget form: its choices generated from the registries of
widget and measure kinds (dashboards.kinds) and from the draft app's entities and
fields, and what the form posts turned back into a widget document that the
dashboard checks then judge. No widget kind or aggregate is named here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from ..dashboards.filters import filter_problems
from ..dashboards.kinds import MEASURE_KINDS, WIDGET_KINDS
from ..dashboards.model import FORMATS
from ..dashboards.periods import BUCKETS
from ..dashboards.related import RELATED_VARIABLES
from ..dashboards.variables import DATE_KINDS, GROUPABLE_KINDS, RECORD_VARIABLES, variable_kind
from ..definitions.schema_check import KEY_PATTERN
from . import condition_builder as cb

KEY = re.compile(KEY_PATTERN)
LANGS = ("en", "zh")
#: the widget's conditions, each edited with the condition builder under this prefix
CONDITIONS = ("filter", "of_filter", "per_filter")


@dataclass(frozen=True)
class Choice:
    value: str
    text: str
    kind: str = ""                   # what a field or variable is (number, date, stage ...)


def _text(label: Any, lang: str) -> str:
    if isinstance(label, Mapping):
        return label.get(lang) or label.get("en") or next(iter(label.values()), "")
    return "" if label is None else str(label)


def kind_choices(lang: str) -> list[dict]:
    """Each registered widget kind with what its form needs (read by the template and the JS)."""
    return [{"value": k.name, "text": _text(k.label, lang), "grouped": k.grouped, "across": k.across,
             "measures": k.measures > 0, "series": k.series > 0} for k in WIDGET_KINDS.values()]


def agg_choices(lang: str) -> list[Choice]:
    return [Choice(m.name, _text(m.label, lang), m.field) for m in MEASURE_KINDS.values()]


def related_choices(app_doc: dict, entity_key: str, lang: str) -> list[Choice]:
    """The (entity, reference field) pairs whose records point at one record of `entity_key`,
    as "entity.field": what a widget's `related` may name."""
    out = []
    for e in app_doc.get("entities", []):
        for f in e.get("fields", []) if isinstance(e, dict) else []:
            if (isinstance(f, dict) and f.get("type") == "reference" and f.get("entity") == entity_key
                    and not f.get("multiple") and "key" in f and "key" in e):
                out.append(Choice(f"{e['key']}.{f['key']}",
                                  f"{_text(e.get('label'), lang) or e['key']} · {_text(f.get('label'), lang) or f['key']}"))
    return out


def variable_choices(app_doc: dict, entity_key: str, lang: str, names: Mapping[str, str],
                     related: bool = False) -> list[Choice]:
    """The entity's fields and the record variables ($stage, $owner, $created ...) with their kinds
    (the related-record counts when the widget names its `related` records)."""
    entity = next((e for e in app_doc.get("entities", []) if e.get("key") == entity_key), None)
    if entity is None:
        return []
    fields = {f["key"]: f for f in entity.get("fields", []) if isinstance(f, dict) and "key" in f}
    out = [Choice(k, names.get(k, k), kind) for k, (kind, sources) in RECORD_VARIABLES.items()
           if "records" in sources and (related or k not in RELATED_VARIABLES)]
    for key, f in fields.items():
        kind = variable_kind(fields, key, "records")
        if kind is not None and kind != "list":
            out.append(Choice(key, _text(f.get("label"), lang) or key, kind))
    return out


def groupable(choices: list[Choice]) -> list[Choice]:
    return [c for c in choices if c.kind in GROUPABLE_KINDS]


def dates(choices: list[Choice]) -> list[Choice]:
    return [c for c in choices if c.kind in DATE_KINDS]


class FormProblem(ValueError):
    """A value of the form that cannot become part of a widget document; `name` is its control."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _json(form: Mapping[str, str], name: str) -> Any:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise FormProblem(name, "This is not JSON Logic: write it as JSON, e.g. "
                                '{"==": [{"var": "$stage"}, "won"]}.') from None
    if not isinstance(value, dict):
        raise FormProblem(name, "A filter is one JSON object, e.g. {\"==\": [{\"var\": \"$stage\"}, \"won\"]}.")
    return value


def _number(form: Mapping[str, str], name: str) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormProblem(name, "Write a number, such as 20 or 0.2.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormProblem(name, "Write a number, such as 20 or 0.2.")
    return int(value) if value.is_integer() else value


def _group(form: Mapping[str, str], prefix: str) -> dict | None:
    by = (form.get(f"{prefix}_by") or "").strip()
    if not by:
        return None
    bucket = (form.get(f"{prefix}_bucket") or "").strip()
    return {"by": by, **({"bucket": bucket} if bucket in BUCKETS else {})}


def _english(msgid: str, **params: Any) -> str:
    return msgid % params if params else msgid


def read_conditions(form: Any, fields: list[cb.BuilderField], entity_doc: Mapping[str, Any] | None,
                    source: str = "records", gettext=_english, lang: str = "en",
                    prefixes: tuple[str, ...] = CONDITIONS) -> tuple[dict[str, Any], list[cb.BuilderProblem]]:
    """The widget's conditions as the condition builders posted them (prefix -> JSON Logic or None),
    and every problem located at its input: what the builder refuses, and what it accepts but a
    dashboard cannot answer in SQL (e.g. "contains" or "is empty"), said at the row that asks it."""
    entity_fields = {f["key"]: f for f in (entity_doc or {}).get("fields", []) if isinstance(f, dict) and "key" in f}
    out: dict[str, Any] = {}
    problems: list[cb.BuilderProblem] = []
    for prefix in prefixes:
        logic, found = cb.from_form(form, prefix, fields, gettext=gettext)
        if not found and logic is not None:
            as_json = form.get(f"{prefix}-source") == "json"      # then the rows are not on the page
            found = list(sql_refusals(logic, prefix, [] if as_json else fields, entity_fields, source, gettext, lang))
        problems += found
        out[prefix] = logic
    return out, problems


def sql_refusals(logic: Any, prefix: str, fields: list[cb.BuilderField], entity_fields: Mapping[str, Mapping],
                 source: str, gettext=_english, lang: str = "en") -> Iterator[cb.BuilderProblem]:
    """Where a condition asks what a dashboard cannot count in SQL: at the row's operator when
    the builder shows it as rows (given the `fields` it shows), else at its JSON."""
    tree = cb.to_builder(logic, fields) if fields else None
    if tree is None:
        for sentence in filter_problems(logic, entity_fields, source):
            yield cb.BuilderProblem(f"{prefix}-json", gettext("A dashboard cannot count with this condition: it %(problem)s.",
                                                              problem=sentence))
        return
    for row in _rows(tree):
        op = cb.OPERATORS[row.op]
        moment = RECORD_VARIABLES.get(row.field, ("",))[0] == "timestamp" and op.logic in ("==", "!=", "in")
        if moment:
            yield cb.BuilderProblem(f"{prefix}-{row.id}-op", gettext(
                "A moment is compared with a day using more or less than, not with “%(operator)s”.",
                operator=op.text(lang)))
        elif next(filter_problems(cb.to_logic_item(row), entity_fields, source), None) is not None:
            yield cb.BuilderProblem(f"{prefix}-{row.id}-op", gettext(
                "A dashboard cannot count records with “%(operator)s”; choose is, is not, is one of, "
                "or (for numbers and dates) more or less than.", operator=op.text(lang)))


def _rows(group: cb.Group) -> Iterator[cb.Row]:
    for item in group.items:
        if isinstance(item, cb.Group):
            yield from _rows(item)
        else:
            yield item


def parse_widget(form: Mapping[str, str], key: str | None = None, conditions: Mapping[str, Any] | None = None) -> dict:
    """The widget document the form describes (only the parts its kind uses). `key` is the
    widget's when it is edited (keys never change); a new one takes the form's. `conditions`:
    the filters read by `read_conditions` (without it, the filters are posted as JSON text)."""
    def condition(name: str) -> Any:
        return conditions.get(name) if conditions is not None else _json(form, name)
    kind = WIDGET_KINDS.get(form.get("type") or "")
    if kind is None:
        raise FormProblem("type", "Pick what kind of widget this is.")
    key = key or (form.get("key") or "").strip()
    if not KEY.match(key or ""):
        raise FormProblem("key", "A key is lower-case letters, digits and _ and starts with a letter, e.g. won_by_month.")
    label = {code: (form.get(f"label-{code}") or "").strip()[:200] for code in LANGS}
    widget: dict[str, Any] = {"key": key, "type": kind.name, "entity": (form.get("entity") or "").strip(),
                              "label": {k: v for k, v in label.items() if v} or key}
    related = (form.get("related") or "").strip()
    if related:
        entity_key, _dot, via = related.partition(".")
        if not (KEY.match(entity_key) and KEY.match(via)):
            raise FormProblem("related", "Pick the related records from the list.")
        widget["related"] = {"entity": entity_key, "via": via}
    if kind.series and series_count(form):
        return _series_widget(form, widget, kind.series, condition)
    if kind.measures:
        agg = form.get("agg") or "count"
        measure: dict[str, Any] = {"agg": agg}
        if form.get("weighted") and agg in ("sum", "avg"):
            measure["weighted"] = True
        spec = MEASURE_KINDS.get(agg)
        if spec is not None and spec.field == "parts":
            measure["of"] = {"agg": "count", **({"filter": f} if (f := condition("of_filter")) else {})}
            measure["per"] = {"agg": "count", **({"filter": f} if (f := condition("per_filter")) else {})}
        elif spec is not None and spec.field != "none" and form.get("field"):
            measure["field"] = form["field"].strip()
        widget["measures"] = [measure]
    if kind.grouped and (group := _group(form, "group")):
        widget["group"] = group
    if kind.across and (across := _group(form, "across")):
        widget["across"] = across
    if (filt := condition("filter")) is not None:
        widget["filter"] = filt
    if form.get("date"):
        widget["date"] = form["date"].strip()
        if form.get("compare") and kind.name == "number":
            widget["compare"] = True
    target = _number(form, "target")
    if target is not None and kind.name == "number":
        widget["target"] = {"value": target, "better": "lower" if form.get("better") == "lower" else "higher"}
    if form.get("format") in FORMATS and form.get("format") != "number":
        widget["format"] = form["format"]
    limit = _number(form, "limit")
    if limit is not None:
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise FormProblem("limit", "Show from 1 to 100 rows.")
        widget["limit"] = limit
    if form.get("width") in ("2", "3"):
        widget["width"] = int(form["width"])
    return widget


# -- a widget of series: several entities' measures over the same time buckets -----------------------

#: what one series row of the form posts, after its prefix s<n>_
SERIES_INPUTS = ("key", "label-en", "label-zh", "entity", "agg", "field", "date")
MAX_SERIES_ROWS = 12


def series_count(form: Mapping[str, Any]) -> int:
    """How many series rows the form has (0: a widget of one entity)."""
    try:
        return max(0, min(int(form.get("series_count") or 0), MAX_SERIES_ROWS))
    except (TypeError, ValueError):
        return 0


def series_prefix(n: int) -> str:
    """The condition builder's prefix of series row `n`'s filter."""
    return f"s{n}_filter"


def _series_widget(form: Mapping[str, str], widget: dict, most: int, condition) -> dict:
    """The widget of series the form's rows describe: each row an entity, one measure, a date and
    a filter; the bucket is the widget's."""
    count = series_count(form)
    if count > most:
        raise FormProblem("series_count", "This kind of widget cannot show that many series; remove one.")
    rows = []
    for n in range(count):
        def get(name: str) -> str:
            return str(form.get(f"s{n}_{name}") or "").strip()
        key = get("key") or f"s{n + 1}"
        if not KEY.match(key):
            raise FormProblem(f"s{n}_key", "A key is lower-case letters, digits and _ and starts with a letter, "
                                           "e.g. won_by_month.")
        agg = get("agg") or "count"
        measure: dict[str, Any] = {"agg": agg}
        spec = MEASURE_KINDS.get(agg)
        if spec is None or spec.field == "parts":
            raise FormProblem(f"s{n}_agg", "A series counts, adds up or averages; pick one of the list.")
        if spec.field != "none" and get("field"):
            measure["field"] = get("field")
        label = {code: get(f"label-{code}")[:200] for code in LANGS}
        row: dict[str, Any] = {"key": key, "label": {k: v for k, v in label.items() if v} or key,
                               "entity": get("entity"), "measures": [measure], "date": get("date")}
        if (filt := condition(series_prefix(n))) is not None:
            row["filter"] = filt
        rows.append(row)
    bucket = (form.get("group_bucket") or "").strip()
    widget.pop("entity", None)
    widget.pop("related", None)
    widget.update({"group": {"bucket": bucket if bucket in BUCKETS else "month"}, "series": rows})
    if form.get("format") in FORMATS and form.get("format") != "number":
        widget["format"] = form["format"]
    if form.get("width") in ("2", "3"):
        widget["width"] = int(form["width"])
    return widget


def series_values(widget: dict) -> dict[str, Any]:
    """A widget of series' rows as the form's values (the inverse of _series_widget)."""
    out: dict[str, Any] = {"series_count": str(len(widget.get("series") or []))}
    for n, s in enumerate(widget.get("series") or []):
        label = s.get("label")
        m = (s.get("measures") or [{}])[0]
        out.update({f"s{n}_key": s.get("key", ""), f"s{n}_entity": s.get("entity", ""),
                    f"s{n}_label-en": label.get("en", "") if isinstance(label, dict) else (label or ""),
                    f"s{n}_label-zh": label.get("zh", "") if isinstance(label, dict) else "",
                    f"s{n}_agg": m.get("agg", "count"), f"s{n}_field": m.get("field", ""),
                    f"s{n}_date": s.get("date", ""), series_prefix(n): s.get("filter")})
    return out


def change_series(values: dict, action: str, default_entity: str) -> dict:
    """The form's values with a series row added ("add"; the first turns the widget's entity and
    measure into the first series) or removed ("remove-<n>", the rows after it moving up)."""
    out = dict(values)
    count = series_count(out)
    if action == "add" and count < MAX_SERIES_ROWS:
        if count == 0:
            out.update({"s0_key": "s1", "s0_entity": out.get("entity") or default_entity,
                        "s0_agg": out.get("agg") or "count", "s0_field": out.get("field") or "",
                        "s0_date": out.get("date") or "", series_prefix(0): out.get("filter")})
            count = 1
        out.update({f"s{count}_key": f"s{count + 1}", f"s{count}_entity": default_entity, f"s{count}_agg": "count"})
        for name in ("field", "date", "label-en", "label-zh"):
            out.pop(f"s{count}_{name}", None)
        out[series_prefix(count)] = None
        out["series_count"] = str(count + 1)
    elif action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < count:
        gone = int(action[7:])
        for n in range(gone, count - 1):
            for name in SERIES_INPUTS:
                out[f"s{n}_{name}"] = out.get(f"s{n + 1}_{name}", "")
            out[series_prefix(n)] = out.get(series_prefix(n + 1))
        for name in SERIES_INPUTS:
            out.pop(f"s{count - 1}_{name}", None)
        out.pop(series_prefix(count - 1), None)
        out["series_count"] = str(count - 1)
    return out


def form_values(widget: dict) -> dict[str, Any]:
    """A widget document as the form's values (the inverse of parse_widget, for editing)."""
    m = (widget.get("measures") or [{}])[0]
    label = widget.get("label")
    out = {"type": widget.get("type"), "key": widget.get("key"), "entity": widget.get("entity"),
           "label-en": label.get("en", "") if isinstance(label, dict) else (label or ""),
           "label-zh": label.get("zh", "") if isinstance(label, dict) else "",
           "agg": m.get("agg", "count"), "field": m.get("field", ""),
           "of_filter": (m.get("of") or {}).get("filter"), "per_filter": (m.get("per") or {}).get("filter"),
           "filter": widget.get("filter"),
           "date": widget.get("date", ""), "compare": widget.get("compare", False),
           "target": (widget.get("target") or {}).get("value", ""),
           "better": (widget.get("target") or {}).get("better", "higher"),
           "format": widget.get("format", "number"), "limit": widget.get("limit", ""),
           "weighted": bool(m.get("weighted")),
           "related": f"{widget['related']['entity']}.{widget['related']['via']}" if widget.get("related") else "",
           "width": str(widget.get("width", 1))}
    for part in ("group", "across"):
        g = widget.get(part) or {}
        out[f"{part}_by"], out[f"{part}_bucket"] = g.get("by", ""), g.get("bucket", "")
    if widget.get("series"):
        out.update(series_values(widget))
    return out


#: what a widget may say that the form does not edit, kept when the form saves it again
UNEDITED = ("source", "sort", "columns", "mine")
MEASURE_UNEDITED = ("key", "label")


def keep_unedited(old: Mapping[str, Any] | None, new: dict) -> dict:
    """`new` (what the form posted for a widget being edited) with what only its document says:
    its source, sort, columns, related records, the first measure's key, label and weighting, and
    the measures after the first where its kind still shows several."""
    if not old or new.get("series"):
        return new
    out = dict(new)
    for key in UNEDITED:
        if key in old and key not in out:
            out[key] = old[key]
    old_measures = [m for m in old.get("measures") or [] if isinstance(m, dict)]
    if out.get("measures") and old_measures:
        first = {**{k: v for k, v in old_measures[0].items() if k in MEASURE_UNEDITED}, **out["measures"][0]}
        kind = WIDGET_KINDS.get(out.get("type") or "")
        more = old_measures[1:kind.measures] if kind is not None else []
        out["measures"] = [first, *more]
    return out
