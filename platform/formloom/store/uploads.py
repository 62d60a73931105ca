"""Taking an upload for a file or image field, or as a free attachment of a comment:
size, extension and sniffed content checked, a thumbnail made for an image, the bytes
stored under a new id, a row recorded for the uploader.

A refused upload is a FieldProblem located at the field (or at "files" for a comment's
attachments), in the writer's language; nothing is stored for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from sqlalchemy import Connection

from ..definitions.model import EntityDef, FieldDef
from ..fields import FieldProblem, field_type
from ..i18n import N_, translate
from . import files as stored_files
from ..files.sniff import IMAGE_EXTENSIONS, check, extension, safe_name
from ..files.storage import Storage
from ..files.thumbnails import MAX_PIXELS, ImageTooLarge, make_thumbnail

#: the field key of a comment's free attachments (a real field key never starts with "$")
COMMENT_FIELD = "$comment"
#: what a comment may carry: the file field's default types and size, at most MAX_COMMENT_FILES files
MAX_COMMENT_FILES = 5

#: why a file was refused -> what the writer is told
REFUSALS = {
    "extension": "%(name)s is not one of the allowed file types (%(types)s).",
    "content": "%(name)s is not really a .%(ext)s file: its content does not match its name.",
    "markup": "%(name)s contains web page code hidden in an image; it was refused.",
}
TOO_MANY_PIXELS = N_("%(name)s is too large a picture to process (%(megapixels)s megapixels); "
                     "the limit is %(max)s megapixels.")


@dataclass(frozen=True)
class Limits:
    """What one upload may be: the problem's location, its allowed extensions, its size."""

    key: str
    extensions: tuple[str, ...]
    max_bytes: int


class UploadRefused(Exception):
    def __init__(self, problem: FieldProblem):
        super().__init__(problem.message)
        self.problem = problem


def take_upload(conn: Connection, storage: Storage, app_key: str, entity: EntityDef, f: FieldDef,
                filename: str, stream: IO[bytes], user_id: int, lang: str) -> dict:
    """Check and store one upload for field `f`; the stored value ({id, name, size, type}) or UploadRefused."""
    ftype = field_type(f.type)
    return take_file(conn, storage, Limits(f.key, ftype.extensions(f), ftype.max_bytes(f)), app_key=app_key,
                     entity_key=entity.key, field_key=f.key, filename=filename, stream=stream, user_id=user_id,
                     lang=lang)


def take_file(conn: Connection, storage: Storage, limits: Limits, *, app_key: str, entity_key: str,
              field_key: str, filename: str, stream: IO[bytes], user_id: int, lang: str,
              record_id: int | None = None) -> dict:
    """Check and store one upload under `limits`; the stored value or UploadRefused."""
    name = safe_name(filename or "")
    limit = limits.max_bytes
    data = stream.read(limit + 1)

    def refuse(code: str, msgid: str, **params) -> UploadRefused:
        return UploadRefused(FieldProblem(limits.key, f"/{limits.key}", code,
                                          translate(lang, msgid, name=name, **params)))

    if len(data) > limit:
        raise refuse("file_too_large", "%(name)s is larger than the limit of %(max)s MB.",
                     max=f"{limit / 1_000_000:g}")
    if not data:
        raise refuse("file_empty", "%(name)s is empty.")
    allowed = limits.extensions
    verdict = check(name, data, allowed)
    if verdict.content_type is None:
        raise refuse(f"file_{verdict.reason}", REFUSALS[verdict.reason], types=", ".join(allowed),
                     ext=extension(name))
    thumb_id = None
    if extension(name) in IMAGE_EXTENSIONS:
        try:
            thumbnail = make_thumbnail(data)
        except ImageTooLarge as big:
            raise refuse("image_too_large", TOO_MANY_PIXELS, megapixels=f"{big.pixels / 1_000_000:,.0f}",
                         max=f"{MAX_PIXELS / 1_000_000:g}") from None
        if thumbnail is not None:
            thumb_id = storage.put(thumbnail.data)
    file_id = storage.put(data)
    return stored_files.add_upload(conn, file_id=file_id, app_key=app_key, entity_key=entity_key,
                                   field_key=field_key, name=name, size=len(data),
                                   content_type=verdict.content_type, user_id=user_id, thumb_id=thumb_id,
                                   record_id=record_id)


def comment_limits() -> Limits:
    from ..fields.files import DEFAULT_FILE_EXTENSIONS, DEFAULT_MAX_SIZE_MB
    return Limits("files", DEFAULT_FILE_EXTENSIONS, DEFAULT_MAX_SIZE_MB * 1_000_000)


def comment_upload_limit(base: int) -> int:
    """The largest request body a comment with its attachments may send."""
    return base + comment_limits().max_bytes * MAX_COMMENT_FILES


def upload_limit(entity: EntityDef, base: int) -> int:
    """The largest request body a form of `entity` may send: `base` plus its file fields' limits."""
    total = base
    for f in entity.fields:
        ftype = field_type(f.type)
        if ftype.holds_files:
            total += ftype.max_bytes(f) * (5 if f.multiple else 1)
    return total
