"""Whole numbers from untrusted text: only ASCII digits within the stated range."""
from __future__ import annotations

import pytest

from formloom.ids import MAX_ID, parse_int


@pytest.mark.parametrize("raw,expected", [("7", 7), (" 42 ", 42), (7, 7), (str(MAX_ID), MAX_ID)])
def test_plain_digits_in_range_are_numbers(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["", "0", "-3", "+3", "1.0", "1e3", "\u00b2", "\u0663", "12a", str(MAX_ID + 1),
                                 "9" * 5000, True, None])
def test_anything_else_is_none(raw):
    assert parse_int(raw) is None


def test_a_signed_range_takes_a_minus_sign():
    assert parse_int("-3", low=-10, high=10, signed=True) == -3
    assert parse_int("-30", low=-10, high=10, signed=True) is None
