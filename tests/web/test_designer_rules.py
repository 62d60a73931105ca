"""The rule designer in the browser's shoes (Flask test client, real database): only
app admins reach it; the trigger and action pickers offer exactly the registries'
types with forms generated from their settings; a rule saved goes to the draft,
validated like `formloom validate`, with problems shown by the setting; webhook
addresses pass the SSRF guard when saved; the dry-run lists the records and
writes nothing; the run history shows what a rule did; no post is ever a 500."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from formloom.automation import ACTIONS, TRIGGERS, Settings, run_worker_once
from formloom.design import drafts
from formloom.store.tables import jobs, notifications, records

from .test_designer import revision

BASE = "/apps/desk/design/workflows/case_flow/rules"

NOTIFY_OWNER = {
    "key": "due_soon", "label-en": "Due in 3 days", "label-zh": "3天后到期", "enabled": "1",
    "trigger-type": "date_field", "t-field": "due", "t-offset-n": "3", "t-offset-unit": "days",
    "t-offset-dir": "before", "t-at": "09:00",
    "rule-if-mode": "all", "rule-if-item": "1", "rule-if-1-field": "$terminal", "rule-if-1-op": "empty",
    "actions": "1", "a0-type": "notify", "a0-to": ["owner"], "a0-to-other": "",
    "a0-message-en": "{{ record.subject }} is due on {{ record.labels.due }}", "a0-message-zh": "",
    "do": "save",
}


def post(browser, path: str, data: dict, page: str = f"{BASE}/new"):
    text = browser.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    return browser.client.post(path, data={"revision": revision(text), "csrf_token": token, **data})


def draft_rules(app) -> list:
    with app.extensions["formloom.db"].read() as conn:
        draft = drafts.load_draft(conn, "desk")
    return draft.workflows["case_flow"].get("rules", []) if draft else []


def publish(browser):
    return post(browser, "/apps/desk/design/publish", {"comment": "rules"}, page="/apps/desk/design")


def test_only_app_admins_reach_the_rule_designer(browser):
    browser.login("agent@example.com")
    for path in (BASE, f"{BASE}/new", f"{BASE}/x/dry-run", f"{BASE}/x/history"):
        assert browser.get(path).status_code == 403, path
    assert browser.post(f"{BASE}/new", NOTIFY_OWNER).status_code == 403
    browser.logout()
    browser.login("outsider@example.com")
    assert browser.get(BASE).status_code == 404


def test_writes_need_the_csrf_token(as_admin):
    page = as_admin.get(f"{BASE}/new").get_data(as_text=True)
    assert as_admin.client.post(f"{BASE}/new", data={**NOTIFY_OWNER, "revision": revision(page)}).status_code == 400


def test_the_pickers_offer_exactly_the_registered_types(as_admin):
    page = as_admin.get(f"{BASE}/new").get_data(as_text=True)
    picker = re.search(r'<select id="trigger-type".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([a-z_]+)"', picker) == list(TRIGGERS)
    adder = re.search(r'<select id="add-action".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([a-z_]+)"', adder) == list(ACTIONS)


def test_a_trigger_form_is_generated_from_its_settings(as_admin):
    page = as_admin.get(f"{BASE}/new?trigger=date_field").get_data(as_text=True)
    for name in (s.name for s in TRIGGERS["date_field"].settings):
        assert f'id="control-t-{name}"' in page
    assert 'name="t-offset-unit"' in page and 'name="t-offset-dir"' in page      # "[3] [days] [before]"
    assert 'type="time"' in page                                                # "at [09:00]"
    assert '<option value="due">Due</option>' in page                           # the entity's fields to pick


def test_a_rule_saved_in_the_editor_goes_to_the_draft_as_a_document(app, as_admin):
    answer = post(as_admin, f"{BASE}/new", NOTIFY_OWNER)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert draft_rules(app) == [{
        "key": "due_soon", "label": {"en": "Due in 3 days", "zh": "3天后到期"},
        "trigger": {"type": "date_field", "field": "due", "offset": "-P3D", "at": "09:00"},
        "condition": {"!": {"var": "$terminal"}},
        "actions": [{"type": "notify", "to": ["owner"], "message": {"en": "{{ record.subject }} is due on {{ record.labels.due }}"}}]}]
    listing = as_admin.get(BASE).get_data(as_text=True)
    assert 'id="rule-due_soon"' in listing and "Due in 3 days" in listing
    editor = as_admin.get(f"{BASE}/due_soon").get_data(as_text=True)
    assert 'name="t-offset-n" value="3"' in editor and '<option value="before" selected>' in editor
    builder = re.search(r'id="cb-rule-if".*?</details>', editor, re.S).group(0)       # the condition as a row
    assert re.search(r'<option value="\$terminal" selected>', builder)
    assert re.search(r'<option value="empty" selected>', builder)


def test_a_rule_the_validator_refuses_is_shown_with_the_problem_by_its_setting(app, as_admin):
    answer = post(as_admin, f"{BASE}/new", {**NOTIFY_OWNER, "t-field": "subject"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    control = re.search(r'id="control-t-field".*?</div>', page, re.S).group(0)
    assert 'role="alert"' in control and "subject" in control
    assert draft_rules(app) == []


def test_switching_a_rule_off_and_on_edits_the_draft(app, as_admin):
    post(as_admin, f"{BASE}/new", NOTIFY_OWNER)
    assert post(as_admin, f"{BASE}/due_soon/enabled", {"enabled": "0"}).status_code == 303
    assert draft_rules(app)[0]["enabled"] is False
    assert 'aria-checked="false"' in as_admin.get(BASE).get_data(as_text=True)
    post(as_admin, f"{BASE}/due_soon/enabled", {"enabled": "1"})
    assert "enabled" not in draft_rules(app)[0]


def test_a_webhook_to_a_private_address_is_refused_when_saved(app, as_admin):
    hook = {**NOTIFY_OWNER, "a0-type": "webhook", "a0-url": "http://127.0.0.1:8080/hook"}
    answer = post(as_admin, f"{BASE}/new", hook)
    assert answer.status_code == 422
    control = re.search(r'id="control-a0-url".*?</div>', answer.get_data(as_text=True), re.S).group(0)
    assert "127.0.0.1" in control and "loopback" in control
    assert draft_rules(app) == []


def test_a_schedule_reads_its_cron_in_words_with_the_next_five_runs(browser):
    with time_machine.travel(datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc), tick=False):
        browser.login("admin@example.com")
        answer = post(browser, f"{BASE}/new", {"key": "weekly", "trigger-type": "schedule", "t-cron": "0 9 * * 1",
                                                "actions": "0", "do": "refresh"})
    page = answer.get_data(as_text=True)
    assert "Every Monday at 09:00" in page
    runs = re.findall(r"<li>([^<]+)</li>", re.search(r'<ol class="small" id="cron-runs">.*?</ol>', page, re.S).group(0))
    assert len(runs) == 5 and all("09:00" in r for r in runs)
    assert runs[0].startswith("2 Mar 2026") and runs[4].startswith("30 Mar 2026")


def test_the_message_preview_renders_over_a_chosen_record_in_the_sandbox(as_admin, make_record):
    case = make_record("case", {"subject": "Printer", "due": "2026-03-10"})
    answer = post(as_admin, f"{BASE}/new", {**NOTIFY_OWNER, "do": "preview", "record": str(case.id)})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Printer is due on" in page and "Alex Agent" in page
    hostile = {**NOTIFY_OWNER, "a0-message-en": "{{ ''.__class__.__mro__ }}", "do": "preview", "record": str(case.id)}
    answer = post(as_admin, f"{BASE}/new", hostile)
    assert answer.status_code in (200, 422)
    assert "object" not in re.search(r'id="preview".*?</section>', answer.get_data(as_text=True), re.S).group(0)


def test_the_dry_run_lists_the_records_it_would_remind_and_writes_nothing(app, browser, make_record):
    as_admin = browser
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False):
        browser.login("admin@example.com")
        due = make_record("case", {"subject": "Printer", "due": "2026-03-10"})
        undated = make_record("case", {"subject": "No date"})
        post(as_admin, f"{BASE}/new", NOTIFY_OWNER)
        db = app.extensions["formloom.db"]
        with db.read() as conn:
            before = [conn.execute(select(func.count()).select_from(t)).scalar() for t in (jobs, notifications, records)]
        page = as_admin.get(f"{BASE}/due_soon/dry-run").get_data(as_text=True)
        with db.read() as conn:
            after = [conn.execute(select(func.count()).select_from(t)).scalar() for t in (jobs, notifications, records)]
    assert before == after
    acts = re.search(r'id="dry-run-acts".*?</section>', page, re.S).group(0)
    assert f'data-record="{due.id}"' in acts and "Printer is due on" in acts and "Alex Agent" in acts
    assert "2026" in acts and "09:00" in acts                                   # 2026-03-07 09:00 Shanghai
    skipped = re.search(r'id="dry-run-skipped".*?</section>', page, re.S).group(0)
    assert f'data-record="{undated.id}"' in skipped and "no due time" in skipped


def test_an_event_rule_dry_runs_for_a_chosen_record_and_change(as_admin, make_record):
    case = make_record("case", {"subject": "Printer"})
    post(as_admin, f"{BASE}/new", {**NOTIFY_OWNER, "key": "prio", "trigger-type": "field_changed",
                                   "t-field": "priority"})
    page = as_admin.get(f"{BASE}/prio/dry-run?record={case.id}&change=record_updated&fields=priority").get_data(as_text=True)
    assert f'data-record="{case.id}"' in re.search(r'id="dry-run-acts".*?</section>', page, re.S).group(0)
    page = as_admin.get(f"{BASE}/prio/dry-run?record={case.id}&change=record_updated&fields=subject").get_data(as_text=True)
    assert "does not fire" in page


def test_run_history_shows_the_record_the_outcome_and_the_message(app, browser, make_record):
    as_admin = browser
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False) as clock:
        browser.login("admin@example.com")
        case = make_record("case", {"subject": "Printer", "due": "2026-03-10"})
        post(as_admin, f"{BASE}/new", NOTIFY_OWNER)
        assert publish(as_admin).status_code == 303
        clock.move_to(datetime(2026, 3, 7, 1, 0, tzinfo=timezone.utc))          # 09:00 Shanghai
        run_worker_once(app.extensions["formloom.db"], app.extensions["formloom.catalog"],
                        settings=Settings.from_mapping(app.config))
        browser.login("admin@example.com")                                      # the session ended meanwhile
        page = as_admin.get(f"{BASE}/due_soon/history").get_data(as_text=True)
    runs = re.search(r'id="runs".*?</table>', page, re.S).group(0)
    assert f"#{case.id}" in runs and "fired" in runs and "Printer is due on" in runs and "Alex Agent" in runs


def test_the_rule_pages_in_chinese(app, browser):
    with app.extensions["formloom.db"].write() as conn:
        from formloom.auth.users import create_user
        create_user(conn, "zhadmin@example.com", "correct-horse-9", name="管理员", language="zh",
                    roles=[("desk", "admin")])
    browser.login("zhadmin@example.com")
    page = browser.get(f"{BASE}/new?trigger=date_field").get_data(as_text=True)
    assert "新规则" in page and "到达日期时" in page and "天" in page


words = st.one_of(st.sampled_from(["", "due", "subject", "open", "closed", "owner", "case", "3", "-P3D", "09:00",
                                   "0 9 * * 1", "http://10.0.0.1/x", "https://example.com/h", "{{ record.subject }}",
                                   '{"==": [1, 1]}', "{}", "round_robin"]),
                  st.text(alphabet=list("ab_9 -:{}[]\"P3DTH*/,<>"), max_size=12))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trigger=st.sampled_from(list(TRIGGERS)), action=st.sampled_from(list(ACTIONS)),
       values=st.dictionaries(st.sampled_from(["t-field", "t-stage", "t-offset-n", "t-offset-unit", "t-at", "t-cron",
                                               "t-after-n", "t-for-n", "t-entity", "t-via", "a0-field", "a0-value",
                                               "a0-url", "a0-stage", "a0-values", "a0-strategy", "a0-entity",
                                               "rule-if-source", "rule-if-json", "rule-if-1-field", "rule-if-1-op",
                                               "rule-if-1-value", "key"]), words, max_size=6))
def test_any_designer_built_rule_is_saved_or_refused_with_a_located_problem_never_a_500(as_admin, trigger, action,
                                                                                       values):
    data = {"key": "r", "trigger-type": trigger, "actions": "1", "a0-type": action, "do": "save", "rule-if-item": "1",
            **values}
    answer = post(as_admin, f"{BASE}/new", data)
    assert answer.status_code in (303, 422, 409)
    if answer.status_code == 422:
        assert re.search(r'role="alert"', answer.get_data(as_text=True))
    elif answer.status_code == 303:
        post(as_admin, f"{BASE}/r/delete", {})


def test_the_publish_preview_counts_the_reminders_a_rule_creates(app, browser, make_record):
    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False):
        browser.login("admin@example.com")
        make_record("case", {"subject": "Printer", "due": "2026-03-10"})
        make_record("case", {"subject": "Fax", "due": "2026-03-11"})
        post(browser, f"{BASE}/new", NOTIFY_OWNER)
        page = browser.get("/apps/desk/design").get_data(as_text=True)
    row = re.search(r'<tr data-rule="due_soon">.*?</tr>', page, re.S).group(0)
    assert re.findall(r"<td[^>]*>(\d+)</td>", row) == ["2", "0", "0"]
    assert 'href="/apps/desk/design/workflows/case_flow/rules"' in page            # the Rules link per workflow


def test_a_no_related_trigger_picks_via_from_the_chosen_entitys_fields_that_point_here(app, as_admin):
    from .test_designer_workflows import add_linking_entity
    add_linking_entity(app)
    page = as_admin.get(f"{BASE}/new?trigger=no_related").get_data(as_text=True)
    assert re.search(r'<select id="ctl-t-entity" name="t-entity" data-refresh>', page)
    answer = post(as_admin, f"{BASE}/new", {**NOTIFY_OWNER, "key": "", "trigger-type": "no_related",
                                             "t-entity": "visit", "do": "refresh"})
    assert answer.status_code == 200 and 'role="alert"' not in answer.get_data(as_text=True)   # nothing sent yet
    via = re.search(r'<select id="ctl-t-via".*?</select>', answer.get_data(as_text=True), re.S).group(0)
    assert re.findall(r'<option value="(\w*)"', via) == ["", "case"]
    assert '<option value="case" selected>Case</option>' in via
    answer = post(as_admin, f"{BASE}/new", {**NOTIFY_OWNER, "trigger-type": "no_related", "t-entity": "visit",
                                             "t-via": "case", "t-for-n": "3", "t-for-unit": "days",
                                             "t-for-dir": "after"})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert draft_rules(app)[0]["trigger"] == {"type": "no_related", "entity": "visit", "via": "case", "for": "P3D"}
