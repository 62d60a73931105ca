"""A Chinese admin names things in Chinese: an entity named only 产品, with the key left
empty, was refused with "请为实体填写名称..." (give the entity a name), although it had one: a key
is made from an English name only. The refusal now asks for the key, keeps the name typed,
and the entity is added once a key is given. Found by the exploratory walk of the demo."""
from __future__ import annotations

import re

from .test_designer import BASE, post


def test_a_chinese_only_name_asks_for_a_key_and_keeps_the_name(as_admin):
    as_admin.post("/language", {"lang": "zh"})
    refused = post(as_admin, f"{BASE}/entities", {"label-zh": "产品"}, page=BASE)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "请为实体填写键" in page and "请为实体填写名称" not in page
    assert 'value="产品"' in page
    added = post(as_admin, f"{BASE}/entities", {"label-zh": "产品", "key": "product"}, page=BASE)
    assert added.status_code in (302, 303) and added.location.endswith("/e/product")


def test_no_name_at_all_still_asks_for_a_name(as_admin):
    refused = post(as_admin, f"{BASE}/entities", {"key": "thing"}, page=BASE)
    assert refused.status_code == 422
    assert "Give the entity a name" in refused.get_data(as_text=True)


def test_a_condition_typed_as_bad_json_says_where_in_chinese(as_admin):
    """Python's own JSON message ("Expecting property name enclosed in double quotes") was shown
    inside the Chinese sentence; the reader gets the line and column in Chinese instead."""
    from .test_designer import CASE
    as_admin.post("/language", {"lang": "zh"})
    refused = post(as_admin, f"{CASE}/fields/subject", {"s-label-en": "Subject", "s-visible_if-source": "json",
                                                       "s-visible_if-json": "{bad"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "这不是有效的 JSON（第 1 行第 2 列）。" in page and "Expecting" not in page


def test_entity_settings_refused_for_a_missing_name_keep_what_was_changed(as_admin):
    """The refusal re-drew the form from the saved entity: the menu name, title field and list
    columns just chosen were lost with it."""
    from .test_designer import CASE
    refused = post(as_admin, f"{CASE}/settings", {"plural-en": "Tickets", "title": "priority",
                                                 "list_columns": ["subject", "due"]})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "An entity needs a name in at least one language." in page
    form = page.split('id="entity-settings"')[1].split("</form>")[0]
    assert 'name="plural-en" value="Tickets"' in form
    assert '<option value="priority" selected>' in form and '<option value="subject" selected>' not in form
    ticked = re.findall(r'name="list_columns" value="(\w+)" checked', form)
    assert ticked == ["subject", "due"]
