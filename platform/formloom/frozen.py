"""Deep-frozen JSON-like data, shared by the compiled model and the evaluators.

Conditions and templates thaw model data before evaluating it, and the model
freezes what it compiles; both import this module instead of each other, so
`conditions`/`templating` never import `definitions`. It imports nothing of ours.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping


def freeze(value: Any) -> Any:
    """Deep-freeze JSON-like data (dict -> read-only mapping, list -> tuple)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def thaw(value: Any) -> Any:
    """The inverse of `freeze`, for handing model data to JSON or JSON Logic."""
    if type(value) in _SCALARS:     # most values; an ABC isinstance check costs far more
        return value
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
