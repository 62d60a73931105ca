"""The list endpoint's query parameters: one description that both the OpenAPI
document publishes and the API enforces, so the two cannot disagree.

Each parameter has a JSON schema for its (string) value, derived from the field's
SQL kind and the operator: a number filter takes a number, a date filter a date,
`in` a comma-separated list, `is_empty` a yes/no word. The handler refuses what
the schema would refuse before the query parser runs: an empty `offset=`,
`sort=` or number filter is a mistake to report (400), not a value to ignore.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from flask_babel import gettext as _

from ..definitions.model import EntityDef, FieldDef
from ..errors import FormloomError
from ..fields import field_type
from ..store.query import DEFAULT_LIMIT, MAX_LIMIT, SYSTEM_SORTS

MAX_OFFSET = 10_000_000
MAX_ID = 2**53

NUMBER = r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME = DATE + r"T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
YES_NO = ["true", "false", "1", "0", "yes", "no"]
NO_NUL = "^[^\\x00]*$"


def _listed(item: str) -> str:
    return rf"^{item}(?:,{item})*$"


#: value schemas by SQL kind, for a single value and for an `in` list
SCALAR = {
    "number": {"type": "string", "pattern": f"^{NUMBER}$"},
    "date": {"type": "string", "format": "date", "pattern": f"^{DATE}$"},
    "datetime": {"type": "string", "format": "date-time", "pattern": f"^{DATETIME}$"},
    "bool": {"type": "string", "enum": YES_NO},
}
LISTED = {
    "number": {"type": "string", "pattern": _listed(NUMBER)},
    "date": {"type": "string", "pattern": _listed(DATE)},
}


def _hint(pattern: str) -> str | None:
    """What to write instead, in the caller's language, for a value that does not match `pattern`."""
    hints = {
        SCALAR["number"]["pattern"]: lambda: _("Give a number, such as 12.5."),
        SCALAR["date"]["pattern"]: lambda: _("Give a date as YYYY-MM-DD."),
        SCALAR["datetime"]["pattern"]: lambda: _("Give a date and time as YYYY-MM-DDTHH:MM:SSZ."),
        LISTED["number"]["pattern"]: lambda: _("Give numbers separated by commas, such as 1,2,3."),
        LISTED["date"]["pattern"]: lambda: _("Give dates as YYYY-MM-DD separated by commas."),
        NO_NUL: lambda: _("Text must not contain NUL characters."),
    }
    found = hints.get(pattern)
    return found() if found else None


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict
    description: str | None = None

    def as_openapi(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "in": "query", "schema": self.schema}
        if self.description:
            out["description"] = self.description
        return out


_REGEX_SPECIAL = set("\\^$.|?*+()[]{}/")


def _any_case(text: str) -> str:
    """`text` as a regular expression that ignores case (JSON Schema patterns take no flags)."""
    out = []
    for ch in text:
        if ch.lower() != ch.upper() and len(ch.lower()) == len(ch.upper()) == 1:
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append("\\" + ch if ch in _REGEX_SPECIAL else ch)
    return "".join(out)


def _option_schema(f: FieldDef, op: str) -> dict:
    """An option is named by its value or its label in any language, in any case (as the
    query parser reads it); `in` takes several, separated by commas."""
    names = sorted({o.value for o in f.options} | {t for o in f.options for t in o.label.texts.values() if t.strip()},
                   key=lambda t: (-len(t), t))
    one = r"\s*(?:" + "|".join(_any_case(t.strip()) for t in names) + r")\s*"
    pattern = f"^{one}(?:,{one})*$" if op == "in" else f"^{one}$"
    return {"type": "string", "pattern": pattern}


def _filter_schema(f: FieldDef, op: str) -> dict:
    kind = field_type(f.type).field_sql_kind(f)
    if op == "is_empty":
        return {"type": "string", "enum": [*YES_NO, ""]}
    if f.options and op in ("eq", "ne", "in", "contains"):
        return _option_schema(f, op)
    if f.type in ("reference", "user"):      # an id, a title (a person's name or email), or "#id"
        return {"type": "string", "pattern": "^[^,\\x00]+(?:,[^,\\x00]+)*$" if op == "in" else NO_NUL}
    if op == "contains":
        return {"type": "string", "pattern": NO_NUL}
    if op == "in":
        return dict(LISTED.get(kind, {"type": "string", "pattern": NO_NUL}))
    return dict(SCALAR.get(kind, {"type": "string", "pattern": NO_NUL}))


def list_parameters(entity: EntityDef, visible: Iterable[FieldDef]) -> list[Param]:
    visible = [f for f in visible if f.type != "subtable"]
    sorts = sorted(set(SYSTEM_SORTS) | {f.key for f in visible})
    params = [
        Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
        Param("sort", {"type": "string", "enum": sorts + [f"-{k}" for k in sorts]},
              "A field key, or -key for descending"),
        Param("q", {"type": "string", "pattern": NO_NUL}, "Search in titles"),
    ]
    for f in visible:
        for op in field_type(f.type).field_operators(f):
            params.append(Param(f.key if op == "eq" else f"{f.key}__{op}", _filter_schema(f, op),
                                f"Filter: {f.key} {op}"))
    return params


def check_query(args: Iterable[tuple[str, str]], params: Iterable[Param]) -> None:
    """Refuse (400) a value its documented schema refuses: empty where a value is needed,
    a word outside the list, text that is not the documented form. Unknown names are
    left to the query parser, which names the field it does not know."""
    by_name = {p.name: p.schema for p in params}
    for name, value in args:
        schema = by_name.get(name)
        if schema is None:
            continue
        if schema.get("type") == "integer":
            if not re.fullmatch(r"\s*[-+]?[0-9]{1,30}\s*", value):
                raise FormloomError(_("%(name)s must be a whole number.", name=name))
            continue
        if "enum" in schema and value not in schema["enum"]:
            shown = ", ".join(repr(v) if v == "" else v for v in schema["enum"][:12])
            raise FormloomError(_("%(value)s is not a valid value for %(name)s.", value=repr(value[:50]), name=name),
                                hint=_("Use one of: %(values)s.", values=shown))
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, value):
            raise FormloomError(_("%(value)s is not a valid value for %(name)s.", value=repr(value[:50]), name=name),
                                hint=_hint(pattern))
