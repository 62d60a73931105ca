"""A sales rep's first hour with the shipped CRM's lists, in a real Chromium: the
public pool on the customer board is not empty for them, opportunities are filtered
by what they see (Source = "Referral", or "老客户推荐" in the URL; the customer picked
with the same search picker as forms, or named by its title in the URL), and the list
says how many records there are."""
from __future__ import annotations

import re
import threading
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user

from formloom.store.records import create_record

from .test_record_flow import page  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "rep@example.com", "rep-pass-12345"
LUMEN = "Lumen Data Analytics Ltd."


@pytest.fixture
def live_server(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "crm-lists-test",
                            "INSTANCE": str(tmp_path / "instance")})
    db = flask_app.extensions["formloom.db"]
    formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))
    crm, version_id = flask_app.extensions["formloom.catalog"].get("crm")
    customer, opportunity = crm.entity("customer"), crm.entity("opportunity")
    with db.write() as conn:
        rep = create_user(conn, EMAIL, PASSWORD, name="Li Wei", roles=[("crm", "sales")])
        boss = create_user(conn, "boss@example.com", PASSWORD, name="Mia Manager", roles=[("crm", "manager")])

        def make(entity, data, owner, stage=None):
            return create_record(conn, crm, entity, data, actor_id=owner, owner_id=owner, stage=stage,
                                 version_id=version_id)

        make(customer, {"name": "Pooled Optics Co.", "in_pool": True}, boss, stage="pool")
        make(customer, {"name": "Manager's Own Ltd."}, boss, stage="owned")
        lumen = make(customer, {"name": LUMEN}, rep, stage="owned")
        other = make(customer, {"name": "Northwind Trading Ltd."}, rep, stage="owned")
        make(opportunity, {"name": "Lumen analytics rollout", "customer": lumen.id, "source": "referral"}, rep)
        make(opportunity, {"name": "Northwind expo lead", "customer": other.id, "source": "expo"}, rep)
        make(opportunity, {"name": "Lumen renewal", "customer": lumen.id, "source": "expo"}, rep)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", lumen.id
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def test_a_rep_sees_the_pool_filters_by_what_they_see_and_the_total(live_server, page):  # noqa: F811
    from playwright.sync_api import expect

    base, lumen_id = live_server
    page.goto(f"{base}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{base}/")

    # the public pool is visible to a rep; other people's owned customers are not
    page.goto(f"{base}/apps/crm/customer/board")
    pool = page.locator("#cards-pool")
    expect(pool).to_contain_text("Pooled Optics Co.")
    expect(page.locator("#cards-owned")).to_contain_text(LUMEN)
    expect(page.locator(".kanban")).not_to_contain_text("Manager's Own Ltd.")

    # the list says how many
    page.goto(f"{base}/apps/crm/opportunity/")
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("nav.pager")).to_contain_text("3 records")

    # Source = "Referral", chosen by its label in the filter panel
    page.click("details.panel summary >> nth=0")
    page.select_option("select[name=ff]", "source")
    page.select_option("select[name=fv][data-filter-value=source]", label="Referral")
    page.click("form[data-filter-form] button[type=submit]")
    expect(page).to_have_url(f"{base}/apps/crm/opportunity/?source=referral")
    expect(rows).to_have_count(1)
    expect(page.locator("table.records")).to_contain_text("Lumen analytics rollout")
    expect(page.locator("ul.chips")).to_contain_text("Referral")
    expect(page.locator("nav.pager")).to_contain_text("1 record")

    # ... or typed in the URL as people say it, in Chinese
    page.goto(f"{base}/apps/crm/opportunity/?source={quote('老客户推荐')}")
    expect(rows).to_have_count(1)
    expect(page.locator("table.records")).to_contain_text("Lumen analytics rollout")

    # the customer, picked with the same search picker as forms
    page.goto(f"{base}/apps/crm/opportunity/")
    page.click("details.panel summary >> nth=0")
    page.select_option("select[name=ff]", "customer")
    picker = page.locator("[data-filter-value=customer]")
    expect(picker).to_be_visible()
    picker.locator("input[type=search]").fill("lumen")
    picker.locator(".picker-results button", has_text=LUMEN).click()
    expect(picker.locator(".picked")).to_contain_text(LUMEN)
    page.click("form[data-filter-form] button[type=submit]")
    expect(page).to_have_url(f"{base}/apps/crm/opportunity/?customer={lumen_id}")
    expect(rows).to_have_count(2)
    expect(page.locator("ul.chips")).to_contain_text(LUMEN)
    expect(page.locator("nav.pager")).to_contain_text("2 records")

    # ... or named by its title in the URL
    page.goto(f"{base}/apps/crm/opportunity/?customer={quote(LUMEN)}&source=Fair")
    expect(page.locator(".alert.error")).to_contain_text("'Fair' is not an option of Source channel")
    page.goto(f"{base}/apps/crm/opportunity/?customer={quote(LUMEN)}&source={quote('Trade show')}")
    expect(rows).to_have_count(1)
    expect(page.locator("table.records")).to_contain_text("Lumen renewal")
    assert re.search(r"1 record\b", page.locator("nav.pager").inner_text())
    # the only console complaint is the 400 of the bad option asked for above
    assert [p for p in page.console_problems if "status of 400" not in p] == []
