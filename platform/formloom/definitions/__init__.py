"""Definitions: load, validate (meta-schema + meaning) and compile app and workflow documents.

The public functions are imported lazily so that importing `definitions.model`
(which every layer does) does not pull in jsonschema and the checkers, and so
that the checkers (which import `definitions.model` themselves) cannot form an
import cycle through this package.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Problem": "problems", "DocumentError": "problems",
    "load_document": "load", "parse_document": "load",
    "validate_app": "validate", "validate_workflow": "validate", "validate_paths": "validate",
    "compile_app": "compile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
