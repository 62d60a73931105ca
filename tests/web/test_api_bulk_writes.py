"""POST /api/v1/<app>/<entity>/bulk with `items`: many creates or upserts in one request,
each item through the same policy, field access, validation, audit and events as a
single write; all or nothing, or per item."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formloom.app import create_app
from formloom.auth.tokens import create_token
from formloom.auth.users import create_user
from formloom.store.install import install_documents
from formloom.store.records import create_record
from formloom.store.tables import audit, events, records

from .api_client import Api

PASSWORD = "correct-horse-9"
URL = "/api/v1/shop/part/bulk"

SHOP = {
    "key": "shop", "label": "Shop", "version": 1, "timezone": "UTC",
    "roles": ["admin", "clerk", "senior"],
    "entities": [{
        "key": "part", "label": {"en": "Part", "zh": "零件"}, "title": "name",
        "permissions": {"clerk": {"create": True, "read": "own", "update": "own"},
                        "senior": {"create": True, "read": "all", "update": "own"}},
        "fields": [
            {"key": "sku", "type": "text", "label": "SKU", "unique": True, "max_length": 20},
            {"key": "name", "type": "text", "label": "Name", "required": True, "max_length": 40},
            {"key": "price", "type": "money", "label": "Price", "min": 0},
            {"key": "cost", "type": "money", "label": "Cost", "hidden_for": ["clerk"]},
            {"key": "code", "type": "text", "label": "Code", "readonly_for": ["clerk"]},
        ],
    }],
}


@pytest.fixture
def app(database_url, tmp_path):
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True,
                            "MAX_CONTENT_LENGTH": 1_000_000})
    install_documents(flask_app.extensions["formloom.db"], SHOP, {})
    yield flask_app
    flask_app.extensions["formloom.db"].dispose()


@pytest.fixture
def shop(app):
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        ids = {who: create_user(conn, f"{who}@example.com", PASSWORD, name=who.title(), roles=[("shop", role)])
               for who, role in (("admin", "admin"), ("clerk", "clerk"), ("other", "clerk"), ("senior", "senior"))}
        tokens = {who: create_token(conn, uid, "t")[1] for who, uid in ids.items()}
    return ids, tokens


@pytest.fixture
def api(app, shop):
    def as_(who: str, lang: str | None = None) -> Api:
        return Api(app.test_client(), shop[1][who], lang)
    return as_


@pytest.fixture
def part(app, shop):
    """Store a part directly, owned by `who`."""
    db = app.extensions["formloom.db"]

    def make(data: dict, who: str = "clerk"):
        catalog = app.extensions["formloom.catalog"]
        shop_app, version_id = catalog.get("shop")
        with db.write() as conn:
            return create_record(conn, shop_app, shop_app.entity("part"), data, actor_id=shop[0][who],
                                 version_id=version_id)
    return make


def count(app, table=records, **where) -> int:
    with app.extensions["formloom.db"].read() as conn:
        query = select(func.count()).select_from(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        return conn.execute(query).scalar()


def stored(app, record_id: int) -> dict:
    with app.extensions["formloom.db"].read() as conn:
        return dict(conn.execute(select(records.c.data).where(records.c.id == record_id)).scalar())


def items(*datas) -> list[dict]:
    return [{"data": d} for d in datas]


def test_creates_every_item_with_audit_rows_and_events(app, api):
    response = api("clerk").post(URL, json={"items": items({"sku": "A1", "name": "Bolt", "price": "1.50"},
                                                           {"sku": "A2", "name": "Nut"})})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["created"], body["failed"], body["mode"]) == (2, 0, "all_or_nothing")
    ids = [r["id"] for r in body["results"]]
    assert [r["status"] for r in body["results"]] == ["created", "created"]
    assert stored(app, ids[0])["price"] == "1.50"
    assert count(app, audit, action="create") == 2
    assert count(app, events, type="record_created") == 2
    assert all(count(app, events, record_id=i) == 1 for i in ids)


def test_all_or_nothing_writes_nothing_and_lists_each_items_problems(app, api):
    response = api("clerk").post(URL, json={"items": items({"sku": "B1", "name": "Ok"}, {"sku": "B2", "name": ""},
                                                           {"sku": "B3", "name": "Fine", "price": "-3"})})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "invalid" and "nothing was written" in body["error"]["message"]
    paths = {(p["item"], p["path"], p["code"]) for p in body["errors"]}
    assert (1, "/items/1/data/name", "required") in paths
    assert any(item == 2 and path == "/items/2/data/price" for item, path, _code in paths)
    assert count(app) == 0 and count(app, audit) == 0 and count(app, events) == 0


def test_per_item_writes_the_items_that_pass(app, api):
    response = api("clerk").post(URL, json={"mode": "per_item", "items": items(
        {"sku": "C1", "name": "Ok"}, {"sku": "C2", "name": ""}, {"sku": "C3", "name": "Also ok"})})
    assert response.status_code == 207         # Multi-Status: not everything was written
    body = response.get_json()
    assert (body["created"], body["failed"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == ["created", "failed", "created"]
    assert body["results"][1]["errors"][0]["path"] == "/items/1/data/name"
    assert count(app) == 2 and count(app, audit) == 2


def test_a_unique_value_taken_within_the_batch_is_refused_for_the_later_item(app, api):
    response = api("clerk").post(URL, json={"mode": "per_item", "items": items({"sku": "D1", "name": "First"},
                                                                               {"sku": "d1 ", "name": "Second"})})
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "failed"]
    assert results[1]["errors"][0]["code"] == "unique"


def test_upsert_updates_the_matching_record_and_creates_the_others(app, api, part):
    existing = part({"sku": "E1", "name": "Old name"})
    same = part({"sku": "E2", "name": "Same"})
    response = api("clerk").post(URL, json={"upsert_by": "sku", "items": items(
        {"sku": "e1", "name": "New name"}, {"sku": "E2", "name": "Same"}, {"sku": "E3", "name": "Brand new"})})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["updated", "unchanged", "created"]
    assert body["results"][0]["id"] == existing.id and body["results"][0]["version"] == 2
    assert body["results"][1]["id"] == same.id
    assert stored(app, existing.id)["name"] == "New name"
    assert count(app, audit, record_id=existing.id, action="update") == 1
    assert count(app, events, record_id=existing.id, type="record_updated") == 1
    assert count(app) == 3


def test_an_item_repeating_an_earlier_items_key_updates_what_that_item_created(app, api):
    response = api("clerk").post(URL, json={"upsert_by": "sku", "items": items(
        {"sku": "F1", "name": "First"}, {"sku": "F1", "name": "Second"})})
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "updated"]
    assert results[0]["id"] == results[1]["id"] and stored(app, results[0]["id"])["name"] == "Second"


def test_upsert_cannot_reach_a_record_the_writer_may_not_read(app, api, part):
    """IDOR: naming another clerk's record by its unique value neither changes it nor says it exists
    beyond what a create would (the value is taken)."""
    theirs = part({"sku": "G1", "name": "Theirs"}, who="other")
    response = api("clerk").post(URL, json={"upsert_by": "sku", "mode": "per_item",
                                            "items": items({"sku": "G1", "name": "Mine now"})})
    result = response.get_json()["results"][0]
    assert result["status"] == "failed"
    assert result["errors"][0]["code"] == "unique" and result["errors"][0]["path"] == "/items/0/data/sku"
    assert "id" not in result
    assert stored(app, theirs.id)["name"] == "Theirs"
    assert count(app, audit, record_id=theirs.id, action="update") == 0


def test_upsert_cannot_change_a_record_the_writer_may_only_read(app, api, part):
    theirs = part({"sku": "H1", "name": "Theirs"}, who="clerk")
    response = api("senior").post(URL, json={"upsert_by": "sku", "items": items({"sku": "H1", "name": "Changed"})})
    assert response.status_code == 422
    assert [p["code"] for p in response.get_json()["errors"]] == ["forbidden"]
    assert stored(app, theirs.id)["name"] == "Theirs"


def test_hidden_and_read_only_fields_are_refused_as_in_a_single_write(app, api):
    response = api("clerk").post(URL, json={"mode": "per_item", "items": items(
        {"sku": "J1", "name": "Hidden", "cost": "2.00"}, {"sku": "J2", "name": "Read-only", "code": "X"},
        {"sku": "J3", "name": "Plain"})})
    assert response.status_code == 207
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["failed", "failed", "created"]
    # a hidden field is "unknown", as for a field that does not exist: its existence is not revealed
    assert [(p["path"], p["code"]) for p in results[0]["errors"]] == [("/items/0/data/cost", "unknown_field")]
    assert [(p["path"], p["code"]) for p in results[1]["errors"]] == [("/items/1/data/code", "readonly")]
    assert count(app) == 1


def test_an_admin_may_write_what_a_clerk_may_not(app, api):
    assert api("admin").post(URL, json={"items": items({"name": "x", "cost": "1", "code": "C"})}).status_code == 200


def test_a_body_that_is_not_a_list_of_items_is_refused_whole(app, api):
    for body in ({"items": []}, {"items": [{"name": "x"}]}, {"items": items({"name": "x"}), "mode": "some"},
                 {"items": items({"name": "x"}), "upsert_by": "name"}, {"items": items({"name": "x"}), "ids": [1]}):
        response = api("clerk").post(URL, json=body)
        assert response.status_code == 400, body
    assert count(app) == 0


def test_more_than_the_limit_is_refused_with_a_clear_message(app, api):
    response = api("clerk").post(URL, json={"items": items(*({"name": f"n{i}"} for i in range(1001)))})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "too_many_items" and "1,000" in body["error"]["message"]
    assert count(app) == 0


def test_a_thousand_items_are_written_in_one_request(app, api):
    response = api("clerk").post(URL, json={"items": items(*({"sku": f"K{i}", "name": f"n{i}"}
                                                                for i in range(1000)))})
    assert response.status_code == 200 and response.get_json()["created"] == 1000
    assert count(app) == 1000 and count(app, audit) == 1000 and count(app, events) == 1000


def test_a_body_too_large_answers_413(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 2_000
    response = api("clerk").post(URL, json={"items": items(*({"name": "n" * 30} for _ in range(100)))})
    assert response.status_code == 413


def test_problems_are_in_the_callers_language(app, api):
    response = api("clerk", lang="zh").post(URL, json={"items": items({"name": "ok"}, {"name": ""})})
    assert response.status_code == 422
    assert "没有写入" in response.get_json()["error"]["message"]


def test_cannot_create_without_the_right(app, api, shop):
    db = app.extensions["formloom.db"]
    with db.write() as conn:
        uid = create_user(conn, "guest@example.com", PASSWORD, name="Guest")
        token = create_token(conn, uid, "t")[1]
    response = Api(app.test_client(), token).post(URL, json={"items": items({"name": "x"})})
    assert response.status_code == 404      # a role that may not read the entity does not learn it exists


def test_the_document_publishes_the_bulk_write_body(app, api):
    doc = api("clerk").get("/api/v1/openapi.json").get_json()
    post = doc["paths"][URL]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    write = next(s for s in schema["oneOf"] if "items" in s["properties"])
    assert write["properties"]["items"]["maxItems"] == 1000
    assert write["properties"]["upsert_by"]["enum"] == ["sku"]
    assert "cost" not in write["properties"]["items"]["items"]["properties"]["data"]["properties"]
    assert "forbidden" in post["responses"]["422"]["x-business-rules"]


def test_a_reference_id_no_database_could_hold_is_a_problem_not_a_server_error(app, database_url, tmp_path):
    """Found by schemathesis: the batch's reference prefetch once sent 2**70 to SQLite."""
    shop = dict(SHOP)
    shop["entities"] = [dict(SHOP["entities"][0], fields=SHOP["entities"][0]["fields"] + [
        {"key": "alt", "type": "reference", "entity": "part", "label": "Alternative"}])]
    flask_app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "INSTANCE": str(tmp_path / "instance2"), "WTF_CSRF_ENABLED": True})
    db = flask_app.extensions["formloom.db"]
    install_documents(db, shop, {})
    with db.write() as conn:
        uid = create_user(conn, "a2@example.com", PASSWORD, name="A", roles=[("shop", "admin")])
        token = create_token(conn, uid, "t")[1]
    response = Api(flask_app.test_client(), token).post(URL, json={"items": items({"name": "x", "alt": 2**70})})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["path"] == "/items/0/data/alt"
    db.dispose()
