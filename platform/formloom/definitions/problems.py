"""Problems found in documents, collected as data rather than raised one at a time."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, where it is, and a sentence saying what to do."""

    source: str      # "app_templates/crm/app.json"
    json_path: str   # "$.entities[2].fields[0].type"
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.json_path}: {self.message}"


class DocumentError(Exception):
    """A document could not be read as JSON at all (too big, too deep, malformed, duplicate keys)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER_RUNS = re.compile(r"(\d+)")


def json_path(*parts: str | int) -> str:
    """`json_path("entities", 2, "fields")` -> "$.entities[2].fields"."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append("[" + repr(part) + "]")
    return "".join(out)


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in _NUMBER_RUNS.split(text))


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Unique problems by source, then JSON path (so `[10]` comes after `[2]`), then message."""
    return sorted(set(problems), key=lambda p: (p.source, _natural(p.json_path), p.message))
