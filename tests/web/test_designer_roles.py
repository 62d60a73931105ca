"""The designer's roles page: an admin names each role in both languages, adds a role and
removes one nothing uses; every page that offers or shows roles then reads the names, not
the keys. A role still named by the documents, or held by people, is not removed, and the
page says why in the reader's language."""
from __future__ import annotations

import re

from sqlalchemy import select

from formloom.store.tables import app_drafts

from .test_designer import BASE, CASE, post, publish

ROLES = f"{BASE}/roles"


def draft_app(app) -> dict:
    with app.extensions["formloom.db"].read() as conn:
        return conn.execute(select(app_drafts.c.documents).where(app_drafts.c.app_key == "desk")).scalar_one()["app"]


def name_roles(browser):
    return post(browser, f"{ROLES}/labels", {"role-agent-en": "Support agent", "role-agent-zh": "客服",
                                             "role-viewer-en": "Read-only", "role-viewer-zh": ""}, page=ROLES)


def test_only_app_admins_open_the_roles_page(browser):
    browser.login("agent@example.com")
    assert browser.get(ROLES).status_code == 403


def test_names_go_to_the_draft_and_every_role_picker_reads_them_after_publishing(app, as_admin):
    assert 'href="/apps/desk/design/roles"' in as_admin.get(BASE).get_data(as_text=True)
    assert name_roles(as_admin).status_code == 303
    assert draft_app(app)["role_labels"] == {"agent": {"en": "Support agent", "zh": "客服"},
                                             "viewer": {"en": "Read-only"}}
    assert publish(as_admin).status_code == 303
    live = app.extensions["formloom.catalog"].app("desk")
    assert live.role_label("agent").get("zh") == "客服" and live.role_label("admin").get("zh") == "admin"

    as_admin.post("/language", {"lang": "zh"})
    grid = as_admin.get(CASE).get_data(as_text=True)
    assert re.search(r'<th scope="row">客服 <span class="muted small"><code>agent</code>', grid)
    assert 'aria-label="客服: 查看"' in grid
    assert "> 客服</label>" in as_admin.get("/admin/users/new").get_data(as_text=True)
    assert "Read-only" in as_admin.get(f"{CASE}/layout").get_data(as_text=True)     # no zh: the English name


def test_a_new_role_is_added_with_its_name_and_a_bad_key_is_refused_in_chinese(app, as_admin):
    answer = post(as_admin, f"{ROLES}/add", {"new-en": "Team lead", "new-zh": "组长", "key": ""}, page=ROLES)
    assert answer.status_code == 303
    doc = draft_app(app)
    assert doc["roles"][-1] == "team_lead" and doc["role_labels"]["team_lead"] == {"en": "Team lead", "zh": "组长"}
    as_admin.post("/language", {"lang": "zh"})
    refused = post(as_admin, f"{ROLES}/add", {"new-zh": "主管", "key": "Boss!"}, page=ROLES)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "请为角色填写键" in page and 'value="主管"' in page                  # what was typed is kept
    again = post(as_admin, f"{ROLES}/add", {"new-en": "Again", "key": "agent"}, page=ROLES)
    assert again.status_code == 422 and "本应用已有键为 agent 的角色" in again.get_data(as_text=True)


def test_a_role_the_documents_still_name_is_not_removed_and_the_page_says_where(app, as_admin):
    as_admin.post("/language", {"lang": "zh"})
    post(as_admin, f"{ROLES}/add", {"new-en": "Auditor", "key": "auditor"}, page=ROLES)
    post(as_admin, f"{CASE}/permissions", {"agent-create": "1", "agent-read": "all", "agent-update": "own",
                                           "auditor-read": "all"})
    refused = post(as_admin, f"{ROLES}/auditor/remove", {}, page=ROLES)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "角色 auditor 仍在使用中" in page and "&#39;case&#39; 提到了角色 &#39;auditor&#39;" in page
    assert "auditor" in draft_app(app)["roles"]


def test_a_role_people_hold_is_not_removed(app, as_admin):
    post(as_admin, f"{CASE}/permissions", {"agent-create": "1", "agent-read": "all", "agent-update": "own",
                                           "viewer-read": "none"})
    refused = post(as_admin, f"{ROLES}/viewer/remove", {}, page=ROLES)
    assert refused.status_code == 422
    assert "1 person holds the role viewer" in refused.get_data(as_text=True)
    assert "viewer" in draft_app(app)["roles"]


def test_an_unused_role_is_removed_with_its_name_and_the_admin_role_never(app, as_admin):
    post(as_admin, f"{ROLES}/add", {"new-en": "Temp", "key": "temp"}, page=ROLES)
    assert post(as_admin, f"{ROLES}/temp/remove", {}, page=ROLES).status_code == 303
    doc = draft_app(app)
    assert "temp" not in doc["roles"] and "temp" not in (doc.get("role_labels") or {})
    refused = post(as_admin, f"{ROLES}/admin/remove", {}, page=ROLES)
    assert refused.status_code == 422 and "administrators&#39; role cannot be removed" in refused.get_data(as_text=True)
    assert post(as_admin, f"{ROLES}/nobody/remove", {}, page=ROLES).status_code == 404
