import pytest

from formloom.fields import CleanContext, FieldValueError, field_type
from formloom.fields.base import FieldValuesError
from formloom.fields.subtable import rows_from_text


@pytest.fixture
def lines(make_field):
    return make_field("subtable", key="lines", columns=(
        make_field("text", key="product", label="Product", required=True, max_length=10),
        make_field("number", key="qty", label="Quantity", min=1),
        make_field("money", key="price", label="Price"),
    ), max_rows=3)


def clean(f, raw, lang="en"):
    return field_type("subtable").clean(f, raw, CleanContext(lang=lang))


def test_rows_are_cleaned_column_by_column(lines):
    rows = clean(lines, [{"product": "Pen", "qty": 2, "price": 1.5}, {"product": "Ink"}])
    assert rows == [{"product": "Pen", "qty": 2, "price": "1.50"},
                    {"product": "Ink", "qty": None, "price": None}]


def test_every_row_problem_is_collected_with_its_path(lines):
    with pytest.raises(FieldValuesError) as caught:
        clean(lines, [{"product": "Pen", "qty": 0}, {"qty": "x", "price": "1.005"}, "row", {"colour": "red",
                                                                                            "product": "P"}])
    found = {(e.path_suffix, e.code) for e in caught.value.errors}
    assert found == {
        ("", "too_many_rows"),
        ("/0/qty", "too_small"),
        ("/1/product", "required"),
        ("/1/qty", "invalid_type"),
        ("/1/price", "invalid_amount"),
        ("/2", "invalid_row"),
        ("/3/colour", "unknown_column"),
    }
    assert isinstance(caught.value, FieldValueError)
    assert caught.value.all() == caught.value.errors


def test_row_messages_name_row_and_column(lines):
    with pytest.raises(FieldValuesError) as caught:
        clean(lines, [{"product": "Pen"}, {"product": "Pen", "qty": "x"}])
    assert caught.value.errors[0].message == "Row 2, Quantity: Enter a number."


def test_row_messages_are_translated(lines):
    with pytest.raises(FieldValuesError) as caught:
        clean(lines, [{}], lang="zh")
    assert caught.value.errors[0].message == "第 1 行，Product：此项为必填项。"


@pytest.mark.parametrize("raw", ["rows", {"product": "x"}, 3])
def test_subtable_must_be_a_list(lines, raw):
    with pytest.raises(FieldValueError) as caught:
        clean(lines, raw)
    assert caught.value.code == "invalid_type"


def test_subtable_min_rows(make_field):
    f = make_field("subtable", columns=(make_field("text", key="a"),), min_rows=2)
    with pytest.raises(FieldValuesError) as caught:
        clean(f, [{"a": "x"}])
    assert caught.value.code == "too_few_rows"


def test_rows_from_form_text():
    assert rows_from_text('[{"a": 1}]') == [{"a": 1}]
    assert rows_from_text("[NaN]") == "[NaN]"
    assert rows_from_text("not json") == "not json"
    assert rows_from_text("  ") is None


def test_subtable_display(lines):
    subtable = field_type("subtable")
    assert subtable.display(lines, [{}, {}], "en") == "2 rows"
    assert subtable.display(lines, [{}], "en") == "1 row"
    assert subtable.display(lines, [{}, {}, {}], "zh") == "3 行"


def test_subtable_schema_rows_are_closed_objects(lines):
    schema = field_type("subtable").json_schema(lines)
    assert schema["items"]["additionalProperties"] is False
    assert schema["items"]["required"] == ["product"]
    assert schema["maxItems"] == 3
