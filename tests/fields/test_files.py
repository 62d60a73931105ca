"""The file and image types: a value is a list of stored files whose name, size and
type come from the store, never from what was sent; exports write the names."""
from __future__ import annotations

import pytest

from formloom.definitions.compile import compile_field
from formloom.fields import FIELD_TYPES, CleanContext, FieldValueError

A = {"id": "a" * 32, "name": "quote.pdf", "size": 10, "type": "application/pdf"}
B = {"id": "b" * 32, "name": "site.png", "size": 20, "type": "image/png"}
STORED = {A["id"]: A, B["id"]: B}


def field(kind: str = "file", **extra):
    return compile_field({"key": "docs", "type": kind, "label": "Docs", **extra})


def context(lang: str = "en") -> CleanContext:
    return CleanContext(lang=lang, extras={"file_info": lambda file_id, key: STORED.get(file_id)})


def test_the_stored_name_and_type_win_over_what_was_sent():
    forged = {**A, "name": "evil.html", "type": "text/html"}
    assert FIELD_TYPES["file"].clean(field(multiple=True), [forged, B["id"], A["id"]], context()) == [A, B]


@pytest.mark.parametrize("value, code", [
    (["../../etc/passwd"], "invalid_file"), ([{"id": "c" * 32}], "invalid_file"), ([A, B], "too_many_files"),
    ([{"name": "x"}], "invalid_file"),
])
def test_unknown_ids_and_extra_files_are_refused(value, code):
    with pytest.raises(FieldValueError) as refused:
        FIELD_TYPES["file"].clean(field(), value, context("zh"))
    assert refused.value.code == code and refused.value.message.endswith("。")


def test_exports_and_lists_show_the_names():
    ftype = FIELD_TYPES["image"]
    assert ftype.export(field("image", multiple=True), [A, B], "en") == "quote.pdf, site.png"
    assert ftype.display(field("image"), [], "en") == ""


def test_the_schema_takes_one_file_unless_several_are_allowed():
    assert FIELD_TYPES["file"].json_schema(field())["maxItems"] == 1
    assert "maxItems" not in FIELD_TYPES["file"].json_schema(field(multiple=True))
    assert FIELD_TYPES["image"].extensions(field("image")) == ("png", "jpg", "jpeg", "gif", "webp")
    assert FIELD_TYPES["file"].max_bytes(field(max_size_mb=0.5)) == 500_000
