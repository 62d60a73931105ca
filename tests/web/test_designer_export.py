"""Documents stay first-class: what the designer builds can be exported (the designer's
Download, or the API) and installed elsewhere with `formloom install`, and the
installed version is the very one publishing made (the same content hash)."""
from __future__ import annotations

import io
import json
import shutil
import zipfile

from click.testing import CliRunner
from sqlalchemy import select

from formloom.cli import main
from formloom.design.gallery import render_document
from formloom.store.db import Database
from formloom.store.tables import definition_versions

from .api_client import Api, token_for  # noqa: F401
from .test_designer import BASE, SELECT_FIELD, post, publish


def hash_of(database_url: str, app_key: str = "desk") -> str:
    db = Database(database_url)
    try:
        with db.read() as conn:
            return conn.execute(select(definition_versions.c.content_hash)
                                .where(definition_versions.c.app_key == app_key)
                                .order_by(definition_versions.c.number.desc()).limit(1)).scalar_one()
    finally:
        db.dispose()


def install_fresh(folder, tmp_path, fresh_db, monkeypatch) -> str:
    """`formloom install <folder>` on a database of its own; the version's content hash."""
    url = f"sqlite:///{fresh_db}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FORMLOOM_INSTANCE", str(tmp_path / "other-instance"))
    result = CliRunner().invoke(main, ["install", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0 and "Installed app 'desk' version 1" in result.output, result.output
    return hash_of(url)


def fresh_database(_migrated_sqlite, tmp_path):
    path = tmp_path / "fresh.db"
    shutil.copy(_migrated_sqlite, path)
    return path


def test_designer_edits_exported_and_installed_elsewhere_give_the_published_hash(
        app, browser, tmp_path, monkeypatch, _migrated_sqlite, database_url):
    browser.login("admin@example.com")
    assert post(browser, f"{BASE}/e/case/new/select", SELECT_FIELD).status_code == 303
    download = browser.get(f"{BASE}/download?what=draft&format=zip")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert publish(browser, "channels").status_code == 303
    published = hash_of(database_url)

    folder = tmp_path / "exported"
    zipfile.ZipFile(io.BytesIO(download.data)).extractall(folder)
    app_json = (folder / "desk" / "app.json").read_text(encoding="utf-8")
    assert app_json == render_document(json.loads(app_json))        # pretty printed, in the document's order
    assert '"key": "channel"' in app_json
    assert install_fresh(folder / "desk", tmp_path, fresh_database(_migrated_sqlite, tmp_path),
                         monkeypatch) == published


def test_the_api_documents_written_as_files_install_to_the_same_version(
        app, people, token_for, tmp_path, monkeypatch, _migrated_sqlite, database_url):
    api = Api(app.test_client(), token_for(people.admin))
    documents = api.get("/api/v1/apps/desk/versions/1/documents").get_json()
    folder = tmp_path / "git" / "desk"
    (folder / "workflows").mkdir(parents=True)
    (folder / "app.json").write_text(render_document(documents["app"]), encoding="utf-8")
    for workflow in documents["workflows"]:
        (folder / "workflows" / f"{workflow['key']}.json").write_text(render_document(workflow), encoding="utf-8")
    assert documents["hash"] == hash_of(database_url)
    assert install_fresh(folder, tmp_path, fresh_database(_migrated_sqlite, tmp_path), monkeypatch) == \
        documents["hash"]
