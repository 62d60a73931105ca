"""visible_if / required_if in the field editor, through the condition builder: the rule is
shown as rows (and as JSON on request), saved to the draft from the rows, refused by the input
it concerns in the reader's language; a rule the builder cannot show stays JSON, editable and
checked on save by the same validation as `formloom validate`; labels are shown escaped."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from formloom.store.tables import app_drafts

from .test_designer import BASE, CASE, post

REASON = f"{CASE}/fields/reason"
P = "s-visible_if"


def draft_field(app, entity: str, key: str) -> dict:
    with app.extensions["formloom.db"].read() as conn:
        documents = conn.execute(select(app_drafts.c.documents)).scalar_one()
    documents = json.loads(documents) if isinstance(documents, str) else documents
    found = next(e for e in documents["app"]["entities"] if e["key"] == entity)
    return next(f for f in found["fields"] if f["key"] == key)


def reason_form(**rows) -> dict:
    """The reason field's settings as the page posts them, with `rows` for visible_if."""
    return {"s-label-en": "Escalation reason", "s-required": "1", **rows}


def test_the_field_editor_shows_a_condition_as_rows_and_as_json(as_admin):
    page = as_admin.get(REASON).get_data(as_text=True)
    builder = page[page.index(f'id="cb-{P}"'):]
    assert re.search(rf'name="{P}-1-field".*?<option value="escalated" selected>Escalated</option>', builder, re.S)
    assert re.search(rf'name="{P}-1-op".*?<option value="eq" selected>is</option>', builder, re.S)
    assert re.search(rf'name="{P}-1-value".*?<option value="true" selected>', builder, re.S)
    assert "Show JSON" in builder and '{&#34;==&#34;:[{&#34;var&#34;:&#34;escalated&#34;},true]}' in builder
    assert '<option value="gt"' not in builder.split(f'name="{P}-1-value"')[0].split(f'name="{P}-1-op"')[1]
    assert "js/condition_builder.js" in page


def test_a_condition_built_from_rows_is_saved_to_the_draft(app, as_admin):
    answer = post(as_admin, REASON, reason_form(**{
        f"{P}-mode": "any", f"{P}-item": ["1", "2", "2.3", "2.4"],
        f"{P}-1-field": "priority", f"{P}-1-op": "eq", f"{P}-1-value": "high",
        f"{P}-2-kind": "group", f"{P}-2-mode": "all",
        f"{P}-2.3-field": "budget", f"{P}-2.3-op": "gte", f"{P}-2.3-value": "5000",
        f"{P}-2.4-field": "$stage", f"{P}-2.4-op": "eq", f"{P}-2.4-value": "open"}), page=REASON)
    assert answer.status_code == 303
    assert draft_field(app, "case", "reason")["visible_if"] == {"or": [
        {"==": [{"var": "priority"}, "high"]},
        {"and": [{">=": [{"var": "budget"}, 5000]}, {"==": [{"var": "$stage"}, "open"]}]}]}
    page = as_admin.get(REASON).get_data(as_text=True)
    assert re.search(rf'name="{P}-2.4-field".*?<option value="\$stage" selected>Stage</option>', page, re.S)


def test_no_rows_removes_the_condition(app, as_admin):
    answer = post(as_admin, REASON, reason_form(**{f"{P}-mode": "all"}), page=REASON)
    assert answer.status_code == 303
    assert "visible_if" not in draft_field(app, "case", "reason")


def test_a_bad_value_is_refused_by_its_row_in_the_users_language(app, as_admin):
    as_admin.post("/language", {"lang": "zh"})
    answer = post(as_admin, REASON, reason_form(**{
        f"{P}-item": ["1"], f"{P}-1-field": "budget", f"{P}-1-op": "gt", f"{P}-1-value": "很多"}), page=REASON)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    row = page[page.index(f'data-cb-item="1"'):]
    assert re.search(rf'name="{P}-1-value" value="很多".*?请输入数字。', row, re.S)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(app_drafts)).first() is None


def test_a_rule_the_builder_cannot_show_stays_json_and_is_checked_on_save(app, as_admin):
    rule = {"if": [{"var": "escalated"}, True, {"var": "code"}]}
    assert post(as_admin, REASON, reason_form(**{f"{P}-source": "json", f"{P}-json": json.dumps(rule)}),
                page=REASON).status_code == 303
    assert draft_field(app, "case", "reason")["visible_if"] == rule
    page = as_admin.get(REASON).get_data(as_text=True)
    assert "cannot show this condition as rows" in page and "Edit as JSON" in page
    assert f'name="{P}-1-field"' not in page
    answer = post(as_admin, REASON, reason_form(**{f"{P}-source": "json", f"{P}-json": "{\"if\": ["}), page=REASON)
    assert answer.status_code == 422 and "This is not valid JSON" in answer.get_data(as_text=True)
    unknown = {"==": [{"var": "ghost"}, 1]}
    answer = post(as_admin, REASON, reason_form(**{f"{P}-source": "json", f"{P}-json": json.dumps(unknown)}),
                  page=REASON)
    assert answer.status_code == 422
    assert re.search(r'id="control-visible_if".*?ghost', answer.get_data(as_text=True), re.S)
    assert draft_field(app, "case", "reason")["visible_if"] == rule


def test_labels_in_the_builder_are_shown_escaped(as_admin):
    page = as_admin.get(f"{BASE}/e/company/fields/name").get_data(as_text=True)
    assert "City &lt;i&gt;{{7*7}}&lt;/i&gt;" in page and "<i>{{7*7}}" not in page and "<i>49" not in page


def test_a_user_field_is_tested_against_the_apps_people_by_name(app, as_admin, people):
    assert post(as_admin, f"{CASE}/new/user", {"s-label-en": "Assignee", "s-key": "assignee"}).status_code == 303
    answer = post(as_admin, REASON, reason_form(**{
        f"{P}-item": ["1"], f"{P}-1-field": "assignee", f"{P}-1-op": "eq", f"{P}-1-value": str(people.agent)}),
        page=REASON)
    assert answer.status_code == 303
    assert draft_field(app, "case", "reason")["visible_if"] == {"==": [{"var": "assignee"}, people.agent]}
    page = as_admin.get(REASON).get_data(as_text=True)
    assert re.search(rf'name="{P}-1-value".*?<option value="{people.agent}" selected>Alex Agent</option>', page, re.S)
    assert "Out Sider" not in page                    # not a member of this app
