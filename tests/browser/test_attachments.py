"""Attachments in a real Chromium (issue 17): a rep attaches a PDF and a photo to a new
case through the form, sees the photo's thumbnail on the record page and on the board
card, and opens the PDF; a rep of the same app who may not read the case gets 404 for
the file. The rep works in Chinese; a refused upload (a zip renamed .png) is explained
at the field in Chinese. Then a rep mentions a colleague in a comment carrying a file
and a photo; the colleague, on a phone, sees it in the bell, opens the record and the
file; the other rep gets 404 for it. The app is the generic desk app of
tests/web/desk.py (not the CRM). Screenshots land in FORMLOOM_SCREENSHOTS when it is set."""
from __future__ import annotations

import copy
import threading

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents

from ..web.desk import CASE_FLOW, desk_app
from .htmx import swapped
from .test_contract_approval import PASSWORD, login, shot
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

REP, OTHER, COLLEAGUE = "rep@example.com", "other@example.com", "vic@example.com"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(width: int = 160, height: int = 100) -> bytes:
    """A real PNG (a blue-green gradient) the browser can draw, made without an image library."""
    import struct
    import zlib
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (30, 90 + x * 150 // width, 200 - y))
                    for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = png()


def photo(width: int, height: int) -> bytes:
    """A large picture (a sky over a field) for the server to make a thumbnail of."""
    import io

    from PIL import Image, ImageDraw
    image = Image.new("RGB", (width, height), (90, 160, 230))
    ImageDraw.Draw(image).rectangle((0, height * 2 // 3, width, height), fill=(60, 150, 70))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def live(database_url, tmp_path):
    document = desk_app()
    case = next(e for e in document["entities"] if e["key"] == "case")
    case["fields"] += [
        {"key": "docs", "type": "file", "multiple": True, "accept": ["pdf", "png", "jpg"],
         "label": {"en": "Documents", "zh": "文档"}},
        {"key": "photo", "type": "image", "label": {"en": "Photo", "zh": "照片"}},
    ]
    flow = {**copy.deepcopy(CASE_FLOW), "kanban": {"card_fields": ["photo", "priority"]}}
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "attachments",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    install_documents(db, document, {"case_flow": flow})
    with db.write() as conn:
        create_user(conn, REP, PASSWORD, name="李伟", language="zh", roles=[("desk", "agent")])
        create_user(conn, OTHER, PASSWORD, name="Olga Other", roles=[("desk", "agent")])
        create_user(conn, COLLEAGUE, PASSWORD, name="Vic Viewer", roles=[("desk", "viewer")])
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (tmp_path / "quote.pdf").write_bytes(PDF)
    (tmp_path / "site.png").write_bytes(PNG)
    (tmp_path / "archive.png").write_bytes(b"PK\x03\x04" + bytes(40))
    (tmp_path / "photo.png").write_bytes(photo(1200, 800))
    try:
        yield f"http://127.0.0.1:{server.server_port}", tmp_path
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def test_a_rep_attaches_a_pdf_and_a_photo_and_another_rep_cannot_open_them(live, page):  # noqa: F811
    from playwright.sync_api import expect

    base, folder = live
    login(page, base, REP)

    # 1. a zip renamed .png is refused at the field, in Chinese; nothing else is lost
    page.goto(f"{base}/apps/desk/case/new")
    page.fill("input[name=subject]", "打印机故障")
    page.set_input_files("input[name=photo__upload]", str(folder / "archive.png"))
    page.click("button.primary")
    expect(page.locator("#field-photo .error-text")).to_have_text(
        "archive.png 不是真正的 .png 文件：文件内容与文件名不符。")
    expect(page.locator("input[name=subject]")).to_have_value("打印机故障")
    shot(page, "attachments-1-refused-zh")

    # 2. the PDF and a real photo are taken; the record page shows a link and a thumbnail
    page.set_input_files("input[name=docs__upload]", str(folder / "quote.pdf"))
    page.set_input_files("input[name=photo__upload]", str(folder / "site.png"))
    page.click("button.primary")
    expect(page.locator("dl").get_by_role("link", name="quote.pdf")).to_be_visible()
    thumb = page.locator("dl a.file-thumb img[alt='site.png']")
    expect(thumb).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", thumb.element_handle()) == 160     # the image really loaded
    assert thumb.get_attribute("src").endswith("/thumbnail")                          # the server's thumbnail
    record_url = page.url
    shot(page, "attachments-2-detail-zh")

    # 3. the PDF opens (inline, as a PDF), the photo is on the board card
    pdf_href = page.locator("dl").get_by_role("link", name="quote.pdf").get_attribute("href")
    answer = page.request.get(base + pdf_href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.body() == PDF
    page.goto(f"{base}/apps/desk/case/board")
    card_thumb = page.locator(".kanban-card a.file-thumb img[alt='site.png']")
    expect(card_thumb).to_be_visible()
    assert card_thumb.get_attribute("src").endswith("/thumbnail")
    shot(page, "attachments-3-board-zh")

    # 4. on a phone the record page still shows the thumbnail within the screen
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(record_url)
    box = page.locator("dl a.file-thumb img").bounding_box()
    assert box["x"] + box["width"] <= 375
    shot(page, "attachments-4-detail-375-zh")

    # 5. another rep, who may read only their own cases, gets 404 for the record and its files
    img_href = page.locator("dl a.file-thumb").first.get_attribute("href")
    login(page, base, OTHER)
    assert page.request.get(base + pdf_href).status == 404
    assert page.request.get(base + img_href).status == 404
    assert page.request.get(record_url).status == 404


def test_a_rep_mentions_a_colleague_in_a_comment_with_files_who_opens_them_from_the_bell(live, page):  # noqa: F811
    from playwright.sync_api import expect

    base, folder = live
    login(page, base, REP)
    page.goto(f"{base}/apps/desk/case/new")
    page.fill("input[name=subject]", "空调漏水")
    with page.expect_navigation():
        page.click("button.primary")
    record_url = page.url

    # 1. the rep (in Chinese) writes a comment mentioning Vic, with a PDF and a large photo
    page.fill("#comment-body", "报价单和现场照片见附件 @Vic Viewer")
    page.set_input_files("#comment-files", [str(folder / "quote.pdf"), str(folder / "photo.png")])
    with swapped(page, "#activity"):
        page.get_by_role("button", name="发表评论").click()
    comment = page.locator(".activity-comment").first
    expect(comment.locator(".comment-body")).to_have_text("报价单和现场照片见附件 @Vic Viewer")
    expect(comment.get_by_role("link", name="quote.pdf")).to_be_visible()
    thumb = comment.locator("a.file-thumb img[alt='photo.png']")
    expect(thumb).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", thumb.element_handle()) == 320     # the thumbnail, not 1200 px
    page.get_by_role("link", name="附件", exact=True).click()
    expect(page.locator("#activity [data-kind]")).to_have_count(1)
    shot(page, "attachments-5-comment-zh")

    # 2. Vic, on a phone, sees the mention in the bell and opens the record from it
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, base, COLLEAGUE)
    expect(page.locator("#bell .badge")).to_have_text("1")
    page.locator("#bell").click()
    with page.expect_navigation():
        page.get_by_role("link", name="李伟 mentioned you on 空调漏水").click()
    expect(page).to_have_url(record_url)
    comment = page.locator(".activity-comment").first
    expect(comment.get_by_role("link", name="quote.pdf")).to_be_visible()
    box = comment.locator("a.file-thumb img").bounding_box()
    assert box["x"] + box["width"] <= 375
    shot(page, "attachments-6-colleague-375")

    # 3. Vic opens the PDF (a new tab, served inline as a PDF)
    href = comment.get_by_role("link", name="quote.pdf").get_attribute("href")
    with page.expect_popup() as opened:
        comment.get_by_role("link", name="quote.pdf").click()
    opened.value.close()
    answer = page.request.get(base + href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf" and answer.body() == PDF

    # 4. the other rep, who may not read the case, gets the same 404 as for an unknown file
    login(page, base, OTHER)
    assert page.request.get(base + href).status == 404
    assert page.request.get(f"{base}/apps/desk/files/{'0' * 32}").status == 404
    assert page.console_problems == []
