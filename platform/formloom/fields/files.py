"""Attachment field types: file and image.

A value is a list of stored files, each {id, name, size, type}. Field types do no
I/O: the bytes are checked and stored by files/uploads.py before the record is
saved, and `clean` only accepts ids the writer may use (CleanContext's "file_info"
lookup, filled by the store), taking name, size and type from the stored row, never
from what was posted.
"""
from __future__ import annotations

import json
from typing import Any

from wtforms import Field

from ..definitions.model import FieldDef
from ..files.sniff import EXTENSIONS, IMAGE_EXTENSIONS
from ..files.storage import FILE_ID, is_file_id
from .base import CleanContext, FieldType, register
from .formfields import field_kwargs
from .settings import MULTIPLE, Setting

DEFAULT_MAX_SIZE_MB = 10
FILE_EXTENSIONS = tuple(EXTENSIONS)
DEFAULT_FILE_EXTENSIONS = ("pdf", "png", "jpg", "jpeg", "gif", "webp", "docx", "xlsx", "pptx", "doc", "xls",
                           "txt", "csv")

MAX_SIZE = Setting("max_size_mb", {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                   {"en": "Largest file (MB)", "zh": "单个文件上限（MB）"},
                   {"en": "Files larger than this are refused.", "zh": "大于此大小的文件会被拒绝。"},
                   default=DEFAULT_MAX_SIZE_MB)
ACCEPT = Setting("accept", {"type": "array", "items": {"enum": list(FILE_EXTENSIONS)}, "uniqueItems": True,
                            "minItems": 1},
                 {"en": "Allowed file types", "zh": "允许的文件类型"},
                 {"en": "File extensions people may upload; the content must match the extension.",
                  "zh": "可以上传的文件扩展名；文件内容必须与扩展名相符。"},
                 default=list(DEFAULT_FILE_EXTENSIONS))
MULTIPLE_FILES = MULTIPLE.but(label={"en": "Several files", "zh": "多个文件"},
                              help={"en": "The field holds several files.", "zh": "字段可以保存多个文件。"})


class FileListField(Field):
    """The posted file values: one JSON item (or bare id) per kept or uploaded file."""

    def process_formdata(self, valuelist: list) -> None:
        items: list[Any] = []
        for raw in valuelist:
            if not isinstance(raw, str) or raw == "":
                continue
            try:
                items.append(json.loads(raw))
            except ValueError:
                items.append(raw)          # `clean` refuses it with a message
        self.data = items

    def _value(self) -> str:
        return ""

    def items(self) -> list[dict]:
        """The files to show as kept (those with a name)."""
        data = self.data if isinstance(self.data, list) else []
        return [i for i in data if isinstance(i, dict) and is_file_id(i.get("id")) and isinstance(i.get("name"), str)]


class _FilesType(FieldType):
    sql_kind = "json"
    operators = ("is_empty",)
    column_allowed = False
    holds_files = True
    validates_live = False
    widget_template = "fields/file.html"
    phrases = {"invalid_file": "is {value}, which is not a stored file",
               "too_many_files": "holds several files but the field takes one"}

    def extensions(self, f: FieldDef) -> tuple[str, ...]:
        return tuple(f.extra.get("accept") or DEFAULT_FILE_EXTENSIONS)

    def max_bytes(self, f: FieldDef) -> int:
        return int(float(f.extra.get("max_size_mb") or DEFAULT_MAX_SIZE_MB) * 1_000_000)

    def clean(self, f: FieldDef, raw: Any, ctx: CleanContext) -> Any:
        items = raw if isinstance(raw, list) else [raw]
        lookup = ctx.extras.get("file_info")
        out: list[dict] = []
        for index, item in enumerate(items):
            file_id = item.get("id") if isinstance(item, dict) else item
            if not is_file_id(file_id):
                self.fail(ctx, "invalid_file", "This is not a file uploaded here; upload the file again.",
                          f"/{index}")
            if lookup is not None:
                value = lookup(file_id, f.key)
            elif isinstance(item, dict) and _well_formed(item):
                value = {k: item[k] for k in ("id", "name", "size", "type")}
            else:
                value = None
            if value is None:
                self.fail(ctx, "invalid_file", "This is not a file uploaded here; upload the file again.",
                          f"/{index}")
            if all(v["id"] != file_id for v in out):
                out.append(value)
        if len(out) > 1 and not f.multiple:
            self.fail(ctx, "too_many_files", "This field takes one file; remove the others.")
        return out

    def json_schema(self, f: FieldDef) -> dict:
        no_nul = {"type": "string", "pattern": "^[^\\x00]*$"}     # requests holding NUL are refused (400)
        item = {"type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "pattern": f"^{FILE_ID.pattern}$"},
                               "name": no_nul, "size": {"type": "integer", "minimum": 0}, "type": no_nul}}
        schema: dict = {"type": "array", "items": item}
        if not f.multiple:
            schema["maxItems"] = 1
        return schema

    def form_field(self, f: FieldDef, lang: str) -> Any:
        kwargs = field_kwargs(self, f, lang)
        kwargs["render_kw"]["accept"] = ",".join(f".{e}" for e in self.extensions(f))
        return FileListField(**kwargs)

    def from_form(self, f: FieldDef, data: Any) -> Any:
        return list(data) if isinstance(data, list) and data else None

    def display(self, f: FieldDef, value: Any, lang: str) -> str:
        if self.is_empty(value):
            return ""
        return ", ".join(str(i.get("name", "")) if isinstance(i, dict) else str(i) for i in value)


def _well_formed(item: dict) -> bool:
    return (isinstance(item.get("name"), str) and isinstance(item.get("size"), int)
            and isinstance(item.get("type"), str))


@register
class FileType(_FilesType):
    name = "file"
    order = 400
    label = {"en": "File", "zh": "文件"}
    help = {"en": "Uploaded documents, checked by type and size.", "zh": "上传的文档，按类型和大小检查。"}
    settings = (MULTIPLE_FILES, ACCEPT, MAX_SIZE)


@register
class ImageType(_FilesType):
    name = "image"
    order = 410
    label = {"en": "Image", "zh": "图片"}
    help = {"en": "Uploaded pictures (PNG, JPEG, GIF or WebP), shown as thumbnails.",
            "zh": "上传的图片（PNG、JPEG、GIF 或 WebP），以缩略图显示。"}
    settings = (MULTIPLE_FILES.but(label={"en": "Several images", "zh": "多张图片"},
                                   help={"en": "The field holds several images.", "zh": "字段可以保存多张图片。"}),
                MAX_SIZE)

    def extensions(self, f: FieldDef) -> tuple[str, ...]:
        return IMAGE_EXTENSIONS


