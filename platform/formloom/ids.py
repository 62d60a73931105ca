"""Whole numbers from untrusted text: ids, pages, limits.

Every id the database hands out fits in 2^53 (a JSON number keeps it exactly;
a BIGINT and SQLite's INTEGER hold far more). A number from a URL or a form is
accepted only as plain ASCII digits within a stated range, so a value beyond
any integer column ("99999999999999999999"), a Unicode digit ("²") or a sign
never reaches the database driver, where it would overflow.
"""
from __future__ import annotations

MAX_ID = 2**53
_MAX_DIGITS = 19          # more digits than this cannot be in any range we accept


def parse_int(raw: object, *, low: int = 1, high: int = MAX_ID, signed: bool = False) -> int | None:
    """`raw` as an int when it is ASCII digits (a leading "-" too when `signed`) within
    low..high; None otherwise (the caller decides whether that is an error)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        digits = text[1:] if signed and text.startswith("-") else text
        if not digits or len(digits) > _MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
            return None
        value = int(text)
    return value if low <= value <= high else None

