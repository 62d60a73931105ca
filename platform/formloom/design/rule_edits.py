"""The edits the rule designer makes to a draft's workflow documents, as small pure functions.

Each takes a workflow document and returns a changed deep copy; meaning is not
checked here (the whole draft is validated after every edit, like `formloom
validate`). A rule's key never changes once made: it names the rule's
reminders and its run history. `edit_workflow` applies one of them to the
draft on the revision the page showed, through `drafts.edit_documents` like every designer save.
"""
from __future__ import annotations

import copy
from typing import Callable

from sqlalchemy import Connection

from ..errors import NotFoundError
from . import drafts
from .edits import EditError


def _rules(workflow: dict) -> list:
    return workflow.setdefault("rules", [])


def rule_index(workflow: dict, rule_key: str) -> int:
    for i, rule in enumerate(workflow.get("rules") or []):
        if isinstance(rule, dict) and rule.get("key") == rule_key:
            return i
    raise NotFoundError(f"There is no rule {rule_key!r} in this workflow.")


def find_rule(workflow: dict, rule_key: str) -> dict:
    return workflow["rules"][rule_index(workflow, rule_key)]


def add_rule(workflow: dict, rule: dict) -> dict:
    out = copy.deepcopy(workflow)
    if any(isinstance(r, dict) and r.get("key") == rule.get("key") for r in out.get("rules") or []):
        raise EditError(f"This workflow already has a rule with the key {rule.get('key')!r}.")
    _rules(out).append(copy.deepcopy(rule))
    return out


def replace_rule(workflow: dict, rule_key: str, rule: dict) -> dict:
    """Change a rule's trigger, condition, actions or label; its key stays."""
    out = copy.deepcopy(workflow)
    out["rules"][rule_index(out, rule_key)] = {**copy.deepcopy(rule), "key": rule_key}
    return out


def set_rule_enabled(workflow: dict, rule_key: str, enabled: bool) -> dict:
    """A disabled rule stays in the document; publishing cancels its pending reminders."""
    out = copy.deepcopy(workflow)
    rule = out["rules"][rule_index(out, rule_key)]
    if enabled:
        rule.pop("enabled", None)
    else:
        rule["enabled"] = False
    return out


def remove_rule(workflow: dict, rule_key: str) -> dict:
    out = copy.deepcopy(workflow)
    del out["rules"][rule_index(out, rule_key)]
    return out


def workflow_of(documents: dict, workflow_key: str) -> dict:
    found = (documents.get("workflows") or {}).get(workflow_key)
    if not isinstance(found, dict):
        raise NotFoundError(f"There is no workflow {workflow_key!r} in this app.")
    return found


def with_workflow(documents: dict, workflow_key: str, change: Callable[[dict], dict]) -> dict:
    """The documents with one workflow changed (the others and the app untouched)."""
    workflows = dict(documents.get("workflows") or {})
    workflows[workflow_key] = change(workflow_of(documents, workflow_key))
    return {**documents, "workflows": workflows}


def edit_workflow(conn: Connection, app_key: str, revision: int, user_id: int | None, workflow_key: str,
                  change: Callable[[dict], dict]) -> drafts.Draft:
    """`drafts.edit_documents` for a change of one workflow (workflow document -> workflow document)."""
    return drafts.edit_documents(conn, app_key, revision, user_id,
                                 lambda docs: with_workflow(docs, workflow_key, change))
