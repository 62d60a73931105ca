"""The import wizard in a real Chromium, in Chinese, as the CRM's admin: a workbook of
contracts whose line items are on a child sheet and whose stage column moves them past
the stage gate, which the admin overrides with a reason; the dry run locates a bad line
by sheet, row and column; the import then writes the lines and the reason to history."""
from __future__ import annotations

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from formloom.auth.users import create_user
from formloom.store.tables import records, stage_history

from .test_import_wizard import PASSWORD, live_server, login, shots  # noqa: F401  (fixtures)
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser
REASON = "旧系统中已签约生效"


def workbook(path):
    book = Workbook()
    main = book.active
    main.title = "合同"
    for row in [["合同名称", "客户", "合同金额", "阶段"],
                ["Lumen 年度服务", "Lumen Data Ltd.", 120000, "执行中"],
                ["Lumen 扩容", "Lumen Data Ltd.", 30000, "执行中"],
                ["Lumen 培训", "Lumen Data Ltd.", 8000, "草稿"]]:
        main.append(row)
    lines = book.create_sheet("产品明细")
    for row in [["合同名称", "产品", "数量", "单价", "小计"],
                ["Lumen 年度服务", "数据平台许可", 10, 10000, 100000],
                ["Lumen 年度服务", "实施服务", 1, 20000, 20000],
                ["Lumen 扩容", "存储扩容", "两", 15000, 30000],
                ["Lumen 培训", "现场培训", 2, 4000, 8000]]:
        lines.append(row)
    book.save(path)
    return path


def contracts(db) -> dict:
    with db.read() as conn:
        return {r.title: r for r in conn.execute(select(records).where(records.c.entity_key == "contract"))}


def test_admin_imports_contracts_with_a_child_sheet_and_a_gate_override_in_chinese(live_server, page,  # noqa: F811
                                                                                  tmp_path):
    from playwright.sync_api import expect
    base, db = live_server
    with db.write() as conn:
        create_user(conn, "admin-zh@example.com", PASSWORD, name="赵管理", language="zh", roles=[("crm", "admin")])
    file = workbook(tmp_path / "合同.xlsx")
    shot = shots(tmp_path)
    login(page, base, "admin-zh@example.com")
    page.goto(f"{base}/apps/crm/contract/import")
    page.set_input_files("#import-file", str(file))
    page.click("button:has-text('上传')")
    expect(page.locator("select[data-column='阶段']")).to_have_value("$stage")
    expect(page.locator("#sheet-lines")).to_have_value("产品明细")        # proposed from the sheet's name
    page.check("#import-override")
    page.fill("#import-override-reason", REASON)
    page.screenshot(path=str(shot / "import-zh-admin-1-mapping.png"), full_page=True)
    page.click("button:has-text('检查（试运行）')")
    status = page.locator(".import-status")
    expect(status).to_contain_text("检查完成：没有写入任何数据。", timeout=60_000)
    bad = page.locator("table.import-errors tbody tr")
    expect(bad).to_have_count(1)
    expect(bad.locator("td").nth(0)).to_have_text("产品明细")
    expect(bad.locator("td").nth(1)).to_have_text("4")
    expect(bad.locator("td").nth(2)).to_have_text("数量")
    expect(bad.locator("td").nth(3)).to_have_text("两")
    page.screenshot(path=str(shot / "import-zh-admin-2-dry-run.png"), full_page=True)
    assert contracts(db) == {}
    page.click("a:has-text('修改对应关系')")
    expect(page.locator("#import-override")).not_to_be_checked()   # an override is asked for each time
    page.check("#import-override")
    page.fill("#import-override-reason", REASON)
    page.select_option("#import-mode", "skip-bad-rows")
    page.click("button:has-text('立即导入')")
    expect(status).to_contain_text("导入完成。", timeout=60_000)
    expect(page.locator("[data-count=created]")).to_contain_text("已新建 2 条")
    expect(page.locator("[data-count=failed]")).to_contain_text("1")
    page.screenshot(path=str(shot / "import-zh-admin-3-done.png"), full_page=True)
    stored = contracts(db)
    assert stored["Lumen 年度服务"].stage == "active" and stored["Lumen 培训"].stage == "draft"
    assert [line["product"] for line in stored["Lumen 年度服务"].data["lines"]] == ["数据平台许可", "实施服务"]
    assert "Lumen 扩容" not in stored
    with db.read() as conn:
        reasons = conn.execute(select(stage_history.c.override_reason).where(
            stage_history.c.record_id == stored["Lumen 年度服务"].id, stage_history.c.to_stage == "active")).all()
    assert [r.override_reason for r in reasons] == [REASON]
