"""The subtable field type: a list of rows, each an object of typed column values.

Every problem in every row is collected: `clean` raises one FieldValuesError whose
`errors` each carry a path_suffix "/<row>/<column>" (row numbers from 0, as in a
JSON pointer; messages count rows from 1: "Row 2, Quantity: Enter a number.").
A row-level problem has the suffix "/<row>", a row-count problem none. Cleaned
rows hold every column (empty cells as the column's empty value).

In the browser the subtable is a <textarea data-subtable> holding the rows as
JSON; the web layer replaces it with a row editor. Kept deliberately simple.
"""
from __future__ import annotations

import json
from typing import Any

from ..definitions.model import FieldDef
from ..i18n import translate
from .base import (FIELD_TYPES, CleanContext, FieldType, FieldValueError, FieldValuesError, always_required,
                   property_schema, register)
from .formfields import textarea_field
from .settings import Setting


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def rows_from_text(text: Any) -> Any:
    """JSON text -> rows; text that is not JSON (NaN and Infinity included) is returned unchanged."""
    if not isinstance(text, str):
        return text
    if not text.strip():
        return None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return text


@register
class SubtableType(FieldType):
    name = "subtable"
    order = 190
    validates_live = False          # rows are checked together when the form is sent
    label = {"en": "Table", "zh": "子表"}
    help = {"en": "Rows of typed columns, such as order lines.", "zh": "由多列组成的多行数据，例如订单明细。"}
    settings = (
        Setting("columns", {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/column"}},
                {"en": "Columns", "zh": "列"}, {"en": "The fields of each row.", "zh": "每一行的字段。"}, required=True),
        Setting("min_rows", {"type": "integer", "minimum": 0}, {"en": "Fewest rows", "zh": "最少行数"},
                {"en": "The fewest rows a value may have.", "zh": "至少需要的行数。"}),
        Setting("max_rows", {"type": "integer", "minimum": 0}, {"en": "Most rows", "zh": "最多行数"},
                {"en": "The most rows a value may have.", "zh": "最多允许的行数。"}),
    )
    column_allowed = False
    phrases = {"invalid_type": "must be a list of rows, not {kind}"}
    sql_kind = "json"
    operators = ("is_empty",)

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if not isinstance(raw, list):
            self.fail(ctx, "invalid_type", "Enter a list of rows.")
        errors: list[FieldValueError] = []
        if f.min_rows is not None and len(raw) < f.min_rows:
            errors.append(self._error(ctx, "too_few_rows", "", "Add at least %(min)s rows.", min=f.min_rows))
        if f.max_rows is not None and len(raw) > f.max_rows:
            errors.append(self._error(ctx, "too_many_rows", "", "Keep at most %(max)s rows.", max=f.max_rows))
        rows = [self.clean_row(f, i, row, ctx, errors) for i, row in enumerate(raw)]
        if errors:
            raise FieldValuesError(errors)
        return rows

    def clean_row(self, f: FieldDef, i: int, row: Any, ctx: CleanContext, errors: list[FieldValueError]) -> dict:
        """One row, cleaned column by column; its problems are appended to `errors`."""
        if not isinstance(row, dict):
            message = translate(ctx.lang, "Each row must be an object of column values.")
            errors.append(FieldValueError("invalid_row", translate(ctx.lang, "Row %(row)s: %(message)s",
                                                                   row=i + 1, message=message), f"/{i}"))
            return {}
        known = {c.key for c in f.columns}
        for key in row:
            if key not in known:
                message = translate(ctx.lang, "This table has no column %(column)s.", column=key)
                errors.append(FieldValueError("unknown_column", translate(ctx.lang, "Row %(row)s: %(message)s",
                                                                          row=i + 1, message=message), f"/{i}/{key}"))
        cleaned: dict[str, Any] = {}
        for column in f.columns:
            ctype = FIELD_TYPES[column.type]
            value = row.get(column.key)
            cleaned[column.key] = ctype.empty_value(column)
            try:
                if ctype.is_empty(value):
                    if always_required(column):
                        ctype.fail(ctx, "required", "This field is required.")
                    continue
                cleaned[column.key] = ctype.clean(column, value, ctx)
            except FieldValueError as error:
                for sub in error.all():
                    errors.append(FieldValueError(
                        sub.code,
                        translate(ctx.lang, "Row %(row)s, %(column)s: %(message)s",
                                  row=i + 1, column=column.label.get(ctx.lang), message=sub.message),
                        f"/{i}/{column.key}{sub.path_suffix}"))
        return cleaned

    @staticmethod
    def _error(ctx: CleanContext, code: str, suffix: str, msgid: str, **params: Any) -> FieldValueError:
        return FieldValueError(code, translate(ctx.lang, msgid, **params), suffix)

    def json_schema(self, f: FieldDef) -> dict:
        row = {
            "type": "object",
            "properties": {c.key: property_schema(c, always_required(c)) for c in f.columns},
            "required": [c.key for c in f.columns if always_required(c)],
            "additionalProperties": False,
        }
        schema: dict = {"type": "array", "items": row}
        if f.min_rows is not None:
            schema["minItems"] = f.min_rows
        if f.max_rows is not None:
            schema["maxItems"] = f.max_rows
        return schema

    def form_field(self, f: FieldDef, lang: str) -> Any:
        columns = [{"key": c.key, "type": c.type, "label": c.label.get(lang)} for c in f.columns]
        return textarea_field(self, f, lang, **{"data-subtable": json.dumps(columns, ensure_ascii=False)})

    def form_value(self, f: FieldDef, stored: Any) -> Any:
        return None if stored is None else json.dumps(stored, ensure_ascii=False)

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return rows_from_text(data)

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if not isinstance(value, list):
            return "" if value is None else str(value)
        if len(value) == 1:
            return translate(lang, "1 row")
        return translate(lang, "%(count)s rows", count=len(value))

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        return "" if value is None else json.dumps(value, ensure_ascii=False)
