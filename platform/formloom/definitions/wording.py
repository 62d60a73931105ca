"""Small phrase-builders shared by every friendly problem message."""
from __future__ import annotations

import difflib
import json
from typing import Any, Iterable, Mapping


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_KIND_WORDS = ((bool, "true/false"), (int, "a whole number"), (float, "a number"), (str, "text"),
               (list, "a list"), (Mapping, "an object"))


def json_kind(value: Any) -> str:
    """How a JSON value's kind reads in a sentence ("a whole number", "a list", ...)."""
    return next((word for kind, word in _KIND_WORDS if isinstance(value, kind)), "null")


def did_you_mean(word: Any, choices: Iterable[Any]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(what: str, name: Any, known: Iterable[str]) -> str:
    return f"{what} {name!r}{did_you_mean(name, sorted(known))}"
