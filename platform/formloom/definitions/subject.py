"""What one meaning check looks at (`Subject`), and how a check says which documents it is for."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from .document_parts import entity_named, fields_by_key
from .model import EMPTY
from .problems import Problem, json_path


@dataclass(frozen=True)
class Subject:
    """One document under check, with the documents it refers to."""

    kind: str                                     # "app" or "workflow"
    doc: dict
    source: str
    app: dict | None = None                       # workflow: the app it belongs to, when known
    workflows: Mapping[str, dict] = field(default_factory=lambda: EMPTY)   # app: workflows by key

    def problem(self, *parts: str | int, message: str) -> Problem:
        return Problem(self.source, json_path(*parts), message)


Check = Callable[[Subject], Iterator[Problem]]


def for_kind(kind: str) -> Callable[[Check], Check]:
    def mark(check: Check) -> Check:
        check.kind = kind        # type: ignore[attr-defined]
        return check
    return mark


def workflow_fields(s: Subject) -> dict[str, dict] | None:
    """The fields of the workflow's entity, or None when the app or the entity is unknown."""
    entity = entity_named(s.app, s.doc.get("entity"))
    return None if entity is None else fields_by_key(entity)
