import pytest

from formloom.definitions.model import Label, OptionDef
from formloom.fields import field_type

SOURCE = (OptionDef("expo", Label.of({"en": "Trade show", "zh": "展会"})),
          OptionDef("referral", Label.of({"en": "Referral", "zh": "老客户推荐"})))


def test_select_accepts_an_option_value(clean):
    assert clean("select", "expo", options=SOURCE) == "expo"


@pytest.mark.parametrize("raw", ["Trade show", "EXPO", "other", 1, True, ["expo"]])
def test_select_refuses_values_not_in_the_list(refuse, raw):
    assert refuse("select", raw, options=SOURCE).code == "invalid_choice"


def test_select_displays_label_in_language(make_field):
    f = make_field("select", options=SOURCE)
    assert field_type("select").display(f, "expo", "zh") == "展会"
    assert field_type("select").display(f, "expo", "en") == "Trade show"
    assert field_type("select").display(f, "gone", "en") == "gone"


def test_select_form_field_lists_options_in_language(make_field):
    unbound = field_type("select").form_field(make_field("select", options=SOURCE), "zh")
    assert ("expo", "展会") in [(c.value, c.label) for c in unbound.kwargs["choices"]]


def test_multiselect_accepts_distinct_options(clean):
    assert clean("multiselect", ["b", "a"], options=["a", "b", "c"]) == ["b", "a"]


def test_multiselect_refuses_duplicates(refuse):
    assert refuse("multiselect", ["a", "a"], options=["a", "b"]).code == "duplicate_choice"


@pytest.mark.parametrize("raw", ["a", ["a", "z"], [1], ["a", None], {"a": True}])
def test_multiselect_refuses_bad_values(refuse, raw):
    assert refuse("multiselect", raw, options=["a", "b"]).code == "invalid_choice"


def test_multiselect_counts(refuse):
    assert refuse("multiselect", ["a"], options=["a", "b", "c"], min=2).code == "too_few_choices"
    assert refuse("multiselect", ["a", "b", "c"], options=["a", "b", "c"], max=2).code == "too_many_choices"


def test_multiselect_display(make_field):
    f = make_field("multiselect", options=SOURCE)
    assert field_type("multiselect").display(f, ["referral", "expo"], "en") == "Referral, Trade show"


def test_checkbox_accepts_json_booleans_only(clean, refuse):
    assert clean("checkbox", True) is True
    assert clean("checkbox", False) is False
    for raw in ("true", "false", "on", 1, 0, None, "y"):
        assert refuse("checkbox", raw).code == "invalid_type"


def test_unticked_checkbox_is_empty_and_stored_false(make_field):
    checkbox = field_type("checkbox")
    assert checkbox.is_empty(False) and not checkbox.is_empty(True)
    assert checkbox.empty_value(make_field("checkbox")) is False


def test_checkbox_display_is_translated(make_field):
    f = make_field("checkbox")
    assert field_type("checkbox").display(f, True, "en") == "Yes"
    assert field_type("checkbox").display(f, False, "zh") == "否"


def test_choice_sql_kinds():
    assert field_type("select").sql_kind == "text"
    assert field_type("multiselect").sql_kind == "json"
    assert field_type("checkbox").sql_kind == "bool"
