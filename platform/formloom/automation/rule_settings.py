"""Settings several trigger and action types share, described once (as fields/settings.py does for fields).

A trigger or action type lists its settings in its registry entry
(`rules.TriggerType.settings`, `actions.ActionType.settings`); the workflow
meta-schema and the docs are generated from those lists. The `$ref`s point into
field.schema.json, whose shared definitions (keys, labels, durations) every
document uses.
"""
from __future__ import annotations

from typing import Any

from ..fields.settings import Setting

KEY = {"$ref": "field.schema.json#/$defs/key"}
KEY_LIST = {"$ref": "field.schema.json#/$defs/key_list"}
LABEL = {"$ref": "field.schema.json#/$defs/label"}
DURATION = {"$ref": "field.schema.json#/$defs/duration"}


def setting(name: str, schema: Any, en: str, zh: str, help_en: str, help_zh: str, **more: Any) -> Setting:
    return Setting(name, schema, {"en": en, "zh": zh}, {"en": help_en, "zh": help_zh}, **more)


STAGE = setting("stage", KEY, "Stage", "阶段", "The stage (its key).", "阶段（其键）。")
FIELD = setting("field", KEY, "Field", "字段", "The field (its key).", "字段（其键）。")
ENTITY = setting("entity", KEY, "Entity", "实体", "The entity (its key).", "实体（其键）。")
#: beside ENTITY: which of that entity's reference fields links its records to the workflow's record
VIA = setting("via", KEY, "Via", "关联字段", "The related entity's reference field pointing here.",
              "相关实体中指向本记录的关联字段。", required=True)
RECIPIENTS = setting("to", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/recipient"}},
                     "Recipients", "接收人",
                     "Who receives it: owner, creator, manager, role:ROLE or field:FIELD.",
                     "接收人：owner、creator、manager、role:角色 或 field:字段。", required=True)
SUBJECT = setting("subject", LABEL, "Subject", "标题", "The title; may use {{ record.title }} and other values.",
                  "标题；可使用 {{ record.title }} 等值。")
MESSAGE = setting("message", LABEL, "Message", "内容", "The text; may use {{ record.title }} and other values.",
                  "正文；可使用 {{ record.title }} 等值。")
