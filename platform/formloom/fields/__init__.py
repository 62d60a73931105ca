"""Field types. Importing this package registers every built-in type."""
from .base import FIELD_TYPES, CleanContext, FieldProblem, FieldType, FieldValueError, field_type, register
from . import text, numbers, dates, choices, links, computed, subtable  # noqa: F401,E402 -- registers the built-in types

__all__ = ["FIELD_TYPES", "CleanContext", "FieldProblem", "FieldType", "FieldValueError", "field_type", "register"]
