"""The app designer in the browser's shoes (Flask test client, real database):
only app admins design; edits land in a draft the live app does not see; the
draft is validated with problems by the setting they concern; publishing goes
through install_documents and makes a new version everyone sees; fields are
archived with their data and restored; stale saves conflict; old versions
can be restored; the impact preview refuses a change that would drop values."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from formloom.store.tables import app_drafts, definition_versions, records

BASE = "/apps/desk/design"
CASE = f"{BASE}/e/case"


def revision(page: str) -> str:
    match = re.search(r'name="revision" value="(\d+)"', page)
    assert match, "no revision on the page"
    return match.group(1)


def post(browser, path: str, data: dict, page: str = CASE):
    """Post a designer form the way the page would: with its revision and CSRF token."""
    text = browser.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    return browser.client.post(path, data={"revision": revision(text), "csrf_token": token, **data})


SELECT_FIELD = {
    "s-label-en": "Channel", "s-label-zh": "渠道", "s-key": "channel",
    "s-options-value": ["web", "phone", "", ""], "s-options-en": ["Web", "Phone", "", ""],
    "s-options-zh": ["网站", "电话", "", ""], "s-options-color": ["", "", "", ""],
}


def versions_of(app) -> list[int]:
    with app.extensions["formloom.db"].read() as conn:
        return list(conn.execute(select(definition_versions.c.number).where(
            definition_versions.c.app_key == "desk").order_by(definition_versions.c.number)).scalars())


def publish(browser, comment: str = ""):
    return post(browser, f"{BASE}/publish", {"comment": comment}, page=BASE)


# -- who may design -----------------------------------------------------------------------------------

def test_only_app_admins_may_design(app, browser):
    assert browser.get(BASE).status_code == 302                        # not logged in: to the login page
    browser.login("agent@example.com")
    assert browser.get(BASE).status_code == 403
    assert browser.get(CASE).status_code == 403
    assert browser.post(f"{CASE}/new/text", {"s-label-en": "X"}).status_code == 403
    browser.logout()
    browser.login("outsider@example.com")
    assert browser.get(BASE).status_code == 404                        # the app is not revealed


def test_design_entry_in_the_app_menu_for_admins_only(app, browser):
    browser.login("admin@example.com")
    assert f'href="{BASE}"' in browser.get("/").get_data(as_text=True)
    browser.logout()
    browser.login("agent@example.com")
    assert f'href="{BASE}"' not in browser.get("/").get_data(as_text=True)


def test_writes_need_the_csrf_token(as_admin):
    page = as_admin.get(CASE).get_data(as_text=True)
    answer = as_admin.client.post(f"{CASE}/new/select", data={**SELECT_FIELD, "revision": revision(page)})
    assert answer.status_code == 400


# -- drafts and publish ---------------------------------------------------------------------------------

def test_a_field_added_goes_to_the_draft_and_is_live_only_after_publishing(app, browser):
    browser.login("admin@example.com")
    palette = browser.get(CASE).get_data(as_text=True)
    assert 'data-type="select"' in palette
    form = browser.get(f"{CASE}/new/select").get_data(as_text=True)
    assert 'name="s-options-value"' in form and 'name="s-label-zh"' in form
    answer = post(browser, f"{CASE}/new/select", SELECT_FIELD)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "#field-channel" in answer.headers["Location"]
    with app.extensions["formloom.db"].read() as conn:
        draft = conn.execute(select(app_drafts.c.documents)).scalar_one()
    case = next(e for e in draft["app"]["entities"] if e["key"] == "case")
    assert case["fields"][-1] == {"key": "channel", "type": "select", "label": {"en": "Channel", "zh": "渠道"},
                                  "options": [{"value": "web", "label": {"en": "Web", "zh": "网站"}},
                                              {"value": "phone", "label": {"en": "Phone", "zh": "电话"}}]}
    browser.logout()
    browser.login("agent@example.com")
    assert 'name="channel"' not in browser.get("/apps/desk/case/new").get_data(as_text=True)   # a draft is private
    browser.logout()

    browser.login("admin@example.com")
    overview = browser.get(BASE).get_data(as_text=True)
    assert "Field Channel added to Case." in overview
    answer = publish(browser, "Track the channel")
    assert answer.status_code == 303
    assert versions_of(app) == [1, 2]
    listing = browser.get(f"{BASE}/versions").get_data(as_text=True)
    assert "Track the channel" in listing and "Ada Admin" in listing
    browser.logout()
    browser.login("agent@example.com")
    form = browser.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'name="channel"' in form and "Phone" in form


def test_problems_are_shown_by_the_setting_they_concern_and_nothing_is_saved(app, as_admin):
    answer = post(as_admin, f"{CASE}/new/text", {"s-label-en": "Code two", "s-max_length": "many"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert re.search(r'id="control-max_length".*?Enter a whole number', page, re.S)
    answer = post(as_admin, f"{CASE}/new/select", {"s-label-en": "No options"})
    assert answer.status_code == 422
    assert re.search(r'id="control-options"[^>]*>.*?error-text', answer.get_data(as_text=True), re.S)
    answer = post(as_admin, f"{CASE}/new/text", {"s-label-en": "Subject again", "s-key": "subject"})
    assert answer.status_code == 422
    assert "already has a field" in answer.get_data(as_text=True)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(app_drafts)).first() is None


def test_a_stale_save_is_a_conflict_and_the_first_save_is_kept(app, as_admin):
    page = as_admin.get(CASE).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    first = as_admin.client.post(f"{CASE}/new/select", data={**SELECT_FIELD, "revision": revision(page),
                                                             "csrf_token": token})
    assert first.status_code == 303
    second = as_admin.client.post(f"{CASE}/fields/due/archive", data={"revision": revision(page),
                                                                      "csrf_token": token})
    assert second.status_code == 409
    assert "Someone else changed this draft" in second.get_data(as_text=True)
    now = as_admin.get(CASE).get_data(as_text=True)
    assert 'id="field-channel"' in now and 'id="field-due"' in now


def test_publish_refused_while_the_draft_has_problems(app, as_admin):
    # the title field archived: the entity's title names a field it no longer has
    assert post(as_admin, f"{CASE}/fields/subject/archive", {}).status_code == 303
    page = as_admin.get(CASE).get_data(as_text=True)
    assert 'id="entity-problems"' in page
    answer = publish(as_admin)
    assert answer.status_code == 422
    assert "fix them before publishing" in answer.get_data(as_text=True)
    assert versions_of(app) == [1]


def test_archive_keeps_the_values_and_restore_brings_them_back(app, as_admin, make_record):
    record = make_record("case", {"subject": "Printer", "due": "2026-12-01"})
    assert post(as_admin, f"{CASE}/fields/due/archive", {}).status_code == 303
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "Field Due of Case archived — 1 records keep their values, restorable." in overview
    assert publish(as_admin).status_code == 303
    catalog = app.extensions["formloom.catalog"]
    assert catalog.app("desk").entity("case").field("due") is None
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records.c.data).where(records.c.id == record.id)).scalar()["due"] == "2026-12-01"
    page = as_admin.get(CASE).get_data(as_text=True)
    assert 'id="archived-due"' in page
    assert post(as_admin, f"{CASE}/archived/due/restore", {}).status_code == 303
    assert "restored — 1 records have their values back" in as_admin.get(BASE).get_data(as_text=True)
    assert publish(as_admin).status_code == 303
    assert catalog.app("desk").entity("case").field("due") is not None
    detail = as_admin.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    assert "2026-12-01" in detail or "2026" in detail
    assert versions_of(app) == [1, 2, 3]


def test_an_option_in_use_cannot_be_dropped_silently(app, as_admin, make_record):
    make_record("case", {"subject": "Urgent", "priority": "high"})
    edit = f"{CASE}/fields/priority"
    answer = post(as_admin, edit, {"s-label-en": "Priority", "s-options-value": ["low"], "s-options-en": ["Low"],
                                   "s-options-zh": ["低"], "s-options-color": [""]})
    assert answer.status_code == 303
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "Option High of Priority removed — 1 records use it; publishing is refused. Retire it instead" in overview
    answer = publish(as_admin)
    assert answer.status_code == 422
    assert versions_of(app) == [1]


def test_an_option_in_use_is_retired_kept_on_its_records_and_not_offered_to_new_ones(app, as_admin, make_record):
    held = make_record("case", {"subject": "Urgent", "priority": "high"})
    edit = f"{CASE}/fields/priority"
    page = as_admin.get(edit).get_data(as_text=True)
    assert 'name="s-options-retired" value="high"' in page
    answer = post(as_admin, edit, {"s-label-en": "Priority", "s-options-value": ["low", "high"],
                                   "s-options-en": ["Low", "High"], "s-options-zh": ["低", "高"],
                                   "s-options-color": ["", ""], "s-options-retired": ["high"]})
    assert answer.status_code == 303
    assert 'name="s-options-retired" value="high" checked' in as_admin.get(edit).get_data(as_text=True)
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "Option High of Priority retired — 1 records use it and keep it" in overview
    assert publish(as_admin).status_code == 303 and versions_of(app) == [1, 2]
    new_form = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'value="high"' not in new_form and 'value="low"' in new_form
    edit_form = as_admin.get(f"/apps/desk/case/{held.id}/edit").get_data(as_text=True)
    assert re.search(r'<option selected value="high">High \(retired\)</option>|'
                     r'<option value="high" selected>High \(retired\)</option>', edit_form), edit_form
    assert "High" in as_admin.get(f"/apps/desk/case/{held.id}").get_data(as_text=True)
    refused = as_admin.post("/apps/desk/case/new", {"subject": "Another", "priority": "high"},
                            token_from="/apps/desk/case/new")
    assert refused.status_code == 422 and "High is retired" in refused.get_data(as_text=True)
    kept = as_admin.post(f"/apps/desk/case/{held.id}/edit", {"subject": "Urgent!", "priority": "high",
                                                              "_version": str(held.version)},
                         token_from=f"/apps/desk/case/{held.id}/edit")
    assert kept.status_code == 303


def test_reorder_fields_with_buttons_and_by_drag(app, as_admin):
    assert post(as_admin, f"{CASE}/fields/due/move", {"direction": "up"}).status_code == 303
    page = as_admin.get(CASE).get_data(as_text=True)
    assert page.index('id="field-due"') < page.index('id="field-budget"')
    answer = post(as_admin, f"{CASE}/fields/order", {"keys": ["notes", "subject"]})
    assert answer.status_code == 303
    page = as_admin.get(CASE).get_data(as_text=True)
    assert page.index('id="field-notes"') < page.index('id="field-subject"') < page.index('id="field-company"')
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    dragged = as_admin.client.post(f"{CASE}/fields/order", data={"revision": revision(page), "keys": ["code"]},
                                   headers={"X-CSRFToken": token, "X-Requested-With": "fetch"})
    assert dragged.status_code == 204                                  # what the drag script sends
    first = re.search(r'<li id="field-([a-z_]+)"', as_admin.get(CASE).get_data(as_text=True)).group(1)
    assert first == "code"


def test_relabel_a_field_keeps_its_key(app, as_admin):
    answer = post(as_admin, f"{CASE}/fields/due", {"s-label-en": "Deadline", "s-label-zh": "期限",
                                                   "s-key": "renamed"})
    assert answer.status_code == 303
    assert 'id="field-due"' in as_admin.get(CASE).get_data(as_text=True)
    assert "Deadline" in as_admin.get(CASE).get_data(as_text=True)


def test_restore_an_old_version_publishes_it_as_a_new_one(app, as_admin):
    assert post(as_admin, f"{CASE}/new/select", SELECT_FIELD).status_code == 303
    assert publish(as_admin).status_code == 303
    answer = as_admin.post(f"{BASE}/versions/1/restore", {}, token_from=f"{BASE}/versions")
    assert answer.status_code == 303
    assert versions_of(app) == [1, 2, 3]
    assert app.extensions["formloom.catalog"].app("desk").entity("case").field("channel") is None


def test_labels_typed_in_the_designer_are_shown_escaped(app, as_admin):
    post(as_admin, f"{CASE}/new/text", {"s-label-en": "<script>alert(1)</script>", "s-key": "sneaky"})
    page = as_admin.get(CASE).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- entities and permissions ---------------------------------------------------------------------------

def test_add_an_entity_relabel_and_reorder_it(app, as_admin):
    answer = post(as_admin, f"{BASE}/entities", {"label-en": "Supplier", "label-zh": "供应商"}, page=BASE)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/design/e/supplier")
    answer = post(as_admin, f"{BASE}/e/supplier/settings",
                  {"label-en": "Vendor", "label-zh": "供应商", "plural-en": "Vendors", "title": "name"},
                  page=f"{BASE}/e/supplier")
    assert answer.status_code == 303
    assert post(as_admin, f"{BASE}/entities/supplier/move", {"direction": "up"}, page=BASE).status_code == 303
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert overview.index('id="entity-supplier"') < overview.index('id="entity-case"')
    assert publish(as_admin).status_code == 303
    menu = as_admin.get("/").get_data(as_text=True)
    assert "Vendors" in menu


def test_permission_grid(app, browser):
    browser.login("admin@example.com")
    answer = post(browser, f"{CASE}/permissions", {"agent-create": "1", "agent-read": "all", "agent-update": "own",
                                                   "agent-delete": "none", "viewer-read": "none"})
    assert answer.status_code == 303
    assert publish(browser).status_code == 303
    entity = app.extensions["formloom.catalog"].app("desk").entity("case")
    assert entity.permissions.get("agent") == {"create": True, "read": "all", "update": "own"}
    assert "viewer" not in entity.permissions
    browser.logout()
    browser.login("viewer@example.com")
    assert browser.get("/apps/desk/case/").status_code == 404


# -- a field type registered elsewhere appears without touching the designer -------------------------

@pytest.fixture
def throwaway_type():
    from formloom.fields import FieldType, Setting, register, unregister
    from formloom.fields.formfields import string_field

    class GlowType(FieldType):
        name = "glow_probe"
        order = 5
        label = {"en": "Glow probe", "zh": "发光探针"}
        help = {"en": "A type only this test knows.", "zh": "只有这个测试知道的类型。"}
        settings = (
            Setting("intensity", {"type": "integer", "minimum": 1, "maximum": 9},
                    {"en": "Intensity", "zh": "强度"}, {"en": "How bright, 1 to 9.", "zh": "亮度，1 到 9。"}),
            Setting("tone", {"enum": ["warm", "cold"]}, {"en": "Tone", "zh": "色调"},
                    {"en": "Warm or cold light.", "zh": "暖光或冷光。"}),
        )

        def clean(self, f, raw, ctx):
            return str(raw)

        def json_schema(self, f):
            return {"type": "string"}

        def form_field(self, f, lang):
            return string_field(self, f, lang, "text")

    register(GlowType)
    yield GlowType
    unregister("glow_probe")


def test_a_new_field_type_appears_in_the_palette_and_gets_its_settings_form(app, as_admin, throwaway_type):
    palette = as_admin.get(CASE).get_data(as_text=True)
    assert 'data-type="glow_probe"' in palette and "A type only this test knows." in palette
    assert palette.index('data-type="glow_probe"') < palette.index('data-type="text"')      # its order
    form = as_admin.get(f"{CASE}/new/glow_probe").get_data(as_text=True)
    assert 'name="s-intensity"' in form and "How bright, 1 to 9." in form
    assert '<option value="warm"' in form
    answer = post(as_admin, f"{CASE}/new/glow_probe", {"s-label-en": "Lamp", "s-intensity": "12"})
    assert answer.status_code == 422                                  # the schema's maximum, by its control
    assert re.search(r'id="control-intensity".*?error-text', answer.get_data(as_text=True), re.S)
    answer = post(as_admin, f"{CASE}/new/glow_probe", {"s-label-en": "Lamp", "s-intensity": "7", "s-tone": "warm"})
    assert answer.status_code == 303
    with app.extensions["formloom.db"].read() as conn:
        draft = conn.execute(select(app_drafts.c.documents)).scalar_one()
    case = next(e for e in draft["app"]["entities"] if e["key"] == "case")
    assert case["fields"][-1] == {"key": "lamp", "type": "glow_probe", "label": {"en": "Lamp"}, "intensity": 7,
                                  "tone": "warm"}


def test_the_designer_speaks_chinese(app, as_admin):
    as_admin.post("/language", {"lang": "zh"})
    page = as_admin.get(CASE).get_data(as_text=True)
    assert "添加字段" in page and "单选" in page and "从选项列表中选一个值。" in page
    form = as_admin.get(f"{CASE}/new/select").get_data(as_text=True)
    assert "用户看到的名称。" in form and "选项" in form
    answer = post(as_admin, f"{CASE}/new/number", {"s-label-zh": "数量", "s-key": "qty", "s-min": "很多"})
    assert answer.status_code == 422 and "请输入数字。" in answer.get_data(as_text=True)
    stale = as_admin.client.post(f"{CASE}/fields/due/move", data={"revision": "7", "direction": "up",
                                                                  "csrf_token": as_admin.csrf_token(CASE)})
    assert stale.status_code == 409 and "草稿已在此期间被发布或丢弃" in stale.get_data(as_text=True)


def test_a_type_change_is_previewed_value_by_value(app, as_admin, make_record):
    make_record("case", {"subject": "Short", "code": "42"})
    make_record("case", {"subject": "Other", "code": "A-7"})
    answer = post(as_admin, f"{CASE}/fields/code/type", {"type": "number"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/fields/code")
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "1 of 2 stored values would not survive" in overview and "A-7" in overview
    assert publish(as_admin).status_code == 422                          # never drop a value silently
    assert post(as_admin, f"{CASE}/fields/code/type", {"type": "textarea"}).status_code == 303
    overview = as_admin.get(BASE).get_data(as_text=True)
    assert "all 2 stored values convert" in overview
    assert publish(as_admin).status_code == 303
    assert app.extensions["formloom.catalog"].app("desk").entity("case").field("code").type == "textarea"


def test_an_archived_entity_is_hidden_from_all_but_admins_and_comes_back(app, browser, make_record):
    make_record("company", {"name": "Acme"})
    browser.login("admin@example.com")
    assert post(browser, f"{BASE}/entities/company/archive", {"archived": "1"}, page=BASE).status_code == 303
    assert "archived: only administrators see it" in browser.get(BASE).get_data(as_text=True)
    assert publish(browser).status_code == 303
    assert "Acme" in browser.get("/apps/desk/company/").get_data(as_text=True)      # admins still see it
    browser.logout()
    browser.login("agent@example.com")
    assert browser.get("/apps/desk/company/").status_code == 404
    assert 'href="/apps/desk/company/"' not in browser.get("/").get_data(as_text=True)
    browser.logout()
    browser.login("admin@example.com")
    assert post(browser, f"{BASE}/entities/company/archive", {"archived": "0"}, page=BASE).status_code == 303
    assert publish(browser).status_code == 303
    browser.logout()
    browser.login("agent@example.com")
    assert "Acme" in browser.get("/apps/desk/company/").get_data(as_text=True)


def test_hidden_for_and_readonly_for_are_role_checkboxes(app, as_admin):
    edit = f"{CASE}/fields/notes"
    page = as_admin.get(edit).get_data(as_text=True)
    assert 'name="s-hidden_for" value="viewer" checked' in page
    assert 'name="s-readonly_for" value="agent"' in page and 'name="s-readonly_for" value="agent" checked' not in page
    answer = post(as_admin, edit, {"s-label-en": "Internal notes", "s-hidden_for": ["viewer"],
                                   "s-readonly_for": ["agent"]}, page=edit)
    assert answer.status_code == 303
    with app.extensions["formloom.db"].read() as conn:
        draft = conn.execute(select(app_drafts.c.documents).where(app_drafts.c.app_key == "desk")).scalar_one()
    notes = next(f for e in draft["app"]["entities"] if e["key"] == "case" for f in e["fields"] if f["key"] == "notes")
    assert notes["hidden_for"] == ["viewer"] and notes["readonly_for"] == ["agent"]
