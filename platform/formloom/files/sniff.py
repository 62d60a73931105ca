"""What a file really is, from its first bytes, and whether its name agrees.

A file is accepted only when its extension is one the field allows AND its content
is of that extension's kind: a zip renamed .png, or HTML renamed .pdf, is refused.
The content type a file is served with comes from this table, never from the
browser's claim. SVG is not a kind at all: it can carry script, so it is refused.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: extension -> (kind its content must sniff as, content type it is served with)
EXTENSIONS: dict[str, tuple[str, str]] = {
    "png": ("png", "image/png"),
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "gif": ("gif", "image/gif"),
    "webp": ("webp", "image/webp"),
    "pdf": ("pdf", "application/pdf"),
    "docx": ("zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": ("zip", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "zip": ("zip", "application/zip"),
    "doc": ("ole", "application/msword"),
    "xls": ("ole", "application/vnd.ms-excel"),
    "txt": ("text", "text/plain; charset=utf-8"),
    "csv": ("text", "text/csv; charset=utf-8"),
}
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp")
#: content types a browser may show in the page (everything else is an attachment)
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
)
#: markup a browser would run if it ever guessed HTML: never inside an image
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|body|object|embed)\b|javascript:", re.IGNORECASE)


def sniff(data: bytes) -> str | None:
    """The kind of `data` ("png", "pdf", "zip", "text"...), or None when unknown."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if _is_plain_text(data):
        return "text"
    return None


def _is_plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _MARKUP.search(data) is None and not text.lstrip().startswith("<")


def extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


@dataclass(frozen=True)
class Verdict:
    content_type: str | None      # None: refused
    reason: str = ""              # "extension", "content" or "markup" when refused


def check(name: str, data: bytes, allowed: tuple[str, ...]) -> Verdict:
    ext = extension(name)
    if ext not in allowed or ext not in EXTENSIONS:
        return Verdict(None, "extension")
    kind, content_type = EXTENSIONS[ext]
    if sniff(data) != kind:
        return Verdict(None, "content")
    if kind in ("png", "jpeg", "gif", "webp") and _MARKUP.search(data):
        return Verdict(None, "markup")      # an image that is also a page (a polyglot)
    return Verdict(content_type)


def safe_name(name: str) -> str:
    """The name shown and offered for download: the last path part, no control
    characters, at most 200 characters (never used as a path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().lstrip(".") or "file"
    return base[-200:]
