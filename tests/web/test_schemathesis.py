"""Schemathesis against the OpenAPI document.

Through the WSGI app on the desk app: data the document allows (and, for every
operation, a few cases it does not) never causes a server error. Then every check
(`--checks all`, all four phases) over a real loopback server, on the CRM and on the
helpdesk app under tests/apps/ (see contract.py): the API answers as its document
says, and refuses a schema-valid request only for a business rule the document lists.
About two minutes together, hence `slow`."""
from __future__ import annotations

import pytest
import schemathesis
from collections import Counter
from pathlib import Path
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from .api_client import Api, token_for  # noqa: F401

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 12


def test_openapi_document_is_valid_openapi_3_1(app, people, token_for):
    api = Api(app.test_client(), token_for(people.admin))
    doc = api.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(doc).validate()
    assert "/api/v1/desk/case" in doc["paths"] and "/api/v1/desk/case/{id}/stage" in doc["paths"]


def test_no_server_errors(app, people, token_for, make_record):
    for i in range(3):
        company = make_record("company", {"name": f"Company {i}"})
        make_record("case", {"subject": f"Case {i}", "company": company.id, "budget": "10"})
    headers = {"Authorization": f"Bearer {token_for(people.agent)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures, statuses = [], Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def run(case):
                response = case.call(headers=headers)
                statuses[response.status_code // 100] += 1
                if response.status_code >= 500:
                    failures.append((operation.label, case.path_parameters, case.query, case.body,
                                     response.status_code, response.text[:300]))
            run()
    assert failures == []
    assert statuses[2] > 0 and statuses[4] > 0          # it did reach the API both ways


# -- every check, on the CRM and on an app that is not the CRM --------------------------

APPS = Path(__file__).resolve().parents[1] / "apps"
CONTRACT_EXAMPLES = 6


def _contract_server(database_url, tmp_path, template: Path, app_key: str, seed_records):
    from formloom.app import create_app
    from formloom.auth.users import create_user
    from formloom.store.install import install_path

    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True,
                            "MAX_CONTENT_LENGTH": 64_000,
                            # the bulk write's maxItems: its boundary (limit + 1 items) is probed, and a
                            # thousand records per request would outlast the client's 10 s timeout on a
                            # loaded machine; the limit's own behaviour is tested in test_api_bulk_writes
                            "BULK_MAX_ITEMS": 20})
    db = flask_app.extensions["formloom.db"]
    install_path(db, template)
    app = flask_app.extensions["formloom.catalog"].app(app_key)
    with db.write() as conn:
        admin = create_user(conn, "admin@example.com", "correct-horse-9", name="Ada Admin",
                            roles=[(app_key, app.admin_role)])
        seed_records(conn, app, admin)
    return flask_app, admin


def _seed_helpdesk(conn, app, admin):
    from formloom.store.records import create_record, delete_record
    queue = create_record(conn, app, app.entity("queue"), {"name": "Hardware"}, actor_id=admin, owner_id=admin)
    gone = create_record(conn, app, app.entity("queue"), {"name": "Printers"}, actor_id=admin, owner_id=admin)
    delete_record(conn, app, app.entity("queue"), gone.id, actor_id=admin)
    create_record(conn, app, app.entity("queue"), {"name": "Printers"}, actor_id=admin, owner_id=admin)
    for i in range(3):
        create_record(conn, app, app.entity("ticket"), {"subject": f"Laptop {i} will not boot", "queue": queue.id,
                                                        "severity": "s2", "due_on": "2026-12-01"},
                      actor_id=admin, owner_id=admin)


def _seed_crm(conn, app, admin):
    from formloom.store.records import create_record
    customer = create_record(conn, app, app.entity("customer"), {"name": "Hangzhou Robotics"},
                             actor_id=admin, owner_id=admin)
    create_record(conn, app, app.entity("opportunity"), {"name": "Line 3 retrofit", "customer": customer.id},
                  actor_id=admin, owner_id=admin)


#: the CRM lists with the most filters are left to fuzzing alone; the helpdesk's lists and two
#: of the CRM's get the coverage phase's walk over every parameter (a minute each otherwise)
CRM_LISTS_FUZZED_ONLY = ("list_crm_opportunity", "list_crm_contract", "list_crm_follow_up", "list_crm_contact")


@pytest.mark.parametrize("template,app_key,seed,no_coverage", [
    (APPS / "helpdesk", "helpdesk", _seed_helpdesk, ()),
    (Path(__file__).resolve().parents[2] / "app_templates" / "crm", "crm", _seed_crm, CRM_LISTS_FUZZED_ONLY),
], ids=["helpdesk", "crm"])
def test_api_keeps_its_contract_under_every_check(database_url, tmp_path, template, app_key, seed, no_coverage):
    """`--checks all`: status codes, content types, headers and bodies as documented;
    schema-valid requests accepted and schema-invalid ones refused; deleted resources
    gone; no answer without auth. Only the documented business rules may refuse."""
    from formloom.auth.tokens import create_token
    from .contract import run_all_checks, serve

    flask_app, admin = _contract_server(database_url, tmp_path, template, app_key, seed)
    db = flask_app.extensions["formloom.db"]
    with db.write() as conn:
        token = create_token(conn, admin, "schemathesis")[1]
    base_url, stop = serve(flask_app)
    try:
        report = run_all_checks(base_url, token, max_examples=CONTRACT_EXAMPLES, no_coverage=no_coverage)
    finally:
        stop()
        db.dispose()
    assert report.failures == {} and report.errors == [], report.summary()
    assert report.statuses[200] > 0 and report.statuses[201] > 0 and report.statuses[422] > 0
