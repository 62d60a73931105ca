"""The record page writes its fields and its timeline's changes in Python, with one look-up
of titles for the whole page: labels and values are escaped, read in the reader's language,
and a change shows the value it made even when the record holds another one now
(tests/web/test_scoped_references.py: a title only where the reader may read the record)."""
from __future__ import annotations

import copy

from formloom.store.install import install_documents
from formloom.store.records import create_record, update_record

from .desk import CASE_FLOW, desk_app


def _update(app, entity_key: str, record, data: dict, actor: int):
    desk, version_id = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:
        return update_record(conn, desk, desk.entity(entity_key), record.id, data, actor_id=actor,
                             expected_version=record.version, version_id=version_id)


def test_fields_and_changes_are_escaped_and_in_the_readers_language(app, as_agent, make_record, people):
    company = make_record("company", {"name": "Acme <script>", "city": "Oslo"})
    _update(app, "company", company, {"city": "Bergen & <b>Co</b>"}, people.agent)
    page = as_agent.get(f"/apps/desk/company/{company.id}").get_data(as_text=True)
    assert '<dt>City &lt;i&gt;{{7*7}}&lt;/i&gt;</dt><dd>Bergen &amp; &lt;b&gt;Co&lt;/b&gt;</dd>' in page
    assert '<span class="change-field">City &lt;i&gt;{{7*7}}&lt;/i&gt;</span>' in page
    assert '<span class="old">Oslo</span> → <span class="new">Bergen &amp; &lt;b&gt;Co&lt;/b&gt;</span>' in page
    # the create entry shows what was written then, not what the record holds now
    assert '<span class="old"><span class="muted">—</span></span> → <span class="new">Oslo</span>' in page
    assert "<script>" not in page.split("<main", 1)[1]
    as_agent.post("/language", {"lang": "zh", "next": "/"})
    page = as_agent.get(f"/apps/desk/company/{company.id}").get_data(as_text=True)
    assert "<dt>城市</dt>" in page and '<span class="change-field">城市</span>' in page


def test_one_title_look_up_serves_fields_related_lists_and_changes(app, as_agent, make_record, people):
    first = make_record("company", {"name": "First Co"})
    second = make_record("company", {"name": "Second Co"})
    case = make_record("case", {"subject": "Jammed", "company": first.id})
    _update(app, "case", case, {"company": second.id}, people.agent)
    page = as_agent.get(f"/apps/desk/case/{case.id}").get_data(as_text=True)
    assert f'<dd><a href="/apps/desk/company/{second.id}">Second Co</a></dd>' in page
    assert (f'<span class="old"><a href="/apps/desk/company/{first.id}">First Co</a></span> → '
            f'<span class="new"><a href="/apps/desk/company/{second.id}">Second Co</a></span>') in page
    company_page = as_agent.get(f"/apps/desk/company/{second.id}").get_data(as_text=True)
    assert f'href="/apps/desk/case/{case.id}">Jammed</a>' in company_page      # its related list


def test_a_new_version_of_the_app_brings_its_related_lists_at_once(app, as_agent, make_record):
    company = make_record("company", {"name": "Acme"})
    assert as_agent.get(f"/apps/desk/company/{company.id}").status_code == 200     # statements built and kept
    doc = desk_app()
    doc["entities"].append({"key": "visit", "label": "Visit", "plural": {"en": "Visits", "zh": "拜访"},
                            "title": "name", "permissions": {"agent": {"read": "all", "create": True}},
                            "fields": [{"key": "name", "type": "text", "label": "Name"},
                                       {"key": "company", "type": "reference", "entity": "company",
                                        "label": "Company"}]})
    install_documents(app.extensions["formloom.db"], doc, {"case_flow": copy.deepcopy(CASE_FLOW)})
    desk, version_id = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:
        create_record(conn, desk, desk.entity("visit"), {"name": "First visit", "company": company.id},
                      actor_id=None, version_id=version_id)
    page = as_agent.get(f"/apps/desk/company/{company.id}").get_data(as_text=True)
    assert "Visits" in page and ">First visit</a>" in page
