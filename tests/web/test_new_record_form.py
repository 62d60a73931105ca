"""The new-record form asks only what makes sense on a brand-new record: fields an
entity lists in `hidden_on_create` are left out (validated: they must exist and not be
required without a default), and it has an Owner, the current user by default, a choice
for people whose permissions reach other people's records (the policy's assign_scope)."""
from __future__ import annotations

import copy
import re

import pytest
from sqlalchemy import select

from formloom.definitions.validate import validate_app
from formloom.store.install import install_documents
from formloom.store.tables import records

from .desk import CASE_FLOW, desk_app


def _desk(**case_settings):
    doc = desk_app()
    case = next(e for e in doc["entities"] if e["key"] == "case")
    case.update(case_settings)
    return doc


@pytest.fixture
def hiding(app):
    doc = _desk(hidden_on_create=["code", "notes"])
    doc["version"] = 2
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    return app


def test_hidden_on_create_fields_are_not_on_the_new_form_but_are_on_edit(hiding, as_admin, make_record, people):
    page = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'id="field-subject"' in page
    assert 'id="field-code"' not in page and 'id="field-notes"' not in page
    record = make_record("case", {"subject": "Existing"}, actor=people.admin)
    edit = as_admin.get(f"/apps/desk/case/{record.id}/edit").get_data(as_text=True)
    assert 'id="field-code"' in edit and 'id="field-notes"' in edit


def _problems(doc):
    return validate_app(doc, {"case_flow": copy.deepcopy(CASE_FLOW)}, "app.json")


def test_hidden_on_create_is_validated():
    assert _problems(_desk(hidden_on_create=["code"])) == []
    unknown = _problems(_desk(hidden_on_create=["cdoe"]))
    assert any(p.json_path.endswith("hidden_on_create[0]") and "'cdoe'" in p.message and "code" in p.message
               for p in unknown), unknown
    required = _problems(_desk(hidden_on_create=["subject"]))
    assert any("required and has no default" in p.message for p in required), required


def test_the_owner_defaults_to_me_and_admins_may_choose(app, as_admin, people):
    page = as_admin.get("/apps/desk/case/new").get_data(as_text=True)
    select_html = re.search(r'<select id="owner-select" name="_owner">(.*?)</select>', page, re.S).group(1)
    assert f'<option value="{people.admin}" selected>' in select_html
    assert "Alex Agent" in select_html and "Out Sider" not in select_html        # members of the app only
    token_page = "/apps/desk/case/new"
    response = as_admin.post("/apps/desk/case/new", {"subject": "For Alex", "_owner": str(people.agent)},
                             token_from=token_page)
    assert response.status_code == 303
    with app.extensions["formloom.db"].read() as conn:
        owner = conn.execute(select(records.c.owner_id).where(records.c.title == "For Alex")).scalar_one()
    assert owner == people.agent


def test_an_owner_outside_the_allowed_people_is_refused_by_the_field(app, as_admin, people):
    response = as_admin.post("/apps/desk/case/new", {"subject": "Nobody's", "_owner": str(people.outsider)},
                             token_from="/apps/desk/case/new")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="err-_owner"' in page and "Choose the owner from the list" in page
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records.c.id).where(records.c.title == "Nobody's")).first() is None


def test_an_agent_creates_for_themselves_only(app, as_agent, people):
    page = as_agent.get("/apps/desk/case/new").get_data(as_text=True)
    assert 'name="_owner"' not in page and "Alex Agent" in page
    response = as_agent.post("/apps/desk/case/new", {"subject": "Mine", "_owner": str(people.admin)},
                             token_from="/apps/desk/case/new")
    assert response.status_code == 303                      # the posted owner is ignored: it is not theirs to give
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records.c.owner_id).where(records.c.title == "Mine")).scalar_one() == people.agent
