"""The OpenAPI description of the designer's API (api_design.py), for the apps the
caller administers: the draft, its impact, publishing and versions.

Documents are described loosely on purpose: the app and workflow documents are
checked by the validator (`formloom validate`), whose problems come back as a 422
listing each with its document and JSON path, so the schema here says only what
the route itself checks (an object, workflows keyed, text a database can store).
"""
from __future__ import annotations

from typing import Any

from ..definitions.model import AppDef
from .api import KEY
from .api_design import DOCUMENT_PROBLEM, MAX_COMMENT, VALUES_LOST
from .openapi import COMMON_ERRORS, IF_MATCH_HEADER, MAX_ID, MAX_VERSION, _error, _ref, _refused

NO_NUL = "^[^\\x00]*$"
#: any JSON value whose text a database can store (no NUL), as documents are
JSON_VALUE = {"anyOf": [
    {"type": ["null", "boolean", "number"]},
    {"type": "string", "pattern": NO_NUL},
    {"type": "array", "items": {"$ref": "#/components/schemas/DocumentValue"}},
    {"type": "object", "propertyNames": {"pattern": NO_NUL},
     "additionalProperties": {"$ref": "#/components/schemas/DocumentValue"}},
]}
DOCUMENT = {"type": "object", "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": _ref("DocumentValue")}
WORKFLOW = {**DOCUMENT, "required": ["key"],
            "properties": {"key": {"type": "string", "pattern": KEY.pattern}}}
PROBLEM_RULE = {DOCUMENT_PROBLEM: "the documents have problems `formloom validate` reports (each is listed with "
                                  "its `document` and JSON `path`), or the app's key is not the app's"}
VALUES_RULE = {VALUES_LOST: "publishing would lose stored values (a type change some values do not survive, "
                            "an entity removed that has records)"}
READ_ONLY = {"live_version": {"type": "integer", "description": "Read only: the live version's number"},
             "stale": {"type": "boolean", "description": "Read only: the live app changed since the draft began"},
             "problems": {"type": "array", "items": _ref("DocumentValue"), "description": "Read only: the draft's problems"}}
VERSION = {"type": "object", "required": ["number", "hash", "created_at"], "properties": {
    "number": {"type": "integer"}, "hash": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "created_by": {"type": ["object", "null"], "properties": {"id": {"type": "integer"},
                                                            "name": {"type": ["string", "null"]}}},
    "comment": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]}}}
PUBLISHED = {"type": "object", "required": ["version", "changed"], "properties": {
    "version": _ref("Version"), "changed": {"type": "boolean"},
    "archived": {"type": "array", "items": {"type": "string"}, "description": "entity.field archived, values kept"},
    "restored": {"type": "array", "items": {"type": "string"}}, "converted": {"type": "integer"}}}
CHANGE = {"type": "object", "required": ["kind", "entity", "blocking"], "properties": {
    "kind": {"enum": ["entity_added", "entity_removed", "field_added", "field_archived", "field_restored",
                      "field_changed", "field_relabelled"]},
    "entity": {"type": ["string", "null"]}, "field": {"type": ["string", "null"]},
    "entity_label": {}, "field_label": {}, "records": {"type": "integer"}, "converts": {"type": "integer"},
    "fails": {"type": "integer"}, "before": {"type": ["string", "null"]}, "after": {"type": ["string", "null"]},
    "examples": {"type": "array", "items": {"type": "object", "properties": {"record": {"type": "integer"},
                                                                            "value": {}}}},
    "blocking": {"type": "boolean"}}}


def design_schemas() -> dict[str, Any]:
    return {
        "DocumentValue": JSON_VALUE,
        "Documents": {"type": "object", "required": ["app", "workflows", "version"], "properties": {
            "app": DOCUMENT, "workflows": {"type": "array", "items": WORKFLOW},
            "version": {"type": "integer", "description": "The draft's revision (0: no draft, the live documents)"},
            **READ_ONLY}},
        "Version": VERSION,
        "Published": PUBLISHED,
        "Change": CHANGE,
    }


def design_paths(app: AppDef, paths: dict) -> None:
    """The designer's routes for `app` (the caller is one of its admins)."""
    base = f"/api/v1/apps/{app.key}"
    tags = [app.key]
    documents = {"content": {"application/json": {"schema": _ref("Documents")}}}
    put_body = {"type": "object", "additionalProperties": False, "required": ["app", "workflows", "version"],
                "properties": {
        "app": {**DOCUMENT, "required": ["key"]}, "workflows": {"type": "array", "items": WORKFLOW},
        "version": {"type": "integer", "minimum": 0, "maximum": MAX_VERSION,
                    "description": "The revision you read (GET .../draft); 0 when there was no draft"},
        **READ_ONLY}}
    paths[f"{base}/draft"] = {
        "get": {"operationId": f"get_draft_{app.key}", "tags": tags,
                "summary": "The draft's documents (the live ones while there is no draft), its revision and problems",
                "responses": {"200": {"description": "The draft", **documents,
                                      "headers": {"ETag": {"schema": {"type": "string"},
                                                           "description": "The draft's revision"}}},
                              **COMMON_ERRORS}},
        "put": {"operationId": f"put_draft_{app.key}", "tags": tags,
                "summary": "Replace the draft's documents (nothing is stored when they have problems)",
                "description": "Name the revision the change was made on as `version` in the body or in "
                               "If-Match; a stale one answers 409. Workflows are a list, each naming its key.",
                "parameters": [IF_MATCH_HEADER],
                "requestBody": {"required": True, "content": {"application/json": {"schema": put_body}}},
                "responses": {"200": {"description": "Saved: the draft at its new revision", **documents},
                              **COMMON_ERRORS, "409": _error("The draft changed since you read it"),
                              "413": _error("Body too large"), "415": _error("The body is not JSON"),
                              "422": _refused("The documents have problems", PROBLEM_RULE),
                              "428": _error("The revision is missing")}}}
    paths[f"{base}/draft/impact"] = {"get": {
        "operationId": f"draft_impact_{app.key}", "tags": tags,
        "summary": "What publishing the draft would change (fields added, archived with how many values kept, "
                   "type changes with how many values convert and which would not)",
        "responses": {"200": {"description": "The impact; `publishable` is false when a change blocks, the draft "
                                             "has problems, or there is no draft",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["version", "publishable", "changes", "problems"],
                                  "properties": {"version": {"type": "integer"}, "live_version": {"type": "integer"},
                                                 "stale": {"type": "boolean"}, "publishable": {"type": "boolean"},
                                                 "changes": {"type": "array", "items": _ref("Change")},
                                                 "records": {"type": "object",
                                                             "additionalProperties": {"type": "integer"}},
                                                 "problems": {"type": "array"}}}}}},
                      **COMMON_ERRORS}}}
    paths[f"{base}/draft/publish"] = {"post": {
        "operationId": f"publish_draft_{app.key}", "tags": tags,
        "summary": "Publish the draft as the next version (the path `formloom install` takes)",
        "parameters": [IF_MATCH_HEADER],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": {
                "comment": {"type": "string", "maxLength": MAX_COMMENT, "pattern": NO_NUL},
                "version": {"type": "integer", "minimum": 0, "maximum": MAX_VERSION,
                            "description": "The draft revision you checked; without it, the draft as it is"}}}}}},
        "responses": {"200": {"description": "Published",
                              "content": {"application/json": {"schema": _ref("Published")}}},
                      **COMMON_ERRORS, "404": _error("No such app, or no draft to publish"),
                      "409": _error("The draft changed since you read it, or the live app changed since it began"),
                      "413": _error("Body too large"), "415": _error("The body is not JSON"),
                      "422": _refused("Publishing is refused", {**PROBLEM_RULE, **VALUES_RULE})}}}
    paths[f"{base}/versions"] = {"get": {
        "operationId": f"versions_{app.key}", "tags": tags, "summary": "The published versions, newest first",
        "responses": {"200": {"description": "The versions", "content": {"application/json": {"schema": {
            "type": "object", "required": ["current", "versions"],
            "properties": {"current": {"type": "integer"},
                           "versions": {"type": "array", "items": _ref("Version")}}}}}},
                      **COMMON_ERRORS}}}
    number = {"name": "number", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    paths[f"{base}/versions/{{number}}/documents"] = {"parameters": [number], "get": {
        "operationId": f"version_documents_{app.key}", "tags": tags,
        "summary": "A published version's documents (to keep in git)",
        "responses": {"200": {"description": "The documents; `version` is the version's number", **documents},
                      **COMMON_ERRORS}}}
    paths[f"{base}/versions/{{number}}/restore"] = {"parameters": [number], "post": {
        "operationId": f"restore_version_{app.key}", "tags": tags,
        "summary": "Publish an old version as the next one (fields it lacks are archived, values kept)",
        "responses": {"200": {"description": "Published",
                              "content": {"application/json": {"schema": _ref("Published")}}},
                      **COMMON_ERRORS, "422": _refused("Publishing is refused", {**PROBLEM_RULE, **VALUES_RULE})}}}
    reason = {"type": "object", "required": ["kind", "text"], "properties": {
        "kind": {"type": "string", "description": "unique, reference, match, list_column, calendar, permission, "
                                                  "chosen; or dashboard, search, stale for the engine's other indexes"},
        "source": {"type": ["string", "null"], "description": "What it comes from: a role, an entity, entity.field"},
        "text": {"type": "string", "description": "The reason in words, in the caller's language"}}}
    index = {"type": "object", "required": ["name", "kind", "fields", "reasons", "size_bytes"], "properties": {
        "name": {"type": "string"}, "kind": {"type": "string", "enum": ["field", "dashboard", "search", "stale"]},
        "fields": {"type": "array", "items": {"type": "string"}},
        "reasons": {"type": "array", "items": reason},
        "size_bytes": {"type": ["integer", "null"], "description": "null where the database cannot tell"}}}
    paths[f"{base}/indexes"] = {"get": {
        "operationId": f"indexes_{app.key}", "tags": tags,
        "summary": "Every index Formloom made for the app, why, and its size; saved views' filters without one",
        "responses": {"200": {"description": "The report, per entity", "content": {"application/json": {"schema": {
            "type": "object", "required": ["app", "entities"], "properties": {
                "app": {"type": "string"},
                "entities": {"type": "array", "items": {"type": "object", "properties": {
                    "entity": {"type": "string"}, "indexes": {"type": "array", "items": index},
                    "unindexed_filters": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "saved_views": {"type": "integer"}}}}}}}}}}}},
                      **COMMON_ERRORS}}}
