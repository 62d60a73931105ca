"""Create and edit forms: field errors in the user's language, visible_if, read-only
fields, optimistic locking, inline validation and the reference picker."""
from __future__ import annotations

import pytest

from formloom.store.records import get_record, update_record


@pytest.fixture
def acme(make_record):
    return make_record("company", {"name": "Acme"})


def stored(app, record_id, entity="case"):
    desk, _version = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].read() as conn:
        return get_record(conn, desk, desk.entity(entity), record_id)


def test_new_form_shows_the_writable_fields(as_agent):
    page = as_agent.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'name="subject"' in page and 'name="budget"' in page and 'name="due"' in page
    assert 'name="csrf_token"' in page
    assert "data-visible-if='{\"==\": [{\"var\": \"escalated\"}, true]}'" in page
    assert 'hx-post="/apps/desk/case/validate/subject"' in page
    code_input = page.split('id="field-code"')[1].split("</div>")[0]
    assert "disabled" in code_input              # read-only for agents


def test_create_stores_the_record_and_opens_it(app, as_agent, acme, people):
    response = as_agent.post("/apps/desk/case/new", {"subject": "Printer on fire", "company": str(acme.id),
                                                     "priority": "high", "budget": "99.90", "due": "2026-05-01"})
    assert response.status_code == 303
    record_id = int(response.headers["Location"].rsplit("/", 1)[1])
    record = stored(app, record_id)
    assert record.data["subject"] == "Printer on fire"
    assert record.data["company"] == acme.id
    assert record.data["budget"] == "99.90"
    assert record.owner_id == people.agent
    assert record.stage == "open"


def test_create_with_mistakes_answers_422_with_every_field_error(as_agent):
    response = as_agent.post("/apps/desk/case/new", {"subject": "", "budget": "-5", "due": "tomorrow"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Some values need attention." in page
    subject = page.split('id="field-subject"')[1].split('id="field-')[0]
    assert "This field is required." in subject
    assert "has-error" in page.split('id="field-subject"')[0].rsplit("<div", 1)[1]
    assert "Enter an amount of at least 0." in page
    assert "Enter a date as YYYY-MM-DD." in page
    assert 'value="-5"' in page                     # what was typed is kept


def test_field_errors_come_in_the_users_language(as_agent):
    as_agent.post("/language", {"lang": "zh"})
    response = as_agent.post("/apps/desk/case/new", {"subject": "x" * 41})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "最多输入 40 个字符" in page
    assert "主题" in page                            # the field label in Chinese


def test_visible_if_decides_on_the_server(app, as_agent):
    response = as_agent.post("/apps/desk/case/new", {"subject": "Calm", "reason": ""})
    assert response.status_code == 303                  # not escalated: the reason is not asked for
    response = as_agent.post("/apps/desk/case/new", {"subject": "Angry", "escalated": "y", "reason": ""})
    assert response.status_code == 422
    reason = response.get_data(as_text=True).split('id="field-reason"')[1].split('id="field-')[0]
    assert "This field is required." in reason
    response = as_agent.post("/apps/desk/case/new", {"subject": "Angry", "escalated": "y", "reason": "CEO"})
    assert response.status_code == 303


def test_read_only_fields_are_ignored_on_post(app, as_agent):
    response = as_agent.post("/apps/desk/case/new", {"subject": "Sneaky", "code": "FORGED"})
    assert response.status_code == 303
    record = stored(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert "code" not in record.data or record.data["code"] in (None, "")


def test_those_who_may_not_create_are_refused(browser):
    browser.login("viewer@example.com")
    assert browser.get("/apps/desk/case/new").status_code == 403
    assert browser.post("/apps/desk/case/new", {"subject": "Nope"}).status_code == 403


def test_create_without_csrf_token_is_refused(as_agent):
    response = as_agent.client.post("/apps/desk/case/new", data={"subject": "No token"})
    assert response.status_code == 400


def test_htmx_posts_carry_the_token_in_a_header(as_agent):
    token = as_agent.csrf_token("/")
    response = as_agent.client.post("/apps/desk/case/validate/subject", data={"subject": "ok"},
                                    headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200


def test_edit_form_shows_stored_values_and_the_version(as_agent, make_record, acme):
    case = make_record("case", {"subject": "Old subject", "company": acme.id, "budget": "10.00"})
    page = as_agent.get(f"/apps/desk/case/{case.id}/edit").get_data(as_text=True)
    assert 'value="Old subject"' in page
    assert f'name="_version" value="{case.version}"' in page
    assert "<span>Acme</span>" in page


def test_edit_saves_changes(app, as_agent, make_record):
    case = make_record("case", {"subject": "Old subject", "budget": "10.00"})
    response = as_agent.post(f"/apps/desk/case/{case.id}/edit",
                             {"_version": str(case.version), "subject": "New subject", "budget": "11.00"})
    assert response.status_code == 303
    record = stored(app, case.id)
    assert record.data["subject"] == "New subject" and record.data["budget"] == "11.00"
    assert record.version == case.version + 1


def test_a_stale_edit_is_refused_with_the_fresh_values(app, as_agent, make_record, people):
    case = make_record("case", {"subject": "Original", "budget": "10.00"})
    desk, version_id = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:      # someone else saves first
        update_record(conn, desk, desk.entity("case"), case.id, {"subject": "Theirs"},
                      actor_id=people.admin, expected_version=case.version)
    response = as_agent.post(f"/apps/desk/case/{case.id}/edit",
                             {"_version": str(case.version), "subject": "Mine", "budget": "10.00"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else changed this record while you were editing it." in page
    conflict = page.split('class="alert conflict"')[1].split("</section>")[0]
    assert "Theirs" in conflict and "Mine" in conflict
    assert f'name="_version" value="{case.version + 1}"' in page      # saving again is a deliberate choice
    assert stored(app, case.id).data["subject"] == "Theirs"             # nothing was lost


def test_edit_with_mistakes_answers_422(as_agent, make_record):
    case = make_record("case", {"subject": "Fine"})
    response = as_agent.post(f"/apps/desk/case/{case.id}/edit", {"_version": str(case.version), "subject": ""})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)


def test_edit_of_someone_elses_record_is_404_and_viewers_get_403(browser, make_record, people):
    mine = make_record("case", {"subject": "Agent's"})
    theirs = make_record("case", {"subject": "Olga's"}, actor=people.other_agent)
    browser.login("agent@example.com")
    assert browser.post(f"/apps/desk/case/{theirs.id}/edit", {"_version": "1", "subject": "x"}).status_code == 404
    browser.logout()
    browser.login("viewer@example.com")
    assert browser.get(f"/apps/desk/case/{mine.id}/edit").status_code == 403


def test_inline_validation_answers_the_field_fragment(as_agent):
    response = as_agent.post("/apps/desk/case/validate/subject", {"subject": "x" * 41},
                             headers={"HX-Request": "true"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert body.lstrip().startswith('<div class="field field-text has-error"')
    assert "Enter at most 40 characters" in body
    ok = as_agent.post("/apps/desk/case/validate/subject", {"subject": "fine"}, headers={"HX-Request": "true"})
    assert ok.status_code == 200 and "has-error" not in ok.get_data(as_text=True)


def test_inline_validation_of_an_unknown_field_is_404(as_agent):
    assert as_agent.post("/apps/desk/case/validate/nope", {}).status_code == 404


def test_the_picker_searches_titles_and_answers_at_most_20(as_agent, make_record):
    for i in range(25):
        make_record("company", {"name": f"Company {i:02d}"})
    make_record("company", {"name": "Zeta Corp"})
    body = as_agent.get("/apps/desk/case/pick/company?q=zeta").get_data(as_text=True)
    assert "Zeta Corp" in body and "Company 01" not in body
    everything = as_agent.get("/apps/desk/case/pick/company?q=").get_data(as_text=True)
    assert everything.count("data-pick-id=") == 20


def test_the_picker_only_serves_reference_fields(as_agent):
    assert as_agent.get("/apps/desk/case/pick/subject?q=a").status_code == 404


def test_inline_validation_of_a_record_one_may_not_update_is_refused(browser, make_record):
    case = make_record("case", {"subject": "Agent's"})
    browser.login("viewer@example.com")
    response = browser.post("/apps/desk/case/validate/subject", {"_record": str(case.id), "subject": "x"})
    assert response.status_code == 403
