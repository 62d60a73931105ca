"""The JSON API operations of issue 16 (api_create, api_list_filtered, api_update,
api_stage_move): Formloom's /api/v1 against the baseline's hand-written /api (baseline_api.py),
both with a Bearer token, JSON in and out, in-process and over HTTP (waitress, loopback).

Each side asks for the same work: the same opportunity created, the README's tour list
(source = referral, amount >= 100,000, by amount descending, a page of 50), the same two
fields changed with the version read last (409 otherwise), the same gated move.
"""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from . import data as D

API_OPS = ["api_create", "api_list_filtered", "api_update", "api_stage_move"]
GOALS = {op: 1.3 for op in API_OPS}
L0 = D.Layout(0, D.FIRST)
#: records PATCHed in turn (initial_contact, gate met: the top of the move range, which moves,
#: taken from its bottom, never reach in a run)
UPDATE_POOL = range(D.MOVE_END - 50, D.MOVE_END)

F_API_LIST = "/api/v1/crm/opportunity?" + urlencode({"source": "referral", "amount__gte": "100000", "sort": "-amount"})
B_API_LIST = "/api/opportunities?" + urlencode({"source": "referral", "amount_min": "100000", "sort": "-amount"})


@dataclass
class ApiSide:
    name: str
    collection: str
    list_path: str
    record_id: Callable[[int], int]
    customer_id: Callable[[int], int]
    contact_id: Callable[[int], int]
    move_pool: list
    versions: dict = field(default_factory=dict)
    counter: list = field(default_factory=lambda: [0])

    def create_body(self, n: int) -> dict:
        c = n % 400
        return {"data": {"name": f"API deal {self.name} {n}", "customer": self.customer_id(c),
                         "decision_maker": self.contact_id(c), "amount": "125000.50", "source": "referral",
                         "expected_close": "2026-12-01", "need": 80, "budget_fit": 70, "authority": 60, "timing": 50,
                         "competitor_count": 2, "risk": "low", "budget_confirmed": True,
                         "needs_summary": "Wants a phased rollout of the MES upgrade."}}

    def next_update(self, n: int) -> tuple[str, dict, int]:
        i = UPDATE_POOL[self.counter[0] % len(UPDATE_POOL)]
        self.counter[0] += 1
        rid = self.record_id(i)
        body = {"data": {"amount": f"{120000 + n % 5000}.25", "need": n % 101},
                "version": self.versions.get(rid, 1)}
        return f"{self.collection}/{rid}", body, rid

    def reread_versions(self, client, n: int) -> None:
        """The current versions of the records the next `n` updates change (the worker's rules
        may have changed them since this side last wrote them)."""
        for k in range(n):
            rid = self.record_id(UPDATE_POOL[(self.counter[0] + k) % len(UPDATE_POOL)])
            status, payload = client.request("GET", f"{self.collection}/{rid}")
            if status == 200:
                self.versions[rid] = json.loads(payload)["version"]

    def next_move(self) -> tuple[str, dict]:
        rid = self.record_id(self.move_pool.pop())
        return f"{self.collection}/{rid}/stage", {"to": "needs_confirmed", "version": 1}


def formloom_api_side(move_pool: list) -> ApiSide:
    return ApiSide("formloom", "/api/v1/crm/opportunity", F_API_LIST, L0.f_opp, L0.f_customer, L0.f_contact, move_pool)


def baseline_api_side(move_pool: list) -> ApiSide:
    return ApiSide("baseline", "/api/opportunities", B_API_LIST, L0.b_opp, L0.b_customer, L0.b_contact, move_pool)


class JsonInProcess:
    def __init__(self, flask_app, token: str):
        self.client = flask_app.test_client()
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        r = self.client.open(path, method=method, json=body, headers=self.headers)
        return r.status_code, r.data


class JsonHttp:
    """One keep-alive connection, a Bearer token, JSON bodies."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Connection": "keep-alive"}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        encoded = None
        if body is not None:
            encoded = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=encoded, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def one_api(op: str, side: ApiSide, client, n: int, clock: Callable[[], float] = time.perf_counter) -> float:
    rid = None
    if op == "api_create":
        method, path, body, ok = "POST", side.collection, side.create_body(n), 201
    elif op == "api_list_filtered":
        method, path, body, ok = "GET", side.list_path, None, 200
    elif op == "api_update":
        path, body, rid = side.next_update(n)
        method, ok = "PATCH", 200
        if rid not in side.versions:      # a record an earlier phase (another side object) changed: ask, untimed
            status, payload = client.request("GET", path)
            if status == 200:
                side.versions[rid] = body["version"] = json.loads(payload)["version"]
    elif op == "api_stage_move":
        path, body = side.next_move()
        method, ok = "POST", 200
    else:
        raise ValueError(op)
    t0 = clock()
    status, payload = client.request(method, path, body)
    elapsed = clock() - t0
    if status != ok:
        raise RuntimeError(f"{side.name} {op} {method} {path}: {status} {payload[:600]!r}")
    if rid is not None:
        side.versions[rid] = json.loads(payload)["version"]
    return elapsed


def same_api_list(fc, bc, fside: ApiSide, bside: ApiSide) -> bool:
    """Honesty check: both APIs list the same 50 opportunities (by name) in the same order."""
    f = [x["data"]["name"] for x in json.loads(fc.request("GET", fside.list_path)[1])["items"]]
    b = [x["data"]["name"] for x in json.loads(bc.request("GET", bside.list_path)[1])["items"]]
    return bool(f) and f[:50] == b[:50]
