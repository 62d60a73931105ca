"""New apps: the template gallery, copies of a template under a new key, and apps
uploaded or downloaded as documents (app.json, or a zip with its workflows).

Every way in ends in `install_documents`, like `formloom install`. A copy made
"with demo data" gets the template's records, owned by the person who made the
copy; the template's demo accounts (with their published passwords) are never
created by the browser.
"""
from __future__ import annotations

import copy
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from ..definitions.load import parse_document
from ..definitions.problems import DocumentError, Problem
from ..errors import FormloomError
from ..resources import app_templates_dir
from ..store.apps import AppCatalog
from ..store.db import Database
from ..store.install import InstallResult, install_documents, read_template
from ..store.tables import apps, memberships, records

#: An app to start from nothing: one entity with one field, the admin role, nothing else.
BLANK_APP: dict = {
    "key": "blank", "label": {"en": "Blank app", "zh": "空白应用"}, "version": 1, "timezone": "UTC",
    "description": {"en": "One entity with a name field: build the rest in the designer.",
                    "zh": "只有一个带名称字段的实体：其余在设计器中搭建。"},
    "roles": ["admin", "member"],
    "entities": [{"key": "item", "label": {"en": "Item", "zh": "条目"}, "plural": {"en": "Items", "zh": "条目"},
                  "title": "name",
                  "permissions": {"member": {"create": True, "read": "all", "update": "own"}},
                  "fields": [{"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"},
                              "required": True, "max_length": 200}]}],
}
BLANK = "blank"
MAX_UPLOAD_FILES = 50


class GalleryError(FormloomError):
    """A new app could not be made (a key taken, an unreadable upload)."""

    status = 422
    code = "invalid"


@dataclass(frozen=True)
class Template:
    key: str
    label: Any
    description: Any
    entities: list[tuple[Any, int]]      # (label, number of fields)
    has_demo: bool
    folder: Path | None                  # None for the blank app


def templates() -> list[Template]:
    """The blank app and every folder of app_templates/ holding an app.json, by key."""
    found = [_template(BLANK, copy.deepcopy(BLANK_APP), None)]
    root = app_templates_dir()
    for folder in sorted(p for p in root.iterdir() if (p / "app.json").is_file()) if root.is_dir() else []:
        try:
            doc = json.loads((folder / "app.json").read_text(encoding="utf-8"))
        except ValueError:
            continue
        found.append(_template(folder.name, doc, folder))
    return found


def _template(key: str, doc: dict, folder: Path | None) -> Template:
    return Template(key, doc.get("label", key), doc.get("description"),
                    [(e.get("plural") or e.get("label"), len(e.get("fields", []))) for e in doc.get("entities", [])],
                    bool(folder and (folder / "demo_data.json").is_file()), folder)


def template_named(key: str) -> Template | None:
    return next((t for t in templates() if t.key == key), None)


def _refuse_taken(conn: Connection, key: str) -> None:
    if conn.execute(select(apps.c.key).where(apps.c.key == key)).first() is not None:
        raise GalleryError("There is already an app with this key.", hint="Choose another key.")


def install_copy(db: Database, app_doc: dict, workflows: dict, *, key: str, label: Any, user_id: int | None,
                 source: str) -> InstallResult:
    """Install documents as a new app `key` labelled `label`; its maker becomes an admin of it."""
    app_doc = {**copy.deepcopy(app_doc), "key": key, "label": label}
    with db.read() as conn:
        _refuse_taken(conn, key)
    result = install_documents(db, app_doc, copy.deepcopy(workflows), source=source, user_id=user_id,
                               comment=None)
    if user_id is not None:
        with db.write() as conn:
            conn.execute(insert(memberships).values(user_id=user_id, app_key=key,
                                                    role=app_doc.get("admin_role", "admin")))
    return result


def use_template(db: Database, template: Template, *, key: str, label: Any, with_demo: bool,
                 user_id: int | None) -> InstallResult:
    if template.folder is None:
        app_doc, workflows = copy.deepcopy(BLANK_APP), {}
        app_doc.pop("description", None)
    else:
        app_doc, workflows, _source = read_template(template.folder)
    result = install_copy(db, app_doc, workflows, key=key, label=label, user_id=user_id,
                          source=f"template:{template.key}")
    if with_demo and template.has_demo:
        load_demo_records(db, key, template.folder / "demo_data.json", owner_id=user_id)
    return result


def load_demo_records(db: Database, app_key: str, path: Path, *, owner_id: int | None) -> int:
    """The template's demo records in the new app, all owned by `owner_id` (no demo accounts)."""
    from ..demo import _resolve, _settle_automation
    from ..store.records import create_record
    data = json.loads(path.read_text(encoding="utf-8"))
    app, version_id = AppCatalog(db).get(app_key)
    now = datetime.now(timezone.utc)
    created = 0
    with db.write() as conn:
        if conn.execute(select(func.count()).select_from(records).where(records.c.app_key == app_key)).scalar_one():
            return 0
        refs: dict[str, int] = {}
        for item in data.get("records", []):
            values = {k: _resolve(v, refs) for k, v in item["data"].items()}
            record = create_record(conn, app, app.entity(item["entity"]), values, actor_id=owner_id,
                                   owner_id=owner_id, version_id=version_id, stage=item.get("stage"),
                                   now=now - timedelta(days=float(item.get("created_days_ago", 0))))
            refs[item["ref"]] = record.id
            created += 1
        _settle_automation(conn, app, now, 0)     # a copy starts its reminders from now; no replayed history
    return created


# -- documents in and out -------------------------------------------------------------------------------

def read_upload(name: str, data: bytes) -> tuple[dict, dict]:
    """An uploaded app.json, or a zip holding app.json (at its root or in one folder) and its
    workflows (`workflows/<key>.json`); DocumentError / GalleryError when it cannot be read."""
    if name.lower().endswith(".zip") or data[:2] == b"PK":
        return _read_zip(data)
    return parse_document(_text(data, name), name), {}


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError([Problem(name, "$", "The file is not UTF-8 text.")]) from None


def _read_zip(data: bytes) -> tuple[dict, dict]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise GalleryError("The zip file cannot be read.", hint="Upload app.json, or a zip made by Download.") from None
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_UPLOAD_FILES or sum(i.file_size for i in infos) > 5_000_000:
        raise GalleryError("The zip file holds too much.", hint="Upload only app.json and its workflows.")
    apps_found = [i for i in infos if i.filename.rsplit("/", 1)[-1] == "app.json" and i.filename.count("/") <= 1]
    if len(apps_found) != 1:
        raise GalleryError("The zip file must hold exactly one app.json.")
    prefix = apps_found[0].filename[:-len("app.json")]
    app_doc = parse_document(_text(archive.read(apps_found[0]), "app.json"), "app.json")
    workflows = {}
    for info in infos:
        rest = info.filename[len(prefix):] if info.filename.startswith(prefix) else ""
        if rest.startswith("workflows/") and rest.endswith(".json") and rest.count("/") == 1:
            doc = parse_document(_text(archive.read(info), rest), rest)
            if isinstance(doc, dict) and isinstance(doc.get("key"), str):
                workflows[doc["key"]] = doc
    return app_doc, workflows


def render_document(doc: dict) -> str:
    """A document as written to a file: pretty printed, keys in the document's order."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def zip_documents(app_doc: dict, workflows: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        folder = app_doc.get("key", "app")
        archive.writestr(f"{folder}/app.json", render_document(app_doc))
        for key in sorted(workflows):
            archive.writestr(f"{folder}/workflows/{key}.json", render_document(workflows[key]))
    return buffer.getvalue()
