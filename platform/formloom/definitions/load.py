"""Reading documents: bytes on disk -> a plain dict, or a DocumentError saying why not.

Documents come from admins and from uploads, so reading is defensive: the size
and the nesting depth are checked before the JSON parser (which recurses) and
before jsonschema see the text; duplicate keys, NaN/Infinity and numbers that
overflow to infinity are refused instead of silently accepted.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .problems import DocumentError, Problem, json_path, sorted_problems

MAX_DOCUMENT_BYTES = 2_000_000
MAX_DEPTH = 40

#: a JSON string (with escapes) or one structural character; everything else is skipped
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|NaN|-?Infinity', re.DOTALL)

_FRIENDLY_JSON_ERRORS = {
    "Expecting ',' delimiter": "a comma is missing between two items",
    "Expecting ':' delimiter": "a colon ':' is missing after a key",
    "Expecting property name enclosed in double quotes":
        "expected a key in double quotes (is there a trailing comma, or a key in single quotes?)",
    "Expecting value": "expected a value (a string in double quotes, a number, true, false, null, a list or an object)",
    "Extra data": "there is more text after the end of the document",
    "Unterminated string starting at": "a string is not closed with a double quote",
    "Invalid control character at": "a string contains a raw line break or tab (write \\n or \\t instead)",
    "Invalid \\escape": "a string contains an invalid backslash escape",
    "Invalid \\uXXXX escape": "a string contains an invalid \\u escape",
}


class _ForbiddenConstant(ValueError):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def load_document(path: Path | str) -> dict:
    """Read one JSON document from disk. Raises DocumentError with every reason it cannot be used."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise DocumentError([Problem(source, "$", "The file does not exist.")]) from None
    except IsADirectoryError:
        raise DocumentError([Problem(source, "$", "This is a folder, not a JSON file.")]) from None
    except OSError as exc:
        raise DocumentError([Problem(source, "$", f"The file cannot be read ({exc.strerror or exc}).")]) from None
    _check_size(len(data), source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError([Problem(
            source, "$", f"The file is not UTF-8 text (the byte at position {exc.start} cannot be read); "
                         "save it as UTF-8.")]) from None
    return parse_document(text, source)


def parse_document(text: str, source: str) -> dict:
    """Parse the text of one document (an app or a workflow) into a dict."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), source)
    _check_depth(text, source)
    duplicates: list[tuple[dict, list[str]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        result: dict = {}
        repeated = []
        for key, value in pairs:
            if key in result and key not in repeated:
                repeated.append(key)
            result[key] = value
        if repeated:
            duplicates.append((result, repeated))
        return result

    try:
        doc = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant,
                         parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise DocumentError([Problem(source, "$", _malformed_sentence(exc))]) from None
    except _ForbiddenConstant as exc:
        line, column = _position_of_constant(text, exc.text)
        raise DocumentError([Problem(
            source, "$", f"The value {exc.text} at line {line}, column {column} is not allowed; "
                         "JSON documents may only contain finite numbers.")]) from None
    except ValueError as exc:      # e.g. an integer with more digits than Python converts
        raise DocumentError([Problem(source, "$", f"The document contains a number that cannot be read ({exc}).")]) from None
    if duplicates:
        raise DocumentError(sorted_problems(_duplicate_problems(doc, duplicates, source)))
    if not isinstance(doc, dict):
        raise DocumentError([Problem(
            source, "$", f"The document must be a JSON object ({{...}}), not {_kind(doc)}.")])
    return doc


def _check_size(size: int, source: str) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError([Problem(
            source, "$", f"The document is larger than {MAX_DOCUMENT_BYTES:,} bytes; split it or remove unused parts.")])


def _check_depth(text: str, source: str) -> None:
    """Refuse deep nesting by scanning brackets (outside strings) before anything recurses."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _line_column(text, match.start())
                raise DocumentError([Problem(
                    source, "$", f"The document is nested more than {MAX_DEPTH} levels deep "
                                 f"(at line {line}, column {column}); flatten it.")])
        elif token in ("]", "}"):
            depth -= 1


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _malformed_sentence(exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(exc.doc.rstrip()):
        return (f"The file is not valid JSON: it ends too early at line {exc.lineno}, column {exc.colno} "
                "(a closing bracket, brace or quote is missing).")
    reason = next((friendly for raw, friendly in _FRIENDLY_JSON_ERRORS.items() if exc.msg.startswith(raw)),
                  exc.msg[:1].lower() + exc.msg[1:])
    return f"The file is not valid JSON: at line {exc.lineno}, column {exc.colno}, {reason}."


def _refuse_constant(text: str) -> Any:
    raise _ForbiddenConstant(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _ForbiddenConstant(text)
    return value


def _position_of_constant(text: str, constant: str) -> tuple[int, int]:
    for match in _TOKENS.finditer(text):
        if match.group() == constant:
            return _line_column(text, match.start())
    index = text.find(constant)      # a number too large for a float
    return _line_column(text, max(index, 0))


def _duplicate_problems(doc: Any, duplicates: list[tuple[dict, list[str]]], source: str) -> list[Problem]:
    paths = _paths_of_objects(doc)
    problems = []
    for obj, keys in duplicates:
        where = paths.get(id(obj))
        for key in keys:
            path = json_path(*where) if where is not None else "$"
            problems.append(Problem(
                source, path, f"The key {key!r} appears more than once in the same object; "
                              "keep one (JSON readers would silently use only the last)."))
    return problems


def _paths_of_objects(doc: Any) -> dict[int, tuple]:
    """id(object) -> path parts, for every dict in the parsed document (depth is bounded)."""
    found: dict[int, tuple] = {}
    stack: list[tuple[Any, tuple]] = [(doc, ())]
    while stack:
        value, parts = stack.pop()
        if isinstance(value, dict):
            found[id(value)] = parts
            stack.extend((v, (*parts, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*parts, i)) for i, v in enumerate(value))
    return found


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"
