"""The settings a field document may carry, described once.

A `Setting` is one key of a field document: its JSON Schema (type and
constraints), the value compiling fills in when a document leaves it out, and
its label and help in every language. A field type lists the settings it takes
(`FieldType.settings`); the meta-schema (field.schema.json), the compiled
defaults and the designer's settings form are all derived from those lists, so
adding a setting to a type is one line in its class.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

#: Marks a setting compiling leaves unset when a document leaves it out.
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()


@dataclass(frozen=True)
class Setting:
    """One key of a field document."""

    name: str
    schema: Any                       # JSON Schema (2020-12) of the setting's value in a document
    label: Mapping[str, str]          # {"en": ..., "zh": ...}
    help: Mapping[str, str]
    default: Any = NO_DEFAULT         # what compiling fills in when the document leaves it out
    required: bool = False            # the document must give it
    # What a designer offers instead of a typed key, so an admin picks from what exists:
    picks: str | None = None          # "entity": one of the app's entities; "field": a field of an entity
    of: str | None = None             # the sibling setting naming the entity a field pick or a condition is
                                      # about (None: the entity the field itself belongs to)
    types: tuple[str, ...] = ()       # the field types a "field" pick offers (empty: every type)
    refers_here: bool = False         # a "field" pick offers only references to the field's own entity
    parts: tuple["Setting", ...] = () # an object setting's keys, each edited by a control of its own

    def but(self, **changes: Any) -> "Setting":
        """This setting with some parts changed (a type's own maximum or default)."""
        return dataclasses.replace(self, **changes)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


def _s(name: str, schema: Any, en: str, zh: str, help_en: str, help_zh: str, **more: Any) -> Setting:
    return Setting(name, schema, {"en": en, "zh": zh}, {"en": help_en, "zh": help_zh}, **more)


def group(name: str, parts: tuple[Setting, ...], label: Mapping[str, str], help: Mapping[str, str],
          **more: Any) -> Setting:
    """An object setting whose keys are `parts`: its schema is derived from them, so the
    meta-schema and the designer's controls (one per part) cannot disagree."""
    schema = {"type": "object", "required": [p.name for p in parts if p.required], "additionalProperties": False,
              "properties": {p.name: p.schema for p in parts}}
    return Setting(name, schema, label, help, parts=parts, **more)


_LABEL = {"$ref": "#/$defs/label"}
_LOGIC = {"$ref": "#/$defs/logic"}
_KEYS = {"$ref": "#/$defs/key_list"}
_ROLES = {"$ref": "#/$defs/role_list"}
_BOOL = {"type": "boolean"}

#: The keys every field document may have, written once. ("type" is each type's own const.)
COMMON_SETTINGS: tuple[Setting, ...] = (
    _s("key", {"$ref": "#/$defs/key"}, "Key", "键",
       "The field's stable name in data, formulas and the API.", "字段在数据、公式和 API 中使用的固定名称。",
       required=True),
    _s("type", None, "Type", "类型", "What kind of value the field holds.", "字段保存的值的种类。", required=True),
    _s("label", _LABEL, "Label", "标签", "The name people see.", "用户看到的名称。", required=True),
    _s("required", _BOOL, "Required", "必填", "A record cannot be saved without a value.", "没有值时记录不能保存。"),
    _s("help", _LABEL, "Help", "帮助", "A sentence shown under the input.", "显示在输入框下方的说明。"),
    _s("placeholder", _LABEL, "Placeholder", "占位提示", "Grey text shown in an empty input.", "输入框为空时显示的灰色文字。"),
    _s("indexed", _BOOL, "Indexed", "建立索引",
       "true: index this field so lists filtered or sorted by it are fast; false: never index it "
       "(every index slows each write). Unset: the engine indexes it when the app queries by it.",
       "true：为此字段建立索引，按它筛选或排序的列表更快；false：从不建立索引（每个索引都会拖慢写入）。"
       "不填：应用按此字段查询时由引擎自动建立。"),
    _s("visible_if", _LOGIC, "Visible if", "显示条件", "A condition; the field is shown only when it holds.",
       "一个条件；仅当条件成立时显示此字段。"),
    _s("required_if", _LOGIC, "Required if", "必填条件", "A condition; the field is required only when it holds.",
       "一个条件；仅当条件成立时此字段为必填。"),
    _s("hidden_for", _ROLES, "Hidden for roles", "对以下角色隐藏", "Roles that never see this field.",
       "看不到此字段的角色。"),
    _s("readonly_for", _ROLES, "Read-only for roles", "对以下角色只读", "Roles that see but cannot change this field.",
       "能看到但不能修改此字段的角色。"),
)

# -- settings several types share (a type may adjust one with `.but(...)`) --------------
DEFAULT = _s("default", True, "Default value", "默认值", "The value a new record starts with.",
             "新记录的初始值。")
UNIQUE = _s("unique", _BOOL, "Unique", "唯一", "No two records may have the same value.", "任意两条记录的值不能相同。")
MAX_LENGTH = _s("max_length", {"type": "integer", "minimum": 1, "maximum": 100000}, "Maximum length", "最大长度",
                "The most characters a value may have.", "值最多可以有的字符数。")
PATTERN = _s("pattern", {"type": "string", "minLength": 1, "maxLength": 200}, "Pattern", "格式",
             "A regular expression (RE2 syntax) the whole value must match.", "整个值必须匹配的正则表达式（RE2 语法）。")
MIN_NUMBER = _s("min", {"type": "number"}, "Minimum", "最小值", "The smallest value allowed.", "允许的最小值。")
MAX_NUMBER = _s("max", {"type": "number"}, "Maximum", "最大值", "The largest value allowed.", "允许的最大值。")
PRECISION = _s("precision", {"type": "integer", "minimum": 0, "maximum": 10}, "Decimal places", "小数位数",
               "How many decimal places a value may have (0: whole numbers).", "值可以有的小数位数（0 表示整数）。",
               default=0)
OPTIONS = _s("options", {"$ref": "#/$defs/options"}, "Options", "选项",
             "The values people choose from; each a stable value and a label.", "可供选择的值；每个都有固定值和标签。",
             required=True)
MULTIPLE = _s("multiple", _BOOL, "Several values", "多个值", "The field holds a list of values.", "字段保存多个值。")
