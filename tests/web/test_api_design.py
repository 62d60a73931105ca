"""The designer through the API: an app admin reads the draft, replaces it (a stale
revision conflicts, documents with problems are refused with their paths and nothing
is stored), previews the impact, publishes (the version the CLI would make), lists
versions, reads a version's documents and restores one. Nobody else gets in."""
from __future__ import annotations

import copy

from sqlalchemy import select

from formloom.store.tables import app_drafts, records

from .api_client import Api, token_for  # noqa: F401

BASE = "/api/v1/apps/desk"


class DesignApi(Api):
    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self.headers(kw.pop("headers", None)), **kw)


def admin_api(app, people, token_for, lang=None) -> DesignApi:
    return DesignApi(app.test_client(), token_for(people.admin), lang)


def with_field(draft: dict, entity: str, field: dict) -> dict:
    app_doc = copy.deepcopy(draft["app"])
    next(e for e in app_doc["entities"] if e["key"] == entity)["fields"].append(field)
    return {"app": app_doc, "workflows": draft["workflows"], "version": draft["version"]}


TOPIC = {"key": "topic", "type": "select", "label": {"en": "Topic", "zh": "主题分类"},
         "options": [{"value": "billing", "label": {"en": "Billing", "zh": "账单"}}]}


def test_only_app_admins_design_through_the_api(app, people, token_for):
    for who, status in (("agent", 403), ("viewer", 403), ("outsider", 404)):
        api = DesignApi(app.test_client(), token_for(getattr(people, who)))
        assert api.get(f"{BASE}/draft").status_code == status
        assert api.put(f"{BASE}/draft", {"app": {}, "workflows": [], "version": 0}).status_code == status
        assert api.post(f"{BASE}/draft/publish", {}).status_code == status
        assert api.get(f"{BASE}/versions").status_code == status
        assert api.post(f"{BASE}/versions/1/restore").status_code == status
    assert DesignApi(app.test_client(), None).get(f"{BASE}/draft").status_code == 401
    assert admin_api(app, people, token_for).get("/api/v1/apps/nope/draft").status_code == 404


def test_the_draft_starts_as_the_live_documents_with_workflows_as_a_keyed_list(app, people, token_for):
    response = admin_api(app, people, token_for).get(f"{BASE}/draft")
    assert response.status_code == 200 and response.headers["ETag"] == '"0"'
    body = response.get_json()
    assert body["version"] == 0 and body["live_version"] == 1 and body["problems"] == []
    assert body["app"]["key"] == "desk" and [w["key"] for w in body["workflows"]] == ["case_flow"]
    text = response.get_data(as_text=True)
    assert "\n  " in text                                                 # pretty printed
    if app.extensions["formloom.db"].engine.dialect.name == "sqlite":
        # SQLite keeps the document's own key order; PostgreSQL's jsonb keeps its own stable one
        assert list(body["app"])[:3] == ["key", "label", "version"]
        assert text.index('"key": "desk"') < text.index('"label"')
    again = admin_api(app, people, token_for).get(f"{BASE}/draft").get_data(as_text=True)
    assert again == text                                                  # the same bytes every time


def test_replace_publish_and_the_live_app_has_the_field(app, people, token_for):
    api = admin_api(app, people, token_for)
    draft = api.get(f"{BASE}/draft").get_json()
    saved = api.put(f"{BASE}/draft", with_field(draft, "case", TOPIC))
    assert saved.status_code == 200 and saved.get_json()["version"] > 0 and saved.headers["ETag"] != '"0"' 
    assert app.extensions["formloom.catalog"].app("desk").entity("case").field("topic") is None   # draft only

    impact = api.get(f"{BASE}/draft/impact").get_json()
    assert impact["publishable"] is True
    assert [(c["kind"], c["entity"], c["field"], c["field_label"]) for c in impact["changes"]] == \
        [("field_added", "case", "topic", "Topic")]

    published = api.post(f"{BASE}/draft/publish", {"comment": "topics for billing"})
    assert published.status_code == 200, published.get_json()
    version = published.get_json()["version"]
    assert version["number"] == 2 and version["comment"] == "topics for billing"
    assert version["created_by"]["id"] == people.admin and len(version["hash"]) == 64
    assert version["created_at"].endswith("+00:00")               # a date-time with its zone, as documented
    assert app.extensions["formloom.catalog"].app("desk").entity("case").field("topic") is not None
    assert api.get(f"{BASE}/draft").get_json()["version"] == 0        # the draft was used up
    listed = api.get(f"{BASE}/versions").get_json()
    assert listed["current"] == 2 and [v["number"] for v in listed["versions"]] == [2, 1]


def test_a_stale_revision_conflicts_and_keeps_the_first_save(app, people, token_for):
    api = admin_api(app, people, token_for)
    draft = api.get(f"{BASE}/draft").get_json()
    assert api.put(f"{BASE}/draft", with_field(draft, "case", TOPIC)).status_code == 200
    other = {**TOPIC, "key": "mood", "label": {"en": "Mood"}}
    late = api.put(f"{BASE}/draft", with_field(draft, "case", other))       # made on revision 0
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "conflict"
    by_header = with_field(draft, "case", other)
    del by_header["version"]
    assert api.put(f"{BASE}/draft", by_header, headers={"If-Match": '"0"'}).status_code == 409
    assert api.put(f"{BASE}/draft", by_header).status_code == 428
    kept = api.get(f"{BASE}/draft").get_json()
    keys = [f["key"] for f in next(e for e in kept["app"]["entities"] if e["key"] == "case")["fields"]]
    assert "topic" in keys and "mood" not in keys
    assert api.put(f"{BASE}/draft", by_header, headers={"If-Match": f'"{kept["version"]}"'}).status_code == 200


def test_documents_with_problems_are_refused_with_their_paths_and_nothing_is_stored(app, people, token_for):
    api = admin_api(app, people, token_for, lang="zh")
    draft = api.get(f"{BASE}/draft").get_json()
    bad = with_field(draft, "case", {"key": "subject", "type": "nonsense", "label": "Again"})
    bad["workflows"][0]["stages"] = "everything"
    response = api.put(f"{BASE}/draft", bad)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {e["document"] for e in errors} == {"app.json", "workflows/case_flow.json"}
    assert any(e["path"].startswith("$.entities[1].fields[") for e in errors)
    assert all(e["code"] == "document" and e["message"] for e in errors)
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(app_drafts)).first() is None


def test_bodies_that_are_not_documents_are_400_never_500(app, people, token_for):
    api = admin_api(app, people, token_for)
    for body in ({"app": [], "workflows": [], "version": 0}, {"app": {}, "workflows": {}, "version": 0},
                 {"app": {}, "workflows": [{"no": "key"}], "version": 0}, {"app": {}, "version": "x"},
                 {"app": {}, "version": 0}, {"apps": {}}):
        assert api.put(f"{BASE}/draft", body).status_code == 400, body
    twice = api.put(f"{BASE}/draft", {"app": {"key": "desk"}, "workflows": [{"key": "a"}, {"key": "a"}], "version": 0})
    assert twice.status_code == 422 and twice.get_json()["errors"][0]["document"] == "workflows/a.json"
    assert api.put(f"{BASE}/draft", {"app": {"key": "other"}, "workflows": [], "version": 0}).status_code == 422
    assert api.put(f"{BASE}/draft", {"app": {"key": "desk"}, "workflows": [], "version": 0}).status_code == 422


def test_a_publish_that_would_lose_values_is_refused_with_the_impact_saying_so(app, people, token_for,
                                                                                 make_record):
    make_record("case", {"subject": "Printer", "due": "2026-01-05"})
    api = admin_api(app, people, token_for)
    draft = api.get(f"{BASE}/draft").get_json()
    case = next(e for e in draft["app"]["entities"] if e["key"] == "case")
    due = next(f for f in case["fields"] if f["key"] == "due")
    due["type"] = "number"
    assert api.put(f"{BASE}/draft", draft).status_code == 200
    impact = api.get(f"{BASE}/draft/impact").get_json()
    change = next(c for c in impact["changes"] if c["field"] == "due")
    assert change["fails"] == 1 and change["blocking"] and impact["publishable"] is False
    refused = api.post(f"{BASE}/draft/publish", {})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "install_refused"
    assert app.extensions["formloom.catalog"].app("desk").entity("case").field("due").type == "date"


def test_restore_an_old_version_brings_an_archived_field_and_its_values_back(app, people, token_for, make_record):
    made = make_record("case", {"subject": "Printer", "notes": "toner"})
    api = admin_api(app, people, token_for)
    draft = api.get(f"{BASE}/draft").get_json()
    case = next(e for e in draft["app"]["entities"] if e["key"] == "case")
    case["fields"] = [f for f in case["fields"] if f["key"] != "notes"]
    assert api.put(f"{BASE}/draft", draft).status_code == 200
    archived = next(c for c in api.get(f"{BASE}/draft/impact").get_json()["changes"] if c["field"] == "notes")
    assert archived["kind"] == "field_archived" and archived["records"] == 1
    assert api.post(f"{BASE}/draft/publish", {"comment": "no notes"}).status_code == 200
    case_def = app.extensions["formloom.catalog"].app("desk").entity("case")
    assert case_def.field("notes") is None and [f.key for f in case_def.archived_fields] == ["notes"]

    old = api.get(f"{BASE}/versions/1/documents").get_json()
    assert old["version"] == 1 and "notes" in str(old["app"]) and len(old["hash"]) == 64
    restored = api.post(f"{BASE}/versions/1/restore")
    assert restored.status_code == 200 and restored.get_json()["version"]["number"] == 3
    assert restored.get_json()["restored"] == ["case.notes"]
    record = api.get(f"/api/v1/desk/case/{made.id}").get_json()
    assert record["data"]["notes"] == "toner"
    assert api.post(f"{BASE}/versions/99/restore").status_code == 404
    assert api.get(f"{BASE}/versions/99/documents").status_code == 404


def test_publish_without_a_draft_is_404_and_a_stale_one_409(app, people, token_for):
    api = admin_api(app, people, token_for)
    assert api.post(f"{BASE}/draft/publish", {}).status_code == 404
    draft = api.get(f"{BASE}/draft").get_json()
    assert api.put(f"{BASE}/draft", with_field(draft, "case", TOPIC)).status_code == 200
    assert api.post(f"{BASE}/draft/publish", {"version": 7}).status_code == 409
    assert api.post(f"{BASE}/draft/publish", {"comment": 5}).status_code == 400


def test_a_session_caller_needs_the_csrf_token(app, browser):
    browser.login("admin@example.com")
    assert browser.client.get(f"{BASE}/draft").status_code == 200
    assert browser.client.put(f"{BASE}/draft", json={"app": {}, "workflows": [], "version": 0}).status_code == 400
    with app.extensions["formloom.db"].read() as conn:
        assert conn.execute(select(records)).first() is None


def test_the_openapi_document_describes_the_draft_api_to_app_admins_only(app, people, token_for):
    admin = DesignApi(app.test_client(), token_for(people.admin)).get("/api/v1/openapi.json").get_json()
    paths = admin["paths"]
    assert set(paths[f"{BASE}/draft"]) == {"get", "put"}
    assert paths[f"{BASE}/draft"]["put"]["responses"]["422"]["x-business-rules"] == ["document"]
    assert paths[f"{BASE}/draft/publish"]["post"]["responses"]["422"]["x-business-rules"] == \
        ["document", "install_refused"]
    assert {f"{BASE}/draft/impact", f"{BASE}/versions", f"{BASE}/versions/{{number}}/restore",
            f"{BASE}/versions/{{number}}/documents"} <= set(paths)
    agent = DesignApi(app.test_client(), token_for(people.agent)).get("/api/v1/openapi.json").get_json()
    assert not [p for p in agent["paths"] if p.startswith("/api/v1/apps/")]
