"""Settings that name an entity or a field are chosen from what the draft has, not typed as keys.

A rollup's related entity is picked from the app's entities; its "through" field from that entity's
references to this one; the rolled-up field, the window's date and the `where` condition's rows
from that entity's fields — the form reloads with the new choices when the related entity changes.
What is saved is the same document `formloom validate` checks."""
from __future__ import annotations

import re

from .test_designer import BASE, post
from .test_designer_conditions import draft_field

COMPANY = f"{BASE}/e/company"
NEW_ROLLUP = f"{COMPANY}/new/rollup"


def select_of(page: str, name: str) -> str:
    match = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert match, f"no select named {name}"
    return match.group(1)


def offered(page: str, name: str) -> list[str]:
    return [v for v in re.findall(r'<option value="([^"]*)"', select_of(page, name)) if v]


def chosen(page: str, name: str) -> str | None:
    match = re.search(r'<option value="([^"]*)" selected>', select_of(page, name))
    return match.group(1) if match else None


def rollup_form(**more) -> dict:
    return {"s-label-en": "High-priority cases, 30 days", "s-key": "hot_cases", "s-function": "sum", **more}


def test_a_new_rollup_offers_the_entities_and_asks_for_one_before_its_fields(as_admin):
    page = as_admin.get(NEW_ROLLUP).get_data(as_text=True)
    assert offered(page, "s-source") == ["company", "case"]
    assert re.search(r'<option value="case">Case \(case\)</option>', select_of(page, "s-source"))
    assert re.search(r'<select[^>]*name="s-source"[^>]*data-refresh', page)
    assert offered(page, "s-via") == [] and offered(page, "s-window-field") == []
    assert page.count("Choose Related entity first.") >= 3         # via, field, window date (and the condition)
    assert 'name="do" value="refresh"' in page and "js/refresh_on_change.js" in page


def test_choosing_the_related_entity_offers_its_fields_by_what_each_setting_takes(as_admin):
    answer = post(as_admin, NEW_ROLLUP, rollup_form(**{"s-source": "case", "do": "refresh"}), page=NEW_ROLLUP)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert chosen(page, "s-source") == "case"
    assert offered(page, "s-via") == ["company"]                  # only references to this entity
    assert {"budget", "due", "priority", "subject"} <= set(offered(page, "s-field"))
    assert offered(page, "s-window-field") == ["due"]             # only dates measure a window
    builder = page[page.index('id="cb-s-where"'):]
    assert re.search(r'<option value="priority">Priority</option>', builder)
    assert "Choose Related entity first." not in page
    assert 'value="High-priority cases, 30 days"' in page         # nothing typed is lost by the reload


def test_the_picked_settings_are_saved_as_the_rollups_document(app, as_admin):
    P = "s-where"
    answer = post(as_admin, NEW_ROLLUP, rollup_form(**{
        "s-source": "case", "s-via": "company", "s-field": "budget",
        f"{P}-mode": "all", f"{P}-item": ["1"], f"{P}-1-field": "priority", f"{P}-1-op": "eq", f"{P}-1-value": "high",
        "s-window-field": "due", "s-window-last": "P30D"}), page=NEW_ROLLUP)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    field = draft_field(app, "company", "hot_cases")
    assert {k: field[k] for k in ("function", "source", "via", "field", "where", "window")} == {
        "function": "sum", "source": "case", "via": "company", "field": "budget",
        "where": {"==": [{"var": "priority"}, "high"]}, "window": {"field": "due", "last": "P30D"}}
    page = as_admin.get(f"{COMPANY}/fields/hot_cases").get_data(as_text=True)
    assert (chosen(page, "s-source"), chosen(page, "s-via"), chosen(page, "s-field"),
            chosen(page, "s-window-field")) == ("case", "company", "budget", "due")
    assert 'value="P30D"' in page
    builder = page[page.index('id="cb-s-where"'):]
    assert re.search(r'name="s-where-1-field".*?<option value="priority" selected>', builder, re.S)


def test_a_window_missing_its_duration_is_refused_by_the_window_in_the_readers_language(app, as_admin):
    as_admin.post("/language", {"lang": "zh"})
    answer = post(as_admin, NEW_ROLLUP, rollup_form(**{
        "s-source": "case", "s-via": "company", "s-window-field": "due"}), page=NEW_ROLLUP)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    group = page[page.index('id="control-window"'):]
    assert re.search(r'class="error-text" role="alert">[^<]*last', group)
    assert chosen(page, "s-window-field") == "due"                # kept as chosen


def test_before_choosing_in_chinese_the_form_says_what_to_choose_first(as_admin):
    as_admin.post("/language", {"lang": "zh"})
    page = as_admin.get(NEW_ROLLUP).get_data(as_text=True)
    assert "请先选择关联实体。" in page


def test_a_reference_field_picks_its_entity(as_admin):
    page = as_admin.get(f"{BASE}/e/case/fields/company").get_data(as_text=True)
    assert offered(page, "s-entity") == ["company", "case"] and chosen(page, "s-entity") == "company"
