"""The small support-desk app the web tests install: generic, not the CRM, so the
screens are shown to work from documents alone."""
from __future__ import annotations

import copy

#: A generic app: a reference, a select, money, a date, a required text with max_length,
#: a visible_if, a field hidden from one role and one read-only for another, and a workflow.
DESK_APP = {
    "key": "desk",
    "label": {"en": "Support desk", "zh": "支持台"},
    "version": 1,
    "timezone": "Asia/Shanghai",
    "roles": ["admin", "agent", "viewer"],
    "entities": [
        {
            "key": "company",
            "label": {"en": "Company", "zh": "公司"},
            "plural": {"en": "Companies", "zh": "公司"},
            "title": "name",
            "permissions": {"agent": {"create": True, "read": "all", "update": "all"},
                            "viewer": {"read": "all"}},
            "fields": [
                {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True,
                 "max_length": 80},
                {"key": "city", "type": "text", "label": {"en": "City <i>{{7*7}}</i>", "zh": "城市"}},
            ],
        },
        {
            "key": "case",
            "label": {"en": "Case", "zh": "工单"},
            "plural": {"en": "Cases", "zh": "工单"},
            "title": "subject",
            "workflow": "case_flow",
            "list_columns": ["subject", "company", "priority", "budget", "due"],
            "permissions": {"agent": {"create": True, "read": "own", "update": "own"},
                            "viewer": {"read": "all"}},
            "fields": [
                {"key": "subject", "type": "text", "label": {"en": "Subject", "zh": "主题"}, "required": True,
                 "max_length": 40},
                {"key": "company", "type": "reference", "entity": "company",
                 "label": {"en": "Company", "zh": "公司"}},
                {"key": "priority", "type": "select", "label": {"en": "Priority", "zh": "优先级"},
                 "options": [{"value": "low", "label": {"en": "Low", "zh": "低"}},
                             {"value": "high", "label": {"en": "High", "zh": "高"}}]},
                {"key": "budget", "type": "money", "label": {"en": "Budget", "zh": "预算"}, "min": 0},
                {"key": "due", "type": "date", "label": {"en": "Due", "zh": "截止日期"}},
                {"key": "escalated", "type": "checkbox", "label": {"en": "Escalated", "zh": "已升级"}},
                {"key": "reason", "type": "text", "label": {"en": "Escalation reason", "zh": "升级原因"},
                 "required": True, "visible_if": {"==": [{"var": "escalated"}, True]}},
                {"key": "notes", "type": "textarea", "label": {"en": "Internal notes", "zh": "内部备注"},
                 "hidden_for": ["viewer"]},
                {"key": "code", "type": "text", "label": {"en": "Audit code", "zh": "审计编号"},
                 "readonly_for": ["agent"]},
            ],
        },
    ],
}

CASE_FLOW = {
    "key": "case_flow", "entity": "case", "label": "Case flow",
    "stages": [
        {"key": "open", "label": {"en": "Open", "zh": "待处理"}},
        {"key": "closed", "label": {"en": "Closed", "zh": "已关闭"}, "terminal": "won"},
    ],
}


def desk_app() -> dict:
    return copy.deepcopy(DESK_APP)
