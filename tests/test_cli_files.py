"""`formloom files orphans`: lists, then removes, the files no record holds (a thumbnail
goes with its file); `formloom files thumbnails` makes the thumbnails images lack."""
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


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(out, "PNG")
    return out.getvalue()


def test_thumbnails_are_made_for_images_stored_without_one(database_url, tmp_path, monkeypatch):
    from sqlalchemy import select

    from formloom.store.tables import files
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path))
    storage = LocalStorage(tmp_path / "files")
    photo, broken = storage.put(_png(900, 300)), storage.put(b"\x89PNG\r\n\x1a\n" + bytes(20))
    db = Database(database_url)
    with db.write() as conn:
        for file_id in (photo, broken):
            stored_files.add_upload(conn, file_id=file_id, app_key="x", entity_key="y", field_key="z",
                                    name="p.png", size=1, content_type="image/png", user_id=None)
    made = CliRunner().invoke(main, ["files", "thumbnails"])
    assert made.exit_code == 0 and "1 thumbnail(s) made, 1 image(s) left without one." in made.output
    with db.read() as conn:
        thumbs = dict(conn.execute(select(files.c.id, files.c.thumb_id)).all())
    assert thumbs[broken] is None and storage.exists(thumbs[photo])
    assert "0 thumbnail(s) made" in CliRunner().invoke(main, ["files", "thumbnails"]).output     # rerun: nothing new
    db.dispose()


def test_an_orphans_thumbnail_is_removed_with_it_and_a_held_ones_is_kept(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path))
    storage = LocalStorage(tmp_path / "files")
    stale, thumb = storage.put(_png(10, 10)), storage.put(b"thumbnail")
    db = Database(database_url)
    with db.write() as conn:
        stored_files.add_upload(conn, file_id=stale, app_key="x", entity_key="y", field_key="z", name="a.png",
                                size=3, content_type="image/png", user_id=None, thumb_id=thumb,
                                now=datetime.now(timezone.utc) - timedelta(days=2))
    db.dispose()
    listed = CliRunner().invoke(main, ["files", "orphans"])
    assert sorted(listed.output.split()[:2]) == sorted([stale, thumb])
    CliRunner().invoke(main, ["files", "orphans", "--delete"])
    assert storage.ids() == []
