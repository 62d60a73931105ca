"""Run schemathesis with every check against a real server, as CI would run
`schemathesis run --checks all`: a waitress server on a loopback port serving the
Flask app, the OpenAPI document it publishes, and the engine's examples, coverage,
fuzzing and stateful phases.

One allowance, and it is written in the document itself: a request the document
allows may be refused with 409 (stale version) or 422, but a 422 only for one of
the business rules its response lists under `x-business-rules` (a gate, a value
another record has, a reference to nothing). `business_rules_only` holds the
server to that list.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.jsonschema import make_validator
from schemathesis.engine import Status, events, from_schema
from waitress.server import create_server

POSITIVE_REFUSALS = ["2xx", "401", "403", "404", "409", "422"]
#: schemathesis's defaults (but 5xx), 413 (a body larger than MAX_CONTENT_LENGTH, e.g. a bulk body
#: of maxItems + 1 items) and 207: the bulk write in per_item mode answers Multi-Status when it
#: refused some items (each result says why) and wrote the others (web/bulk_writes.py)
NEGATIVE_REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "207"]


@schemathesis.check
def business_rules_only(ctx, response, case):
    """A schema-valid request answered 422 names only the business rules the 422 documents."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    documented = set((case.operation.definition.raw.get("responses", {}).get("422") or {})
                     .get("x-business-rules", []))
    try:
        body = response.json()
        code = body["error"]["code"]
        codes = {p["code"] for p in body["errors"]} if code == "invalid" else {code}
    except (ValueError, KeyError, TypeError):
        raise AssertionError("A 422 answer without the documented error shape") from None
    undocumented = sorted(codes - documented)
    if undocumented:
        raise AssertionError(f"A request the document allows was refused for {', '.join(undocumented)}, "
                             f"which is not a documented business rule of this operation "
                             f"(documented: {', '.join(sorted(documented)) or 'none'})")
    return True


@dataclass
class Report:
    checks: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict = field(default_factory=dict)      # (operation, code, title) -> example
    errors: list = field(default_factory=list)
    set_aside: int = 0                                 # failures that are the tool's, not the server's
    seconds: Counter = field(default_factory=Counter)   # (phase, operation) -> time spent

    def summary(self) -> str:
        lines = [f"{len(self.failures)} distinct failure(s), {len(self.errors)} error(s) in {self.checks} checks"]
        for (label, code, title), example in sorted(self.failures.items()):
            lines.append(f"- {label}: {code} {title}\n    {example}")
        lines += [f"- error: {e}" for e in self.errors]
        return "\n".join(lines)


def serve(flask_app):
    """Start waitress on 127.0.0.1 (a free port); returns (base_url, stop)."""
    server = create_server(flask_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def stop():
        server.close()
        thread.join(timeout=10)
    return f"http://127.0.0.1:{server.effective_port}", stop


def _from_the_http_server(failure, code_sample: str) -> bool:
    """waitress answers a request whose Content-Length header is not a number with its own
    plain-text 400, before the app is called; the fuzzer sends such headers now and then."""
    return failure.code == "ST105" and re.search(r"-H 'Content-Length: [^0-9']", code_sample) is not None


def _mislabelled_positive(failure, case) -> bool:
    """The generator now and then labels a body "valid" that its own schema refuses (seen:
    an extra top-level key next to `data` under `additionalProperties: false`); a refusal
    of such a body is right, so it is not counted against the server."""
    if failure.code != "ST202" or case is None or case.body is None:
        return False
    alternative = case.operation.get_body_for_media_type(case.media_type)
    if alternative is None:
        return False
    validator_cls = case.operation.schema.adapter.jsonschema_validator_cls
    return not make_validator(alternative.optimized_schema, validator_cls).is_valid(case.body)


def run_all_checks(base_url: str, token: str, *, max_examples: int, seed: int = 20261130,
                   max_time: int | None = None, stateful: bool = True, phases=("examples", "coverage", "fuzzing"),
                   no_coverage: tuple[str, ...] = ()) -> Report:
    """`no_coverage`: operation ids left to the fuzzing phase alone (the coverage phase
    walks every parameter of a list with a hundred filters for a minute)."""
    headers = {"Authorization": f"Bearer {token}"}
    config = SchemathesisConfig.from_dict({
        "seed": seed,
        **({"max-time": max_time} if max_time else {}),
        "headers": headers,
        "checks": {"enabled": True,
                   "positive_data_acceptance": {"expected-statuses": POSITIVE_REFUSALS},
                   "negative_data_rejection": {"expected-statuses": NEGATIVE_REFUSALS}},
        "generation": {"max-examples": max_examples, "database": "none"},   # the seed alone decides
        "phases": {"stateful": {"enabled": stateful, "max-steps": max(2, max_examples)},
                   **{name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing")}},
        "workers": 1,
        "cache": {"enabled": False},          # no .schemathesis/ folder in the working tree
        "operations": [{"include-operation-id": list(no_coverage), "phases": {"coverage": {"enabled": False}}}]
        if no_coverage else [],
    })
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config, headers=headers)
    report = Report()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.seconds[(event.phase.value, event.label)] += event.elapsed_time
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    report.checks += 1
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        node_case = event.recorder.cases.get(case_id)
                        if _from_the_http_server(failure, node.failure_info.code_sample) or \
                                _mislabelled_positive(failure, node_case.value if node_case else None):
                            report.set_aside += 1
                            continue
                        key = (event.label or failure.operation or "?", failure.code, failure.title)
                        report.failures.setdefault(
                            key, node.failure_info.code_sample + "\n    " + failure.message[:400].replace("\n", " | "))
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    report.statuses[interaction.response.status_code] += 1
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}"[:400])
        elif isinstance(event, events.FatalError):
            report.errors.append(repr(event.exception)[:400])
    return report
