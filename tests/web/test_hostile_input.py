"""Every route in the URL map, fed ids beyond any integer column and NUL characters in its
path, query and body, answers without a server error (on SQLite and on PostgreSQL alike).

The walk is generic: it reads app.url_map, so a route added later is covered too."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from formloom.auth.tokens import create_token
from formloom.auth.users import create_user

from .conftest import PASSWORD, Browser

HUGE = str(2**64 + 7)            # beyond BIGINT (2^63 - 1) and beyond SQLite's INTEGER
NUL = "a\x00b"

#: what a string argument of a route stands for, by name; anything else gets "x"
STRING_ARGS = {"app_key": ["desk"], "entity_key": ["case", "company"], "field_key": ["company", "subject"],
               "filename": ["css/formloom.css"]}

#: query and form names the screens and the API read (filters, paging, pickers, prefill)
INT_NAMES = ("_version", "_record", "q", "owner", "before", "record", "retried", "limit", "offset", "page", "company", "id", "version",
             "manager", "manager_id", "after", "stage_id", "job")
UNICODE_DIGIT_NAMES = ("_version", "_record", "q", "owner", "before", "record", "manager", "company", "id",
                       "limit", "offset")
TEXT_NAMES = ("q", "name", "name__contains", "subject", "subject__contains", "company", "email", "password",
              "sort", "stage", "owner", "city", "to", "language", "timezone", "next", "lang", "current_password")

SKIP = {"auth.logout"}           # would end the walker's own session


def _paths(rule, record_id: int) -> list[str]:
    """The rule's URL with every int argument huge (and once a real id), string arguments named."""
    pattern = re.compile(r"<(?:(\w+):)?(\w+)>")
    args = [(m.group(1) or "default", m.group(2)) for m in pattern.finditer(rule.rule)]
    choices = [[""]]
    for converter, name in args:
        if converter == "int":
            options = [HUGE, str(record_id)]
        else:
            options = STRING_ARGS.get(name, ["x"])
        choices = [c + [o] for c in choices for o in options]
    out = []
    for combo in choices:
        values = iter(combo[1:])
        out.append(pattern.sub(lambda _m: quote(next(values), safe="/"), rule.rule))
    if args:    # and a NUL in the first string argument
        nul_values = iter([quote(NUL) if converter != "int" and i == 0 else
                           (HUGE if converter == "int" else STRING_ARGS.get(name, ["x"])[0])
                           for i, (converter, name) in enumerate(args)])
        out.append(pattern.sub(lambda _m: next(nul_values), rule.rule))
    return out


def _hostile_params() -> list[dict]:
    params = [{name: HUGE} for name in INT_NAMES] + [{name: "-" + HUGE} for name in ("owner", "before")]
    params += [{name: "\u00b2"} for name in UNICODE_DIGIT_NAMES]        # "²" is a digit to str.isdigit, not to int()
    params.append({name: NUL for name in TEXT_NAMES})      # refused in one place, whichever comes first
    params.append({"q": "\x00"})
    return params


@pytest.fixture
def walker(app):
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        root = create_user(conn, "root@example.com", PASSWORD, name="Root", is_superuser=True,
                           roles=[("desk", "admin")])
        secret = create_token(conn, root, "walker")[1]
    browser = Browser(app.test_client())
    assert browser.login("root@example.com").status_code == 302
    return browser, secret


def _record_id(app) -> int:
    from formloom.store.records import create_record
    db = app.extensions["formloom.db"]
    catalog = app.extensions["formloom.catalog"]
    desk, version_id = catalog.get("desk")
    with db.write() as conn:
        company = create_record(conn, desk, desk.entity("company"), {"name": "Acme"}, actor_id=1,
                                version_id=version_id)
        case = create_record(conn, desk, desk.entity("case"), {"subject": "Broken", "company": company.id},
                             actor_id=1, version_id=version_id)
    return case.id


def test_every_route_survives_huge_ids_and_nul_characters(app, walker):
    browser, secret = walker
    record_id = _record_id(app)
    client = browser.client
    token = browser.csrf_token("/")
    api_headers = {"Authorization": f"Bearer {secret}"}
    failures = []

    def check(method: str, url: str, response, what: str) -> None:
        if response.status_code >= 500:
            failures.append(f"{method} {url} {what!r} -> {response.status_code}")
        response.close()

    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP]
    assert len(rules) > 30
    for rule in rules:
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for path in _paths(rule, record_id):
            api = path.startswith("/api/")
            for method in methods:
                hostile_path = HUGE in path or "%00" in path
                for params in [{}] if hostile_path else _hostile_params() + [{}]:
                    if method == "GET":
                        response = client.get(path, query_string=params, headers=api_headers if api else None)
                    elif api:
                        body = {"data": {k: v for k, v in params.items()}, "version": 1, "to": params.get("stage")}
                        response = client.open(path, method=method, json=body, headers=api_headers,
                                               query_string=params)
                    else:
                        response = client.open(path, method=method, data={**params, "csrf_token": token},
                                               query_string=params, headers={"HX-Request": "true"})
                    check(method, path, response, params)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["/apps/desk/case/" + HUGE, "/apps/desk/case/" + HUGE + "/edit",
                                  "/api/v1/desk/case/" + HUGE])
def test_an_id_beyond_any_integer_column_is_not_found(walker, path):
    browser, secret = walker
    response = browser.client.get(path, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["?before=" + HUGE, "?before=%C2%B2", "?before=-1"])
def test_a_query_integer_out_of_range_is_refused_with_its_name(walker, query):
    browser, _secret = walker
    response = browser.get("/notifications" + query)
    assert response.status_code == 400
    assert "before" in response.get_data(as_text=True)


def test_a_nul_character_in_a_form_field_is_refused_naming_the_field(walker):
    browser, _secret = walker
    response = browser.post("/apps/desk/company/new", {"name": NUL})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "name" in body and "NUL" in body


def test_a_nul_character_in_a_query_is_refused_in_the_users_language(walker):
    browser, _secret = walker
    browser.post("/language", {"lang": "zh"})
    response = browser.get("/apps/desk/company/", query_string={"q": NUL})
    assert response.status_code == 400
    assert "q 含有 NUL 字符" in response.get_data(as_text=True)


def test_a_nul_character_in_a_json_body_is_refused_naming_its_place(walker):
    _browser, secret = walker
    browser = _browser
    response = browser.client.post("/api/v1/desk/company", json={"data": {"name": NUL}},
                                   headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_an_escaped_backslash_before_u0000_is_ordinary_text(walker):
    _browser, secret = walker
    response = _browser.client.post("/api/v1/desk/company", data='{"data": {"name": "a\\\\u0000"}}',
                                    content_type="application/json", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201
    assert response.get_json()["data"]["name"] == "a\\u0000"
