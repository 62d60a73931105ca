"""Problems in the conditions (JSON logic) and formulas that app and workflow documents both use."""
from __future__ import annotations

import ast
from typing import Any, Iterable, Iterator, Mapping

from formloom import conditions, formulas

from .document_parts import fields_by_key
from .problems import Problem
from .subject import Subject
from .wording import cap, did_you_mean


def logic_problems(s: Subject, logic: Any, known: Iterable[str], path: tuple, what: str) -> Iterator[Problem]:
    for sentence in conditions.check_logic(logic, set(known) | conditions.SPECIAL_VARIABLES):
        yield s.problem(*path, message=f"{cap(what)} {sentence}.")


def formula_problems(s: Subject, source: str, fields: Mapping[str, dict], path: tuple,
                      what: str) -> tuple[formulas.Formula | None, list[Problem]]:
    try:
        parsed = formulas.parse(source)
    except formulas.FormulaError as exc:
        return None, [s.problem(*path, message=f"{what} {exc}.")]
    found = []
    for name in sorted(parsed.variables - set(fields)):
        found.append(s.problem(*path, message=f"{what} uses {name!r}, which is not a field of this entity"
                                              f"{did_you_mean(name, fields)}."))
    for table, column in _formula_columns(parsed):
        f = fields.get(table)
        if f is None:
            continue
        if f.get("type") != "subtable":
            found.append(s.problem(*path, message=f"{what} uses {table}.{column}, but {table!r} is not a subtable."))
        elif column not in fields_by_key({"fields": f.get("columns")}):
            found.append(s.problem(*path, message=f"{what} uses {table}.{column}, but subtable {table!r} has no "
                                                  f"column {column!r}."))
    return parsed, found


def _formula_columns(parsed: formulas.Formula) -> Iterator[tuple[str, str]]:
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            yield node.value.id, node.attr
