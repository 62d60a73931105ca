"""The rollup field type: a count, sum, minimum, maximum or latest value of related records.

A rollup on entity P reads the records of another entity C whose reference field
`via` points at the P record (a team's tickets through `ticket.team`),
optionally only those matching `where` (the JSON Logic subset the database answers)
and only those whose `window.field` lies in the last `window.last` (P30D).

Nobody types the value and nothing computes it on read: the store keeps it in the
P record's data, in the same transaction as every write of a C record
(store/rollups.py), and the worker re-counts a record when one of its related
records ages out of (or into) the window. Compiling resolves what the result is
(`value_type`: the type of the rolled-up field, or number for a count), so a sum of
money shows as money and a latest date sorts as a date.
"""
from __future__ import annotations

from typing import Any

from ..definitions.model import FieldDef
from .base import FIELD_TYPES, register
from .computed import _ComputedType
from .settings import Setting, group

FUNCTIONS = ("count", "sum", "min", "max", "latest")
#: the types each function may roll up (count reads no field); checked with the documents
SUMMABLE_TYPES = frozenset({"number", "money", "percent", "rating", "formula"})
ORDERED_TYPES = SUMMABLE_TYPES | {"date", "datetime"}
LATEST_TYPES = ORDERED_TYPES | {"text", "select", "email", "phone", "url", "checkbox", "user", "reference"}
#: the types a window may be measured on
WINDOW_TYPES = frozenset({"date", "datetime"})

_KEY = {"$ref": "#/$defs/key"}


def _s(name: str, schema: Any, en: str, zh: str, help_en: str, help_zh: str, **more: Any) -> Setting:
    return Setting(name, schema, {"en": en, "zh": zh}, {"en": help_en, "zh": help_zh}, **more)


@register
class RollupType(_ComputedType):
    name = "rollup"
    order = 165
    label = {"en": "Rollup", "zh": "汇总"}
    help = {"en": "A count, sum, minimum, maximum or latest value of related records, kept up to date.",
            "zh": "关联记录的数量、合计、最小值、最大值或最新值，自动保持最新。"}
    settings = (
        _s("function", {"enum": list(FUNCTIONS)}, "Function", "汇总方式",
           "count, sum, min, max or latest (the value of the newest related record).",
           "count（数量）、sum（合计）、min（最小）、max（最大）或 latest（最新一条关联记录的值）。", required=True),
        _s("source", _KEY, "Related entity", "关联实体",
           "The entity whose records are rolled up, such as ticket.", "被汇总记录所在的实体，例如 ticket。",
           required=True, picks="entity"),
        _s("via", _KEY, "Through reference field", "通过引用字段",
           "The related entity's reference field that points at this entity, such as team.",
           "关联实体中指向本实体的引用字段，例如 team。", required=True, picks="field", of="source",
           types=("reference",), refers_here=True),
        _s("field", _KEY, "Field rolled up", "汇总字段",
           "The related entity's field to sum, compare or take (not needed for count).",
           "关联实体中要合计、比较或取值的字段（count 不需要）。", picks="field", of="source",
           types=tuple(sorted(LATEST_TYPES))),
        _s("where", {"$ref": "#/$defs/logic"}, "Only related records where", "仅统计满足条件的关联记录",
           "A condition on the related records' fields, such as: kind is visit.",
           "对关联记录字段的条件，例如：类型 等于 拜访。", of="source"),
        group("window", (
            _s("field", _KEY, "Measured on", "按此日期",
               "The related entity's date or date-time field the window is measured on.",
               "关联实体中用来计算时间范围的日期或日期时间字段。", required=True, picks="field", of="source",
               types=tuple(sorted(WINDOW_TYPES))),
            _s("last", {"type": "string", "pattern": "^P(?:[0-9]+W|(?:[0-9]+D)?(?:T[0-9]+H)?)$",
                        "x-message": "must be a duration in weeks, days or hours, such as P30D, P2W or PT48H"},
               "Within the last", "最近",
               "A duration: P30D is 30 days, P2W two weeks, PT48H 48 hours.",
               "一段时长：P30D 为 30 天，P2W 为两周，PT48H 为 48 小时。", required=True),
        ), {"en": "Time window", "zh": "时间范围"},
           {"en": "Only related records whose date lies in the last period, such as the last 30 days.",
            "zh": "仅统计日期落在最近一段时间内的关联记录，例如最近 30 天。"}),
    )
    operators = ("eq", "ne", "lt", "lte", "gt", "gte", "is_empty")
    summable = True
    maintained = True

    def value_type(self, f: FieldDef) -> str:
        """The type of the result: compiling puts the rolled-up field's type in `value_type`."""
        kind = f.extra.get("value_type")
        return kind if isinstance(kind, str) and kind in FIELD_TYPES and kind != self.name else "number"

    def field_sql_kind(self, f: FieldDef) -> str:
        kind = FIELD_TYPES[self.value_type(f)].field_sql_kind(f)
        return kind if kind in ("number", "date", "datetime", "text", "bool") else "text"

    def json_schema(self, f: FieldDef) -> dict:
        return {"type": ["number", "string", "boolean", "null"], "readOnly": True}

    def initial_value(self, f: FieldDef) -> Any:
        """A record with no related records yet: nothing counted is 0, nothing summed is 0."""
        return 0 if f.extra.get("function") in ("count", "sum") else None

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if value is None:
            return ""
        kind = self.value_type(f)
        if kind in ("number", "formula") or isinstance(value, (int, float)) and kind not in ("money", "percent"):
            return FIELD_TYPES["formula"].display(f, value, lang)
        try:
            return FIELD_TYPES[kind].display(f, value, lang)
        except (TypeError, ValueError, KeyError, AttributeError):
            return str(value)

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        return value if isinstance(value, (int, float)) else self.display(f, value, lang)

