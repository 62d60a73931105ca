"""The record form (new and edit), the detail page and the public form follow the entity's
layout: titled sections in their columns, unplaced fields last, and each field only where
the layout shows it."""
from __future__ import annotations

import copy
import re

import pytest

from formloom import public_forms as pf
from formloom.store.apps import compile_version, current_version
from formloom.store.install import install_documents

from .desk import CASE_FLOW, desk_app

LAYOUT = {"sections": [
    {"key": "basics", "title": {"en": "Basics", "zh": "基本信息"}, "columns": 2,
     "fields": ["subject", "company", "priority"]},
    {"key": "later", "title": {"en": "Later <b>on</b>", "zh": "后续"}, "collapsed": True,
     "description": {"en": "Filled as the case goes", "zh": "随工单推进填写"},
     "fields": [{"key": "code", "create": False}, {"key": "notes", "detail": False}]},
]}


@pytest.fixture
def laid_out(app):
    doc = desk_app()
    next(e for e in doc["entities"] if e["key"] == "case")["layout"] = copy.deepcopy(LAYOUT)
    doc["version"] = 2
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    return app


def _sections(page: str) -> list[tuple[str, list[str]]]:
    """(section key, field keys in it) in page order."""
    out = []
    for match in re.finditer(r'data-section="([a-z_]+)"(.*?)(?=data-section="|<div class="actions"|<p class="meta)',
                             page, re.S):
        out.append((match.group(1), re.findall(r'data-field="([a-z_]+)"|data-key="([a-z_]+)"', match.group(2))))
    return [(key, [a or b for a, b in fields]) for key, fields in out]


def test_the_new_form_shows_sections_in_their_columns_and_leaves_out_later_fields(laid_out, as_admin):
    page = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    assert [key for key, _ in _sections(page)] == ["basics", "later", "_rest"]
    basics = dict(_sections(page))["basics"]
    assert basics == ["subject", "company", "priority"]
    assert 'class=" section-grid cols-2"' in page
    assert 'id="field-code"' not in page and 'id="field-notes"' in page
    assert "Later &lt;b&gt;on&lt;/b&gt;" in page and "Later <b>on</b>" not in page     # a title is data
    assert '<details class="layout-section" data-section="later">' in page              # collapsed: not open
    assert "Other fields" in page and "record-form has-layout" in page


def test_the_edit_form_shows_what_the_layout_keeps_for_edits(laid_out, as_admin, make_record, people):
    record = make_record("case", {"subject": "Printer jam"}, actor=people.admin)
    page = as_admin.get(f"/apps/desk/case/{record.id}/edit").get_data(as_text=True)
    assert 'id="field-code"' in page and 'id="field-notes"' in page


def test_a_refused_save_opens_the_folded_section_holding_the_error(laid_out, as_admin, make_record, people):
    record = make_record("case", {"subject": "Printer jam"}, actor=people.admin)
    edit = f"/apps/desk/case/{record.id}/edit"
    response = as_admin.post(edit, {"subject": "Printer jam", "_version": "1", "code": "x" * 300},
                             token_from=edit)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<details class="layout-section" data-section="later" open>' in page


def test_the_detail_page_groups_values_by_section_in_chinese_too(laid_out, as_admin, make_record, people):
    record = make_record("case", {"subject": "Printer jam", "notes": "secret-ish", "code": "A-1", "due": "2026-12-01"},
                         actor=people.admin)
    page = as_admin.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    sections = dict(_sections(page))
    assert list(sections) == ["basics", "later", "_rest"] and sections["later"] == ["code"]     # notes: not here
    assert sections["basics"][0] == "subject" and "due" in sections["_rest"]
    assert "Basics" in page and "Filled as the case goes" in page
    as_admin.post("/language", {"lang": "zh", "next": "/"})
    zh = as_admin.get(f"/apps/desk/case/{record.id}").get_data(as_text=True)
    assert "基本信息" in zh and "随工单推进填写" in zh


def test_without_a_layout_the_form_is_one_untitled_column(app, as_admin):
    page = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    assert "layout-section" not in page and "has-layout" not in page and "section-grid" not in page


def test_the_public_form_uses_the_same_sections(laid_out):
    db = laid_out.extensions["formloom.db"]
    with db.write() as conn:
        app_def = compile_version(current_version(conn, "desk").documents)
        form = pf.save_form(conn, app_def, key="report", entity_key="case", fields=["subject", "priority", "code"],
                            defaults={}, title={"en": "Report a problem"}, thank_you={"en": "Thanks"},
                            owner_id=None, frame_origins=[], actor_id=None)
    page = laid_out.test_client().get(f"/f/{form.token}").get_data(as_text=True)
    assert [key for key, _ in _sections(page)] == ["basics", "later"]
    assert dict(_sections(page))["basics"] == ["subject", "priority"]
