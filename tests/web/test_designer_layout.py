"""The designer's layout editor and preview (Flask test client, real database): sections are
added, set up, reordered and removed, fields placed and moved, each edit landing in the draft;
the preview renders the draft's form as a chosen role would see it, writing nothing."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from formloom.store.tables import app_drafts, records

from .test_designer import BASE, CASE, post, publish, versions_of

LAYOUT = f"{CASE}/layout"


def draft_case(app) -> dict:
    with app.extensions["formloom.db"].read() as conn:
        draft = conn.execute(select(app_drafts.c.documents).where(app_drafts.c.app_key == "desk")).scalar_one()
    return next(e for e in draft["app"]["entities"] if e["key"] == "case")


def layout_form(page: str) -> dict:
    """What the editor posts when saved as shown (lists keep their order)."""
    data: dict = {}
    for name, value in re.findall(r'<input type="hidden" name="(sec|fld)" value="([^"]+)"', page):
        data.setdefault(name, []).append(value)
    for name, value in re.findall(r'<input name="(sec-[a-z_]+-(?:title|description)-(?:en|zh))" value="([^"]*)"', page):
        data[name] = value
    for name, body in re.findall(r'<select name="((?:sec|fld)-[a-z_]+-(?:columns|section))"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        data[name] = chosen.group(1) if chosen else ""
    for name, value in re.findall(r'<input type="hidden" name="(fld-[a-z_]+-(?:create|edit|detail))" value="(1)"', page):
        data[name] = value
    for name, value in re.findall(r'<input type="checkbox" name="([a-z_-]+)" value="([^"]+)" checked', page):
        data.setdefault(name, []).append(value)
    return data


def save(browser, changes: dict, do: str = "save"):
    page = browser.get(LAYOUT).get_data(as_text=True)
    return post(browser, LAYOUT, {**layout_form(page), **changes, "do": do}, page=LAYOUT)


def test_only_app_admins_open_the_layout_editor(app, browser):
    browser.login("agent@example.com")
    assert browser.get(LAYOUT).status_code == 403
    assert browser.get(f"{CASE}/preview").status_code == 403


def test_an_admin_builds_two_sections_places_fields_and_publishes(app, as_admin):
    assert f'href="{LAYOUT}"' in as_admin.get(CASE).get_data(as_text=True)
    assert save(as_admin, {"new-title-en": "Basics", "new-title-zh": "基本信息"}, do="add").status_code == 303
    assert save(as_admin, {"new-title-en": "Later"}, do="add").status_code == 303
    sections = draft_case(app)["layout"]["sections"]
    assert [(s["key"], s["title"]) for s in sections] == [("basics", {"en": "Basics", "zh": "基本信息"}),
                                                          ("later", {"en": "Later"})]
    answer = save(as_admin, {"sec-basics-columns": "2", "fld-subject-section": "basics",
                             "fld-priority-section": "basics", "fld-code-section": "later",
                             "fld-code-create": "", "sec-later-description-en": "Filled as the case goes",
                             "sec-collapsed": ["later"]})
    assert answer.status_code == 303
    layout = draft_case(app)["layout"]["sections"]
    assert layout[0]["columns"] == 2 and layout[0]["fields"] == ["subject", "priority"]
    assert layout[1]["fields"] == [{"key": "code", "create": False}] and layout[1]["collapsed"] is True
    assert layout[1]["description"] == {"en": "Filled as the case goes"}
    assert save(as_admin, {}, do="fld-down:subject").status_code == 303
    assert draft_case(app)["layout"]["sections"][0]["fields"] == ["priority", "subject"]
    assert save(as_admin, {}, do="sec-up:later").status_code == 303
    assert [s["key"] for s in draft_case(app)["layout"]["sections"]] == ["later", "basics"]
    assert publish(as_admin).status_code == 303 and versions_of(app) == [1, 2]
    form = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'data-section="basics"' in form and 'class=" section-grid cols-2"' in form
    assert 'id="field-code"' not in form


def test_removing_a_section_leaves_its_fields_unplaced_and_no_sections_mean_no_layout(app, as_admin):
    save(as_admin, {"new-title-en": "Only"}, do="add")
    save(as_admin, {"fld-subject-section": "only"})
    assert draft_case(app)["layout"]["sections"][0]["fields"] == ["subject"]
    assert save(as_admin, {}, do="sec-remove:only").status_code == 303
    assert "layout" not in draft_case(app)


def test_archiving_a_placed_field_takes_it_out_of_the_layout(app, as_admin):
    save(as_admin, {"new-title-en": "Only"}, do="add")
    save(as_admin, {"fld-code-section": "only", "fld-subject-section": "only"})
    assert post(as_admin, f"{CASE}/fields/code/archive", {}).status_code == 303
    assert draft_case(app)["layout"]["sections"][0]["fields"] == ["subject"]
    page = as_admin.get(BASE).get_data(as_text=True)
    assert "problem" not in re.sub(r"<script.*?</script>", "", page).split('id="draft-status"')[1][:300]


def test_a_title_typed_by_the_admin_is_shown_escaped(app, as_admin):
    save(as_admin, {"new-title-en": "<script>alert(1)</script>"}, do="add")
    page = as_admin.get(LAYOUT).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_preview_shows_the_draft_as_the_chosen_role_sees_it_and_writes_nothing(app, as_admin):
    save(as_admin, {"new-title-en": "Basics"}, do="add")
    save(as_admin, {"fld-subject-section": "basics", "fld-notes-section": "basics", "fld-code-section": "basics"})
    with app.extensions["formloom.db"].read() as conn:
        before = conn.execute(select(func.count()).select_from(records)).scalar()
    as_agent = as_admin.get(f"{CASE}/preview?role=agent&mode=create").get_data(as_text=True)
    assert 'data-section="basics"' in as_agent                                    # the draft's layout
    assert 'id="field-notes"' in as_agent and 'id="field-code"' in as_agent
    assert re.search(r'id="field-code"[^>]*is-readonly|is-readonly[^>]*id="field-code"', as_agent)  # readonly_for agent
    assert "data-visible-if" in as_agent                                          # reason: visible_if, live
    as_viewer = as_admin.get(f"{CASE}/preview?role=viewer&mode=edit").get_data(as_text=True)
    assert 'id="field-notes"' not in as_viewer                                    # hidden_for viewer
    assert "may not create" not in as_viewer
    assert "may not create" in as_admin.get(f"{CASE}/preview?role=viewer&mode=create").get_data(as_text=True)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == before
    assert as_admin.get(f"{CASE}/preview?role=nobody&mode=sideways").status_code == 200


def test_the_preview_waits_for_a_draft_without_problems(app, as_admin):
    save(as_admin, {"new-title-en": "Basics"}, do="add")
    save(as_admin, {"fld-subject-section": "basics", "sec-basics-title-en": ""})   # a section needs a title
    page = as_admin.get(LAYOUT).get_data(as_text=True)
    assert "once its problems are fixed" in page


def test_the_layout_editor_speaks_chinese(app, as_admin):
    as_admin.post("/language", {"lang": "zh", "next": "/"})
    page = as_admin.get(LAYOUT).get_data(as_text=True)
    assert "表单布局" in page and "预览" in page


def test_odd_layout_posts_are_answered_without_a_server_error(app, as_admin):
    save(as_admin, {"new-title-en": "Basics"}, do="add")
    for do in ("sec-remove:nope", "fld-up:nope", "sec-up:Basics", "explode", "fld-down:subject"):
        assert save(as_admin, {"sec-basics-columns": "9", "fld-ghost-section": "basics"}, do=do).status_code < 500
    assert draft_case(app)["layout"]["sections"][0]["columns"] == 1                 # out of range: one column
    assert "ghost" not in str(draft_case(app)["layout"])
    assert as_admin.get(f"{BASE}/e/nope/layout").status_code == 404
    assert as_admin.get(f"{BASE}/e/nope/preview").status_code == 200


def test_the_field_editor_previews_the_saved_draft(app, as_admin):
    assert post(as_admin, f"{CASE}/fields/notes", {"s-label-en": "Private notes", "s-hidden_for": ["viewer"]},
                page=f"{CASE}/fields/notes").status_code == 303
    page = as_admin.get(f"{CASE}/fields/notes").get_data(as_text=True)
    preview = page.split('id="form-preview"', 1)[1]
    assert "Private notes" in preview and 'id="field-subject"' in preview
