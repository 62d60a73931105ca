"""A person in a real Chromium: log in, fill a generated form with a mistake, see
the field error (inline on blur, then on submit), fix it, and find the record
in the filtered list. The app, entity and field names are parameters of a
:class:`Scenario`, and the same scenario runs against the generic test app
("desk") and the shipped CRM's opportunity ("crm").
"""
from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass
from typing import Callable

import pytest
from werkzeug.serving import make_server

import formloom.resources
import formloom.store.install
from formloom.app import create_app
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record

from ..web.desk import CASE_FLOW, desk_app
from .conftest import page  # noqa: F401  (the Chromium fixture; kept importable from here)

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "browser@example.com", "browser-pass-1"


# -- the scenario's parameters ---------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    app_key: str
    entity_key: str
    title_field: str                    # the entity's title field (text)
    mistake_field: str                  # a money field with min 0
    mistake_value: str
    mistake_message: str
    fixed_value: str
    reference_field: str                # a reference field, filled through the picker
    reference_entity: str
    reference_title: str                # a record of reference_entity to pick
    reference_search: str
    select_field: str
    select_value: str
    filter_field: str                   # the list filter that finds the new record
    filter_value: str
    role: str
    install_app: Callable[[object], object]          # installs the app into the database
    other_references: tuple[str, ...] = ()           # more records of reference_entity, not picked
    trigger_field: str | None = None    # a checkbox, and the field its visible_if shows;
    dependent_field: str | None = None  # None where the entity has no such pair


def _install_desk(db):
    return install_documents(db, desk_app(), {"case_flow": copy.deepcopy(CASE_FLOW)})


def _install_crm(db):
    return formloom.store.install.install_path(db, formloom.resources.template_dir("crm"))


DESK = Scenario(
    app_key="desk", entity_key="case", title_field="subject",
    mistake_field="budget", mistake_value="-5", mistake_message="at least 0", fixed_value="250.00",
    reference_field="company", reference_entity="company",
    reference_title="Acme Corporation", reference_search="acme", other_references=("Other Ltd",),
    select_field="priority", select_value="high",
    trigger_field="escalated", dependent_field="reason",
    filter_field="priority", filter_value="high",
    role="agent", install_app=_install_desk,
)

CRM = Scenario(
    app_key="crm", entity_key="opportunity", title_field="name",
    mistake_field="amount", mistake_value="-5", mistake_message="at least 0", fixed_value="250.00",
    reference_field="customer", reference_entity="customer",
    reference_title="Acme Corporation", reference_search="acme",
    select_field="source", select_value="referral",
    trigger_field=None, dependent_field=None,     # no checkbox-driven visible_if on the opportunity
    filter_field="source", filter_value="referral",
    role="sales", install_app=_install_crm,
)


def install(flask_app, scenario: Scenario) -> None:
    """Install the app the scenario runs against and give it records to reference."""
    db = flask_app.extensions["formloom.db"]
    scenario.install_app(db)
    app_def, version_id = flask_app.extensions["formloom.catalog"].get(scenario.app_key)
    with db.write() as conn:
        user_id = create_user(conn, EMAIL, PASSWORD, name="Browser Person",
                              roles=[(scenario.app_key, scenario.role)])
        for name in (scenario.reference_title, *scenario.other_references):
            create_record(conn, app_def, app_def.entity(scenario.reference_entity), {"name": name},
                          actor_id=user_id, version_id=version_id)


@pytest.fixture
def live_server(database_url, tmp_path, scenario):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "browser-test",
                            "INSTANCE": str(tmp_path / "instance")})
    install(flask_app, scenario)
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        flask_app.extensions["formloom.db"].dispose()


@pytest.mark.parametrize("scenario", [DESK, CRM], ids=["desk", "crm"])
def test_create_with_a_mistake_fix_it_and_find_it(live_server, page, scenario):
    from playwright.sync_api import expect

    sc = scenario
    title = "Browser flow record"
    # log in
    page.goto(f"{live_server}/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    expect(page).to_have_url(f"{live_server}/")

    # open the generated form
    page.goto(f"{live_server}/apps/{sc.app_key}/{sc.entity_key}/new")

    page.fill(f"#field-{sc.title_field} input", title)

    # a mistake; leaving the field validates it inline (htmx swaps in the 422 fragment)
    page.fill(f"#field-{sc.mistake_field} input", sc.mistake_value)
    page.locator(f"#field-{sc.mistake_field} input").blur()
    expect(page.locator(f"#field-{sc.mistake_field} .error-text")).to_contain_text(sc.mistake_message)
    expect(page.locator(f"#field-{sc.mistake_field}")).to_have_class(re.compile(r"\bhas-error\b"))

    # visible_if is live in the browser (where the entity has a checkbox-driven rule)
    if sc.trigger_field is not None:
        dependent = page.locator(f"#field-{sc.dependent_field}")
        expect(dependent).to_be_hidden()
        page.check(f"#field-{sc.trigger_field} input[type=checkbox]")
        expect(dependent).to_be_visible()
        page.uncheck(f"#field-{sc.trigger_field} input[type=checkbox]")
        expect(dependent).to_be_hidden()

    # the reference picker searches on the server and fills the field
    page.fill(f"#pick-{sc.reference_field}", sc.reference_search)
    choice = page.locator(f"#field-{sc.reference_field} .picker-results button", has_text=sc.reference_title)
    choice.click()
    expect(page.locator(f"#field-{sc.reference_field} .picked")).to_contain_text(sc.reference_title)

    page.select_option(f"#field-{sc.select_field} select", sc.select_value)

    # submitting with the mistake still in place: the server refuses, the error stays by the field
    page.click("form.record-form button[type=submit]")
    expect(page.locator(".alert.error")).to_be_visible()
    expect(page.locator(f"#field-{sc.mistake_field} .error-text")).to_contain_text(sc.mistake_message)
    expect(page.locator(f"#field-{sc.reference_field} .picked")).to_contain_text(sc.reference_title)
    expect(page.locator(f"#field-{sc.title_field} input")).to_have_value(title)

    # fix it: the inline error goes away, and saving opens the new record
    page.fill(f"#field-{sc.mistake_field} input", sc.fixed_value)
    page.locator(f"#field-{sc.mistake_field} input").blur()
    expect(page.locator(f"#field-{sc.mistake_field} .error-text")).to_have_count(0)
    page.click("form.record-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text(title)
    # the detail page may group fields in sections (one dl each): the reference is shown in one of them
    expect(page.locator("dl.fields").filter(has_text=sc.reference_title)).to_have_count(1)

    # find it in the filtered list, through the filter form
    page.goto(f"{live_server}/apps/{sc.app_key}/{sc.entity_key}/")
    page.click("details.panel summary >> nth=0")
    page.select_option("select[name=ff]", sc.filter_field)
    page.select_option("select[name=fo]", "eq")
    page.select_option(f"select[name=fv][data-filter-value={sc.filter_field}]", sc.filter_value)   # options
    page.click("form[data-filter-form] button[type=submit]")
    expect(page).to_have_url(f"{live_server}/apps/{sc.app_key}/{sc.entity_key}/?{sc.filter_field}={sc.filter_value}")
    expect(page.locator("table.records")).to_contain_text(title)

    # live search narrows the rows without a page load
    page.fill("input[name=q]", "no such thing")
    expect(page.locator("#results")).to_contain_text("No records match")
    page.fill("input[name=q]", title[:7])
    expect(page.locator("table.records")).to_contain_text(title)

    # on a phone the table becomes cards
    page.set_viewport_size({"width": 375, "height": 800})
    cell = page.locator("table.records td").first
    assert cell.evaluate("el => getComputedStyle(el).display") == "flex"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    assert page.console_problems == []
