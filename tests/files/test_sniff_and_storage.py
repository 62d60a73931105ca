"""What a file really is decides whether it is taken, never its name alone; and the
storage is keyed by ids it makes itself, so no name can become a path."""
from __future__ import annotations

import pytest

from formloom.files.sniff import IMAGE_EXTENSIONS, check, safe_name, sniff
from formloom.files.storage import LocalStorage, is_file_id

WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8)


@pytest.mark.parametrize("data, kind", [
    (b"\x89PNG\r\n\x1a\n....", "png"), (b"\xff\xd8\xff\xe0", "jpeg"), (b"GIF89a", "gif"), (WEBP, "webp"),
    (b"%PDF-1.7", "pdf"), (b"PK\x03\x04", "zip"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    ("名称,金额\n甲,1\n".encode(), "text"), (b"<html><script>x</script>", None), (b"<svg/>", None),
    (b"\x00\x01binary", None), (b"MZ\x90\x00", None),
])
def test_content_is_recognised_by_its_first_bytes(data, kind):
    assert sniff(data) == kind


def test_extension_and_content_must_agree():
    assert check("a.png", b"\x89PNG\r\n\x1a\n", IMAGE_EXTENSIONS).content_type == "image/png"
    assert check("A.JPG", b"\xff\xd8\xff\xe0", IMAGE_EXTENSIONS).content_type == "image/jpeg"
    assert check("a.png", b"PK\x03\x04", IMAGE_EXTENSIONS).reason == "content"          # a zip renamed .png
    assert check("a.svg", b"<svg/>", ("svg",)).reason == "extension"                   # SVG is never a kind
    assert check("a.gif", b"GIF89a/*<script>alert(1)</script>*/", IMAGE_EXTENSIONS).reason == "markup"
    assert check("notes.txt", b"<script>alert(1)</script>", ("txt",)).reason == "content"
    assert check("noext", b"%PDF-1.4", ("pdf",)).reason == "extension"


def test_a_name_is_only_a_name():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\x\\合同.pdf") == "合同.pdf"
    assert safe_name("..\x00.bashrc\n") == "bashrc"
    assert safe_name("") == "file"


def test_storage_makes_its_own_ids_and_refuses_others(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    file_id = storage.put(b"hello")
    assert is_file_id(file_id) and storage.open(file_id) == b"hello" and storage.exists(file_id)
    assert storage.ids() == [file_id]
    assert oct((tmp_path / "files" / file_id[:2] / file_id).stat().st_mode & 0o777) == "0o600"
    for bad in ("../secret_key", file_id.upper(), file_id + "/x", ""):
        assert not storage.exists(bad)
        with pytest.raises(KeyError):
            storage.open(bad)
    storage.delete(file_id)
    assert not storage.exists(file_id) and storage.ids() == []
