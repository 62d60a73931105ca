"""Free attachments on the timeline: a comment carries files, checked like a file
field's, served (with an image's thumbnail) exactly to the record's readers, listed in
the timeline and the API feed under "attachment", and hidden when the comment is
deleted, which leaves a trace naming them."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from formloom.files.storage import LocalStorage
from formloom.store.tables import audit, comments, files, notifications

from .api_client import api_as, token_for  # noqa: F401

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ZIP = b"PK\x03\x04" + bytes(40)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def photo(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def case(make_record):
    return make_record("case", {"subject": "Printer on fire"})


def url(case, tail: str = "") -> str:
    return f"/apps/desk/case/{case.id}{tail}"


def rows(app, table, *where):
    with app.extensions["formloom.db"].read() as conn:
        return [r._mapping for r in conn.execute(select(table).where(*where).order_by(table.c.created_at if "created_at" in table.c else table.c.id))]


def stored(app) -> list[str]:
    return LocalStorage(Path(app.config["INSTANCE"]) / "files").ids()


def post(browser, case, body: str, *uploads: tuple[str, bytes], **kw):
    data = {"body": body, "files": [(io.BytesIO(b), n) for n, b in uploads]}
    return browser.post(url(case, "/comments"), data, token_from=url(case), content_type="multipart/form-data", **kw)


def served(browser, file_id: str, tail: str = ""):
    return browser.get(f"/apps/desk/files/{file_id}{tail}")


@pytest.fixture
def posted(app, as_agent, case):
    """The agent's comment mentioning the admin, with a quote and a site photo."""
    response = post(as_agent, case, "@Ada Admin quote and photo attached", ("quote.pdf", PDF), ("site.jpg", photo()))
    assert response.status_code == 302, response.get_data(as_text=True)
    return {r["name"]: r for r in rows(app, files)}


def test_a_comment_carries_files_the_readers_open(app, as_agent, browser, case, posted):
    [note] = rows(app, comments)
    assert {r["comment_id"] for r in posted.values()} == {note["id"]}
    assert {r["record_id"] for r in posted.values()} == {case.id}
    page = as_agent.get(url(case)).get_data(as_text=True)
    pdf, jpg = posted["quote.pdf"], posted["site.jpg"]
    assert f'href="/apps/desk/files/{pdf["id"]}"' in page
    assert f'<img src="/apps/desk/files/{jpg["id"]}/thumbnail" alt="site.jpg"' in page
    as_agent.logout()
    browser.login("admin@example.com")
    answer = served(browser, pdf["id"])
    assert answer.status_code == 200 and answer.data == PDF
    assert answer.headers["Content-Type"] == "application/pdf" and answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_mention_tells_the_reader_the_file_names_and_no_one_else(app, people, posted):
    [note] = rows(app, notifications, notifications.c.idempotency_key.like("comment:%"))
    assert note["user_id"] == people.admin
    assert "📎 quote.pdf" in note["body"] and "📎 site.jpg" in note["body"]


def test_a_mention_of_someone_who_cannot_read_the_record_tells_them_nothing(app, as_agent, case, people):
    post(as_agent, case, "@Olga Other see the attached", ("quote.pdf", PDF))
    assert rows(app, notifications, notifications.c.user_id == people.other_agent) == []
    [note] = rows(app, comments)
    assert note["mentions"] == []


def test_an_image_gets_a_bounded_thumbnail_served_under_the_same_check(as_agent, posted):
    answer = served(as_agent, posted["site.jpg"]["id"], "/thumbnail")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(answer.data)) as thumb:
        assert thumb.size == (320, 240)
    assert served(as_agent, posted["quote.pdf"]["id"], "/thumbnail").status_code == 404    # no picture of a PDF


def test_another_rep_gets_the_same_404_for_a_forbidden_file_and_an_unknown_one(app, browser, as_agent, posted):
    as_agent.logout()
    browser.login("other@example.com")
    forbidden = served(browser, posted["quote.pdf"]["id"])
    unknown = served(browser, "0" * 32)
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.get_data(as_text=True).replace(posted["quote.pdf"]["id"], "0" * 32) == unknown.get_data(
        as_text=True)
    assert served(browser, posted["site.jpg"]["id"], "/thumbnail").status_code == 404


def test_a_viewer_who_may_read_the_record_opens_its_attachments(browser, as_agent, posted):
    as_agent.logout()
    browser.login("viewer@example.com")
    assert served(browser, posted["quote.pdf"]["id"]).status_code == 200


def test_the_api_feed_lists_attachments_and_serves_them_to_readers_only(app, api_as, case, posted):
    agent, other = api_as("agent"), api_as("other_agent")
    post_plain = agent.client.get(f"/api/v1/desk/case/{case.id}/activity?kind=attachment", headers=agent.headers())
    [item] = post_plain.get_json()["items"]
    assert item["kind"] == "comment"
    assert [(f["name"], f["type"], f["thumbnail"]) for f in item["files"]] == [
        ("quote.pdf", "application/pdf", False), ("site.jpg", "image/jpeg", True)]
    pdf = posted["quote.pdf"]["id"]
    ok = agent.client.get(f"/api/v1/desk/files/{pdf}/content", headers=agent.headers())
    assert ok.status_code == 200 and ok.data == PDF
    forbidden = other.client.get(f"/api/v1/desk/files/{pdf}/content", headers=other.headers())
    unknown = other.client.get(f"/api/v1/desk/files/{'f' * 32}/content", headers=other.headers())
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.get_json() == unknown.get_json()
    jpg = posted["site.jpg"]["id"]
    thumb = agent.client.get(f"/api/v1/desk/files/{jpg}/thumbnail", headers=agent.headers())
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert other.client.get(f"/api/v1/desk/files/{jpg}/thumbnail", headers=other.headers()).status_code == 404


def test_the_attachment_filter_shows_only_comments_with_files(as_agent, case, posted):
    post(as_agent, case, "no files here")
    page = as_agent.get(url(case, "/activity?kind=attachment")).get_data(as_text=True)
    assert "quote and photo attached" in page and "no files here" not in page
    assert "no files here" in as_agent.get(url(case, "/activity?kind=comment")).get_data(as_text=True)


def test_deleting_the_comment_hides_its_files_and_leaves_a_trace(app, as_agent, browser, case, posted):
    [note] = rows(app, comments)
    assert as_agent.post(url(case, f"/comments/{note['id']}/delete"), {}, token_from=url(case)).status_code == 302
    [trace] = rows(app, audit, audit.c.action == "comment_delete")
    assert trace["changes"]["$comment"][0]["files"] == ["quote.pdf", "site.jpg"]
    assert served(as_agent, posted["quote.pdf"]["id"]).status_code == 404
    assert served(as_agent, posted["site.jpg"]["id"], "/thumbnail").status_code == 404
    page = as_agent.get(url(case)).get_data(as_text=True)
    assert "This comment was deleted." in page and "quote.pdf" not in page


def test_a_deleted_comments_files_stay_hidden_when_its_record_is_restored(app, as_agent, case, posted):
    from datetime import datetime, timezone
    from formloom.store import files as stored_files
    [note] = rows(app, comments)
    as_agent.post(url(case, f"/comments/{note['id']}/delete"), {}, token_from=url(case))
    with app.extensions["formloom.db"].write() as conn:
        stored_files.mark_deleted(conn, case.id, datetime.now(timezone.utc))
        stored_files.mark_deleted(conn, case.id, None)
    assert all(r["deleted_at"] is not None for r in rows(app, files))


def test_a_comment_may_be_files_alone_but_not_nothing(app, as_agent, case):
    assert post(as_agent, case, "", ("quote.pdf", PDF)).status_code == 302
    refused = post(as_agent, case, "   ")
    assert refused.status_code == 422 and "Write something before sending the comment." in refused.get_data(
        as_text=True)


@pytest.mark.parametrize("name, data, message", [
    ("archive.png", ZIP, "archive.png is not really a .png file: its content does not match its name."),
    ("logo.svg", SVG, "logo.svg is not one of the allowed file types"),
    ("run.exe", b"MZ" + b"\x90" * 20, "run.exe is not one of the allowed file types"),
])
def test_a_refused_file_refuses_the_comment_and_keeps_nothing(app, as_agent, case, name, data, message):
    response = post(as_agent, case, "see attached", ("ok.pdf", PDF), (name, data))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert 'id="comment-error"' in page and "see attached" in page       # the draft is kept
    assert rows(app, comments) == [] and rows(app, files) == [] and stored(app) == []


def test_a_file_over_the_size_limit_is_refused(app, monkeypatch):
    """The limit is a file field's default (10 MB); checked here on a smaller one, through the same code."""
    from formloom.store import uploads
    from formloom.store.uploads import Limits, UploadRefused, take_file
    monkeypatch.setattr(uploads, "comment_limits", lambda: Limits("files", ("pdf",), 100))
    with app.extensions["formloom.db"].write() as conn, pytest.raises(UploadRefused) as refused:
        take_file(conn, LocalStorage(Path(app.config["INSTANCE"]) / "files"), uploads.comment_limits(),
                  app_key="desk", entity_key="case", field_key="$comment", filename="big.pdf",
                  stream=io.BytesIO(PDF + bytes(200)), user_id=None, lang="en")
    assert refused.value.problem.message == "big.pdf is larger than the limit of 0.0001 MB."
    assert stored(app) == []


def test_a_decompression_bomb_is_refused_with_a_clear_sentence(app, as_agent, case):
    from tests.files.test_thumbnails import bomb_png
    response = post(as_agent, case, "huge", ("bomb.png", bomb_png(50_000, 50_000)))
    assert response.status_code == 422
    assert ("bomb.png is too large a picture to process (2,500 megapixels); the limit is 40 megapixels."
            in response.get_data(as_text=True))
    assert stored(app) == []


def test_more_files_than_a_comment_carries_are_refused(app, as_agent, case):
    response = post(as_agent, case, "many", *[(f"f{i}.pdf", PDF) for i in range(6)])
    assert response.status_code == 422
    assert "A comment can carry at most 5 files (6 were sent)." in response.get_data(as_text=True)
    assert stored(app) == []


def test_a_path_in_the_name_is_only_a_name(app, as_agent, case):
    assert post(as_agent, case, "x", ("../../etc/passwd.pdf", PDF)).status_code == 302
    [row] = rows(app, files)
    assert row["name"] == "passwd.pdf"
    assert not (Path(app.config["INSTANCE"]).parent / "etc").exists()


def test_a_refusal_is_in_the_writers_language(app, browser, case, people):
    from formloom.auth.users import set_language
    with app.extensions["formloom.db"].write() as conn:
        set_language(conn, people.agent, "zh")
    browser.login("agent@example.com")
    response = post(browser, case, "附件", ("a.png", ZIP))
    assert "a.png 不是真正的 .png 文件：文件内容与文件名不符。" in response.get_data(as_text=True)


def test_someone_who_cannot_read_the_record_cannot_attach_to_it(app, browser, case):
    browser.login("other@example.com")
    response = browser.post(url(case, "/comments"), {"body": "x", "files": [(io.BytesIO(PDF), "a.pdf")]},
                            token_from="/", content_type="multipart/form-data")
    assert response.status_code == 404
    assert rows(app, files) == [] and stored(app) == []


def test_comment_files_are_no_orphans_until_their_record_is_gone(app, posted):
    from datetime import datetime, timezone
    from formloom.store import files as stored_files
    catalog = app.extensions["formloom.catalog"]
    desk, _version = catalog.get("desk")
    with app.extensions["formloom.db"].read() as conn:
        assert stored_files.orphans(conn, {"desk": desk}, stored(app), datetime.now(timezone.utc)) == []
