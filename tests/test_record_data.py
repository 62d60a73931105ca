from formloom.definitions.model import EntityDef, FieldDef, Label, OptionDef, freeze
from formloom.fields import CleanContext
from formloom.record_data import clean_record_data, compute_formulas, empty, parsed_formula


def field(key, type_, **kw):
    return FieldDef(key=key, type=type_, label=Label.of(kw.pop("label", key.title())), **kw)


ENTITY = EntityDef("opportunity", Label.of("Opportunity"), "name", (
    field("name", "text", required=True),
    field("customer", "reference", entity="customer"),
    field("amount", "money", min=0),
    field("need", "number"),
    field("budget_fit", "number"),
    field("stage_note", "text", required_if=freeze({">": [{"var": "amount"}, 1000]})),
    field("lost_reason", "select", options=(OptionDef("price", Label.of("Price")),), required=True,
          visible_if=freeze({"==": [{"var": "$stage"}, "lost"]})),
    field("lines", "subtable", columns=(field("qty", "number", required=True), field("price", "money"))),
    field("signed", "checkbox"),
    field("score", "formula", formula="need * 0.5 + budget_fit * 0.5"),
    field("double", "formula", formula="score * 2"),
    field("total", "formula", formula="sum(lines.price)"),
    field("code", "auto_number"),
))
EN = CleanContext(lang="en")


def run(incoming, **kw):
    return clean_record_data(ENTITY, incoming, kw.pop("ctx", EN), **kw)


def codes(problems):
    return {(p.path, p.code) for p in problems}


def test_clean_record_returns_full_data():
    data, problems = run({"name": "Deal", "amount": 12.5, "need": 80, "budget_fit": 60})
    assert problems == []
    assert data["name"] == "Deal" and data["amount"] == "12.50"
    assert data["score"] == 70 and data["double"] == 140
    assert data["customer"] is None and data["signed"] is False and data["code"] is None


def test_unknown_keys_and_computed_fields_are_problems():
    _, problems = run({"name": "x", "nope": 1, "score": 5, "code": "X-1"})
    assert codes(problems) == {("/nope", "unknown_field"), ("/score", "computed"), ("/code", "computed")}


def test_required_field_missing():
    _, problems = run({})
    assert codes(problems) == {("/name", "required")}
    assert problems[0].message == "This field is required."


def test_required_if():
    _, problems = run({"name": "x", "amount": "2000"})
    assert ("/stage_note", "required") in codes(problems)
    _, problems = run({"name": "x", "amount": "20"})
    assert problems == []


def test_stage_required():
    _, problems = run({"name": "x"}, stage_required=["customer"])
    assert codes(problems) == {("/customer", "required")}


def test_hidden_field_is_not_validated_and_keeps_stored_value():
    stored = {"name": "x", "lost_reason": "price"}
    data, problems = run({"lost_reason": "not an option"}, existing=stored, extra_vars={"$stage": "proposal"})
    assert problems == []
    assert data["lost_reason"] == "price"


def test_visible_field_is_validated_and_required():
    _, problems = run({"name": "x"}, extra_vars={"$stage": "lost"})
    assert codes(problems) == {("/lost_reason", "required")}
    _, problems = run({"name": "x", "lost_reason": "other"}, extra_vars={"$stage": "lost"})
    assert codes(problems) == {("/lost_reason", "invalid_choice")}


def test_patch_merges_over_existing():
    stored = {"name": "Old", "amount": "5.00", "need": 10, "budget_fit": 10, "code": "OPP-0001", "archived_x": 1}
    data, problems = run({"amount": "7"}, existing=stored)
    assert problems == []
    assert data["name"] == "Old" and data["amount"] == "7.00" and data["score"] == 10
    assert data["code"] == "OPP-0001"
    assert data["archived_x"] == 1


def test_patch_can_clear_optional_but_not_required():
    stored = {"name": "Old", "amount": "5.00"}
    data, problems = run({"amount": None}, existing=stored)
    assert data["amount"] is None and problems == []
    _, problems = run({"name": ""}, existing=stored)
    assert codes(problems) == {("/name", "required")}


def test_subtable_problems_are_all_reported_with_paths():
    _, problems = run({"name": "x", "lines": [{"qty": "a"}, {"price": "1.005"}, {"qty": 1, "extra": 2}]})
    assert codes(problems) == {("/lines/0/qty", "invalid_type"), ("/lines/1/qty", "required"),
                               ("/lines/1/price", "invalid_amount"), ("/lines/2/extra", "unknown_column")}
    assert all(p.field == "lines" for p in problems)


def test_formula_over_subtable_column():
    data, _ = run({"name": "x", "lines": [{"qty": 1, "price": "2.50"}, {"qty": 1, "price": 3}]})
    assert data["total"] == 5.5


def test_formula_that_cannot_compute_is_none():
    entity = EntityDef("e", Label.of("E"), "a", (field("a", "number"), field("r", "formula", formula="1 / a")))
    data, problems = clean_record_data(entity, {"a": 0}, EN)
    assert data["r"] is None and problems == []


def test_messages_in_context_language():
    _, problems = run({"name": "x", "amount": "abc", "zz": 1}, ctx=CleanContext(lang="zh"))
    messages = {p.code: p.message for p in problems}
    assert messages["unknown_field"] == "没有这个字段。"
    assert messages["invalid_amount"].startswith("请输入金额")


def test_reference_existence_through_context():
    ctx = CleanContext(lang="en", reference_exists=lambda entity, record_id: record_id != 9)
    _, problems = run({"name": "x", "customer": 9}, ctx=ctx)
    assert problems[0].message == "No customer record with id 9."


def test_hostile_strings_stored_unchanged():
    hostile = "<img src=x onerror=alert(1)>'; DROP TABLE records;--"
    data, problems = run({"name": hostile})
    assert problems == [] and data["name"] == hostile


def test_defaults_apply_on_create_only():
    entity = EntityDef("e", Label.of("E"), "a", (field("a", "number", default=3),))
    assert clean_record_data(entity, {}, EN)[0]["a"] == 3
    assert clean_record_data(entity, {}, EN, existing={"a": None})[0]["a"] is None


def test_empty():
    assert empty(ENTITY.field("name"), "") and empty(ENTITY.field("signed"), False)
    assert not empty(ENTITY.field("need"), 0)


def test_formulas_are_parsed_once_per_source():
    assert parsed_formula("need * 2") is parsed_formula("need * 2")
    assert compute_formulas(ENTITY, {"need": 2, "budget_fit": 4})["double"] == 6
