"""The designer's settings forms agree with the validator, because both come from the
field-type registry: every type's form has exactly the keys its document schema
allows; every shipped field, shown in its form and posted back unchanged, is the
same field to the compiler and passes validation; and a value the meta-schema
refuses is refused by the designer by the setting it concerns."""
from __future__ import annotations

import copy
import json

import pytest
from werkzeug.datastructures import MultiDict

from formloom import resources
from formloom.definitions.compile import compile_field
from formloom.definitions.load import load_document
from formloom.definitions.validate import validate_app
from formloom.design.condition_builder import builder_fields, form_items
from formloom.design.settings_form import (catalog_of, controls_for, missing_required, parse_settings,
                                           problems_by_setting, widget_for)
from formloom.fields import FIELD_TYPES

from ..conftest import helpdesk_app
from ..web.desk import desk_app


def posted(controls, condition_fields=()) -> MultiDict:
    """What a browser posts for a settings form left as shown."""
    form = MultiDict()
    for c in controls:
        if c.widget == "fixed":
            continue
        if c.widget == "condition":
            offered = c.fields if c.fields is not None else condition_fields
            for name, value in form_items(c.input_name, offered, c.value):
                form.add(name, value)
            continue
        if c.widget == "group":
            for part in c.value:
                form.add(part.input_name, part.value)
            continue
        if c.widget == "label":
            for lang, text in c.value.items():
                form.add(f"{c.input_name}-{lang}", text)
        elif c.widget == "options":
            for row in c.value:
                for part in ("value", "en", "zh", "color"):
                    form.add(f"{c.input_name}-{part}", row[part])
                if row["retired"]:
                    form.add(f"{c.input_name}-retired", row["value"])
        elif c.widget == "boolean":
            if c.value:
                form.add(c.input_name, "1")
            if c.was_false:
                form.add(f"{c.input_name}-was", "false")
        elif c.widget == "roles":
            for role in c.value:
                form.add(c.input_name, role)
        else:
            form.add(c.input_name, c.value)
    return form


def shipped_fields() -> list[tuple[str, dict, int, int]]:
    crm = load_document(resources.template_dir("crm") / "app.json")
    out = []
    for name, doc in (("crm", crm), ("desk", desk_app()), ("helpdesk", helpdesk_app())):
        for i, entity in enumerate(doc["entities"]):
            for j, f in enumerate(entity["fields"]):
                out.append((name, doc, i, j))
    return out


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_the_form_has_exactly_the_settings_the_schema_allows(name):
    ftype = FIELD_TYPES[name]
    controls = controls_for(ftype, None, "en", editing=False)
    assert [c.name for c in controls] == list(ftype.document_schema()["properties"])
    for c in controls:
        assert c.label and c.help, f"{name}.{c.name} has no label or help"
    assert [c.label for c in controls_for(ftype, None, "zh", editing=False)] == [
        s.label["zh"] for s in ftype.all_settings()]


@pytest.mark.parametrize("case", shipped_fields(), ids=lambda c: f"{c[0]}-{c[1]['entities'][c[2]]['fields'][c[3]]['key']}"
                         if isinstance(c, tuple) else str(c))
@pytest.mark.parametrize("pickers", [False, True], ids=["typed-keys", "pickers"])
def test_a_shipped_field_posted_back_unchanged_is_the_same_field(case, pickers):
    """With pickers (the designer's form) and without (keys typed), every shipped field survives."""
    _name, app_doc, i, j = case
    original = app_doc["entities"][i]["fields"][j]
    ftype = FIELD_TYPES[original["type"]]
    catalog = catalog_of(app_doc, app_doc["entities"][i]["key"], "en") if pickers else None
    controls = controls_for(ftype, original, "en", editing=True, catalog=catalog)
    fields = builder_fields(app_doc["entities"][i], "en")
    for c in controls:
        if c.widget == "pick":
            assert original.get(c.name) is None or c.value in [v for v, _t in c.choices], (c.name, c.choices)
    doc, errors, _raw = parse_settings(ftype, posted(controls, fields), "en", key=original["key"],
                                       condition_fields=fields, catalog=catalog)
    assert errors == {}
    assert compile_field(doc) == compile_field(original)
    changed = copy.deepcopy(app_doc)
    changed["entities"][i]["fields"][j] = doc
    workflows = {e["workflow"]: {} for e in changed["entities"] if e.get("workflow")}
    assert validate_app(changed, workflows, "app.json") == validate_app(app_doc, workflows, "app.json")


def _minimums():
    for name, ftype in FIELD_TYPES.items():
        for setting in ftype.settings:
            if isinstance(setting.schema, dict) and "minimum" in setting.schema and widget_for(setting) == "integer":
                yield name, setting.name, setting.schema["minimum"]


@pytest.mark.parametrize("type_name,setting,minimum", list(_minimums()))
def test_a_value_below_the_schema_minimum_is_refused_by_the_setting(type_name, setting, minimum):
    ftype = FIELD_TYPES[type_name]
    app_doc = helpdesk_app()
    base = {"label": "Probe"}
    if "options" in missing_required(ftype, {"label": 1, "key": 1, "type": 1}):
        base["options"] = ["a", "b"]
    controls = controls_for(ftype, base, "en", editing=False)
    form = posted(controls)
    form.setlist(f"s-{setting}", [str(minimum - 1)])
    doc, errors, _raw = parse_settings(ftype, form, "en")
    assert errors == {}
    extra = {k: v for k, v in _complete(ftype).items() if k not in doc}
    app_doc["entities"][0]["fields"].append({**doc, **extra})
    problems = validate_app(app_doc, {}, "app.json")
    by_setting = problems_by_setting(problems, f"$.entities[0].fields[{len(app_doc['entities'][0]['fields']) - 1}]")
    assert setting in by_setting, problems


def _complete(ftype) -> dict:
    """Values for the required settings a probe field of `ftype` needs besides its key and label."""
    out = {}
    for s in ftype.settings:
        if s.required and s.name == "options":
            out[s.name] = ["a", "b"]
        elif s.required and widget_for(s) == "text":
            out[s.name] = "1" if "formula" in json.dumps(s.schema) else "X-{seq:3}"
    return out


def test_bad_text_in_a_number_setting_is_refused_in_the_users_language():
    ftype = FIELD_TYPES["number"]
    _doc, errors, raw = parse_settings(ftype, MultiDict({"s-label-en": "N", "s-min": "lots"}), "zh")
    assert errors["min"] == "请输入数字。"
    assert raw["min"] == "lots"


def test_roles_are_picked_with_one_checkbox_per_role_of_the_app():
    ftype = FIELD_TYPES["text"]
    controls = {c.name: c for c in controls_for(ftype, {"label": "Cost", "hidden_for": ["sales"]}, "en",
                                                 editing=False, roles=("admin", "sales", "manager"))}
    hidden, readonly = controls["hidden_for"], controls["readonly_for"]
    assert (hidden.widget, readonly.widget) == ("roles", "roles")
    assert [v for v, _ in hidden.choices] == ["admin", "sales", "manager"] and hidden.value == ["sales"]
    form = posted(controls.values())
    form.setlist("s-readonly_for", ["manager", "sales"])
    doc, errors, _raw = parse_settings(ftype, form, "en")
    assert errors == {} and doc["hidden_for"] == ["sales"] and doc["readonly_for"] == ["manager", "sales"]


def test_a_retired_option_round_trips_through_the_options_table():
    ftype = FIELD_TYPES["select"]
    doc = {"label": "Stage", "options": ["a", {"value": "b", "retired": True}]}
    controls = controls_for(ftype, doc, "en", editing=False)
    parsed, errors, _raw = parse_settings(ftype, posted(controls), "en")
    assert errors == {} and parsed["options"] == ["a", {"value": "b", "retired": True}]


def test_a_setting_the_document_sets_to_false_stays_false_when_the_form_is_saved_unchanged():
    """`indexed: false` removes an index the app would otherwise get: opening and saving the field
    must not turn it into "unset"."""
    ftype = FIELD_TYPES["number"]
    original = {"key": "score", "type": "number", "label": "Score", "indexed": False}
    controls = controls_for(ftype, original, "en", editing=True)
    doc, errors, _raw = parse_settings(ftype, posted(controls), "en", key="score")
    assert errors == {} and doc["indexed"] is False
    ticked = posted(controls)
    ticked.add("s-indexed", "1")
    assert parse_settings(ftype, ticked, "en", key="score")[0]["indexed"] is True
    assert "indexed" not in parse_settings(ftype, posted(controls_for(ftype, {**original, "indexed": None},
                                                                      "en", editing=True)), "en", key="score")[0]
