"""The workflow designer in a real Chromium: an admin opens Workflows from the
designer, adds a stage with a required field and a related-record requirement
(the gate form generated from the registry says how many records it would
block), removes a stage that holds a record and sends it to another stage, sees
the impact and publishes; the moved record's history says why it moved, naming
the removed stage; a Chinese-speaking admin reads the stage page in Chinese,
and the screens fit a phone. (A sales rep meeting the new gate on the kanban is
walked in test_workflow_designer_walk.py.) Screenshots go to
FORMLOOM_SCREENSHOTS (docs/designer for the docs page)."""
from __future__ import annotations

import copy
import threading

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..design.test_workflow_edits import FLOW, app_doc
from .conftest import page  # noqa: F401
from .test_designer import PASSWORD, _screenshot_folder, login, logout, shot  # noqa: F401  (the fixture too)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, ADMIN_ZH, AGENT = "wf-admin@example.com", "wf-admin-zh@example.com", "wf-agent@example.com"


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "wf-browser-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    install_documents(db, app_doc(), {"case_flow": copy.deepcopy(FLOW)})
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("desk")
    ids = {}
    with db.write() as conn:
        create_user(conn, ADMIN, PASSWORD, name="Dana Designer", roles=[("desk", "admin")])
        create_user(conn, ADMIN_ZH, PASSWORD, name="Wang Admin", language="zh", roles=[("desk", "admin")])
        agent = create_user(conn, AGENT, PASSWORD, name="Alex Agent", roles=[("desk", "agent")])
        for subject, stage in (("Drag me", "open"), ("Holding on", "working")):
            ids[subject] = create_record(conn, app_def, app_def.entity("case"), {"subject": subject},
                                         actor_id=agent, version_id=version_id, stage=stage).id
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def test_admin_adds_a_gated_stage_removes_one_and_publishes(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base, ids = live_server
    login(page, base, ADMIN)
    page.goto(f"{base}/apps/desk/design")
    page.click("nav.design-tabs a:has-text('Workflows')")
    page.click("#workflow-case_flow a.title-link")
    expect(page.locator(".design-path .path-step")).to_have_count(3)
    expect(page.locator("#rules-link")).to_have_attribute("href", "/apps/desk/design/workflows/case_flow/rules")

    # a new stage, with a required field and a related-record requirement
    page.click("#stages details summary")
    page.fill("#add-stage input[name=label-en]", "Review")
    page.fill("#add-stage input[name=label-zh]", "复核")
    page.click("#add-stage button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Review")
    page.fill("#rot-amount", "3")
    page.click("#stage-settings button[type=submit]")
    expect(page.locator("#rot-amount")).to_have_value("3")
    page.check("#gate-require input[value=due]")
    with page.expect_navigation():
        page.select_option("select[name=g-related-0-entity]", "visit")           # the form reloads with its fields
    expect(page.locator("select[name=g-related-0-via]")).to_have_value("case")
    page.fill("input[name=g-related-0-min]", "1")
    page.fill("input[name=g-related-0-message-en]", "Log a visit first")
    page.fill("input[name=g-related-0-message-zh]", "请先记录一次拜访")
    page.click("#gate button[type=submit]:not([value])")
    expect(page.locator("#gate-impact")).to_contain_text("2 records now in earlier stages would be blocked")
    expect(page.locator("#gate-examples")).to_contain_text("Drag me")
    shot(page, "9-stage-gate")

    # a stage that holds a record: removing it asks where the record goes
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/stages/working")
    expect(page.locator("#remove")).to_contain_text("1 record is in this stage now.")
    page.click("#remove button[type=submit]")
    expect(page.locator("#remove-error")).to_contain_text("choose the stage it goes to")
    page.select_option("#move-to", "open")
    page.click("#remove button[type=submit]")
    expect(page.locator("#stage-moves")).to_contain_text("working")
    expect(page.locator(".design-path .path-step")).to_have_count(3)
    shot(page, "10-workflow")

    # impact, then publish
    page.click("nav.design-tabs a >> nth=0")
    expect(page.locator("#impact")).to_contain_text("records move to Open")
    expect(page.locator("#impact")).to_contain_text("gets stricter")
    shot(page, "11-workflow-impact")
    page.click("#publish button.primary")
    expect(page.locator("#published")).to_contain_text("Version 2")
    page.goto(f"{base}/apps/desk/case/{ids['Holding on']}")
    expect(page.locator("body")).to_contain_text("Stage Working (working) was removed from the pipeline")
    logout(page)

    # in Chinese, and on a phone
    login(page, base, ADMIN_ZH)
    page.goto(f"{base}/apps/desk/design/workflows/case_flow/stages/review")
    expect(page.locator("#gate-head")).to_contain_text("门禁")
    expect(page.locator("#settings-head")).to_contain_text("阶段设置")
    shot(page, "13-stage-zh")
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/apps/desk/design/workflows", "/apps/desk/design/workflows/case_flow",
                 "/apps/desk/design/workflows/case_flow/stages/review"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    shot(page, "14-phone-stage")
    assert page.console_problems == []
