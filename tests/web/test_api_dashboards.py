"""Dashboards in the JSON API: the numbers the page shows, as the token's user (a
seller's token gets the seller's numbers), one widget alone, described in the OpenAPI
document, and filters that cannot be used refused with 422 `bad_filter`."""
from __future__ import annotations

import jsonschema
import time_machine

from formloom.auth.tokens import create_token

from ..dashboards.test_pages import NOW, client_for, site  # noqa: F401  (the fixture)
from ..dashboards.conftest import shop_db  # noqa: F401


def bearer(site, user_id):
    db = site.extensions["formloom.db"]
    with db.write() as conn:
        return {"Authorization": f"Bearer {create_token(conn, user_id, 'dash')[1]}"}


def documented(doc, path, status, body):
    schema = doc["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": doc["components"]})


@time_machine.travel(NOW, tick=False)
def test_a_token_gets_its_users_numbers(site, shop_db):
    people = shop_db[3]
    client = site.test_client()
    lead, ann = bearer(site, people["lead"]), bearer(site, people["a"])
    body = client.get("/api/v1/shop/dashboards/board?period=all", headers=lead).get_json()
    deals = {w["key"]: w for w in body["widgets"]}["deals"]
    assert deals["value"] == 6 and body["period"]["key"] == "all"
    mine = client.get("/api/v1/shop/dashboards/board/deals?period=all", headers=ann)
    assert mine.status_code == 200 and mine.get_json()["value"] == 3
    doc = client.get("/api/v1/openapi.json", headers=lead).get_json()
    documented(doc, "/api/v1/shop/dashboards/board", 200, body)
    documented(doc, "/api/v1/shop/dashboards/board/{widget}", 200, mine.get_json())
    assert doc["paths"]["/api/v1/shop/dashboards/board"]["get"]["responses"]["422"]["x-business-rules"] == ["bad_filter"]


@time_machine.travel(NOW, tick=False)
def test_bad_filters_unknown_widgets_and_no_token(site, shop_db):
    people = shop_db[3]
    client = site.test_client()
    ann = bearer(site, people["a"])
    refused = client.get(f"/api/v1/shop/dashboards/board?owner={people['b']}", headers=ann)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "bad_filter"
    assert "You cannot narrow the numbers to that person" in refused.get_json()["error"]["message"]
    assert client.get("/api/v1/shop/dashboards/board?period=custom&from=2026-04-02&to=2026-04-01",
                      headers=ann).status_code == 422
    for query in ("to=null&to=null", "period=forever", "owner=someone", "from=yesterday"):   # what the document refuses
        assert client.get(f"/api/v1/shop/dashboards/board?{query}", headers=ann).status_code == 400, query
    assert client.get("/api/v1/shop/dashboards/board/nope", headers=ann).status_code == 404
    assert client.get("/api/v1/shop/dashboards/nope", headers=ann).status_code == 404
    assert client.get("/api/v1/shop/dashboards/board").status_code == 401
