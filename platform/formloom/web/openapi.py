"""The OpenAPI 3.1 document of the records API, generated from the installed apps.

Served at /api/v1/openapi.json to an authenticated caller and tailored to them:
only apps they belong to, entities they may read, fields they may see (and, in
request bodies, fields they may write) appear, so the document itself reveals
nothing the API would not. Request bodies use `record_schema.record_json_schema`,
the same schema the forms agree with.
"""
from __future__ import annotations

import re
from typing import Any

from flask import jsonify

from ..auth import policy
from ..auth.users import Actor
from ..definitions.model import AppDef, EntityDef
from ..fields import field_type
from ..record_schema import record_json_schema
from ..store.query import DEFAULT_LIMIT, MAX_LIMIT, SYSTEM_SORTS
from .api import bp
from .helpers import catalog, current_actor, lang

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": ["string", "null"]}}}},
}
PROBLEMS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "error": ERROR["properties"]["error"],
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": ["string", "null"]}, "path": {"type": "string"}, "code": {"type": "string"},
            "message": {"type": "string"}, "stage": {"type": ["string", "null"]}, "details": {}}}},
    },
}
MAX_ID = 2**53
#: An approval request as the API answers it (web/approvals.py, workflow/approvals.py).
APPROVAL = {
    "type": "object", "required": ["id", "record_id", "to_stage", "status", "status_text", "step", "steps"],
    "properties": {
        "id": {"type": "integer"}, "app": {"type": "string"}, "entity": {"type": "string"},
        "record_id": {"type": "integer"}, "from_stage": {"type": ["string", "null"]}, "to_stage": {"type": "string"},
        "requested_by": {"type": ["integer", "null"]}, "requested_at": {"type": "string", "format": "date-time"},
        "status": {"enum": ["pending", "approved", "rejected", "withdrawn"]}, "status_text": {"type": "string"},
        "step": {"type": "integer"}, "steps": {"type": "integer"}, "step_key": {"type": ["string", "null"]},
        "step_label": {"type": ["string", "null"]}, "waiting_on": {"type": "array", "items": {"type": "integer"}},
        "decided_at": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
        "version": {"type": "integer"}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, schema: str = "Error") -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


COMMON_ERRORS = {
    "400": _error("Bad parameters or body"),
    "401": _error("No valid API token"),
    "403": _error("Not allowed"),
    "404": _error("No such app, entity or record (or not visible to you)"),
}


def _name(app: AppDef, entity: EntityDef, suffix: str) -> str:
    return f"{app.key}.{entity.key}.{suffix}"


def openapi_document(actor: Actor, lang_code: str = "en") -> dict:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR, "Problems": PROBLEMS, "Approval": APPROVAL}
    paths["/api/v1/approvals"] = {"get": {
        "operationId": "list_approvals", "summary": "Approval requests waiting on you (mine=1) or asked by you (mine=0)",
        "parameters": [{"name": "mine", "in": "query", "schema": {"enum": ["0", "1"], "default": "1"}}],
        "responses": {"200": {"description": "The requests, oldest first, with the record's title and key fields",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["approvals"],
                                  "properties": {"approvals": {"type": "array", "items": _ref("Approval")}}}}}},
                      **COMMON_ERRORS}}}
    for app in catalog().installed():
        if not policy.is_member(actor, app):
            continue
        for entity in app.entities:
            if policy.scope(actor, "read", app, entity) == "none":
                continue
            _entity_paths(actor, app, entity, lang_code, paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Formloom records API", "version": "1",
                 "description": "Records of the installed apps you belong to. Authenticate with "
                                "`Authorization: Bearer TOKEN` (create a token on your profile page)."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _entity_paths(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str, paths: dict, schemas: dict) -> None:
    visible = [f for f in policy.visible_fields(actor, app, entity) if not f.archived]
    writable = {f.key for f in policy.writable_fields(actor, app, entity)}
    label = entity.label.get(lang_code)
    base = f"/api/v1/{app.key}/{entity.key}"
    record, create, update = (_name(app, entity, s) for s in ("Record", "Create", "Update"))

    create_schema = _only(record_json_schema(entity, lang_code), writable)
    update_schema = _only(record_json_schema(entity, lang_code, for_update=True), writable)
    response_data = record_json_schema(entity, lang_code, for_update=True)
    data_props = {f.key: _positive(response_data["properties"].get(f.key, {})) for f in visible}
    schemas[record] = {"type": "object", "required": ["id", "version", "stage", "owner", "data"], "properties": {
        "id": {"type": "integer"}, "version": {"type": "integer"}, "stage": {"type": ["string", "null"]},
        "owner": {"type": ["integer", "null"]},
        "data": {"type": "object", "properties": data_props},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}}
    schemas[create] = {"type": "object", "additionalProperties": False, "required": ["data"],
                       "properties": {"data": create_schema}}
    schemas[update] = {"type": "object", "additionalProperties": False, "required": ["data", "version"],
                       "properties": {"data": update_schema, "version": {"type": "integer", "minimum": 1}}}

    record_id = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    one = {"description": label, "content": {"application/json": {"schema": _ref(record)}},
           "headers": {"ETag": {"schema": {"type": "string"}, "description": "The record's version"}}}
    page = {"type": "object", "required": ["items", "limit", "offset", "has_more"], "properties": {
        "items": {"type": "array", "items": _ref(record)}, "limit": {"type": "integer"},
        "offset": {"type": "integer"}, "has_more": {"type": "boolean"},
        "next_offset": {"type": ["integer", "null"]}}}
    op_id = f"{app.key}_{entity.key}"

    collection: dict[str, Any] = {"get": {
        "operationId": f"list_{op_id}", "summary": f"List {label}", "tags": [app.key],
        "parameters": _list_parameters(entity, visible),
        "responses": {"200": {"description": "A page of records",
                              "content": {"application/json": {"schema": page}}}, **COMMON_ERRORS}}}
    if policy.can(actor, "create", app, entity):
        collection["post"] = {
            "operationId": f"create_{op_id}", "summary": f"Create a {label}", "tags": [app.key],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(create)}}},
            "responses": {"201": {**one, "description": "Created"}, **COMMON_ERRORS,
                          "413": _error("Body too large"), "422": _error("Invalid values", "Problems")}}
    paths[base] = collection

    item = {"parameters": [record_id],
            "get": {"operationId": f"get_{op_id}", "summary": f"One {label}", "tags": [app.key],
                    "responses": {"200": one, **COMMON_ERRORS}}}
    if policy.scope(actor, "update", app, entity) != "none":
        item["patch"] = {
            "operationId": f"update_{op_id}", "summary": f"Change a {label}", "tags": [app.key],
            "parameters": [{"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                            "description": "The version you read, instead of \"version\" in the body"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(update)}}},
            "responses": {"200": one, **COMMON_ERRORS, "409": _error("The record changed since you read it"),
                          "413": _error("Body too large"), "422": _error("Invalid values", "Problems"),
                          "428": _error("The version is missing")}}
    if policy.scope(actor, "delete", app, entity) != "none":
        item["delete"] = {
            "operationId": f"delete_{op_id}", "summary": f"Delete a {label} (restorable by an admin)",
            "tags": [app.key], "responses": {"204": {"description": "Deleted"}, **COMMON_ERRORS,
                                             "409": _error("The record changed since you read it")}}
    paths[f"{base}/{{id}}"] = item

    if policy.is_app_admin(actor, app):
        paths[f"{base}/{{id}}/restore"] = {"parameters": [record_id], "post": {
            "operationId": f"restore_{op_id}", "summary": f"Restore a deleted {label}", "tags": [app.key],
            "responses": {"200": one, **COMMON_ERRORS}}}

    workflow = app.workflow_for(entity.key)
    if workflow is not None and workflow.stages and policy.scope(actor, "update", app, entity) != "none":
        move = {"type": "object", "additionalProperties": False, "required": ["to"], "properties": {
            "to": {"type": "string", "enum": [s.key for s in workflow.stages]},
            "version": {"type": "integer", "minimum": 1},
            "data": {**update_schema, "description": "Values saved with the move in the same commit, judged "
                                                     "in the target stage (its visible_if/required rules)"},
            "override_reason": {"type": "string", "maxLength": 2000}},
            "if": {"required": ["data"], "properties": {"data": {"minProperties": 1}}},
            "then": {"required": ["version"]}}
        paths[f"{base}/{{id}}/stage"] = {"parameters": [record_id], "post": {
            "operationId": f"move_{op_id}", "summary": f"Move a {label} to another stage", "tags": [app.key],
            "requestBody": {"required": True, "content": {"application/json": {"schema": move}}},
            "responses": {"200": one, **COMMON_ERRORS, "409": _error("The record changed since you read it"),
                          "413": _error("Body too large"),
                          "422": _error("The stage gate is not satisfied, or a value is invalid", "Problems"),
                          "428": _error("Values sent without the version they apply to")}}}
        if any(st.gate.extra.get("approval") for st in workflow.stages):
            paths[f"{base}/{{id}}/stage"]["post"]["responses"]["202"] = {
                "description": "The move needs approval: a request was started (the record stays where it is)",
                "content": {"application/json": {"schema": {"type": "object", "required": ["approval"],
                                                            "properties": {"approval": _ref("Approval")}}}}}
            paths[f"{base}/{{id}}/approvals/{{request}}/{{action}}"] = {
                "parameters": [record_id,
                               {"name": "request", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
                               {"name": "action", "in": "path", "required": True,
                                "schema": {"enum": ["approve", "reject", "withdraw"]}}],
                "post": {"operationId": f"decide_{op_id}", "tags": [app.key],
                         "summary": f"Approve, reject (a comment is required) or withdraw a {label}'s approval request",
                         "requestBody": {"required": False, "content": {"application/json": {"schema": {
                             "type": "object", "additionalProperties": False,
                             "properties": {"comment": {"type": "string", "maxLength": 4000}}}}}},
                         "responses": {"200": {"description": "The request as it is now; the last approval moved "
                                                              "the record",
                                               "content": {"application/json": {"schema": {
                                                   "type": "object", "properties": {"approval": _ref("Approval")}}}}},
                                       **COMMON_ERRORS, "409": _error("Already decided, or decided meanwhile"),
                                       "422": _error("A rejection without a comment, or the gate no longer passes")}}}


def _positive(schema):
    """`{"not": {"pattern": "[...]"}}` (no character of a class) said positively, as
    `"pattern": "^[^...]*$"`: the same strings, and a form that test-data generators
    (schemathesis, hypothesis-jsonschema) can produce values for."""
    if isinstance(schema, list):
        return [_positive(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _positive(v) for k, v in schema.items()}
    negated = out.get("not")
    if isinstance(negated, dict) and set(negated) == {"pattern"} and re.fullmatch(r"\[[^\[\]^]+\]", negated["pattern"]):
        del out["not"]
        positive = f"^[^{negated['pattern'][1:-1]}]*$"
        if "pattern" in out:
            out["allOf"] = [*out.get("allOf", []), {"pattern": positive}]
        else:
            out["pattern"] = positive
    return out


def _only(schema: dict, keys: set[str]) -> dict:
    schema = _positive(dict(schema))
    schema.pop("$schema", None)
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in keys}
    schema["required"] = [k for k in schema["required"] if k in keys]
    return schema


def _list_parameters(entity: EntityDef, visible) -> list[dict]:
    sorts = sorted(set(SYSTEM_SORTS) | {f.key for f in visible if f.type != "subtable"})
    params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                                      "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000}},
        {"name": "sort", "in": "query", "schema": {"type": "string",
                                                     "enum": sorts + [f"-{k}" for k in sorts]}},
        {"name": "q", "in": "query", "description": "Search in titles", "schema": {"type": "string"}},
    ]
    for f in visible:
        if f.type == "subtable":
            continue
        for op in field_type(f.type).field_operators(f):
            params.append({"name": f.key if op == "eq" else f"{f.key}__{op}", "in": "query",
                           "description": f"Filter: {f.key} {op}", "schema": {"type": "string"}})
    return params


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document(current_actor(), lang()))
