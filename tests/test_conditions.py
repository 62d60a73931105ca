"""Conditions (JSON Logic): what admins may write, and how rules behave on record data."""
from decimal import Decimal
from types import MappingProxyType

import pytest

from formloom.conditions import (ALLOWED_OPERATORS, ConditionError, check_logic, evaluate,
                                 truthy, variables)
from formloom.definitions.model import freeze


def test_allowed_operators_match_the_documented_list():
    documented = set("== != === !== < <= > >= ! !! and or if + - * / % min max in cat "
                     "substr var missing missing_some merge some all none".split())
    assert ALLOWED_OPERATORS == documented | {"?:"}


def test_variables_collects_top_level_field_keys():
    logic = {"and": [{">=": [{"var": "amount"}, 100]}, {"==": [{"var": "$stage"}, "won"]}]}
    assert variables(logic) == {"amount", "$stage"}


def test_variables_uses_first_segment_of_dotted_names():
    assert variables({"var": "customer.name"}) == {"customer"}


def test_variables_ignores_current_item_inside_some():
    logic = {"some": [{"var": "tags"}, {"==": [{"var": "label"}, "vip"]}]}
    assert variables(logic) == {"tags"}


def test_variables_reads_names_listed_in_missing():
    assert variables({"missing": ["budget", "decision_maker"]}) == {"budget", "decision_maker"}


def test_check_logic_accepts_a_valid_rule():
    assert list(check_logic({">=": [{"var": "score"}, 60]}, ["score"])) == []


def test_check_logic_accepts_special_variables():
    assert list(check_logic({"!": {"var": "$terminal"}}, [])) == []


def test_check_logic_refuses_unknown_operator():
    [problem] = check_logic({"eval": ["1"]}, [])
    assert problem.startswith("uses the operator 'eval', which is not allowed (allowed: ")


@pytest.mark.parametrize("op", ["map", "filter", "reduce", "log"])
def test_check_logic_refuses_undocumented_operators(op):
    assert any(f"'{op}'" in p for p in check_logic({op: [[1], {"var": ""}]}, []))


def test_check_logic_suggests_close_field_name():
    [problem] = check_logic({">": [{"var": "amout"}, 0]}, ["amount", "stage_note"])
    assert problem == "refers to 'amout', which is not a field here (did you mean 'amount'?)"


def test_check_logic_reports_unknown_field_without_suggestion():
    [problem] = check_logic({"var": "zzz"}, ["amount"])
    assert problem == "refers to 'zzz', which is not a field here"


def test_check_logic_refuses_object_with_several_keys():
    [problem] = check_logic({"==": [1, 1], "var": "a"}, ["a"])
    assert "exactly one key" in problem


def test_check_logic_refuses_nesting_deeper_than_32():
    logic = 1
    for _ in range(40):
        logic = {"!": [logic]}
    assert any("nested more than 32" in p for p in check_logic(logic, []))


def test_check_logic_survives_absurdly_deep_nesting():
    logic = 1
    for _ in range(5000):
        logic = {"!": [logic]}
    assert list(check_logic(logic, []))


def test_check_logic_refuses_computed_variable_names():
    assert list(check_logic({"var": {"cat": ["am", "ount"]}}, ["amount"]))


def test_check_logic_refuses_deeply_nested_quantifiers():
    body = {"some": [[1], {"some": [[1], {"some": [[1], True]}]}]}
    assert any("some/all/none" in p for p in check_logic(body, []))


def test_evaluate_reads_frozen_model_data():
    logic = freeze({"in": [{"var": "source"}, ["expo", "referral"]]})
    assert evaluate(logic, MappingProxyType({"source": "expo"})) is True


def test_evaluate_handles_decimal_and_tuple_values():
    data = {"amount": Decimal("1234.50"), "tags": ("a", "vip")}
    assert evaluate({"+": [{"var": "amount"}, 1]}, data) == 1235.5
    assert evaluate({"in": ["vip", {"var": "tags"}]}, data) is True


def test_evaluate_compares_money_text_as_number():
    assert truthy({">=": [{"var": "amount"}, 1000]}, {"amount": "1234.50"})


def test_evaluate_raises_condition_error_on_division_by_zero():
    with pytest.raises(ConditionError):
        evaluate({"/": [1, 0]}, {})


def test_evaluate_refuses_disallowed_operator():
    with pytest.raises(ConditionError, match="'map'"):
        evaluate({"map": [[1, 2], {"var": ""}]}, {})


def test_truthy_is_false_when_evaluation_fails():
    assert truthy({"/": [1, 0]}, {}) is False


def test_truthy_never_raises_on_odd_data_types():
    odd = {"a": object(), "b": {1, 2}, "c": Decimal("NaN")}
    for key in odd:
        assert truthy({"==": [{"var": key}, "x"]}, odd) in (True, False)


def test_truthy_follows_json_logic_truthiness():
    assert truthy({"var": "items"}, {"items": []}) is False
    assert truthy({"var": "name"}, {"name": "0"}) is True
    assert truthy({"var": "n"}, {"n": 0}) is False


def test_some_and_all_over_multiselect_values():
    data = {"tags": ["vip", "new"]}
    assert truthy({"some": [{"var": "tags"}, {"==": [{"var": ""}, "vip"]}]}, data)
    assert not truthy({"all": [{"var": "tags"}, {"==": [{"var": ""}, "vip"]}]}, data)


def test_ternary_operator_works():
    assert evaluate({"?:": [{"var": "x"}, "yes", "no"]}, {"x": True}) == "yes"


def test_check_logic_finds_unknown_field_at_the_deepest_allowed_level():
    logic = {"var": "amout"}
    for _ in range(31):
        logic = {"!": [logic]}
    assert list(check_logic(logic, ["amount"])) == [
        "refers to 'amout', which is not a field here (did you mean 'amount'?)"]
