"""Compiling documents into the immutable model."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from formloom.definitions.compile import compile_app, content_hash
from formloom.definitions.model import AppDef, thaw


@pytest.fixture
def compiled(make_app, make_workflow):
    def build(*fields, workflow=None, archived=None, **overrides):
        workflow = make_workflow() if workflow is None else workflow
        return compile_app(make_app(*fields, **overrides), {workflow["key"]: workflow}, archived=archived)
    return build


def test_compiles_the_app_and_its_entities(compiled):
    app = compiled()
    assert isinstance(app, AppDef)
    assert (app.key, app.version, app.timezone, app.roles) == ("sales", 1, "Asia/Shanghai", ("admin", "manager", "sales"))
    assert [e.key for e in app.entities] == ["deal", "visit"]
    assert app.entity("deal").field_keys == ("name", "amount", "close_date", "reason", "rep")


def test_app_level_defaults_are_filled(compiled):
    app = compiled()
    assert (app.admin_role, app.working_days, app.holidays, app.description) == ("admin", (1, 2, 3, 4, 5), (), None)


def test_labels_keep_every_language(compiled):
    app = compiled()
    assert app.label.get("zh") == "销售" and app.label.get("en") == "Sales"
    assert app.entity("visit").field("kind").option("visit").label.get("zh") == "拜访"


def test_template_like_label_is_kept_literally(compiled, make_field):
    app = compiled(make_field("memo", label="{{7*7}} <script>x</script>"))
    assert app.entity("deal").field("memo").label.get() == "{{7*7}} <script>x</script>"


def test_options_given_as_strings_become_value_and_label(compiled):
    reason = compiled().entity("deal").field("reason")
    assert reason.option_values == ("price", "timing")
    assert reason.option("price").label.get() == "price"


def test_missing_labels_fall_back_to_the_key(compiled, make_field):
    field = compiled(make_field("tier", "select", options=[{"value": "gold"}])).entity("deal").field("tier")
    assert field.option("gold").label.get() == "gold"


@pytest.mark.parametrize(("type_", "attribute", "value"), [
    ("text", "max_length", 200), ("textarea", "max_length", 10000), ("number", "precision", 0),
    ("money", "currency", "CNY"), ("percent", "max", 100), ("rating", "scale", 5),
    ("auto_number", "format", "{seq:4}"),
])
def test_type_defaults_are_filled(compiled, make_field, type_, attribute, value):
    field = compiled(make_field("thing", type_)).entity("deal").field("thing")
    assert getattr(field, attribute) == value


def test_given_settings_win_over_type_defaults(compiled):
    assert compiled().entity("deal").field("name").max_length == 120


def test_conditions_are_frozen(compiled, make_field):
    field = compiled(make_field("notes", "textarea", visible_if={"==": [{"var": "$stage"}, "lost"]})
                     ).entity("deal").field("notes")
    assert isinstance(field.visible_if, MappingProxyType)
    assert thaw(field.visible_if) == {"==": [{"var": "$stage"}, "lost"]}
    with pytest.raises(TypeError):
        field.visible_if["=="] = []


def test_definitions_cannot_be_changed(compiled):
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled().entity("deal").key = "x"


def test_subtable_columns_are_fields(compiled, make_field):
    lines = make_field("lines", "subtable", columns=[make_field("qty", "number"), make_field("sku", "text")],
                       min_rows=1)
    field = compiled(lines).entity("deal").field("lines")
    assert [c.key for c in field.columns] == ["qty", "sku"] and field.min_rows == 1
    assert field.columns[1].max_length == 200


def test_archived_fields_are_compiled_as_archived(compiled, make_field):
    app = compiled(archived={"deal": [make_field("old_notes", "textarea")]})
    [old] = app.entity("deal").archived_fields
    assert old.key == "old_notes" and old.archived
    assert "old_notes" not in app.entity("deal").field_keys
    assert app.entity("visit").archived_fields == ()


def test_workflow_is_compiled_with_stages_and_gates(compiled, make_workflow):
    workflow = make_workflow()
    workflow["stages"][1]["gate"] = {
        "require": ["amount"],
        "conditions": [{"rule": {">": [{"var": "amount"}, 0]}, "message": {"en": "Amount", "zh": "金额"}}],
        "related": [{"entity": "visit", "via": "deal", "where": {"==": [{"var": "kind"}, "visit"]}}]}
    app = compiled(workflow=workflow)
    flow = app.workflow_for("deal")
    assert [s.key for s in flow.stages] == ["new", "proposal", "won", "lost"]
    assert flow.first_stage.key == "new" and flow.skip == "check"
    gate = flow.stage("proposal").gate
    assert gate.require == ("amount",) and gate.conditions[0].message.get("zh") == "金额"
    assert gate.related[0].min == 1 and gate.related[0].message.get()
    lost = flow.stage("lost")
    assert (lost.terminal, lost.from_stages, lost.gate.require) == ("lost", ("*",), ("reason",))
    assert flow.stage("new").from_stages is None


def test_rules_are_frozen_with_their_defaults(compiled, make_workflow, make_rule):
    rule = make_rule({"type": "stage_idle", "stage": "proposal", "after": "PT48H"},
                     condition={"!": {"var": "$terminal"}})
    [compiled_rule] = compiled(workflow=make_workflow(rules=[rule])).workflows["deal_flow"].rules
    assert compiled_rule.enabled is True and compiled_rule.trigger["after"] == "PT48H"
    assert thaw(compiled_rule.actions) == [{"type": "notify", "to": ["owner"]}]
    assert isinstance(compiled_rule.trigger, MappingProxyType)


def test_content_hash_is_sha256_of_the_canonical_documents(make_app, make_workflow):
    app, workflow = make_app(), make_workflow()
    compiled_app = compile_app(app, {"deal_flow": workflow})
    assert len(compiled_app.content_hash) == 64
    assert compiled_app.content_hash == content_hash(app, {"deal_flow": workflow})


def test_content_hash_ignores_key_order_but_not_content(make_app, make_workflow):
    app, workflow = make_app(), make_workflow()
    reordered = dict(reversed(list(app.items())))
    assert content_hash(app, {"deal_flow": workflow}) == content_hash(reordered, {"deal_flow": workflow})
    assert content_hash(app, {"deal_flow": workflow}) != content_hash(make_app(version=2), {"deal_flow": workflow})


def test_app_description_is_compiled(compiled):
    assert compiled(description={"en": "Deals", "zh": "商机"}).description.get("zh") == "商机"


def test_a_role_reads_its_label_in_each_language_and_its_key_without_one(make_app):
    app = compile_app(make_app(role_labels={"admin": {"en": "Administrator", "zh": "管理员"}}), {})
    assert app.role_label("admin").get("zh") == "管理员" and app.role_label("admin").get("en") == "Administrator"
    assert [app.role_label(r).get("zh") for r in app.roles if r != "admin"] == [r for r in app.roles if r != "admin"]
