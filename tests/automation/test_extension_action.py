"""An action type added by touching only its own module works end to end.

`log_note` below is the whole extension: behaviour, label, settings and its own
meaning check. Registered, the workflow meta-schema takes it (and refuses its
unknown keys), its check runs when documents are validated, and a rule using it
fires in an installed app. docs/extending.md shows this code."""
import copy

import pytest

from formloom.automation.actions import ActionType, register_action, unregister_action
from formloom.definitions.rule_checks import RuleEnv
from formloom.definitions.validate import validate_workflow
from formloom.definitions.wording import cap
from formloom.fields.settings import Setting

from .conftest import SUPPORT_APP, WORKFLOW, rule

CREATED = {"type": "record_created"}


def log_note(ctx, spec, index):
    """Write `text` to the run log of this firing."""
    ctx.notes.append(f"note: {spec['text']}")


def check_log_note(s, spec, path, what, env: RuleEnv):
    if isinstance(spec.get("text"), str) and not spec["text"].strip():
        yield s.problem(*path, "text", message=f"{cap(what)} writes an empty note; write something.")


LOG_NOTE = ActionType(
    "log_note", log_note,
    label={"en": "Log a note", "zh": "记录备注"},
    help={"en": "Write a line to the rule's run log.", "zh": "在规则运行日志中写一行。"},
    settings=(Setting("text", {"type": "string", "maxLength": 200}, {"en": "Text", "zh": "文字"},
                      {"en": "What to write.", "zh": "要写的内容。"}, required=True),),
    check=check_log_note)


@pytest.fixture
def log_note_action():
    register_action(LOG_NOTE)
    yield
    unregister_action("log_note")


def test_a_rule_using_the_new_action_fires(desk_factory, log_note_action):
    desk = desk_factory([rule("noted", CREATED, {"type": "log_note", "text": "seen"})])
    desk.create()
    desk.process()
    assert [(r.outcome, r.message) for r in desk.runs("noted")] == [("fired", "note: seen")]


def problems_of(*actions):
    workflow = copy.deepcopy(WORKFLOW) | {"rules": [rule("noted", CREATED, *actions)]}
    return [(p.json_path, p.message) for p in validate_workflow(workflow, copy.deepcopy(SUPPORT_APP), "flow.json")]


def test_its_settings_and_meaning_are_checked(log_note_action):
    assert problems_of({"type": "log_note", "text": "seen"}) == []
    [(path, message)] = problems_of({"type": "log_note", "text": "x", "colour": "red"})
    assert path == "$.rules[0].actions[0].colour" and "'colour'" in message
    assert problems_of({"type": "log_note", "text": "  "}) == [
        ("$.rules[0].actions[0].text", "Action 1 of rule 'noted' writes an empty note; write something.")]


def test_without_registration_the_action_is_unknown():
    [(path, message)] = problems_of({"type": "log_note", "text": "seen"})
    assert path == "$.rules[0].actions[0].type" and "not a known action type" in message
