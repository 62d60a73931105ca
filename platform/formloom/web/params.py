"""Untrusted request values at the door, in one place.

- Route integers: `<int:...>` in every route is `IdConverter`: ASCII digits in
  0..MAX_ID, so a larger id matches no route (404) instead of overflowing the
  database driver.
- Query and form integers: `int_arg(name, ...)` answers the int, the default
  when absent, or a 400 naming the parameter and its range, in the user's language.
- NUL characters (and lone surrogates) cannot be stored by PostgreSQL, and
  SQLite would store what no other backend can: `refuse_unstorable_text` runs
  before every view and refuses them in the path, the query, form fields and
  JSON bodies alike, naming where it found one.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from ..errors import FormloomError
from ..ids import MAX_ID, parse_int


class IdConverter(IntegerConverter):
    """Werkzeug's int converter with ASCII digits only and a range (default 0..MAX_ID)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=0 if min is None else min,
                         max=MAX_ID if max is None else max, signed=signed)

    def to_python(self, value: str) -> Any:
        """An id out of range names no record: 404 whatever the method, rather than letting
        another route match the path and answer 405."""
        if len(value.lstrip("-")) > 19:
            raise NotFound()
        try:
            return super().to_python(value)
        except ValidationError:
            raise NotFound() from None


class BadParameter(FormloomError):
    """A query or form value that is not what the parameter takes."""


def int_arg(name: str, default: int | None = None, *, low: int = 1, high: int = MAX_ID,
            source: Any = None) -> int | None:
    """The whole number in query parameter `name` (or in `source`, e.g. request.form), within
    low..high; `default` when absent or empty; otherwise a 400 that names the parameter."""
    values = request.args if source is None else source
    raw = values.get(name, "")
    if raw is None or str(raw).strip() == "":
        return default
    value = parse_int(raw, low=low, high=high, signed=low < 0)
    if value is None:
        raise BadParameter(_("%(name)s must be a whole number from %(low)s to %(high)s.",
                             name=name, low=low, high=high),
                           hint=_("Correct the address or the form and try again."))
    return value


# -- text that no database can store ---------------------------------------------------

#: a JSON escape of NUL or of a surrogate, not itself escaped (an odd run of backslashes)
_JSON_ESCAPE = re.compile(rb'(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})')


def _bad(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse(name: str) -> None:
    raise BadParameter(_("%(name)s contains a NUL character or broken Unicode, which cannot be stored.",
                         name=name[:80].replace("\x00", "\\0") or "?"),
                       hint=_("Remove the character and try again."))


def _json_strings(value: Any, path: str = "$", depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > 64:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _json_strings(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_strings(item, f"{path}[{i}]", depth + 1)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_unstorable_text() -> None:
    """Before every view: refuse NUL and lone surrogates wherever a request carries text."""
    if "\x00" in request.path:
        raise NotFound()
    sources = [request.args]
    if request.method not in ("GET", "HEAD") and request.mimetype in FORM_TYPES:
        request.get_data(cache=True)         # parse the form from a copy: a view may still read the raw body
        sources.append(request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if _bad(name):
                _refuse(name)
            if isinstance(value, str) and _bad(value):
                _refuse(name)
    if request.is_json and request.method not in ("GET", "HEAD"):
        body = request.get_data(cache=True)
        if b"\x00" in body or _JSON_ESCAPE.search(body):
            try:
                parsed = json.loads(body)
            except ValueError:
                return                       # not JSON at all: the view refuses it with its own message
            for path, text in _json_strings(parsed):
                if _bad(text):
                    _refuse(path)


def init_app(app: Flask) -> None:
    """Must run before any route is added: rules bind their converters when added."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_unstorable_text)
