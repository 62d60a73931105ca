"""Taking an upload for a file or image field: size, extension and sniffed content
checked, the bytes stored under a new id, a row recorded for the uploader.

A refused upload is a FieldProblem located at the field, in the writer's language;
nothing is stored for it.
"""
from __future__ import annotations

from typing import IO

from sqlalchemy import Connection

from ..definitions.model import EntityDef, FieldDef
from ..fields import FieldProblem, field_type
from ..i18n import translate
from . import files as stored_files
from ..files.sniff import check, extension, safe_name
from ..files.storage import Storage

#: why a file was refused -> what the writer is told
REFUSALS = {
    "extension": "%(name)s is not one of the allowed file types (%(types)s).",
    "content": "%(name)s is not really a .%(ext)s file: its content does not match its name.",
    "markup": "%(name)s contains web page code hidden in an image; it was refused.",
}


class UploadRefused(Exception):
    def __init__(self, problem: FieldProblem):
        super().__init__(problem.message)
        self.problem = problem


def take_upload(conn: Connection, storage: Storage, app_key: str, entity: EntityDef, f: FieldDef,
                filename: str, stream: IO[bytes], user_id: int, lang: str) -> dict:
    """Check and store one upload; the stored value ({id, name, size, type}) or UploadRefused."""
    ftype = field_type(f.type)
    name = safe_name(filename or "")
    limit = ftype.max_bytes(f)
    data = stream.read(limit + 1)

    def refuse(code: str, msgid: str, **params) -> UploadRefused:
        return UploadRefused(FieldProblem(f.key, f"/{f.key}", code, translate(lang, msgid, name=name, **params)))

    if len(data) > limit:
        raise refuse("file_too_large", "%(name)s is larger than the limit of %(max)s MB.",
                     max=f"{limit / 1_000_000:g}")
    if not data:
        raise refuse("file_empty", "%(name)s is empty.")
    allowed = ftype.extensions(f)
    verdict = check(name, data, allowed)
    if verdict.content_type is None:
        raise refuse(f"file_{verdict.reason}", REFUSALS[verdict.reason], types=", ".join(allowed),
                     ext=extension(name))
    file_id = storage.put(data)
    return stored_files.add_upload(conn, file_id=file_id, app_key=app_key, entity_key=entity.key, field_key=f.key,
                                   name=name, size=len(data), content_type=verdict.content_type, user_id=user_id)


def upload_limit(entity: EntityDef, base: int) -> int:
    """The largest request body a form of `entity` may send: `base` plus its file fields' limits."""
    total = base
    for f in entity.fields:
        ftype = field_type(f.type)
        if ftype.holds_files:
            total += ftype.max_bytes(f) * (5 if f.multiple else 1)
    return total
