"""A gate requirement kind added by an extension shows its own reason and fixes in the
gate dialog: the kind is registered here, in the tests, and web/pipeline.py knows
nothing of it. `quorum` (tests/workflow/test_extension_gate.py): enough different
people wrote related records; the fixes below are a link to add one (only for those
who may) and a note on who else could."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from formloom.app import create_app
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.workflow.gates import Fix, register_requirement, unregister_requirement

from ..workflow.test_extension_gate import QUORUM as WORKFLOW_QUORUM

from .pipeline_app import pipeline_app, pipeline_flow

BOARD = "/apps/desk/case/board"


def quorum_fixes(failure, place):
    entity, via = failure.details["entity"], failure.details["via"]
    href = place.new_record_url(entity, **{via: place.record_id})
    if href:
        yield Fix("Add yours", href)
    yield Fix("Ask a colleague to add one too")


#: the workflow test's kind (its evaluation, schema and labels) with fixes of its own
QUORUM = replace(WORKFLOW_QUORUM, fixes=quorum_fixes)


@pytest.fixture
def app(database_url, tmp_path):
    """The desk's case pipeline with `triage` gated by a quorum of two people's tasks."""
    register_requirement(QUORUM)
    flow = pipeline_flow()
    triage = next(s for s in flow["stages"] if s["key"] == "triage")
    triage["gate"] = {"quorum": {"entity": "task", "via": "case", "min": 2}}
    flask_app = create_app({
        "DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "INSTANCE": str(tmp_path / "instance"),
        "WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 64_000,
    })
    try:
        install_documents(flask_app.extensions["formloom.db"], pipeline_app(), {"case_flow": flow})
        yield flask_app
    finally:
        flask_app.extensions["formloom.db"].dispose()
        unregister_requirement("quorum")


def make(app, actor, entity="case", **data):
    desk, version_id = app.extensions["formloom.catalog"].get("desk")
    with app.extensions["formloom.db"].write() as conn:
        return create_record(conn, desk, desk.entity(entity), data, actor_id=actor, version_id=version_id)


def move(client, record_id, token):
    return client.post(f"/apps/desk/case/{record_id}/stage", data={"to": "triage", "csrf_token": token},
                       headers={"HX-Request": "true"})


def test_the_new_kind_shows_its_reason_and_its_fixes(app, as_agent, people):
    case = make(app, people.agent, subject="Quorum")
    make(app, people.agent, "task", summary="Mine", case=case.id)
    answer = move(as_agent.client, case.id, as_agent.csrf_token(BOARD))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    item = re.search(r'<li class="gate-failure" data-code="quorum">(.*?)</li>', html, re.S).group(1)
    assert "2 different people must take part (so far 1)." in item
    assert f'<a href="/apps/desk/task/new?case={case.id}">Add yours</a>' in item
    assert '<span class="gate-note">Ask a colleague to add one too</span>' in item
    assert 'class="gate-form"' not in html       # no field of the record can meet it

