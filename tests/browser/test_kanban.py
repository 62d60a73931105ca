"""A person on the kanban board in a real Chromium: drag a card into a gated stage,
read the reasons, fill the missing fields inline in the dialog, retry, and see the
card land; then move another card with the keyboard "Move to…" menu. The app is
the generic pipeline of tests/web/pipeline_app.py (not the CRM)."""
from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..web.pipeline_app import pipeline_app, pipeline_flow
from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

APP_KEY, ENTITY_KEY = "desk", "case"
GATED_STAGE, GATED_LABEL = "triage", "Triage"
MISSING = {"priority": ("select", "high"), "due": ("input", "2030-05-06")}
EMAIL, PASSWORD = "kanban@example.com", "kanban-pass-1"


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "kanban-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    install_documents(db, pipeline_app(), {"case_flow": pipeline_flow()})
    app_def, version_id = flask_app.extensions["formloom.catalog"].get(APP_KEY)
    ids = {}
    with db.write() as conn:
        user_id = create_user(conn, EMAIL, PASSWORD, name="Kanban Person", roles=[(APP_KEY, "agent")])
        for subject in ("Drag me", "Keyboard me"):
            ids[subject] = create_record(conn, app_def, app_def.entity(ENTITY_KEY), {"subject": subject, "budget": 40},
                                         actor_id=user_id, version_id=version_id).id
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids, db
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def drag(page, source, target) -> None:
    """A pointer drag with intermediate moves (what SortableJS's fallback mode listens to)."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + 12)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(a["x"] + (b["x"] + b["width"] / 2 - a["x"]) * step / 10,
                        a["y"] + 12 + (b["y"] + 40 - a["y"] - 12) * step / 10)
        page.wait_for_timeout(30)
    page.mouse.up()


def test_drag_into_a_gated_stage_fill_the_fields_and_land(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base, ids, db = live_server
    page.goto(f"{base}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button.primary")
    page.goto(f"{base}/apps/{APP_KEY}/{ENTITY_KEY}/board")

    card = page.locator(f"#card-{ids['Drag me']}")
    expect(card).to_be_visible()                                 # the column loaded its cards lazily
    target_column = page.locator(f"#cards-{GATED_STAGE}")

    drag(page, card.locator(".kanban-card-title"), target_column)

    dialog = page.locator("dialog.gate-dialog")
    expect(dialog).to_be_visible()
    for key in MISSING:
        expect(dialog.locator(f'.gate-failure[data-field="{key}"]')).to_be_visible()
    expect(dialog.locator(".gate-failure")).to_have_count(len(MISSING))
    # the card went back to its column
    expect(page.locator(f"#cards-new #card-{ids['Drag me']}")).to_have_count(1)

    # fill exactly the missing fields inline and retry
    assert sorted(dialog.locator(".gate-form [data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)")) == sorted(MISSING)
    for key, (kind, value) in MISSING.items():
        if kind == "select":
            dialog.locator(f"#field-{key} select").select_option(value)
        else:
            dialog.locator(f"#field-{key} input").fill(value)
    dialog.locator(".gate-form button[type=submit]").click()

    expect(page.locator("dialog.gate-dialog")).to_have_count(0)
    expect(page.locator(f"#cards-{GATED_STAGE} #card-{ids['Drag me']}")).to_be_visible()
    expect(page.locator(f"#colstats-{GATED_STAGE} .kanban-count")).to_contain_text("1")
    expect(page.locator("#colstats-new .kanban-count")).to_contain_text("1")

    # the keyboard alternative: the Move-to menu on a card, no mouse
    other = page.locator(f"#card-{ids['Keyboard me']}")
    other.locator(".move-menu summary").focus()
    page.keyboard.press("Enter")
    lost = other.locator('.move-menu button[data-move-to="dropped"]')
    expect(lost).to_be_visible()
    lost.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog.gate-dialog")
    expect(dialog.locator('.gate-failure[data-field="notes"]')).to_be_visible()
    dialog.locator("#field-notes textarea").fill("Customer went quiet")
    dialog.locator(".gate-form button[type=submit]").press("Enter")
    expect(page.locator("dialog.gate-dialog")).to_have_count(0)
    expect(page.locator(f"#cards-dropped #card-{ids['Keyboard me']}")).to_have_count(1)
    expect(page.locator("#colstats-dropped .kanban-count")).to_contain_text("1")

    # what the server stored
    from sqlalchemy import select

    from formloom.store.tables import records
    with db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(records).where(records.c.id.in_(list(ids.values()))))}
    assert rows[ids["Drag me"]].stage == GATED_STAGE and rows[ids["Drag me"]].data["priority"] == "high"
    assert rows[ids["Keyboard me"]].stage == "dropped"

    # on a phone the board scrolls sideways, the page does not
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator(".kanban").evaluate("el => el.scrollWidth > el.clientWidth")

    assert [p for p in page.console_problems if not re.search(r"status of (409|422)", p)] == []
