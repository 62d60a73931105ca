"""move_stage with values (issue 9, item 1): automation saves fields with the move,
judged in the stage the record enters, so a field shown only there is kept."""
from formloom.definitions.validate import validate_workflow

from .conftest import SUPPORT_APP, WORKFLOW, rule

IN_DROPPED = {"==": [{"var": "$stage"}, "dropped"]}


def support_with_drop_reason() -> dict:
    entity = dict(SUPPORT_APP["entities"][0])
    entity["fields"] = entity["fields"] + [
        {"key": "drop_reason", "type": "select", "label": "Drop reason", "options": ["stale", "duplicate"],
         "visible_if": IN_DROPPED}]
    return {"entities": [entity, SUPPORT_APP["entities"][1]]}


def test_move_stage_saves_a_field_shown_only_in_the_target_stage(desk_factory):
    desk = desk_factory([rule("drop_low", {"type": "field_changed", "field": "priority"},
                              {"type": "move_stage", "stage": "dropped",
                               "values": {"drop_reason": "stale", "resolution": "Closed: {{ record.subject }}"}},
                              condition={"==": [{"var": "priority"}, "low"]})],
                        **support_with_drop_reason())
    ticket = desk.create()
    desk.update(ticket, priority="low")
    desk.process()
    after = desk.get(ticket)
    assert after.stage == "dropped", desk.runs("drop_low")[-1].message
    assert after.data["drop_reason"] == "stale" and after.data["resolution"] == "Closed: Printer on fire"


def test_move_stage_values_are_checked_where_they_are_written(desk_factory):
    flow = dict(WORKFLOW, rules=[rule("bad", {"type": "record_created"},
                                      {"type": "move_stage", "stage": "dropped",
                                       "values": {"resolutoin": "x", "priority": "urgent", "subject": "{{ oops"}})])
    problems = validate_workflow(flow, SUPPORT_APP, "workflow.json")
    where = {p.json_path: p.message for p in problems}
    base = "$.rules[0].actions[0].values"
    assert "(did you mean 'resolution'?)" in where[f"{base}.resolutoin"]
    assert "'urgent', which is not one of its options" in where[f"{base}.priority"]
    assert f"{base}.subject" in where
