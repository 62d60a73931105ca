"""Field types. Importing this package registers every built-in type."""
from .base import (FIELD_TYPES, CleanContext, FieldProblem, FieldType, FieldValueError, field_type, has_flag, register,
                   unregister)
from .settings import Setting
from . import text, numbers, dates, choices, links, computed, rollup, subtable, files  # noqa: F401,E402 -- registers the built-in types
from .document_wording import document_value_problem  # noqa: E402

__all__ = ["FIELD_TYPES", "CleanContext", "FieldProblem", "FieldType", "FieldValueError", "Setting",
           "document_value_problem", "field_type", "has_flag", "register", "unregister"]
