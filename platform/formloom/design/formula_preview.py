"""A formula's result, computed live for the designer on sample values or on a stored
record, and the palette the formula editor offers, both from the function registry.

Never raises on what a person types: a formula that cannot be read is a `Preview` with
the error and its column; a value that cannot be computed is an empty result.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from ..formulas import FUNCTIONS, MAX_SOURCE_LENGTH, FormulaError, parse

#: what the preview reads of a typed formula (parse refuses longer ones, saying so)
MAX_SOURCE = MAX_SOURCE_LENGTH + 1


@dataclass
class Preview:
    source: str
    result: Any = None
    computed: bool = False          # False: the formula could not be read (see error)
    error: str | None = None
    column: int | None = None
    unknown: list[str] = field(default_factory=list)     # names read that are no field here
    variables: list[str] = field(default_factory=list)

    @property
    def before(self) -> str:
        """The source up to the error's column (the page marks the rest)."""
        return self.source[: max((self.column or 1) - 1, 0)]

    @property
    def after(self) -> str:
        return self.source[max((self.column or 1) - 1, 0):]


def sample_value(text: str) -> Any:
    """A value typed into a sample box: a number when it reads as one, a list of rows when it is
    JSON (a subtable), else the text."""
    text = text.strip()
    if text == "":
        return None
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    try:
        number = Decimal(text.replace(",", ""))
    except (InvalidOperation, ValueError):
        return text
    return number if number.is_finite() else text


def preview(source: str, values: Mapping[str, Any], known: Iterable[str], today: date) -> Preview:
    out = Preview(source)
    try:
        formula = parse(source)
    except FormulaError as error:
        out.error, out.column = str(error), error.column
        return out
    known = set(known)
    out.variables = sorted(formula.variables)
    out.unknown = sorted(v for v in formula.variables if v not in known)
    out.computed = True
    out.result = formula.evaluate(values, today=today)
    return out


def palette(lang: str) -> list[dict]:
    """The functions as the editor lists them: name, signature, help in `lang`, example."""
    return [{"name": fn.excel, "signature": fn.signature(), "example": fn.example,
             "help": fn.help.get(lang) or fn.help["en"]} for fn in FUNCTIONS.values()]


def function_table() -> str:
    """The functions as docs/designer.md lists them (the docs test holds the page to this)."""
    rows = ["| Function | Example | What it gives | 说明 |", "|---|---|---|---|"]
    for fn in FUNCTIONS.values():
        rows.append(f"| `{fn.excel}` | `{fn.example}` | {fn.help['en']} | {fn.help['zh']} |")
    return "\n".join(rows)
