"""The versions table says a restore in the reader's language: the restore writes its note
("Restored version 1") when it publishes, and a Chinese admin saw it in English. A note an
admin typed is shown as typed. Found by the exploratory walk of the demo."""
from __future__ import annotations

from .test_designer import BASE, CASE, SELECT_FIELD, post, publish


def test_a_restore_note_reads_in_the_readers_language(as_admin):
    assert post(as_admin, f"{CASE}/new/select", SELECT_FIELD).status_code == 303
    assert publish(as_admin, comment="Restored version 1 by hand? no: a typed note").status_code == 303
    assert as_admin.post(f"{BASE}/versions/1/restore", {}, token_from=f"{BASE}/versions").status_code == 303
    assert ">Restored version 1</td>" in as_admin.get(f"{BASE}/versions").get_data(as_text=True)
    as_admin.post("/language", {"lang": "zh"})
    page = as_admin.get(f"{BASE}/versions").get_data(as_text=True)
    assert ">已恢复版本 1</td>" in page and ">Restored version 1</td>" not in page
    assert "Restored version 1 by hand? no: a typed note" in page
