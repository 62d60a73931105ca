"""The rule designer in a real Chromium, with the server's clock driven by time-machine
(the server runs in this process): an admin adds the rule "no note for 3 days →
notify the owner" from the designer, dry-runs it and sees the record it would
remind with the message, publishes (the preview counts the reminder it creates);
three days later, one worker pass after, the rule's history shows the firing. The
same pages are looked at by an administrator reading Chinese, and on a phone.
Screenshots go to FORMLOOM_SCREENSHOTS (docs/designer for the docs page)."""
from __future__ import annotations

import copy
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.automation import Settings, run_worker_once
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..web.desk import CASE_FLOW, desk_app
from .conftest import page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, AGENT, ZH_ADMIN, PASSWORD = "rules-admin@example.com", "rules-agent@example.com", "rules-zh@example.com", "rules-pass-1"
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)          # Monday 09:00 in Shanghai; the cases are a day old
SHOTS: dict[str, Path] = {}

NOTE = {"key": "note", "label": {"en": "Note", "zh": "备注"}, "title": "text",
        "permissions": {"agent": {"create": True, "read": "all", "update": "own"}},
        "fields": [{"key": "text", "type": "text", "label": {"en": "Text", "zh": "内容"}, "required": True},
                   {"key": "case", "type": "reference", "entity": "case", "label": {"en": "Case", "zh": "工单"},
                    "required": True}]}


@pytest.fixture(autouse=True)
def _screenshot_folder(tmp_path):
    SHOTS["dir"] = Path(os.environ.get("FORMLOOM_SCREENSHOTS") or tmp_path / "shots")


@pytest.fixture
def clock():
    with time_machine.travel(START - timedelta(days=1), tick=True) as traveller:
        yield traveller


@pytest.fixture
def live_server(database_url, tmp_path, clock):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    app_doc = desk_app()
    app_doc["entities"].append(copy.deepcopy(NOTE))
    install_documents(db, app_doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    desk = flask_app.extensions["formloom.catalog"].app("desk")
    with db.write() as conn:
        create_user(conn, ADMIN, PASSWORD, name="Dana Designer", roles=[("desk", "admin")])
        agent = create_user(conn, AGENT, PASSWORD, name="Alex Agent", roles=[("desk", "agent")])
        create_user(conn, ZH_ADMIN, PASSWORD, name="管理员", language="zh", roles=[("desk", "admin")])
        quiet = create_record(conn, desk, desk.entity("case"), {"subject": "Printer jam"}, actor_id=agent,
                              owner_id=agent)
        noted = create_record(conn, desk, desk.entity("case"), {"subject": "Scanner offline"}, actor_id=agent,
                              owner_id=agent)
    clock.move_to(START)                                           # a day later, a note on one case
    with db.write() as conn:
        create_record(conn, desk, desk.entity("note"), {"text": "Called back", "case": noted.id}, actor_id=agent)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", flask_app, {"quiet": quiet.id, "noted": noted.id}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def login(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{base}/")


def shot(page, name: str) -> None:
    SHOTS["dir"].mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS["dir"] / f"{name}.png"), full_page=True)


def test_admin_adds_a_reminder_rule_dry_runs_it_publishes_and_it_fires(live_server, page, clock):
    from playwright.sync_api import expect

    base, flask_app, ids = live_server
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design")
    page.click("#workflow-rules a:has-text('Rules')")
    expect(page.locator("#no-rules")).to_be_visible()
    page.click("a:has-text('New rule')")

    # the trigger picker comes from the registry; its form from the trigger's settings
    page.select_option("#trigger-type", "no_related")
    with page.expect_navigation():
        page.click("button[value=refresh]")
    page.fill("input[name=label-en]", "No note for 3 days")
    page.fill("input[name=label-zh]", "3天无备注")
    page.fill("#rule-key", "no_note_3d")
    with page.expect_navigation():
        page.select_option("select[name=t-entity]", "note")                     # the form reloads with its fields
    expect(page.locator("select[name=t-via]")).to_have_value("case")
    page.fill("input[name=t-for-n]", "3")
    page.select_option("select[name=t-for-unit]", "days")
    page.check("input[name=a0-to][value=owner]")
    page.fill("textarea[name=a0-message-en]", "No note on {{ record.subject }} for 3 days")
    page.select_option("#preview-record", str(ids["quiet"]))
    page.click("button[value=preview]")
    expect(page.locator("#previews")).to_contain_text("No note on Printer jam for 3 days")
    shot(page, "10-rule-editor")
    page.click("button[value=save]")
    expect(page.locator("#rule-no_note_3d")).to_contain_text("No note for 3 days")
    shot(page, "11-rules")

    # dry-run: who would be reminded, when, with what; and who not
    page.click("#rule-no_note_3d a:has-text('Dry-run')")
    acts = page.locator("#dry-run-acts")
    expect(acts.locator(f"tr[data-record='{ids['quiet']}']")).to_contain_text("Printer jam")
    expect(acts).to_contain_text("No note on Printer jam for 3 days")
    expect(acts).to_contain_text("Alex Agent")
    expect(acts.locator(f"tr[data-record='{ids['quiet']}']")).to_contain_text("4 Mar 2026")
    expect(acts.locator(f"tr[data-record='{ids['noted']}']")).to_contain_text("5 Mar 2026")   # its note restarted the clock
    shot(page, "12-dry-run")

    # the publish preview counts the reminders; publish
    page.goto(f"{base}/apps/desk/design")
    row = page.locator("#reminder-impact tr[data-rule=no_note_3d]")
    expect(row.locator("td").nth(1)).to_have_text("2")
    shot(page, "13-reminder-impact")
    page.click("#publish button.primary")
    page.wait_for_url(f"{base}/apps/desk/design/versions*")
    assert page.console_problems == []

    # three days after the quiet case was opened, one worker pass (the bell: test_workflow_designer_walk.py)
    clock.move_to(START + timedelta(days=2, minutes=1))
    run_worker_once(flask_app.extensions["formloom.db"], flask_app.extensions["formloom.catalog"],
                    settings=Settings.from_mapping(flask_app.config))

    # the history of the rule shows the firing; an administrator reading Chinese; a phone
    page.context.clear_cookies()
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/rules/no_note_3d/history")
    expect(page.locator("#runs")).to_contain_text("No note on Printer jam for 3 days")
    page.context.clear_cookies()
    login(page, base, ZH_ADMIN)
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/rules/no_note_3d")
    expect(page.locator("h1")).to_contain_text("3天无备注")
    expect(page.locator("button[value=refresh]")).to_have_text("更换触发条件")
    shot(page, "15-rule-editor-zh")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/rules/no_note_3d/dry-run")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    shot(page, "16-phone-dry-run-zh")
    assert page.console_problems == []
