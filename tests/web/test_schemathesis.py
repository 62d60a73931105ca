"""Schemathesis against the OpenAPI document, through the WSGI app: data the
document allows (and, for every operation, a few cases it does not) never
causes a server error. Bounded to stay well under a minute."""
from __future__ import annotations

import pytest
import schemathesis
from collections import Counter
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
