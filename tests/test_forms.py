from werkzeug.datastructures import MultiDict

from formloom.definitions.model import EntityDef, FieldDef, Label, OptionDef
from formloom.fields import CleanContext
from formloom.forms import RecordForm, build_form_class, form_to_data


def field(key, type_, **kw):
    return FieldDef(key=key, type=type_, label=Label.of(kw.pop("label", {"en": key.title(), "zh": "中" + key})), **kw)


ENTITY = EntityDef("sales_deal", Label.of("Deal"), "name", (
    field("name", "text", required=True, max_length=20),
    field("amount", "money", min=0),
    field("qty", "number"),
    field("source", "select", options=(OptionDef("expo", Label.of({"en": "Expo", "zh": "展会"})),)),
    field("tags", "multiselect", options=(OptionDef("a", Label.of("A")), OptionDef("b", Label.of("B")))),
    field("signed", "checkbox"),
    field("customer", "reference", entity="customer"),
    field("lines", "subtable", columns=(field("qty", "number", required=True),)),
    field("score", "formula", formula="qty * 2"),
    field("code", "auto_number"),
    field("errors", "text"),
))


def post(form_class, **values):
    return form_class(MultiDict(values))


def test_form_class_is_built_with_type_and_named_after_entity():
    form_class = build_form_class(ENTITY, "en")
    assert form_class.__name__ == "SalesDealForm"
    assert issubclass(form_class, RecordForm)


def test_computed_fields_are_not_in_the_form():
    form = build_form_class(ENTITY, "en")()
    assert "score" not in form.field_names and "code" not in form.field_names


def test_only_limits_the_fields():
    form = build_form_class(ENTITY, "en", only=["name", "qty"])()
    assert list(form.field_names) == ["name", "qty"]


def test_valid_post_and_form_to_data():
    form = post(build_form_class(ENTITY, "en"), name="Deal", amount="12.5", qty="3", source="expo",
                signed="y", customer="7", lines='[{"qty": 1}]')
    form.tags.process(MultiDict([("tags", "a"), ("tags", "b")]))
    assert form.validate(), form.errors
    assert form_to_data(form, ENTITY) == {
        "name": "Deal", "amount": "12.5", "qty": 3, "source": "expo", "tags": ["a", "b"], "signed": True,
        "customer": 7, "lines": [{"qty": 1}], "errors": None}
    assert form.amount.cleaned == "12.50"


def test_empty_inputs_become_none_and_unticked_checkbox_false():
    form = post(build_form_class(ENTITY, "en"), name="x", qty="", source="")
    assert form.validate()
    data = form_to_data(form, ENTITY)
    assert data["qty"] is None and data["source"] is None and data["signed"] is False and data["tags"] is None


def test_form_uses_the_field_types_messages():
    form = post(build_form_class(ENTITY, "en"), name="x" * 21, qty="abc", source="nope", amount="1.005")
    assert not form.validate()
    assert form.errors["name"] == ["Enter at most 20 characters (this has 21)."]
    assert form.errors["qty"] == ["Enter a number."]
    assert form.errors["source"] == ["nope is not one of the options."]
    assert form.errors["amount"] == ["Enter an amount such as 1234.50 (at most 2 decimal places)."]


def test_required_message_in_language():
    form = post(build_form_class(ENTITY, "zh"), name="")
    assert not form.validate()
    assert form.errors["name"] == ["此项为必填项。"]


def test_select_options_and_labels_in_language():
    form = build_form_class(ENTITY, "zh")()
    assert ("expo", "展会") in [(c.value, c.label) for c in form.source.choices]
    assert form.name.label.text == "中name"


def test_reference_renders_text_input_with_picker():
    html = build_form_class(ENTITY, "en")().customer()
    assert 'data-picker="customer"' in html and 'type="text"' in html


def test_subtable_is_a_json_textarea_and_reports_every_row():
    form = post(build_form_class(ENTITY, "en"), name="x", lines='[{"qty": "a"}, {}]')
    assert "data-subtable" in form.lines()
    assert not form.validate()
    assert form.errors["lines"] == ["Row 1, Qty: Enter a number.", "Row 2, Qty: This field is required."]


def test_field_key_colliding_with_form_attribute_keeps_its_html_name():
    form = post(build_form_class(ENTITY, "en"), name="x", errors="literal")
    assert form.validate()
    assert form.field_for("errors").name == "errors"
    assert form_to_data(form, ENTITY)["errors"] == "literal"


def test_readonly_fields_are_disabled_and_not_read_back():
    form_class = build_form_class(ENTITY, "en", readonly=["amount"])
    form = form_class(MultiDict({"name": "x", "amount": "not money"}))
    assert form.validate()
    assert "amount" not in form_to_data(form, ENTITY)
    assert "disabled" in form.amount()


def test_hostile_text_stays_literal_and_is_escaped_when_rendered():
    hostile = '"><script>alert(1)</script>'
    form = post(build_form_class(ENTITY, "en"), name=hostile[:20])
    assert form.validate()
    assert form_to_data(form, ENTITY)["name"] == hostile[:20]
    assert "<script>" not in form.name()


def test_for_record_fills_inputs_from_stored_values():
    stored = {"name": "Deal", "qty": 3, "customer": 7, "lines": [{"qty": 1}], "amount": "12.50"}
    form = build_form_class(ENTITY, "en").for_record(stored)
    assert 'value="7"' in form.customer()
    assert '[{"qty": 1}]' in form.lines.data
    assert form.amount.data == "12.50"


def test_context_reaches_the_validators():
    ctx = CleanContext(lang="en", reference_exists=lambda entity, record_id: False)
    form = build_form_class(ENTITY, "en")(MultiDict({"name": "x", "customer": "9"}), context=ctx)
    assert not form.validate()
    assert form.errors["customer"] == ["No customer record with id 9."]


def test_forms_work_without_a_request():
    # plain wtforms.Form: no app context, no CSRF token needed
    assert post(build_form_class(ENTITY, "en"), name="x").validate()
