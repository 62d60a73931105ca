"""Issue 13's walk, end to end on the shipped CRM in a real Chromium, the server's clock
driven by time-machine (the server runs in this process). An admin (English) adds a
stage with a required field and a related-record requirement (via picked from the
related entity's fields), adds the rule "no follow-up for 3 days -> notify the owner",
dry-runs it and sees the deal it would remind, and publishes; a sales rep (Chinese)
drags the deal into the new stage on the kanban and gets the missing-field dialog;
three days on, after one worker pass, the reminder is in the rep's bell.

What only the stage and rule tests cover (removing a stage, rule history, the phone
views) stays there. Screenshots go to FORMLOOM_SCREENSHOTS (docs/designer)."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.automation import Settings, run_worker_once
from formloom.store.records import create_record

from .conftest import page  # noqa: F401
from .test_designer import _screenshot_folder, shot  # noqa: F401  (the fixture too)
from .test_kanban import drag
from .test_workflow_designer_rules import PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, REP = "walk-admin@example.com", "walk-rep@example.com"
START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)          # Monday 09:00 in Shanghai
RULES = "/apps/crm/design/workflows/opportunity_pipeline/rules"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


@pytest.fixture
def crm(database_url, tmp_path, clock):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "walk",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    app_def, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    with db.write() as conn:
        create_user(conn, ADMIN, PASSWORD, name="Dana Admin", roles=[("crm", "admin")])
        rep = create_user(conn, REP, PASSWORD, name="李伟", language="zh", roles=[("crm", "sales")])
        customer = create_record(conn, app_def, app_def.entity("customer"), {"name": "Lumen Data Analytics"},
                                 actor_id=rep, version_id=version_id).id
        deal = create_record(conn, app_def, app_def.entity("opportunity"),
                             {"name": "Lumen BI rollout", "customer": customer}, actor_id=rep, owner_id=rep,
                             version_id=version_id, stage="negotiation").id
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", flask_app, deal
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def test_admin_builds_a_gated_stage_and_a_reminder_and_the_rep_meets_both(crm, page, clock):  # noqa: F811
    from playwright.sync_api import expect

    base, flask_app, deal = crm
    login(page, base, ADMIN)

    # a stage with a required field and a related-record requirement
    page.goto(f"{base}/apps/crm/design/workflows/opportunity_pipeline")
    page.click("#stages details summary")
    page.fill("#add-stage input[name=label-en]", "Technical review")
    page.fill("#add-stage input[name=label-zh]", "技术评审")
    page.click("#add-stage button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Technical review")
    page.wait_for_load_state()          # the heading is parsed before the deferred script that reloads on change
    with page.expect_navigation():
        page.select_option("select[name=g-related-0-entity]", "follow_up")       # the form reloads with its fields
    via = page.locator("select[name=g-related-0-via]")
    expect(via).to_have_value("opportunity")                                 # the one field that links here
    assert via.locator("option").all_inner_texts() == ["—", "Opportunity"]
    page.check("#gate-require input[value=expected_close]")
    page.fill("input[name=g-related-0-min]", "1")
    page.fill("input[name=g-related-0-message-en]", "Log a technical visit first")
    page.fill("input[name=g-related-0-message-zh]", "请先记录一次技术拜访")
    page.click("#gate button[type=submit]:not([value])")
    expect(page.locator("#gate-impact")).to_contain_text("1 record now in earlier stages would be blocked")
    shot(page, "walk-1-stage-gate")

    # the rule: no follow-up for 3 days -> notify the owner
    page.goto(f"{base}{RULES}/new")
    page.select_option("#trigger-type", "no_related")
    with page.expect_navigation():
        page.click("button[value=refresh]")
    with page.expect_navigation():
        page.select_option("select[name=t-entity]", "follow_up")                 # the form reloads with its fields
    expect(page.locator("select[name=t-via]")).to_have_value("opportunity")
    page.fill("input[name=label-en]", "No follow-up for 3 days")
    page.fill("input[name=label-zh]", "3天未跟进")
    page.fill("#rule-key", "no_follow_up_3d")
    page.fill("input[name=t-for-n]", "3")
    page.select_option("select[name=t-for-unit]", "days")
    page.check("input[name=a0-to][value=owner]")
    page.fill("textarea[name=a0-message-en]", "No follow-up on {{ record.name }} for 3 days")
    page.fill("textarea[name=a0-message-zh]", "{{ record.name }} 已3天没有跟进")
    shot(page, "walk-2-rule")
    page.click("button[value=save]")
    expect(page.locator("#rule-no_follow_up_3d")).to_contain_text("No follow-up for 3 days")

    # dry-run: the deal, when, to whom, what (each person's message in their language)
    page.click("#rule-no_follow_up_3d a:has-text('Dry-run')")
    row = page.locator(f"#dry-run-acts tr[data-record='{deal}']")
    expect(row).to_contain_text("Lumen BI rollout")
    expect(row).to_contain_text("5 Mar 2026")
    expect(row).to_contain_text("李伟")
    expect(row).to_contain_text("Lumen BI rollout 已3天没有跟进")               # in the rep's language
    shot(page, "walk-3-dry-run")

    # publish: the preview counts the new reminder and the stricter gate
    page.goto(f"{base}/apps/crm/design")
    expect(page.locator("#reminder-impact tr[data-rule=no_follow_up_3d]")).to_be_visible()
    shot(page, "walk-4-publish")
    page.click("#publish button.primary")
    page.wait_for_url(f"{base}/apps/crm/design/versions*")
    assert page.console_problems == []
    page.context.clear_cookies()

    # the rep (Chinese) drags the deal into the new stage: the dialog asks for what is missing
    login(page, base, REP)
    page.set_viewport_size({"width": 2200, "height": 900})                   # every column on screen
    page.goto(f"{base}/apps/crm/opportunity/board")
    card = page.locator(f"#card-{deal}")
    drag(page, card.locator(".kanban-card-title"), page.locator("#cards-technical_review"))
    dialog = page.locator("dialog.gate-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator('.gate-failure[data-field="expected_close"]')).to_be_visible()
    expect(dialog).to_contain_text("请先记录一次技术拜访")
    shot(page, "walk-5-kanban-gate-zh")

    # three days later, one worker pass: the reminder is in the rep's bell, in Chinese
    clock.move_to(START + timedelta(days=3, minutes=1))
    run_worker_once(flask_app.extensions["formloom.db"], flask_app.extensions["formloom.catalog"],
                    settings=Settings.from_mapping(flask_app.config))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.clear_cookies()                                              # the session expired meanwhile
    login(page, base, REP)
    page.goto(f"{base}/apps/crm/")
    page.locator("#bell").click()
    expect(page.locator(".notifications")).to_contain_text("Lumen BI rollout 已3天没有跟进")
    shot(page, "walk-6-bell-zh")
    assert page.console_problems == []
