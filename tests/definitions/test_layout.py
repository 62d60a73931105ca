"""An entity's `layout` part: its shape (meta-schema), its meaning (the fields it places exist,
each once; a field every new record needs stays on the new-record form), how it compiles,
and how `formloom.layout.arrange` groups fields for each page."""
from __future__ import annotations

import copy

from formloom.definitions.compile import compile_entity
from formloom.definitions.validate import validate_app
from formloom.layout import arrange, shows

from tests.web.desk import CASE_FLOW, desk_app


def _case_with(layout) -> dict:
    doc = desk_app()
    next(e for e in doc["entities"] if e["key"] == "case")["layout"] = layout
    return doc


def _problems(layout) -> list:
    return validate_app(_case_with(layout), {"case_flow": copy.deepcopy(CASE_FLOW)}, "app.json")


GOOD = {"sections": [
    {"key": "basics", "title": {"en": "Basics", "zh": "基本信息"}, "columns": 2,
     "fields": ["subject", "company", "priority"]},
    {"key": "later", "title": "Later", "description": {"en": "Set as the case goes", "zh": "随工单推进填写"},
     "collapsed": True, "fields": [{"key": "code", "create": False}, {"key": "notes", "detail": False}]},
]}


def test_a_layout_with_sections_and_placements_is_accepted():
    assert _problems(GOOD) == []


def test_an_unknown_field_is_located_with_a_suggestion():
    layout = copy.deepcopy(GOOD)
    layout["sections"][0]["fields"][1] = "compnay"
    [problem] = _problems(layout)
    assert problem.json_path == "$.entities[1].layout.sections[0].fields[1]"
    assert "'compnay'" in problem.message and "did you mean 'company'" in problem.message


def test_a_field_in_two_sections_is_refused_where_it_is_placed_the_second_time():
    layout = copy.deepcopy(GOOD)
    layout["sections"][1]["fields"].append("priority")
    [problem] = _problems(layout)
    assert problem.json_path == "$.entities[1].layout.sections[1].fields[2]"
    assert "'basics' and 'later'" in problem.message


def test_section_keys_are_unique_and_columns_are_one_to_three():
    layout = copy.deepcopy(GOOD)
    layout["sections"][1]["key"] = "basics"
    layout["sections"][0]["columns"] = 4
    found = {p.json_path: p.message for p in _problems(layout)}
    assert "used twice" in found["$.entities[1].layout.sections[1].key"]
    assert "at most 3" in found["$.entities[1].layout.sections[0].columns"]


def test_a_required_field_without_a_default_cannot_be_left_off_the_new_form():
    layout = {"sections": [{"key": "s", "title": "S", "fields": [{"key": "subject", "create": False}]}]}
    [problem] = _problems(layout)
    assert problem.json_path == "$.entities[1].layout.sections[0].fields[0].create"
    assert "required and has no default" in problem.message


def test_an_unknown_placement_setting_is_refused_by_the_schema():
    layout = {"sections": [{"key": "s", "title": "S", "fields": [{"key": "subject", "on_create": False}]}]}
    assert any(p.json_path.startswith("$.entities[1].layout.sections[0].fields[0]") for p in _problems(layout))


def _case(layout) -> object:
    doc = _case_with(layout)
    return compile_entity(next(e for e in doc["entities"] if e["key"] == "case"))


def test_arrange_groups_by_section_and_puts_unplaced_fields_last():
    case = _case(GOOD)
    groups = arrange(case, case.fields, "edit")
    assert [(g.key, g.columns, [f.key for f in g.items]) for g in groups] == [
        ("basics", 2, ["subject", "company", "priority"]),
        ("later", 1, ["code", "notes"]),
        ("_rest", 1, ["budget", "due", "escalated", "reason"]),
    ]
    assert groups[1].section.collapsed and groups[1].section.description.get("zh") == "随工单推进填写"


def test_each_page_leaves_out_what_the_layout_does_not_show_there():
    case = _case(GOOD)
    keys = {mode: [f.key for g in arrange(case, case.fields, mode) for f in g.items]
            for mode in ("create", "edit", "detail")}
    assert "code" not in keys["create"] and "code" in keys["edit"] and "code" in keys["detail"]
    assert "notes" in keys["create"] and "notes" not in keys["detail"]
    assert not shows(case, "code", "create") and shows(case, "subject", "create")


def test_without_a_layout_there_is_one_untitled_column_in_entity_order():
    case = compile_entity({k: v for k, v in next(e for e in desk_app()["entities"] if e["key"] == "case").items()})
    [group] = arrange(case, case.fields, "detail")
    assert group.section is None and group.columns == 1
    assert [f.key for f in group.items] == list(case.field_keys)
