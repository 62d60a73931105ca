"""Attachments: file and image fields take uploads from the record form and the API,
check them by extension AND content, and serve them only to people who may read the
record and the field, as attachments unless they are images or PDFs."""
from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from formloom.app import create_app
from formloom.store.install import install_documents
from formloom.store.tables import files

from .api_client import api_as, token_for  # noqa: F401
from .desk import CASE_FLOW, desk_app

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
ZIP = b"PK\x03\x04" + bytes(40)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
POLYGLOT = b"\x89PNG\r\n\x1a\n" + bytes(8) + b"<html><script>alert(1)</script></html>"
NEW = "/apps/desk/case/new"


@pytest.fixture
def app(database_url, tmp_path):
    document = desk_app()
    case = next(e for e in document["entities"] if e["key"] == "case")
    case["fields"] += [
        {"key": "docs", "type": "file", "multiple": True, "accept": ["pdf", "txt", "png"], "max_size_mb": 0.01,
         "label": {"en": "Documents", "zh": "文档"}},
        {"key": "photo", "type": "image", "label": {"en": "Photo", "zh": "照片"}, "hidden_for": ["viewer"]},
    ]
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True,
                            "MAX_CONTENT_LENGTH": 64_000})
    install_documents(flask_app.extensions["formloom.db"], document, {"case_flow": copy.deepcopy(CASE_FLOW)})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


def upload(name: str, data: bytes):
    return (io.BytesIO(data), name)


def create(browser, **fields):
    data = {"subject": "Printer on fire", **fields}
    return browser.post(NEW, data, token_from=NEW, content_type="multipart/form-data")


def rows(app):
    with app.extensions["formloom.db"].read() as conn:
        return [r._mapping for r in conn.execute(select(files).order_by(files.c.created_at))]


def record_of(app, record_id):
    from formloom.store.records import get_record
    catalog = app.extensions["formloom.catalog"]
    desk, _version = catalog.get("desk")
    with app.extensions["formloom.db"].read() as conn:
        return get_record(conn, desk, desk.entity("case"), record_id, include_deleted=True)


def file_url(item) -> str:
    return f"/apps/desk/files/{item['id']}"


@pytest.fixture
def saved(app, as_agent):
    """A case the agent made through the form with a PDF and a photo."""
    response = create(as_agent, docs__upload=upload("Quote.pdf", PDF), photo__upload=upload("site.png", PNG))
    assert response.status_code == 303, response.get_data(as_text=True)
    return record_of(app, int(response.location.rsplit("/", 1)[-1]))


def test_a_rep_attaches_a_pdf_and_an_image_and_opens_them(app, as_agent, saved):
    [doc], [photo] = saved.data["docs"], saved.data["photo"]
    assert doc == {"id": doc["id"], "name": "Quote.pdf", "size": len(PDF), "type": "application/pdf"}
    assert photo["type"] == "image/png"
    page = as_agent.get(f"/apps/desk/case/{saved.id}").get_data(as_text=True)
    assert f'href="{file_url(doc)}"' in page and f'<img src="{file_url(photo)}/thumbnail" alt="site.png"' in page
    served = as_agent.get(file_url(doc))
    assert served.status_code == 200 and served.data == PDF
    assert served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("inline;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'")
    image = as_agent.get(file_url(photo))
    assert image.headers["Content-Type"] == "image/png" and "sandbox" in image.headers["Content-Security-Policy"]
    assert {r["record_id"] for r in rows(app)} == {saved.id}


def test_a_file_larger_than_other_requests_may_be_is_taken_up_to_the_fields_limit(app, as_agent, api_as):
    photo = PNG + bytes(100_000)                  # the app's MAX_CONTENT_LENGTH is 64 000
    response = create(as_agent, photo__upload=upload("big.png", photo))
    assert response.status_code == 303
    assert record_of(app, int(response.location.rsplit("/", 1)[-1])).data["photo"][0]["size"] == len(photo)
    agent = api_as("agent")
    answer = agent.client.post("/api/v1/desk/case/files/photo", headers=agent.headers(),
                               data={"file": upload("big.png", photo)}, content_type="multipart/form-data")
    assert answer.status_code == 201
    assert as_agent.client.post("/apps/desk/company/new", data={"name": "x" * 100_000}).status_code == 413


def test_the_form_still_works_without_files(app, as_agent):
    response = create(as_agent)
    assert response.status_code == 303
    assert record_of(app, int(response.location.rsplit("/", 1)[-1])).data.get("docs") in (None, [])


def test_text_is_served_as_an_attachment_never_inline(as_agent, app):
    response = create(as_agent, docs__upload=upload("notes.txt", b"call back <b>monday</b>"))
    [item] = record_of(app, int(response.location.rsplit("/", 1)[-1])).data["docs"]
    served = as_agent.get(file_url(item))
    assert served.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert served.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("field, name, data, message", [
    ("photo", "archive.png", ZIP, "archive.png is not really a .png file"),
    ("photo", "logo.svg", SVG, "logo.svg is not one of the allowed file types (png, jpg, jpeg, gif, webp)."),
    ("docs", "logo.png", SVG, "logo.png is not really a .png file"),
    ("photo", "cat.png", POLYGLOT, "cat.png contains web page code hidden in an image"),
    ("docs", "big.pdf", PDF + bytes(20_000), "big.pdf is larger than the limit of 0.01 MB."),
    ("docs", "run.exe", b"MZ" + bytes(20), "run.exe is not one of the allowed file types (pdf, txt, png)."),
])
def test_dangerous_or_mislabelled_uploads_are_refused_at_the_field(app, as_agent, field, name, data, message):
    response = create(as_agent, **{f"{field}__upload": upload(name, data)})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message.replace("(", "").replace(")", "") in page.replace("(", "").replace(")", "")
    assert 'id="field-' + field in page
    assert rows(app) == []


def test_a_refusal_is_in_the_writers_language(app, browser, people):
    from formloom.auth.users import set_language
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.agent, "zh")
    browser.login("agent@example.com")
    response = create(browser, photo__upload=upload("a.png", ZIP))
    assert response.status_code == 422
    assert "a.png 不是真正的 .png 文件：文件内容与文件名不符。" in response.get_data(as_text=True)


def test_a_path_in_the_file_name_is_only_a_name(app, as_agent, tmp_path):
    response = create(as_agent, docs__upload=upload("../../../etc/passwd.pdf", PDF))
    [item] = record_of(app, int(response.location.rsplit("/", 1)[-1])).data["docs"]
    assert item["name"] == "passwd.pdf"
    stored = [p for p in (tmp_path / "instance" / "files").rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [item["id"]]
    assert not (tmp_path / "etc").exists()


def test_another_rep_who_cannot_read_the_record_gets_404(app, browser, saved):
    [doc] = saved.data["docs"]
    browser.logout()
    browser.login("other@example.com")
    assert browser.get(file_url(doc)).status_code == 404
    assert browser.get("/apps/desk/files/" + "0" * 32).status_code == 404
    assert browser.get("/apps/desk/files/..%2f..%2fsecret_key").status_code == 404


def test_a_file_id_cannot_be_borrowed_onto_another_record(app, api_as, saved):
    [doc] = saved.data["docs"]
    other = api_as("other_agent")
    response = other.post("/api/v1/desk/case", json={"data": {"subject": "mine now", "docs": [doc]}})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["path"].startswith("/docs")


def test_a_hidden_field_hides_its_files(app, browser, saved):
    [doc], [photo] = saved.data["docs"], saved.data["photo"]
    browser.logout()
    browser.login("viewer@example.com")
    assert browser.get(file_url(doc)).status_code == 200
    assert browser.get(file_url(photo)).status_code == 404
    assert file_url(photo) not in browser.get(f"/apps/desk/case/{saved.id}").get_data(as_text=True)


def test_an_upload_not_yet_on_a_record_is_its_uploaders_alone(app, api_as):
    agent = api_as("agent")
    response = agent.client.post("/api/v1/desk/case/files/docs", headers=agent.headers(),
                                 data={"file": upload("a.pdf", PDF)}, content_type="multipart/form-data")
    assert response.status_code == 201
    [item] = response.get_json()
    content = f"/api/v1/desk/files/{item['id']}/content"
    assert agent.get(content).status_code == 200 and agent.get(content).data == PDF
    assert api_as("viewer").get(content).status_code == 404


def test_the_api_uploads_then_sets_the_value_on_a_record(app, api_as):
    agent = api_as("agent")
    response = agent.client.post("/api/v1/desk/case/files/docs", headers=agent.headers(),
                                 data={"file": [upload("a.pdf", PDF), upload("b.txt", b"hello")]},
                                 content_type="multipart/form-data")
    assert response.status_code == 201
    value = response.get_json()
    assert [v["name"] for v in value] == ["a.pdf", "b.txt"]
    forged = [{**value[0], "name": "evil.html", "type": "text/html"}, {"id": value[1]["id"]}]
    created = agent.post("/api/v1/desk/case", json={"data": {"subject": "by api", "docs": forged}})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data"]["docs"] == value        # name and type are the stored ones
    refused = agent.client.post("/api/v1/desk/case/files/photo", headers=agent.headers(),
                                data={"file": upload("x.png", ZIP)}, content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["code"] == "file_content"
    assert agent.client.post("/api/v1/desk/case/files/subject", headers=agent.headers(),
                             data={"file": upload("a.pdf", PDF)}, content_type="multipart/form-data").status_code == 404


def test_deleting_a_record_soft_deletes_its_files_and_orphans_are_removed(app, api_as, saved, tmp_path):
    from formloom.store import files as stored_files
    [doc] = saved.data["docs"]
    agent, admin = api_as("agent"), api_as("admin")
    assert admin.client.delete(f"/api/v1/desk/case/{saved.id}", headers=admin.headers()).status_code in (200, 204)
    assert all(r["deleted_at"] is not None for r in rows(app))
    assert agent.get(f"/api/v1/desk/files/{doc['id']}/content").status_code == 404
    catalog = app.extensions["formloom.catalog"]
    desk, _version = catalog.get("desk")
    with app.extensions["formloom.db"].read() as conn:
        from datetime import datetime, timezone
        assert stored_files.orphans(conn, {"desk": desk}, [], datetime.now(timezone.utc)) == []   # kept
    Path(tmp_path / "instance" / "files" / "ab").mkdir(parents=True, exist_ok=True)
    (tmp_path / "instance" / "files" / "ab" / ("ab" * 16)).write_bytes(b"stray")
    with app.extensions["formloom.db"].read() as conn:
        found = stored_files.orphans(conn, {"desk": desk}, ["ab" * 16], datetime.now(timezone.utc))
    assert found == ["ab" * 16]


def test_editing_keeps_unticked_files_out_and_adds_new_ones(app, as_agent, saved):
    [doc], [photo] = saved.data["docs"], saved.data["photo"]
    edit = f"/apps/desk/case/{saved.id}/edit"
    page = as_agent.get(edit).get_data(as_text=True)
    assert "Quote.pdf" in page and 'name="docs__upload"' in page and 'enctype="multipart/form-data"' in page
    import json
    response = as_agent.post(edit, {"subject": "Printer on fire", "_version": str(saved.version),
                                    "photo": json.dumps(photo),                       # the photo is kept, the PDF unticked
                                    "docs__upload": upload("more.txt", b"second thoughts")},
                             token_from=edit, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    after = record_of(app, saved.id)
    assert after.data["photo"] == [photo]
    assert [d["name"] for d in after.data["docs"]] == ["more.txt"]
    assert doc["id"] not in {d["id"] for d in after.data["docs"]}


def test_an_image_field_refuses_a_decompression_bomb_in_the_writers_language(app, browser, people):
    from formloom.auth.users import set_language
    from tests.files.test_thumbnails import bomb_png
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.agent, "zh")
    browser.login("agent@example.com")
    response = create(browser, photo__upload=upload("bomb.png", bomb_png(60_000, 60_000)))
    assert response.status_code == 422
    assert "bomb.png 图片过大，无法处理（3,600 百万像素）；上限为 40 百万像素。" in response.get_data(as_text=True)
    assert rows(app) == []


def test_an_image_field_keeps_a_thumbnail_beside_the_image(app, as_agent, saved):
    [row] = [r for r in rows(app) if r["field_key"] == "photo"]
    answer = as_agent.get(file_url(saved.data["photo"][0]) + "/thumbnail")
    assert answer.status_code == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert row["thumb_id"] is None and answer.data == PNG         # undecodable: the original stands in
