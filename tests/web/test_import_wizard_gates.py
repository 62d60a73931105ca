"""The import wizard over HTTP: an admin overrides stage gates with a reason (written to
each moved record's history); a child sheet of an .xlsx fills a table field, and its
errors name the sheet."""
from __future__ import annotations

import copy
import io

from openpyxl import Workbook
from sqlalchemy import select

from formloom.store.install import install_documents
from formloom.store.tables import records, stage_history

from .desk import CASE_FLOW, desk_app
from .test_import_export_web import join_imports, upload

CSV = "Subject,Stage\r\nNo budget yet,Closed\r\n".encode()


def gated(app):
    flow = copy.deepcopy(CASE_FLOW)
    flow["stages"][1]["gate"] = {"require": ["budget"]}
    doc = desk_app()
    doc["version"] = 2
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case["fields"].append({"key": "tasks", "type": "subtable", "label": {"en": "Tasks", "zh": "任务"},
                           "columns": [{"key": "what", "type": "text", "label": {"en": "What", "zh": "事项"},
                                        "required": True},
                                       {"key": "hours", "type": "number", "label": {"en": "Hours", "zh": "工时"},
                                        "min": 0}]})
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": flow})


def stored(app):
    with app.extensions["formloom.db"].read() as conn:
        return {r.data["subject"]: r for r in conn.execute(select(records).where(records.c.entity_key == "case"))}


def test_an_admin_overrides_the_gate_with_a_reason_and_it_goes_to_the_history(app, as_admin):
    gated(app)
    mapping_url = upload(as_admin, "case", "gated.csv", CSV).headers["Location"]
    page = as_admin.get(mapping_url).get_data(as_text=True)
    assert 'name="override_gates"' in page and 'name="override_reason"' in page
    form = {"col_0": "subject", "col_1": "$stage", "mode": "all-or-nothing", "action": "run"}
    blocked = as_admin.post(mapping_url, form, token_from=mapping_url)
    assert blocked.status_code == 303
    join_imports()
    report = as_admin.get(blocked.headers["Location"]).get_data(as_text=True)
    assert "Nothing was imported" in report and stored(app) == {}
    missing = as_admin.post(mapping_url, {**form, "override_gates": "1", "override_reason": " "},
                            token_from=mapping_url)
    assert missing.status_code == 422 and "Say why you are overriding the stage gate." in missing.get_data(as_text=True)
    checked = as_admin.post(mapping_url, {**form, "action": "check", "override_gates": "1",
                                          "override_reason": "Closed in the old tool"}, token_from=mapping_url)
    join_imports()
    report = as_admin.get(checked.headers["Location"]).get_data(as_text=True)
    assert 'data-count="created">1 to create' in report          # "Import now" from the report keeps the override
    assert '<input type="hidden" name="override_reason" value="Closed in the old tool">' in report
    done = as_admin.post(mapping_url, {**form, "override_gates": "1", "override_reason": "Closed in the old tool"},
                         token_from=mapping_url)
    join_imports()
    assert "Import finished." in as_admin.get(done.headers["Location"]).get_data(as_text=True)
    record = stored(app)["No budget yet"]
    assert record.stage == "closed"
    with app.extensions["formloom.db"].read() as conn:
        reason = conn.execute(select(stage_history.c.override_reason).where(
            stage_history.c.record_id == record.id, stage_history.c.to_stage == "closed")).scalar()
    assert reason == "Closed in the old tool"


def test_an_agent_sees_no_override_and_cannot_post_one(app, as_agent):
    gated(app)
    mapping_url = upload(as_agent, "case", "gated.csv", CSV).headers["Location"]
    assert 'name="override_gates"' not in as_agent.get(mapping_url).get_data(as_text=True)
    response = as_agent.post(mapping_url, {"col_0": "subject", "col_1": "$stage", "action": "run",
                                           "override_gates": "1", "override_reason": "please"}, token_from=mapping_url)
    assert response.status_code == 422
    assert "Only app admins may override a stage gate." in response.get_data(as_text=True)
    assert stored(app) == {}


def workbook() -> bytes:
    book = Workbook()
    main = book.active
    main.title = "Cases"
    for row in [["Subject", "Budget"], ["Printer jam", 100], ["Login fails", 5]]:
        main.append(row)
    tasks = book.create_sheet("Tasks")
    for row in [["Subject", "What", "Hours"], ["Printer jam", "Order toner", 1], ["Printer jam", "Clean", 2],
                ["Login fails", "Reset", "soon"]]:
        tasks.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_child_sheet_is_proposed_for_the_table_field_and_its_errors_name_the_sheet(app, as_agent):
    gated(app)
    mapping_url = upload(as_agent, "case", "cases.xlsx", workbook()).headers["Location"]
    page = as_agent.get(mapping_url).get_data(as_text=True)
    assert '<select id="sheet-tasks" name="sheet_tasks">' in page and '<option value="Tasks" selected>' in page
    form = {"col_0": "subject", "col_1": "budget", "sheet_tasks": "Tasks", "mode": "skip-bad-rows", "action": "run"}
    response = as_agent.post(mapping_url, form, token_from=mapping_url)
    join_imports()
    report = as_agent.get(response.headers["Location"]).get_data(as_text=True)
    assert "<td>Tasks</td><td>4</td><td>Hours</td><td>soon</td>" in report
    cases = stored(app)
    assert sorted(cases) == ["Printer jam"]
    assert [(t["what"], t["hours"]) for t in cases["Printer jam"].data["tasks"]] == [("Order toner", 1), ("Clean", 2)]
