"""Factories for small, valid documents; each test overrides only what it is about."""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from formloom.definitions.validate import validate_app, validate_workflow


def _field(key: str = "note", type: str = "text", **settings: Any) -> dict:
    return {"key": key, "type": type, "label": key.replace("_", " ").title(), **settings}


def _app(*extra_fields: dict, **overrides: Any) -> dict:
    """An app with a `deal` entity (workflow `deal_flow`) and a `visit` entity that refers to it.
    Extra fields are appended to `deal`."""
    doc = {
        "key": "sales", "label": {"en": "Sales", "zh": "销售"}, "version": 1,
        "timezone": "Asia/Shanghai", "roles": ["admin", "manager", "sales"],
        "entities": [
            {"key": "deal", "label": "Deal", "title": "name", "workflow": "deal_flow",
             "permissions": {"sales": {"create": True, "read": "own", "update": "own"}},
             "fields": [
                 _field("name", "text", required=True, max_length=120),
                 _field("amount", "money", min=0),
                 _field("close_date", "date"),
                 _field("reason", "select", options=["price", "timing"]),
                 _field("rep", "user"),
             ]},
            {"key": "visit", "label": "Visit", "title": "subject",
             "fields": [
                 _field("subject", "text", required=True),
                 _field("deal", "reference", entity="deal"),
                 _field("kind", "select", options=[{"value": "call", "label": "Call"},
                                                   {"value": "visit", "label": {"en": "Visit", "zh": "拜访"}}]),
             ]},
        ],
    }
    doc["entities"][0]["fields"].extend(copy.deepcopy(extra_fields))
    doc.update(copy.deepcopy(overrides))
    return doc


def _workflow(**overrides: Any) -> dict:
    doc = {
        "key": "deal_flow", "entity": "deal", "label": "Deal pipeline",
        "stages": [
            {"key": "new", "label": "New", "probability": 10},
            {"key": "proposal", "label": "Proposal", "probability": 50},
            {"key": "won", "label": "Won", "terminal": "won", "probability": 100},
            {"key": "lost", "label": "Lost", "terminal": "lost", "from": ["*"], "gate": {"require": ["reason"]}},
        ],
        "rules": [],
    }
    doc.update(copy.deepcopy(overrides))
    return doc


@pytest.fixture
def make_field() -> Callable[..., dict]:
    return _field


@pytest.fixture
def make_app() -> Callable[..., dict]:
    return _app


@pytest.fixture
def make_workflow() -> Callable[..., dict]:
    return _workflow


@pytest.fixture
def make_rule() -> Callable[..., dict]:
    def rule(trigger: dict | None = None, actions: list | None = None, **extra: Any) -> dict:
        return {"key": "remind", "trigger": trigger or {"type": "record_created"},
                "actions": actions or [{"type": "notify", "to": ["owner"]}], **extra}
    return rule


@pytest.fixture
def problems_of() -> Callable[..., list]:
    """All problems of an app and its workflow, as validate_paths would find them."""
    def check(app: dict, workflow: dict | None = None) -> list:
        workflow = _workflow() if workflow is None else workflow
        found = validate_app(app, {workflow["key"]: workflow}, "app.json")
        return found + validate_workflow(workflow, app, "workflow.json")
    return check


@pytest.fixture
def messages_of(problems_of) -> Callable[..., list[str]]:
    def messages(app: dict, workflow: dict | None = None) -> list[str]:
        return [p.message for p in problems_of(app, workflow)]
    return messages
