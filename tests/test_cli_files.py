"""`formloom files orphans`: lists, then removes, the files no record holds."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from formloom.cli import main
from formloom.files.storage import LocalStorage
from formloom.store import files as stored_files
from formloom.store.db import Database


def test_orphans_are_listed_then_removed(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path))
    storage = LocalStorage(tmp_path / "files")
    stray, stale = storage.put(b"no row"), storage.put(b"never saved on a record")
    db = Database(database_url)
    with db.write() as conn:
        stored_files.add_upload(conn, file_id=stale, app_key="x", entity_key="y", field_key="z", name="a.txt",
                                size=3, content_type="text/plain; charset=utf-8", user_id=None,
                                now=datetime.now(timezone.utc) - timedelta(days=2))
    db.dispose()
    listed = CliRunner().invoke(main, ["files", "orphans"])
    assert listed.exit_code == 0 and sorted(listed.output.split()[:2]) == sorted([stray, stale])
    assert storage.exists(stray)
    removed = CliRunner().invoke(main, ["files", "orphans", "--delete"])
    assert removed.exit_code == 0
    assert not storage.exists(stray) and not storage.exists(stale)
    assert CliRunner().invoke(main, ["files", "orphans"]).output.split()[0] == "0"
