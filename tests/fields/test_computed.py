from datetime import datetime

import pytest

from formloom.fields import field_type
from formloom.fields.computed import format_auto_number


@pytest.mark.parametrize("name", ["formula", "auto_number"])
@pytest.mark.parametrize("raw", [1, "OPP-1", None, True])
def test_computed_fields_refuse_any_value(refuse, name, raw):
    error = refuse(name, raw, formula="1")
    assert error.code == "computed"
    assert "computed" in error.message


def test_computed_fields_are_not_in_forms(make_field):
    assert field_type("formula").form_field(make_field("formula", formula="1"), "en") is None
    assert field_type("formula").computed and field_type("auto_number").computed


@pytest.mark.parametrize("fmt, seq, expected", [
    ("OPP-{YYYY}-{seq:4}", 7, "OPP-2026-0007"),
    (None, 12, "0012"),
    ("{YY}{MM}{DD}-{seq}", 5, "260301-5"),
    ("{seq:2}", 12345, "12345"),
    ("{unknown}-{seq:3}", 1, "{unknown}-001"),
])
def test_format_auto_number(fmt, seq, expected):
    assert format_auto_number(fmt, seq, datetime(2026, 3, 1, 10, 0)) == expected


def test_formula_display(make_field):
    f = make_field("formula", formula="1")
    formula = field_type("formula")
    assert formula.display(f, 60.0, "en") == "60"
    assert formula.display(f, 0.1, "en") == "0.1"
    assert formula.display(f, True, "zh") == "是"
    assert formula.display(f, None, "en") == ""


def test_a_formula_with_a_currency_shows_a_numeric_result_as_money(make_field):
    """A sum of money columns reads like the money it adds up; text and empty results stay as they are."""
    f = make_field("formula", formula="sum(lines.line_amount)", currency="CNY")
    formula = field_type("formula")
    assert formula.display(f, 351390, "en") == "¥351,390.00"
    assert formula.display(f, 1234.5, "zh") == "¥1,234.50"
    assert formula.display(make_field("formula", formula="1", currency="GBP"), -7, "en") == "-GBP 7.00"
    assert formula.display(f, "A", "en") == "A"
    assert formula.display(f, None, "en") == ""
