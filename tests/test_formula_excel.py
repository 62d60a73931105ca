"""Formulas as business users write them in a spreadsheet, beside today's syntax: both read
into the same checked tree and the same evaluator; the function table is one registry;
errors say where (column); nothing a person types raises anything but FormulaError."""
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from formloom.formula_excel import looks_like_excel
from formloom.formulas import FUNCTION_ARITY, FUNCTIONS, FormulaError, parse

TODAY = date(2026, 3, 15)


def value(source, **values):
    return parse(source).evaluate(values, today=TODAY)


@pytest.mark.parametrize("excel,today_syntax,values", [
    ('IF(amount > 100000, "A", "B")', "'A' if amount > 100000 else 'B'", {"amount": 200000}),
    ('=IF(amount > 100000, "A", "B")', "'A' if amount > 100000 else 'B'", {"amount": 5}),
    ('AND(amount > 0, stage = "won")', "amount > 0 and stage == 'won'", {"amount": 1, "stage": "won"}),
    ('OR(amount > 0, stage <> "won")', "amount > 0 or stage != 'won'", {"amount": 0, "stage": "won"}),
    ("NOT(done)", "not done", {"done": False}),
    ("SUM(lines.amount)", "sum(lines.amount)", {"lines": [{"amount": "1.50"}, {"amount": 2}]}),
    ("ROUND(amount * 0.13, 2)", "round(amount * 0.13, 2)", {"amount": "1234.5"}),
    ('DATEDIF(start, TODAY(), "D")', "days_between(start, today())", {"start": "2026-01-10"}),
    ('CONCATENATE(code, "-", name)', "concat(code, '-', name)", {"code": "A1", "name": "Ada"}),
    ('code & "-" & name', "concat(code, '-', name)", {"code": "A1", "name": "Ada"}),
    ("2 ^ 3", "2 ** 3", {}),
    ("IF(TRUE, 1, 0)", "1 if True else 0", {}),
])
def test_the_spreadsheet_spelling_means_what_todays_does(excel, today_syntax, values):
    assert looks_like_excel(excel)
    assert value(excel, **values) == value(today_syntax, **values)


def test_and_or_give_true_or_false_and_if_without_else_is_false():
    assert value("AND(1, 2)") is True and value('OR(0, "")') is False
    assert value("IF(x > 1, 5)", x=0) is False


def test_function_names_in_any_case_and_full_width_punctuation():
    assert value('if(a>1,"big","small")', a=3) == "big"
    assert value("IF（a＞1，“大”，“小”）", a=0) == "小"
    assert value("SUM(1; 2; 3)") == 6


def test_datedif_months_and_years_and_text_formats():
    assert value('DATEDIF("2025-01-20", TODAY(), "M")') == 13
    assert value('DATEDIF("2020-03-16", TODAY(), "Y")') == 5
    assert value('DATEDIF(TODAY(), "2020-01-01", "D")') is None       # end before start: cannot compute
    assert value('TEXT(x, "#,##0.00")', x=Decimal("1234567.891")) == "1,234,567.89"
    assert value('TEXT(x, "0%")', x="0.256") == "26%"
    assert value('TEXT(TODAY(), "yyyy/mm/dd")') == "2026/03/15"
    assert value('TEXT(x, "@@")', x=1) is None


def test_variables_are_field_keys_and_columns_their_subtable():
    assert parse('IF(amount > 100, SUM(lines.amount), 0) & name').variables == {"amount", "lines", "name"}


@pytest.mark.parametrize("source,column,words", [
    ('IF(amount > 1, "A"', 19, "expected ')'"),
    ("FOO(1)", 1, "not a formula function"),
    ("IF(1, 2, 3, 4)", 1, "takes 2 to 3"),
    ("a & ", 5, "expected a value"),
    ("=1 + ", 6, "expected a value"),
    ("a & b ¤ c", 7, "character"),
])
def test_errors_say_where(source, column, words):
    with pytest.raises(FormulaError) as caught:
        parse(source)
    assert caught.value.column == column and words in str(caught.value)


def test_todays_errors_stay_todays():
    with pytest.raises(FormulaError, match="in order"):
        parse("round(x, ndigits=2)")
    with pytest.raises(FormulaError, match="indexing"):
        parse("x[0]")
    with pytest.raises(FormulaError, match="attribute access"):
        parse("lines.amount & 1")


def test_the_registry_is_the_checker_and_has_help_in_every_language():
    for fn in FUNCTIONS.values():
        assert fn.help["en"] and fn.help["zh"] and fn.example.startswith(fn.excel + "(")
        parse(fn.example)                                  # every example is a valid formula
        if fn.impl is not None:
            assert FUNCTION_ARITY[fn.name] == (fn.fewest, fn.most)
    assert {"IF", "AND", "OR", "SUM", "ROUND", "DATEDIF", "TODAY", "CONCATENATE", "TEXT"} <= {
        f.excel for f in FUNCTIONS.values()}


_PIECES = st.sampled_from(["IF(", "AND(", "SUM(", "TEXT(", "DATEDIF(", ")", ",", ";", '"', "'", "&", "<>", "=",
                           "^", "-", "a", "lines.amount", "1", "1e308", "9" * 30, "TRUE", "（", "，", " ", ".",
                           "__class__", "[", "**", "not", "if", "else"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=40).map("".join)))
def test_arbitrary_text_raises_only_formula_error_and_evaluates_without_raising(source):
    try:
        formula = parse(source)
    except FormulaError:
        return
    formula.evaluate({"a": "x", "lines": [{"amount": 1}]}, today=TODAY)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=40, max_value=400))
def test_deep_nesting_is_refused_not_crashed(depth):
    for source in ("IF(" * depth + "1" + ")" * depth, "(" * depth + "1" + ")" * depth, "-" * depth + "1",
                   "NOT(" * depth + "1" + ")" * depth):
        try:
            parse(source)
        except FormulaError:
            pass


@pytest.mark.parametrize("source", ["²", "1²", "١٢ + 1", "IF(²,1,2)", "SUM(１)"])
def test_digits_of_other_scripts_are_refused_or_read_as_names(source):
    try:
        parse(source).evaluate({}, today=TODAY)
    except FormulaError:
        pass


def test_the_docs_list_every_function_as_the_registry_does():
    from pathlib import Path

    from formloom.design.formula_preview import function_table
    page = (Path(__file__).parents[1] / "docs" / "designer.md").read_text(encoding="utf-8")
    assert function_table() in page
