"""New apps from the browser: the template gallery (a copy of the CRM under a new
key and label, with its demo records and none of its demo accounts; the blank
app), uploads of app.json or a zip, and downloads that install back the same."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from formloom.auth.users import create_user
from formloom.store.tables import memberships, records, users

from .conftest import PASSWORD


@pytest.fixture
def as_super(app, browser):
    with app.extensions["formloom.db"].write() as conn:
        create_user(conn, "root@example.com", PASSWORD, name="Root", is_superuser=True)
    assert browser.login("root@example.com").status_code == 302
    return browser


def test_only_superusers_make_new_apps(as_admin):
    assert as_admin.get("/apps/new").status_code == 404
    assert as_admin.post("/apps/new/template/blank", {"key": "x", "label-en": "X"}).status_code == 404
    assert "New app" not in as_admin.get("/").get_data(as_text=True)


def test_the_gallery_lists_the_shipped_templates(as_super):
    page = as_super.get("/apps/new").get_data(as_text=True)
    assert 'id="template-blank"' in page and 'id="template-crm"' in page
    assert "Opportunities" in page                 # an entity preview, from the template's document
    assert 'href="/apps/new"' in as_super.get("/").get_data(as_text=True)


def test_a_copy_of_the_crm_under_a_new_key_with_demo_records(app, as_super):
    answer = as_super.post("/apps/new/template/crm", {"key": "my_crm", "label-zh": "我的客户管理",
                                                      "label-en": "My CRM", "demo": "1"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/apps/my_crm/design")
    crm = app.extensions["formloom.catalog"].app("my_crm")
    assert crm.label.get("zh") == "我的客户管理"
    with app.extensions["formloom.db"].read() as conn:
        root = conn.execute(select(users.c.id).where(users.c.email == "root@example.com")).scalar()
        owners = set(conn.execute(select(records.c.owner_id).where(records.c.app_key == "my_crm")).scalars())
        assert owners == {root}
        assert conn.execute(select(func.count()).select_from(users)
                            .where(users.c.email.like("%@demo.formloom"))).scalar() == 0
        assert conn.execute(select(memberships.c.role).where(memberships.c.app_key == "my_crm")).scalar() == "admin"
    assert as_super.get("/apps/my_crm/design").status_code == 200


def test_a_blank_app_and_a_taken_key(app, as_super):
    assert as_super.post("/apps/new/template/blank", {"key": "notes", "label-en": "Notes"}).status_code == 303
    assert app.extensions["formloom.catalog"].app("notes").entity("item") is not None
    answer = as_super.post("/apps/new/template/blank", {"key": "desk", "label-en": "Again"})
    assert answer.status_code == 422 and "already an app with this key" in answer.get_data(as_text=True)
    answer = as_super.post("/apps/new/template/blank", {"key": "Bad Key", "label-en": "Again"})
    assert answer.status_code == 422


def test_download_and_upload_round_trip(app, as_super):
    with app.extensions["formloom.db"].write() as conn:
        conn.execute(memberships.insert().values(user_id=conn.execute(select(users.c.id).where(
            users.c.email == "root@example.com")).scalar(), app_key="desk", role="admin"))
    live = as_super.get("/apps/desk/design/download")
    assert live.status_code == 200 and live.mimetype == "application/json"
    assert 'filename="desk-v1.json"' in live.headers["Content-Disposition"]
    doc = json.loads(live.get_data())
    zipped = as_super.get("/apps/desk/design/download?format=zip").get_data()
    names = zipfile.ZipFile(io.BytesIO(zipped)).namelist()
    assert names == ["desk/app.json", "desk/workflows/case_flow.json"]
    answer = as_super.post("/apps/new/upload", {"document": (io.BytesIO(zipped), "desk.zip"), "key": "desk_two"},
                           token_from="/apps/new", content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    two = app.extensions["formloom.catalog"].app("desk_two")
    assert [e.key for e in two.entities] == [e["key"] for e in doc["entities"]]
    assert two.workflow_for("case") is not None


def test_an_upload_with_problems_is_refused_with_them(app, as_super):
    bad = json.dumps({"key": "bad", "label": "Bad", "version": 1, "timezone": "UTC", "roles": ["admin"],
                      "entities": [{"key": "thing", "label": "Thing", "title": "nope",
                                    "fields": [{"key": "name", "type": "text", "label": "Name"}]}]})
    answer = as_super.post("/apps/new/upload", {"document": (io.BytesIO(bad.encode()), "app.json")},
                           token_from="/apps/new", content_type="multipart/form-data")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "nothing was installed" in page and "$.entities[0].title" in page
    answer = as_super.post("/apps/new/upload", {"document": (io.BytesIO(b"PK\x03\x04broken"), "x.zip")},
                           token_from="/apps/new", content_type="multipart/form-data")
    assert answer.status_code == 422


def test_every_designer_page_of_the_crm_copy_answers(app, as_super):
    """A large real app: every entity page, every field's form and the overview render."""
    assert as_super.post("/apps/new/template/crm", {"key": "big", "label-en": "Big"}).status_code == 303
    crm = app.extensions["formloom.catalog"].app("big")
    assert as_super.get("/apps/big/design").status_code == 200
    for entity in crm.entities:
        assert as_super.get(f"/apps/big/design/e/{entity.key}").status_code == 200
        for f in entity.fields:
            page = as_super.get(f"/apps/big/design/e/{entity.key}/fields/{f.key}")
            assert page.status_code == 200, (entity.key, f.key)
            assert "error-text" not in page.get_data(as_text=True), (entity.key, f.key)
    page = as_super.get("/apps/big/design/e/opportunity/fields/order")
    assert page.status_code in (200, 404)
