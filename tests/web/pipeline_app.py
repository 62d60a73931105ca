"""A generic pipeline for the kanban and move tests: the support-desk app of desk.py
(not the CRM) with a task entity that points at cases and a case workflow whose gates
use every requirement kind (require, conditions, related, roles) and a lost stage
reachable from anywhere."""
from __future__ import annotations

import copy

from .desk import desk_app

TASK_ENTITY = {
    "key": "task",
    "label": {"en": "Task", "zh": "任务"},
    "title": "summary",
    "permissions": {"agent": {"create": True, "read": "all", "update": "all"}, "viewer": {"read": "all"}},
    "fields": [
        {"key": "summary", "type": "text", "label": {"en": "Summary", "zh": "摘要"}, "required": True, "max_length": 80},
        {"key": "case", "type": "reference", "entity": "case", "label": {"en": "Case", "zh": "工单"}},
    ],
}

PIPELINE_FLOW = {
    "key": "case_flow", "entity": "case", "label": {"en": "Case pipeline", "zh": "工单流程"},
    "reopen_roles": ["admin"],
    "kanban": {"sum": "budget", "card_fields": ["company", "priority", "budget", "due"]},
    "stages": [
        {"key": "new", "label": {"en": "New", "zh": "新建"}, "probability": 10, "rot_after": "P3D", "color": "#868e96"},
        {"key": "triage", "label": {"en": "Triage", "zh": "分诊"}, "probability": 30, "rot_after": "P7D",
         "color": "#1c7ed6", "gate": {"require": ["priority", "due"]}},
        {"key": "working", "label": {"en": "Working", "zh": "处理中"}, "probability": 60, "color": "#f59f00",
         "gate": {"require": ["budget"],
                  "conditions": [{"rule": {">=": [{"var": "budget"}, 100]},
                                  "message": {"en": "Budget must be at least 100", "zh": "预算至少100"}}],
                  "related": [{"entity": "task", "via": "case", "min": 1,
                               "message": {"en": "Add at least one task", "zh": "至少添加一个任务"}}]}},
        {"key": "solved", "label": {"en": "Solved", "zh": "已解决"}, "probability": 100, "terminal": "won",
         "color": "#2f9e44", "gate": {"require": ["code"], "roles": ["admin"]}},
        {"key": "dropped", "label": {"en": "Dropped", "zh": "已放弃"}, "probability": 0, "terminal": "lost",
         "color": "#e03131", "from": ["*"], "gate": {"require": ["notes"]}},
    ],
}


def pipeline_app() -> dict:
    doc = desk_app()
    doc["entities"].append(copy.deepcopy(TASK_ENTITY))
    return doc


def pipeline_flow() -> dict:
    return copy.deepcopy(PIPELINE_FLOW)
