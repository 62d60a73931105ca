import pytest

from formloom.fields import CleanContext, FieldValueError, field_type


def test_reference_accepts_positive_int(clean):
    assert clean("reference", 12, entity="customer") == 12
    assert clean("reference", 12.0, entity="customer") == 12


@pytest.mark.parametrize("raw", [0, -1, 1.5, "12", True, None, [1], 2**63, float("nan")])
def test_reference_refuses_non_ids(refuse, raw):
    assert refuse("reference", raw, entity="customer").code == "invalid_id"


def test_multiple_reference_is_a_list_of_distinct_ids(clean, refuse):
    assert clean("reference", [3, 1], entity="customer", multiple=True) == [3, 1]
    assert refuse("reference", [3, 3], entity="customer", multiple=True).code == "duplicate_id"
    assert refuse("reference", 3, entity="customer", multiple=True).code == "invalid_type"
    assert refuse("reference", [3, "4"], entity="customer", multiple=True).code == "invalid_id"


def test_reference_existence_is_checked_through_context(make_field):
    seen = []

    def exists(entity_key, record_id):
        seen.append((entity_key, record_id))
        return record_id == 1

    ctx = CleanContext(lang="en", reference_exists=exists)
    f = make_field("reference", entity="customer")
    assert field_type("reference").clean(f, 1, ctx) == 1
    with pytest.raises(FieldValueError) as caught:
        field_type("reference").clean(f, 7, ctx)
    assert caught.value.code == "not_found"
    assert caught.value.message == "No customer record with id 7."
    assert seen == [("customer", 1), ("customer", 7)]


def test_user_existence_is_checked_through_context(make_field):
    ctx = CleanContext(lang="zh", user_exists=lambda user_id: False)
    with pytest.raises(FieldValueError) as caught:
        field_type("user").clean(make_field("user"), 5, ctx)
    assert caught.value.message == "没有编号为 5 的用户。"


def test_reference_form_field_has_picker(make_field):
    unbound = field_type("reference").form_field(make_field("reference", entity="customer"), "en")
    assert unbound.kwargs["render_kw"]["data-picker"] == "customer"


def test_reference_from_form(make_field):
    ref = field_type("reference")
    assert ref.from_form(make_field("reference", entity="c"), "12") == 12
    assert ref.from_form(make_field("reference", entity="c", multiple=True), "12, 15 7") == [12, 15, 7]
    assert ref.from_form(make_field("reference", entity="c", multiple=True), " ") == []
    assert ref.from_form(make_field("reference", entity="c"), "abc") == "abc"


def test_reference_display_and_export(make_field):
    ref = field_type("reference")
    assert ref.display(make_field("reference", entity="c"), 12, "en") == "#12"
    assert ref.display(make_field("reference", entity="c", multiple=True), [1, 2], "en") == "#1, #2"
    assert ref.export(make_field("reference", entity="c", multiple=True), [1, 2], "en") == "1, 2"


def test_multiple_reference_is_json_in_sql(make_field):
    ref = field_type("reference")
    assert ref.field_sql_kind(make_field("reference", entity="c")) == "number"
    assert ref.field_sql_kind(make_field("reference", entity="c", multiple=True)) == "json"
