"""Admin-supplied regular expressions (the `pattern` of a text field).

Patterns run on every form submission over text people type, so they go
through RE2, whose matching time is linear in the input: a pattern like
`(a+)+$` cannot stall a worker. RE2 has no backreferences or lookaround; a
pattern that needs them is refused with a sentence saying so.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import re2

MAX_PATTERN_LENGTH = 200


class PatternError(ValueError):
    """An admin's pattern that cannot be used."""


class CompiledPattern(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False   # refusals are reported to the admin, not written to stderr
    return options


def check_pattern(pattern: str) -> str | None:
    """None when the pattern is usable, else a sentence an admin can act on."""
    if not isinstance(pattern, str):
        return "is not text"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is {len(pattern)} characters long; patterns may have at most {MAX_PATTERN_LENGTH}"
    try:
        re2.compile(pattern, _options())
    except re2.error as exc:
        return f"is not a valid pattern ({_reason(exc)}); patterns use RE2 syntax, which has no backreferences or lookahead"
    return None


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> CompiledPattern:
    """A compiled pattern with `.fullmatch(text)`; raises PatternError if check_pattern would refuse it."""
    problem = check_pattern(pattern)
    if problem:
        raise PatternError(f"The pattern {pattern[:40]!r} {problem}")
    return re2.compile(pattern, _options())
