"""The import wizard in a real Chromium, in English and in Chinese: upload a spreadsheet
of CRM opportunities (a bad row among them), check the proposed mapping, read the dry-run
report, import, and watch the progress to the finished import; the page survives a reload.
Screenshots go to FORMLOOM_SHOTS (default: the test's tmp folder)."""
from __future__ import annotations

import csv
import os
import threading
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.records import create_record
from formloom.store.tables import records

from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser
PASSWORD = "rep-pass-12345"


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "import-wizard-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    crm, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        rep = create_user(conn, "rep@example.com", PASSWORD, name="Li Wei", roles=[("crm", "sales")])
        create_user(conn, "zh@example.com", PASSWORD, name="王芳", language="zh", roles=[("crm", "sales")])
        boss = create_user(conn, "boss@example.com", PASSWORD, name="Mia Manager", roles=[("crm", "manager")])
        for name, owner in (("Lumen Data Ltd.", rep), ("Boss Private Co.", boss)):
            create_record(conn, crm, crm.entity("customer"), {"name": name}, actor_id=owner, owner_id=owner,
                          stage="owned", version_id=version_id)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", db
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("FORMLOOM_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def login(page, base, email):
    from playwright.sync_api import expect
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{base}/")


def opportunities(db) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(select(records.c.title).where(records.c.entity_key == "opportunity")).scalars())


def test_wizard_in_english_from_dry_run_report_to_finished_import(live_server, page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect
    base, db = live_server
    file = tmp_path / "deals.csv"
    with file.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([
            ["Opportunity name", "Customer", "Amount", "Source channel", "Expected close", "Colour"],
            ["Lumen rollout", "Lumen Data Ltd.", "¥120,000.00", "Referral", "2026/12/01", "blue"],
            ["Secret deal", "Boss Private Co.", "5", "Referral", "", "red"],
            ["Lumen renewal", "Lumen Data Ltd.", "30000", "Trade show", "2027-01-15", "green"],
        ])
    shot = shots(tmp_path)
    login(page, base, "rep@example.com")
    page.goto(f"{base}/apps/crm/opportunity/")
    page.click("text=Import")
    page.set_input_files("#import-file", str(file))
    page.click("button:has-text('Upload')")
    expect(page.locator("h1")).to_contain_text("Map the columns of deals.csv")
    expect(page.locator("select[data-column='Customer']")).to_have_value("customer")
    expect(page.locator("select[data-column='Source channel']")).to_have_value("source")
    expect(page.locator("#unmapped")).to_contain_text("Colour")
    page.select_option("#import-mode", "skip-bad-rows")
    page.screenshot(path=str(shot / "import-en-1-mapping.png"), full_page=True)
    page.click("button:has-text('Check (dry run)')")
    status = page.locator(".import-status")
    expect(status).to_contain_text("Check finished: nothing was written.", timeout=60_000)
    report = page.locator("table.import-errors")
    expect(report).to_contain_text("There is no Customer called 'Boss Private Co.' that you may read.")
    expect(report.locator("tbody tr")).to_have_count(1)
    expect(page.locator("[data-count=created]")).to_contain_text("2 to create")
    page.screenshot(path=str(shot / "import-en-2-dry-run.png"), full_page=True)
    assert opportunities(db) == []
    dry_run = page.url
    with page.expect_navigation():                          # the import is a job of its own
        page.click("button:has-text('Import now')")
    assert page.url != dry_run
    page.reload()                                           # the job survives a reload
    expect(status).to_contain_text("Import finished.", timeout=60_000)
    expect(page.locator("#import-bar")).to_have_attribute("value", "3")
    expect(page.locator("[data-count=created]")).to_contain_text("2 created")
    expect(page.locator("a:has-text('Download the rows with problems')")).to_be_visible()
    page.screenshot(path=str(shot / "import-en-3-done.png"), full_page=True)
    assert opportunities(db) == ["Lumen renewal", "Lumen rollout"]
    page.click("a:has-text('Go to Opportunities')")
    expect(page.locator("table.records tbody tr")).to_have_count(2)


def test_wizard_in_chinese_with_an_xlsx(live_server, page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect
    base, db = live_server
    book = Workbook()
    sheet = book.active
    sheet.append(["商机名称", "客户", "预计金额", "来源渠道"])
    for i in range(120):
        sheet.append([f"批量商机 {i}", "Boss Private Co." if i == 7 else "Lumen Data Ltd.", 1000 + i, "老客户推荐"])
    file = tmp_path / "商机.xlsx"
    book.save(file)
    shot = shots(tmp_path)
    with db.write() as conn:          # the customer belongs to the Chinese-speaking rep this time
        conn.execute(records.update().where(records.c.title == "Lumen Data Ltd.").values(owner_id=2))
    login(page, base, "zh@example.com")
    page.goto(f"{base}/apps/crm/opportunity/import")
    page.set_input_files("#import-file", str(file))
    page.click("button:has-text('上传')")
    expect(page.locator("select[data-column='客户']")).to_have_value("customer")
    page.screenshot(path=str(shot / "import-zh-1-mapping.png"), full_page=True)
    page.click("button:has-text('检查（试运行）')")
    status = page.locator(".import-status")
    expect(status).to_contain_text("检查完成：没有写入任何数据。", timeout=60_000)
    expect(page.locator("table.import-errors")).to_contain_text("没有你可查看的名为 'Boss Private Co.' 的客户。")
    expect(page.locator("[data-count=created]")).to_contain_text("将新建 119 条")
    page.screenshot(path=str(shot / "import-zh-2-dry-run.png"), full_page=True)
    page.click("a:has-text('修改对应关系')")
    page.select_option("#import-mode", "skip-bad-rows")
    page.click("button:has-text('立即导入')")
    expect(status).to_contain_text("导入完成。", timeout=90_000)
    expect(page.locator("#import-bar")).to_have_attribute("value", "120")
    expect(page.locator("[data-count=created]")).to_contain_text("已新建 119 条")
    page.screenshot(path=str(shot / "import-zh-3-done.png"), full_page=True)
    assert len(opportunities(db)) == 119
