"""Where attachment bytes live, behind a five-call interface keyed by an opaque id.

The id is generated here (128 random bits as hex); a file's name is data shown to
people and never part of a path, so no name can reach outside the storage root.
The local-disk backend keeps files under the instance folder; files/s3.py keeps them
in an S3-compatible bucket behind the same calls, chosen by configuration.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

FILE_ID = re.compile(r"[0-9a-f]{32}")


class StorageUnavailable(Exception):
    """The storage cannot be reached right now (a bucket's server down or refusing us):
    the request answers 503 and may be tried again, never 500."""


def new_file_id() -> str:
    return secrets.token_hex(16)


def is_file_id(value: object) -> bool:
    return isinstance(value, str) and FILE_ID.fullmatch(value) is not None


class Storage(Protocol):
    def put(self, data: bytes) -> str: ...
    def open(self, file_id: str) -> bytes: ...
    def delete(self, file_id: str) -> None: ...
    def exists(self, file_id: str) -> bool: ...
    def ids(self) -> list[str]: ...


class LocalStorage:
    """Files at <root>/<first two hex digits>/<id>, written atomically, mode 0600."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, file_id: str) -> Path:
        if not is_file_id(file_id):
            raise KeyError(file_id)
        return self.root / file_id[:2] / file_id

    def put(self, data: bytes) -> str:
        file_id = new_file_id()
        path = self._path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
        return file_id

    def open(self, file_id: str) -> bytes:
        try:
            return self._path(file_id).read_bytes()
        except FileNotFoundError:
            raise KeyError(file_id) from None

    def delete(self, file_id: str) -> None:
        try:
            self._path(file_id).unlink()
        except FileNotFoundError:
            pass

    def exists(self, file_id: str) -> bool:
        return is_file_id(file_id) and self._path(file_id).is_file()

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.glob("??/*") if is_file_id(p.name))


def storage_from_config(config) -> Storage:
    """The storage an app uses: an S3-compatible bucket when FORMLOOM_FILES_S3_BUCKET
    (or FILES_S3_BUCKET in the config) is set, else the local disk at
    FORMLOOM_FILES_DIR, else <instance>/files."""
    from .s3 import S3Storage, s3_settings
    if (settings := s3_settings(config)) is not None:
        return S3Storage.from_settings(settings)
    root = os.environ.get("FORMLOOM_FILES_DIR") or config.get("FILES_DIR") or Path(config["INSTANCE"]) / "files"
    return LocalStorage(Path(root))
