"""Link field types: reference (to a record of another entity) and user.

Values are positive integer ids (a list of distinct ids when `multiple`).
Whether the target exists is asked through the CleanContext
(`reference_exists(entity_key, id)`, `user_exists(id)`) when the record layer
provides those lookups; field types never import the store. In the browser a
reference is a text input holding the id(s) with `data-picker="<entity>"`;
the web layer turns it into a searchable picker.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..definitions.model import FieldDef
from ..i18n import N_
from .base import CleanContext, FieldType, register
from .formfields import string_field
from .numbers import number_from_text
from .settings import DEFAULT, MULTIPLE, Setting

MAX_ID = 2**63 - 1
_ID_SEPARATORS = re.compile(r"[\s,]+")


def _is_id(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return 1 <= value <= MAX_ID


class _LinkType(FieldType):
    sql_kind = "number"
    operators = ("eq", "ne", "in", "is_empty")
    bad_id = N_("Enter a record id (a positive whole number).")
    bad_list = N_("Enter a list of record ids.")
    duplicate = N_("Record %(id)s is listed more than once.")
    indexed_by_default = True        # a single reference (never a list of them)
    phrases = {
        "invalid_type": "must be a list of record ids (whole numbers)",
        "invalid_id": lambda fill: ("must be a list of record ids (whole numbers)" if fill["field"].multiple
                                    else "must be a record id (a whole number)"),
        "duplicate_id": "lists the id {id} more than once",
    }

    def exists(self, f: FieldDef, ctx: CleanContext) -> Callable[[int], bool] | None:
        raise NotImplementedError

    def missing(self, f: FieldDef, ctx: CleanContext, ident: int) -> None:
        raise NotImplementedError

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        if f.multiple:
            if not isinstance(raw, list):
                self.fail(ctx, "invalid_type", self.bad_list)
            ids = [self.one(f, value, ctx) for value in raw]
            seen: set[int] = set()
            for ident in ids:
                if ident in seen:
                    self.fail(ctx, "duplicate_id", self.duplicate, id=ident)
                seen.add(ident)
        else:
            ids = [self.one(f, raw, ctx)]
        exists = self.exists(f, ctx)
        if exists is not None:
            for ident in ids:
                if not exists(ident):
                    self.missing(f, ctx, ident)
        return ids if f.multiple else ids[0]

    def one(self, f: FieldDef, value: Any, ctx: CleanContext) -> int:
        if not _is_id(value):
            self.fail(ctx, "invalid_id", self.bad_id)
        return int(value)

    def field_sql_kind(self, f: FieldDef) -> str:
        return "json" if f.multiple else self.sql_kind

    def field_operators(self, f: FieldDef) -> tuple[str, ...]:
        return ("contains", "is_empty") if f.multiple else self.operators

    def json_schema(self, f: FieldDef) -> dict:
        one = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return {"type": "array", "items": one, "uniqueItems": True} if f.multiple else one

    def form_field(self, f: FieldDef, lang: str) -> Any:
        picker = {"data-picker": self.picker(f)}
        if f.multiple:
            picker["data-multiple"] = "true"
        return string_field(self, f, lang, "text", inputmode="numeric", **picker)

    def picker(self, f: FieldDef) -> str:
        raise NotImplementedError

    def form_value(self, f: FieldDef, stored: Any) -> Any:
        if stored is None:
            return None
        return ", ".join(str(i) for i in stored) if isinstance(stored, list) else str(stored)

    def from_form(self, f: FieldDef, data: Any) -> Any:
        """"12" -> 12; for multiple, "12, 15" -> [12, 15]; text that is not an id is passed on."""
        if data is None or (isinstance(data, str) and not data.strip()):
            return [] if f.multiple else None
        if not f.multiple:
            return number_from_text(data)
        if isinstance(data, str):
            return [number_from_text(part) for part in _ID_SEPARATORS.split(data.strip())]
        return data

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if value is None:
            return ""
        values = value if isinstance(value, list) else [value]
        return ", ".join(f"#{v}" for v in values)

    def export(self, f: FieldDef, value: Any, lang: str) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value


@register
class ReferenceType(_LinkType):
    """A record of `f.entity`; the web layer shows its title instead of "#id"."""

    name = "reference"
    order = 140
    widget_template = "fields/reference.html"
    validates_live = False          # the picker posts ids, checked when the form is sent
    label = {"en": "Reference", "zh": "关联记录"}
    help = {"en": "A record (or several) of another entity.", "zh": "另一个实体的一条（或多条）记录。"}
    settings = (DEFAULT,
                Setting("entity", {"$ref": "field.schema.json#/$defs/key"}, {"en": "Entity", "zh": "实体"},
                        {"en": "The entity whose records the field refers to.", "zh": "字段所关联记录的实体。"},
                        required=True, picks="entity"),
                MULTIPLE,
                Setting("match", {"type": "object", "minProperties": 1, "maxProperties": 5,
                                  "propertyNames": {"$ref": "#/$defs/key"}, "additionalProperties": {"$ref": "#/$defs/key"}},
                        {"en": "Match", "zh": "匹配"},
                        {"en": "Only records whose field (key) equals this form's field (value), e.g. "
                               "{\"company\": \"company\"}: applied in the picker and on save.",
                         "zh": "只列出其字段（键）等于本表单字段（值）的记录，例如 {\"company\": \"company\"}："
                               "选择器和保存时都会检查。"}))

    def exists(self, f: FieldDef, ctx: CleanContext) -> Callable[[int], bool] | None:
        lookup = ctx.reference_exists
        return None if lookup is None else (lambda ident: bool(lookup(f.entity, ident)))

    def missing(self, f: FieldDef, ctx: CleanContext, ident: int) -> None:
        self.fail(ctx, "not_found", "No %(entity)s record with id %(id)s.", entity=f.entity, id=ident)

    def picker(self, f: FieldDef) -> str:
        return f.entity or ""


@register
class UserType(_LinkType):
    name = "user"
    order = 150
    label = {"en": "User", "zh": "用户"}
    help = {"en": "A person (or several) who can sign in.", "zh": "可以登录的一个（或多个）用户。"}
    settings = (DEFAULT, MULTIPLE)
    bad_id = N_("Enter a user id (a positive whole number).")
    bad_list = N_("Enter a list of user ids.")
    duplicate = N_("User %(id)s is listed more than once.")

    def exists(self, f: FieldDef, ctx: CleanContext) -> Callable[[int], bool] | None:
        lookup = ctx.user_exists
        return None if lookup is None else (lambda ident: bool(lookup(ident)))

    def missing(self, f: FieldDef, ctx: CleanContext, ident: int) -> None:
        self.fail(ctx, "not_found", "No user with id %(id)s.", id=ident)

    def picker(self, f: FieldDef) -> str:
        return "$user"
