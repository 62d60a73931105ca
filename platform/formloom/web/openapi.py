"""The OpenAPI 3.1 document of the records API, generated from the installed apps.

Served at /api/v1/openapi.json (the route is api.py's) to an authenticated caller and tailored to them:
only apps they belong to, entities they may read, fields they may see (and, in
request bodies, fields they may write) appear, so the document itself reveals
nothing the API would not. Request bodies use `record_schema.record_json_schema`,
the same schema the forms agree with.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app

from ..auth import policy
from ..bulk_edit import MAX_RECORDS
from ..auth.users import Actor
from ..collab.activity import KINDS as ACTIVITY_KINDS, MAX_LIMIT as ACTIVITY_MAX_LIMIT
from ..definitions.model import AppDef, EntityDef
from ..fields import field_type
from ..record_schema import record_json_schema
from ..collab.comments import MAX_LENGTH as COMMENT_MAX_LENGTH
from .api import IF_MATCH, MAX_REASON
from .api_comments import MAX_MENTIONS as COMMENT_MAX_MENTIONS
from .api_params import NO_NUL, list_parameters
from .helpers import catalog

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
MAX_VERSION = 2**62 - 1
IF_MATCH_HEADER = {"name": "If-Match", "in": "header", "required": False,
                   "schema": {"type": "string", "pattern": rf"^\s*(?:\*|{IF_MATCH})?\s*$"},
                   "description": "The version you read, such as \"3\" (W/\"3\" and * are accepted too)"}
#: The refusals a request the document allows may still get: rules about other records and
#: the record's history that no request schema can express. Each 422 response lists its
#: own under `x-business-rules` (the `error.code`, or every `errors[].code` of an "invalid").
VALUE_RULES = {
    "unique": "another record already has this value",
    "not_found": "a referenced record does not exist or you may not read it",
}
RETIRED_RULE = "a retired option may be kept by a record holding it, not newly chosen"
MOVE_RULES = {"gate_blocked": "the target stage's gate is not satisfied (every unmet requirement is listed)",
              "readonly": "a value sent with the move is for a field read-only or hidden in the target stage",
              "required": "a field the target stage requires (by its rules) is left empty",
              **VALUE_RULES}
#: A file or image field's value names uploads (POST {base}/files/{field}) the writer may use.
FILE_VALUE_RULE = {"invalid_file": "a file id is not an upload of yours for this field, nor already on the record"}
#: Why an upload is refused: what its bytes are, which no schema can express.
UPLOAD_RULES = {"file_extension": "the file name's extension is not one the field allows",
                "file_content": "the content is not of the kind its extension says (sniffed magic bytes)",
                "file_markup": "an image carries web page markup (a polyglot)",
                "file_too_large": "the file is larger than the field's max_size_mb",
                "file_empty": "the file is empty",
                "required": "no multipart part named `file` was sent"}
FILE_VALUE = {"type": "object", "required": ["id", "name", "size", "type"],
              "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "size": {"type": "integer"},
                             "type": {"type": "string"}}}
#: A reference whose `match` ties it to another field of the form: the record chosen must agree.
MATCH_RULE = {"mismatch": "a referenced record does not agree with another field of the form (its `match`)"}
#: An approval request as the API answers it (web/approvals.py, workflow/approvals.py).
APPROVAL = {
    "type": "object", "required": ["id", "record_id", "to_stage", "status", "status_text", "step", "steps"],
    "properties": {
        "id": {"type": "integer"}, "app": {"type": "string"}, "entity": {"type": "string"},
        "record_id": {"type": "integer"}, "from_stage": {"type": ["string", "null"]}, "to_stage": {"type": "string"},
        "requested_by": {"type": ["integer", "null"]}, "requested_at": {"type": "string", "format": "date-time"},
        "status": {"enum": ["pending", "approved", "rejected", "withdrawn", "cancelled"]}, "status_text": {"type": "string"},
        "step": {"type": "integer"}, "steps": {"type": "integer"}, "step_key": {"type": ["string", "null"]},
        "step_label": {"type": ["string", "null"]}, "waiting_on": {"type": "array", "items": {"type": "integer"}},
        "decided_at": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
        "version": {"type": "integer"}}}


#: One entry of a record's activity timeline (collab/activity.py); the other keys depend on `kind`.
ACTIVITY = {
    "type": "object", "required": ["kind", "at", "user", "via"],
    "properties": {
        "kind": {"enum": list(ACTIVITY_KINDS)}, "at": {"type": "string", "format": "date-time"},
        "user": {"type": ["object", "null"], "properties": {"id": {"type": "integer"},
                                                            "name": {"type": ["string", "null"]}}},
        "via": {"type": ["string", "null"], "description": "who wrote without a person, e.g. \"rule: <label>\""},
        "action": {"type": "string",
                   "description": "change/rule: create, update, delete, restore, claim or return (to the pool)"},
        "reason": {"type": "string", "description": "change: why the record was returned to the pool"},
        "changes": {"type": "array", "description": "change/rule: fields you may see, with raw values",
                    "items": {"type": "object", "required": ["field", "old", "new"],
                              "properties": {"field": {"type": "string"}, "old": {}, "new": {}}}},
        "from": {"type": ["string", "null"]}, "to": {"type": "string"},
        "seconds_in_previous": {"type": ["integer", "null"], "description": "stage: time spent in `from`"},
        "override_reason": {"type": ["string", "null"]},
        "entity": {"type": "string"}, "field": {"type": "string"}, "id": {"type": "integer"},
        "title": {"type": "string"},
        "decision": {"type": ["string", "null"]}, "comment": {"type": ["string", "null"]},
        "request": {"type": ["integer", "null"]},
        "files": {"type": "array", "description": "comment: the files it carries (none once deleted); read one at "
                                                  "/api/v1/{app}/files/{id}/content, an image's thumbnail at "
                                                  "/api/v1/{app}/files/{id}/thumbnail",
                  "items": {"type": "object", "required": ["id", "name", "size", "type", "thumbnail"],
                            "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                           "size": {"type": "integer"}, "type": {"type": "string"},
                                           "thumbnail": {"type": "boolean"}}}}}}


def _activity_path(app: AppDef, op_id: str, label: str, record_id: dict) -> dict:
    """GET {base}/{id}/activity: the record page's timeline (web/activity.py)."""
    page = {"type": "object", "required": ["items", "limit", "offset", "has_more", "next_offset"],
            "properties": {"items": {"type": "array", "items": _ref("Activity")},
                           "limit": {"type": "integer"}, "offset": {"type": "integer"},
                           "has_more": {"type": "boolean"}, "next_offset": {"type": ["integer", "null"]}}}
    return {"parameters": [record_id], "get": {
        "operationId": f"activity_{op_id}", "tags": [app.key],
        "summary": f"A {label}'s activity: changes, stage moves, related records, rule writes, approvals, "
                   "comments; newest first",
        "parameters": [
            {"name": "kind", "in": "query", "required": False, "explode": True,
             "description": "Only these kinds (repeat the parameter, or separate with commas)",
             "schema": {"type": "array", "items": {"enum": list(ACTIVITY_KINDS)}}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": ACTIVITY_MAX_LIMIT, "default": 20}},
            {"name": "offset", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0}}],
        "responses": {"200": {"description": "One page of the timeline",
                              "content": {"application/json": {"schema": page}}}, **COMMON_ERRORS}}}


def _pool_paths(actor, app: AppDef, entity, base: str, op_id: str, label: str, record_id: dict, record: str,
                one: dict, paths: dict) -> None:
    """GET {base}/pool, POST {base}/{id}/claim and {base}/{id}/return (web/pools.py), for an
    entity with a pool: listing and claiming for the pool's roles, returning for updaters."""
    if entity.pool is None:
        return
    if policy.sees_pool(actor, app, entity):
        page = {"type": "object", "required": ["items", "limit", "offset", "has_more", "next_offset", "held"],
                "properties": {"items": {"type": "array", "items": _ref(record)},
                               "limit": {"type": "integer"}, "offset": {"type": "integer"},
                               "has_more": {"type": "boolean"}, "next_offset": {"type": ["integer", "null"]},
                               "held": {"type": "integer", "description": "How many of these records you own"},
                               "max_held": {"type": ["integer", "null"],
                                            "description": "The most one person may own (the pool's limit)"}}}
        paths[f"{base}/pool"] = {"get": {
            "operationId": f"pool_{op_id}", "tags": [app.key],
            "summary": f"{label} records with no owner, which you may claim; newest change first",
            "parameters": [
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200, "pattern": NO_NUL}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                {"name": "offset", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0}}],
            "responses": {"200": {"description": "One page of the pool",
                                  "content": {"application/json": {"schema": page}}}, **COMMON_ERRORS}}}
        paths[f"{base}/{{id}}/claim"] = {"parameters": [record_id], "post": {
            "operationId": f"claim_{op_id}", "tags": [app.key],
            "summary": f"Claim a {label} from the pool: you become its owner (one winner when several claim at once)",
            "responses": {"200": one, **COMMON_ERRORS,
                          "409": {**_error("Someone owns it already (`already_claimed`), or you hold as many as "
                                           "the pool allows (`pool_limit_reached`)"),
                                  "x-business-rules": ["already_claimed", "pool_limit_reached"]}}}}
    if policy.scope(actor, "update", app, entity) != "none":
        body = {"type": "object", "additionalProperties": False, "required": ["reason"],
                "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 1000,
                                          "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$",
                                          "description": "Why it goes back (kept in the record's history)"}}}
        paths[f"{base}/{{id}}/return"] = {"parameters": [record_id], "post": {
            "operationId": f"return_{op_id}", "tags": [app.key],
            "summary": f"Return a {label} to the pool, saying why: it loses its owner",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": one, **COMMON_ERRORS, "413": _error("Body too large"),
                          "409": {**_error("It is in the pool already (`not_claimed`), or changed meanwhile"),
                                  "x-business-rules": ["not_claimed"]},
                          "422": _refused("The return is refused",
                                          {"return_reason_missing": "the reason is empty"})}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, schema: str = "Error") -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _refused(description: str, rules: dict[str, str]) -> dict:
    """A 422 listing its problems; a schema-valid request is refused only for `rules`."""
    listed = "; ".join(f"`{code}`: {why}" for code, why in rules.items())
    return {**_error(f"{description}. A request this document allows is refused only when {listed}.",
                     "Problems"), "x-business-rules": sorted(rules)}


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
    schemas: dict[str, Any] = {"Error": ERROR, "Problems": PROBLEMS, "Approval": APPROVAL, "Activity": ACTIVITY}
    paths["/api/v1/approvals"] = {"get": {
        "operationId": "list_approvals", "summary": "Approval requests waiting on you (mine=1) or asked by you (mine=0)",
        "parameters": [{"name": "mine", "in": "query", "schema": {"enum": ["0", "1"], "default": "1"}}],
        "responses": {"200": {"description": "The requests, oldest first, with the record's title and key fields",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["approvals"],
                                  "properties": {"approvals": {"type": "array", "items": _ref("Approval")}}}}}},
                      **COMMON_ERRORS}}}
    from .openapi_design import design_paths, design_schemas
    for app in catalog().installed():
        if not policy.is_member(actor, app):
            continue
        if policy.is_app_admin(actor, app):
            schemas.update(design_schemas())
            design_paths(app, paths)
        for entity in app.entities:
            if policy.scope(actor, "read", app, entity) == "none":
                continue
            _entity_paths(actor, app, entity, lang_code, paths, schemas)
        _dashboard_paths(actor, app, lang_code, paths, schemas)
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


#: One widget's numbers (dashboards.measures.WidgetData.as_json, web/dashboards.widget_json).
DASHBOARD_WIDGET = {
    "type": "object", "required": ["key", "type", "label", "series", "labels", "keys", "values"],
    "properties": {
        "key": {"type": "string"}, "type": {"type": "string"}, "label": {"type": "string"},
        "format": {"type": "string"}, "series": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "array", "items": {"type": "string"},
                   "description": "What each bar, slice, point, step or row is, in your language"},
        "keys": {"type": "array", "description": "The same as values: a stage, an option, a user or record id, "
                                                "the first day of a date bucket; \"__none__\" for no value"},
        "values": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}},
                   "description": "One list per series (measure, or pivot column), in the order of labels"},
        "value": {"type": ["number", "null"]}, "previous": {"type": ["number", "null"]},
        "status": {"type": ["string", "null"]}, "target": {"type": ["number", "null"]},
        "note": {"type": ["string", "null"]},
        "series_keys": {"type": "array", "items": {"type": "string"},
                        "description": "A widget of series (several entities over the same buckets): each "
                                       "column's series key; its bar's records are the drill-down's `series`"},
        "personal_target": {"type": ["number", "null"], "description": "Number cards: the sum of the monthly "
                            "targets of the people counted, for the period's months"},
        "attainment": {"type": ["number", "null"], "description": "value / personal_target"},
        "pivot": {"type": "object", "properties": {
            "column_keys": {"type": "array"}, "column_labels": {"type": "array", "items": {"type": "string"}},
            "row_totals": {"type": "array", "items": {"type": ["number", "null"]}},
            "column_totals": {"type": "array", "items": {"type": ["number", "null"]}},
            "total": {"type": ["number", "null"]}}},
        "records": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "title": {"type": ["string", "null"]}}}}}}
DASHBOARD_RULES = {"bad_filter": "the custom dates are missing, not dates or reversed, or `owner` names "
                                 "someone whose numbers you may not narrow to"}


def _dashboard_paths(actor: Actor, app: AppDef, lang_code: str, paths: dict, schemas: dict) -> None:
    """GET /api/v1/{app}/dashboards/{key}[/{widget}] for each dashboard the actor sees."""
    from ..dashboards.catalog import visible_dashboards
    from ..dashboards.periods import PERIODS
    from .helpers import db
    _app, version_id = catalog().get(app.key)
    with db().read() as conn:
        shown = visible_dashboards(conn, actor, app, version_id)
    if not shown:
        return
    schemas["DashboardWidget"] = DASHBOARD_WIDGET
    schemas["Dashboard"] = {"type": "object", "required": ["dashboard", "period", "widgets"], "properties": {
        "dashboard": {"type": "string"}, "label": {"type": "string"},
        "period": {"type": "object", "properties": {"key": {"type": "string"}, "start": {"type": ["string", "null"]},
                                                    "end": {"type": ["string", "null"]}}},
        "errors": {"type": "array", "items": {"type": "string"}},
        "widgets": {"type": "array", "items": _ref("DashboardWidget")}}}
    from .api_dashboards import PARAMETERS
    filters = [
        {"name": "period", "in": "query", "required": False, "schema": {"enum": list(PERIODS)},
         "description": "Which period the widgets' dates fall in (default: the dashboard's)"},
        *({"name": name, "in": "query", "required": False, "description": f"period=custom: the {which} day",
           "schema": {"type": "string", "pattern": PARAMETERS[name]}}
          for name, which in (("from", "first"), ("to", "last"))),
        {"name": "owner", "in": "query", "required": False,
         "description": "Narrow to me, my team, or one person (a user id) whose numbers you may see; "
                        "all: everyone you may see (the default unless the dashboard opens on me or team)",
         "schema": {"type": "string", "pattern": PARAMETERS["owner"]}}]
    listed = "; ".join(f"`{code}`: {why}" for code, why in DASHBOARD_RULES.items())
    errors = {**COMMON_ERRORS, "422": {**_error(f"Refused only when {listed}"), "x-business-rules": sorted(DASHBOARD_RULES)}}
    for d in shown:
        base = f"/api/v1/{app.key}/dashboards/{d.key}"
        label = d.label.get(lang_code)
        paths[base] = {"get": {
            "operationId": f"dashboard_{app.key}_{d.key}", "tags": [app.key],
            "summary": f"{label}: every widget's numbers, under your data scope", "parameters": filters,
            "responses": {"200": {"description": label, "content": {"application/json": {"schema": _ref("Dashboard")}}},
                          **errors}}}
        paths[f"{base}/{{widget}}"] = {"get": {
            "operationId": f"dashboard_widget_{app.key}_{d.key}", "tags": [app.key],
            "summary": f"{label}: one widget's numbers",
            "parameters": [{"name": "widget", "in": "path", "required": True,
                            "schema": {"enum": [w.key for w in d.widgets]}}, *filters],
            "responses": {"200": {"description": "The widget",
                                  "content": {"application/json": {"schema": _ref("DashboardWidget")}}},
                          **errors}}}


def _entity_paths(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str, paths: dict, schemas: dict) -> None:
    visible = [f for f in policy.visible_fields(actor, app, entity) if not f.archived]
    writable = {f.key for f in policy.writable_fields(actor, app, entity)}
    label = entity.label.get(lang_code)
    base = f"/api/v1/{app.key}/{entity.key}"
    record, create, update = (_name(app, entity, s) for s in ("Record", "Create", "Update"))

    rules = dict(VALUE_RULES)
    if any(field_type(f.type).holds_files for f in entity.fields):
        rules.update(FILE_VALUE_RULE)
    if any(f.type == "reference" and f.match for f in entity.fields):
        rules.update(MATCH_RULE)
    if any(f.retired_values for f in entity.fields):
        rules["retired_option"] = RETIRED_RULE
    if any(f.required_if is not None or (f.required and f.visible_if is not None) for f in entity.fields):
        rules["required"] = "a field is required by a condition on other values (required_if, visible_if)"
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
                       "properties": {"data": update_schema,
                                      "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}}}

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
        "parameters": [p.as_openapi() for p in list_parameters(entity, visible)],
        "responses": {"200": {"description": "A page of records",
                              "content": {"application/json": {"schema": page}}}, **COMMON_ERRORS}}}
    if policy.can(actor, "create", app, entity):
        collection["post"] = {
            "operationId": f"create_{op_id}", "summary": f"Create a {label}", "tags": [app.key],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(create)}}},
            "responses": {"201": {**one, "description": "Created"}, **COMMON_ERRORS,
                          "413": _error("Body too large"), "422": _refused("Invalid values", rules)}}
    paths[base] = collection

    item = {"parameters": [record_id],
            "get": {"operationId": f"get_{op_id}", "summary": f"One {label}", "tags": [app.key],
                    "responses": {"200": one, **COMMON_ERRORS}}}
    if policy.scope(actor, "update", app, entity) != "none":
        item["patch"] = {
            "operationId": f"update_{op_id}", "summary": f"Change a {label}", "tags": [app.key],
            "parameters": [IF_MATCH_HEADER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(update)}}},
            "responses": {"200": one, **COMMON_ERRORS, "409": _error("The record changed since you read it"),
                          "413": _error("Body too large"), "422": _refused("Invalid values", rules),
                          "428": _error("The version is missing")}}
    if policy.scope(actor, "delete", app, entity) != "none":
        item["delete"] = {
            "operationId": f"delete_{op_id}", "summary": f"Delete a {label} (restorable by an admin)",
            "tags": [app.key], "parameters": [IF_MATCH_HEADER],
            "responses": {"204": {"description": "Deleted"}, **COMMON_ERRORS,
                          "409": _error("The record changed since you read it")}}
    paths[f"{base}/{{id}}"] = item
    paths[f"{base}/{{id}}/activity"] = _activity_path(app, op_id, label, record_id)
    _pool_paths(actor, app, entity, base, op_id, label, record_id, record, one, paths)

    if policy.is_app_admin(actor, app):
        paths[f"{base}/{{id}}/restore"] = {"parameters": [record_id], "post": {
            "operationId": f"restore_{op_id}", "summary": f"Restore a deleted {label}", "tags": [app.key],
            "responses": {"200": one, **COMMON_ERRORS,
                          "422": _refused("A value of the record is now taken by another record",
                                          {"unique": VALUE_RULES["unique"]})}}}

    _comment_paths(app, base, op_id, label, record_id, paths)
    _bulk_paths(actor, app, entity, lang_code, base, op_id, paths)
    _file_paths(actor, app, entity, base, op_id, paths)

    workflow = app.workflow_for(entity.key)
    if workflow is not None and workflow.stages and policy.scope(actor, "update", app, entity) != "none":
        move = {"type": "object", "additionalProperties": False, "required": ["to"], "properties": {
            "to": {"type": "string", "enum": [s.key for s in workflow.stages]},
            "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
            "data": {**update_schema, "description": "Values saved with the move in the same commit, judged "
                                                     "in the target stage (its visible_if/required rules)"},
            "override_reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON,
                                "pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$",
                                "description": "App admins: skip the gate, saying why (not only spaces)"}},
            "if": {"required": ["data"], "properties": {"data": {"minProperties": 1}}},
            "then": {"required": ["version"]}}
        paths[f"{base}/{{id}}/stage"] = {"parameters": [record_id], "post": {
            "operationId": f"move_{op_id}", "summary": f"Move a {label} to another stage", "tags": [app.key],
            "requestBody": {"required": True, "content": {"application/json": {"schema": move}}},
            "responses": {"200": one, **COMMON_ERRORS, "409": _error("The record changed since you read it"),
                          "413": _error("Body too large"),
                          "422": _refused("The move is refused", {**MOVE_RULES, **rules}),
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


#: email_validator refuses addresses at special-use domain names (RFC 6761); `format: email` does not
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")
EMAIL_DOMAIN = r"@.*\.(?!(?:%s)$)[^.]+$" % "|".join(
    "".join(f"[{c}{c.upper()}]" for c in name) for name in SPECIAL_USE_DOMAINS)
SURROGATES = "\\ud800-\\udfff"       # in the engine's forbidden-character classes
DECIMAL_PREFIX = "^-?[0-9]+"           # the start of a money pattern


def bulk_actions(actor: Actor, app: AppDef, entity: EntityDef) -> list[str]:
    """The bulk actions this actor is offered on `entity` (each record is still checked on its own)."""
    actions = []
    if policy.scope(actor, "update", app, entity) != "none":
        if _settable(actor, app, entity, "en"):
            actions.append("set_field")
        actions.append("owner")
        workflow = app.workflow_for(entity.key)
        if workflow is not None and workflow.stages:
            actions.append("stage")
    if policy.scope(actor, "delete", app, entity) != "none":
        actions.append("delete")
    return actions


def _settable(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str) -> dict[str, dict]:
    """Field key -> the schema of its value, for every field a bulk "set" may name: the
    writable, stored fields, each with the value schema of a PATCH body."""
    writable = {f.key for f in policy.writable_fields(actor, app, entity)}
    return _only(record_json_schema(entity, lang_code, for_update=True), writable)["properties"]


def bulk_body_schema(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str,
                     max_records: int = MAX_RECORDS) -> dict | None:
    """The body of POST .../bulk, as the document publishes it and web/bulk.py enforces it
    (one schema, so the two cannot disagree): which keys each action takes (all it needs,
    no other), the fields a "set" may name and, per field, the value it takes; None when no
    action is offered."""
    actions = bulk_actions(actor, app, entity)
    if not actions:
        return None
    settable = _settable(actor, app, entity, lang_code) if "set_field" in actions else {}
    workflow = app.workflow_for(entity.key)
    stages = [s.key for s in workflow.stages] if workflow is not None else []
    properties: dict[str, Any] = {
        "ids": {"type": "array", "minItems": 1, "maxItems": max_records,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
        "action": {"type": "string", "enum": actions},
        "field": {"type": "string", "enum": sorted(settable), "description": "set_field: the field key"},
        "value": {"description": "set_field: the new value, as in a PATCH body's data (its schema depends "
                                 "on the field)"},
        "owner": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID,
                  "description": "owner: the new owner's user id (a member of the app), or null for none"},
        "stage": {"type": "string", "enum": stages,
                  "description": "stage: the stage to move to (each record passes its gate)"}}
    if not settable:
        del properties["field"], properties["value"]
    if not stages:
        del properties["stage"]
    branches = [{"additionalProperties": False, "required": ["action", "field", "value"],
                 "properties": {"ids": {}, "action": {"const": "set_field"}, "field": {"const": key},
                                "value": schema}}
                for key, schema in sorted(settable.items())]
    for action in actions:
        if action != "set_field":
            keys = BULK_ACTION_KEYS.get(action, ())
            branches.append({"additionalProperties": False, "required": ["action", *keys],
                             "properties": {"ids": {}, "action": {"const": action}, **{k: {} for k in keys}}})
    return {"type": "object", "additionalProperties": False, "required": ["ids", "action"],
            "properties": properties, "oneOf": branches}


#: what each bulk action needs besides `ids` and `action` (set_field: `field` and `value`)
BULK_ACTION_KEYS = {"owner": ("owner",), "stage": ("stage",)}


#: The most items one POST {base}/bulk with `items` may carry (config BULK_MAX_ITEMS).
MAX_BULK_ITEMS = 1000
BULK_WRITE_MODES = ("all_or_nothing", "per_item")
#: Why an item the schema allows may still be refused (each problem's `code`).
BULK_WRITE_RULES = {
    **VALUE_RULES, **FILE_VALUE_RULE, **MATCH_RULE, "retired_option": RETIRED_RULE,
    "required": "a field is required by a condition on other values, or by the stage of the record an upsert "
                "matches",
    "readonly": "an upsert matches a record in a stage where a field sent is read-only",
    "unknown_field": "an upsert matches a record in a stage where a field sent is hidden",
    "forbidden": "you may not create records of this entity, or not change the record an upsert key matches",
    "upsert_key_missing": "an item leaves the `upsert_by` field empty",
    "approval_pending": "an upsert matches a record awaiting approval",
}


def bulk_write_schema(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str,
                      max_items: int = MAX_BULK_ITEMS) -> dict | None:
    """The body of POST .../bulk that creates or upserts records, as the document publishes it
    and web/bulk_writes.py enforces it (one schema); None when the actor may neither create
    nor update records of `entity`."""
    may_create = policy.can(actor, "create", app, entity)
    visible = {f.key for f in policy.visible_fields(actor, app, entity)}
    unique = sorted(f.key for f in entity.fields if f.unique and not f.archived and f.key in visible)
    may_update = bool(unique) and policy.scope(actor, "update", app, entity) != "none"
    if not (may_create or may_update):
        return None
    writable = {f.key for f in policy.writable_fields(actor, app, entity)}
    data = _only(record_json_schema(entity, lang_code), writable)
    properties: dict[str, Any] = {
        "items": {"type": "array", "minItems": 1, "maxItems": max_items,
                  "items": {"type": "object", "additionalProperties": False, "required": ["data"],
                            "properties": {"data": data}}},
        "mode": {"type": "string", "enum": list(BULK_WRITE_MODES), "default": "all_or_nothing",
                 "description": "all_or_nothing: nothing is written unless every item passes (else 422 listing "
                                "each item's problems); per_item: the items that pass are written"}}
    if unique:
        properties["upsert_by"] = {"type": "string", "enum": unique,
                                   "description": "A unique field: an item whose value matches a record updates "
                                                  "it (if you may), the others are created"}
    return {"type": "object", "additionalProperties": False, "required": ["items"], "properties": properties}


def _bulk_paths(actor: Actor, app: AppDef, entity: EntityDef, lang_code: str, base: str, op_id: str,
                paths: dict) -> None:
    """POST {base}/bulk and GET {base}/bulk/{job} (web/bulk.py): one change to many records,
    each through the same checks as a single edit; refusals are listed, not raised. The same
    POST with `items` creates or upserts records (web/bulk_writes.py)."""
    edit = bulk_body_schema(actor, app, entity, lang_code,
                            int(current_app.config.get("BULK_MAX_RECORDS", MAX_RECORDS)))
    write = bulk_write_schema(actor, app, entity, lang_code,
                              int(current_app.config.get("BULK_MAX_ITEMS", MAX_BULK_ITEMS)))
    if edit is None and write is None:
        return
    body = {"oneOf": [edit, write]} if edit is not None and write is not None else (edit or write)
    label = entity.label.get(lang_code)
    report = {"type": "object", "required": ["status", "total", "done", "succeeded", "failed", "failures"],
              "properties": {"status": {"type": "string"}, "job": {"type": "integer"},
                             "total": {"type": "integer"}, "done": {"type": "integer"},
                             "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
                             "failures": {"type": "array", "items": {"type": "object", "properties": {
                                 "id": {"type": "integer"}, "messages": {"type": "array", "items": {"type": "string"}}}}}}}
    written = {"type": "object", "required": ["mode", "created", "updated", "unchanged", "failed", "results"],
               "properties": {"mode": {"type": "string", "enum": list(BULK_WRITE_MODES)},
                              **{k: {"type": "integer"} for k in ("created", "updated", "unchanged", "failed")},
                              "results": {"type": "array", "items": {
                                  "type": "object", "required": ["index", "status"], "properties": {
                                      "index": {"type": "integer"},
                                      "status": {"type": "string",
                                                 "enum": ["created", "updated", "unchanged", "failed"]},
                                      "id": {"type": "integer"}, "version": {"type": "integer"},
                                      "errors": PROBLEMS["properties"]["errors"]}}}}}
    responses: dict[str, Any] = {}
    if edit is not None:
        responses["200"] = {"description": "Done; the report lists every refusal",
                            "content": {"application/json": {"schema": report}}}
        responses["202"] = {"description": "Queued as a job; GET the url for progress",
                            "content": {"application/json": {"schema": {"type": "object", "properties": {
                                "job": {"type": "integer"}, "status": {"type": "string"},
                                "url": {"type": "string"}}}}}}
    if write is not None:
        responses["200"] = {"description": "Done: with `ids` and `action`, the report of the change (every "
                                           "refusal listed); with `items`, each item's outcome",
                            "content": {"application/json": {"schema": {"anyOf": [report, written]}
                                                             if edit is not None else written}}}
        responses["207"] = {"description": "With `items` in per_item mode: some items were refused (each "
                                           "result says why); the others were written",
                            "content": {"application/json": {"schema": written}}}
        responses["422"] = _refused("With `items` in all_or_nothing mode: some items were refused and nothing "
                                    "was written; each problem's path starts at its item (/items/3/data/name)",
                                    BULK_WRITE_RULES)
    paths[f"{base}/bulk"] = {"post": {
        "operationId": f"bulk_{op_id}", "summary": f"Change, create or upsert many {label} at once",
        "tags": [app.key],
        "description": "With `ids` and `action`: each record goes through the policy, validation, the stage gate, "
                       "audit and events of a single edit; records that are refused are listed with their "
                       "reasons. Large selections answer 202 with a job to follow. With `items`: up to "
                       f"{MAX_BULK_ITEMS:,} records created (or, with `upsert_by`, updated when a record holds the "
                       "item's value) in one transaction, each as a single create or update would be (policy, "
                       "hidden and read-only fields, validation, audit, events); more items answer 422 "
                       "(too_many_items). A body this schema refuses is refused whole (400, naming the key and "
                       "the rule) before any record is touched.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**responses, **COMMON_ERRORS, "413": _error("Body too large"),
                      "415": _error("The body is not JSON")}}}
    if edit is None:
        return
    paths[f"{base}/bulk/{{job}}"] = {"get": {
        "operationId": f"bulk_job_{op_id}", "summary": f"Progress of a bulk change of {label}", "tags": [app.key],
        "parameters": [{"name": "job", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}],
        "responses": {"200": {"description": "The job's progress and report",
                              "content": {"application/json": {"schema": report}}}, **COMMON_ERRORS}}}


def _positive(schema):
    """`{"not": {"pattern": "[...]"}}` (no character of a class) said positively, as
    `"pattern": "^[^...]*$"`: the same strings, and a form that test-data generators
    (schemathesis, hypothesis-jsonschema) can produce values for. Lone surrogates are
    left out of the class: no generator makes them and no UTF-8 body can carry them,
    and a range of them makes the whole pattern unusable to schemathesis. An email
    also says which domains the server refuses."""
    if isinstance(schema, list):
        return [_positive(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _positive(v) for k, v in schema.items()}
    negated = out.get("not")
    if isinstance(negated, dict) and set(negated) == {"pattern"} and re.fullmatch(r"\[[^\[\]^]+\]", negated["pattern"]):
        del out["not"]
        _add_pattern(out, f"^[^{negated['pattern'][1:-1].replace(SURROGATES, '')}]*$")
    if out.get("format") == "email":
        _add_pattern(out, EMAIL_DOMAIN)
    if out.get("format") == "uri":
        out["format"] = "iri"              # the server takes international host names too
    if out.get("format") == "decimal" and str(out.get("pattern", "")).startswith(DECIMAL_PREFIX):
        out["pattern"] = _decimal_pattern(out)
    return out



def _decimal_pattern(schema: dict) -> str:
    """`formatMinimum`/`formatMaximum` of a decimal string, which generic tools ignore, said
    in its pattern: no minus sign when it may not be negative, and no more integer digits
    than keep it inside the bounds."""
    try:
        low, high = Decimal(str(schema["formatMinimum"])), Decimal(str(schema["formatMaximum"]))
    except (KeyError, InvalidOperation):
        return schema["pattern"]
    if low > 0:
        return schema["pattern"]
    bound = high if low == 0 else min(high, -low)
    digits = max(1, len(str(int(bound))) - 1)
    sign = "" if low == 0 else "-?"
    return f"^{sign}[0-9]{{1,{digits}}}" + schema["pattern"][len(DECIMAL_PREFIX):]



def _add_pattern(schema: dict, pattern: str) -> None:
    if "pattern" in schema:
        schema["allOf"] = [*schema.get("allOf", []), {"pattern": pattern}]
    else:
        schema["pattern"] = pattern


def _only(schema: dict, keys: set[str]) -> dict:
    schema = _positive(dict(schema))
    schema.pop("$schema", None)
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k in keys}
    schema["required"] = [k for k in schema["required"] if k in keys]
    return schema



def _file_paths(actor: Actor, app: AppDef, entity: EntityDef, base: str, op_id: str, paths: dict) -> None:
    """POST {base}/files/{field}: the uploads a file or image field takes (web/files.py), and
    GET /api/v1/{app}/files/{file_id}/content (and /thumbnail) to read one back: a field's
    file, or a comment's attachment, which any entity's records may carry."""
    may_write = policy.scope(actor, "create", app, entity) != "none" or policy.scope(actor, "update", app, entity) != "none"
    fields = [f.key for f in policy.writable_fields(actor, app, entity) if field_type(f.type).holds_files]
    if fields and may_write:
        paths[f"{base}/files/{{field}}"] = {"post": {
            "operationId": f"upload_{op_id}", "tags": [app.key],
            "summary": "Upload files for a file or image field; set the answer as the field's value",
            "parameters": [{"name": "field", "in": "path", "required": True, "schema": {"enum": fields}}],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
            "responses": {"201": {"description": "The stored files",
                                  "content": {"application/json": {"schema": {"type": "array", "items": FILE_VALUE}}}},
                          **COMMON_ERRORS, "413": _error("Body too large"),
                          "422": _refused("A file was refused", UPLOAD_RULES)}}}
    content = f"/api/v1/{app.key}/files/{{file_id}}/content"
    if content not in paths:
        paths[content] = {"get": {
            "operationId": f"file_{app.key}", "tags": [app.key],
            "summary": "A stored file, if you may read its record and field (or its record and comment)",
            "parameters": [{"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The file's bytes", "content": {"*/*": {"schema": {}}}},
                          **COMMON_ERRORS}}}
        paths[f"/api/v1/{app.key}/files/{{file_id}}/thumbnail"] = {"get": {
            "operationId": f"file_thumbnail_{app.key}", "tags": [app.key],
            "summary": "An image's thumbnail (at most 320 px a side; the image itself when none could be made), "
                       "under the same check as its content",
            "parameters": [{"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "A JPEG or PNG picture",
                                  "content": {"image/jpeg": {"schema": {}}, "image/png": {"schema": {}}}},
                          **COMMON_ERRORS}}}


COMMENT_RULES = {"comment_invalid": "the text is empty (without files), only spaces, or longer than "
                                    f"{COMMENT_MAX_LENGTH} characters",
                 "mention_refused": "a user id in `mentions` is not someone who may read the record",
                 "too_many_files": "more files than a comment carries",
                 **{k: v for k, v in UPLOAD_RULES.items() if k != "required"}}


def _comment_paths(app: AppDef, base: str, op_id: str, label: str, record_id: dict, paths: dict) -> None:
    """POST {base}/{id}/comments, PATCH and DELETE {base}/{id}/comments/{comment} (web/api_comments.py):
    every reader of the record may comment, so the paths are there for whoever reads the entity."""
    comment = {"type": "object", "required": ["id", "record_id", "author", "body", "mentions", "created_at", "files"],
               "properties": {"id": {"type": "integer"}, "record_id": {"type": "integer"},
                              "author": {"type": ["integer", "null"]}, "body": {"type": "string"},
                              "mentions": {"type": "array", "items": {"type": "integer"}},
                              "created_at": {"type": "string", "format": "date-time"},
                              "edited_at": {"type": ["string", "null"], "format": "date-time"},
                              "files": {"type": "array", "items": FILE_VALUE}}}
    mentions = {"type": "array", "maxItems": COMMENT_MAX_MENTIONS,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "description": "User ids to notify besides those the text @names; each must be able to read "
                               "the record"}
    text = {"type": "string", "maxLength": COMMENT_MAX_LENGTH, "description": "Plain text; `@Name` or `@email` "
                                                                           "of a reader mentions them"}
    made = {"description": "The comment", "content": {"application/json": {"schema": comment}}}
    paths[f"{base}/{{id}}/comments"] = {"parameters": [record_id], "post": {
        "operationId": f"comment_{op_id}", "tags": [app.key],
        "summary": f"Comment on a {label} (JSON, or multipart with `files` attached)",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": False, "required": ["body"],
                                            "properties": {"body": text, "mentions": mentions}}},
            "multipart/form-data": {"schema": {"type": "object", "additionalProperties": False,
                                               "properties": {"body": text, "mentions": mentions, "files": {
                                                   "type": "array", "items": {"type": "string",
                                                                              "format": "binary"}}}}}}},
        "responses": {"201": made, **COMMON_ERRORS, "413": _error("Body too large"),
                      "422": _refused("The comment is refused", COMMENT_RULES)}}}
    comment_id = {"name": "comment", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
    paths[f"{base}/{{id}}/comments/{{comment}}"] = {"parameters": [record_id, comment_id], "patch": {
        "operationId": f"edit_comment_{op_id}", "tags": [app.key],
        "summary": "Change your comment's text (its author, within the edit window)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["body"], "properties": {"body": text}}}}},
        "responses": {"200": made, **COMMON_ERRORS,
                      "422": _refused("The text is refused", {"comment_invalid": COMMENT_RULES["comment_invalid"]})}},
        "delete": {
        "operationId": f"delete_comment_{op_id}", "tags": [app.key],
        "summary": "Delete a comment (its author, within the edit window); a trace keeps the text",
        "responses": {"204": {"description": "Deleted"}, **COMMON_ERRORS}}}
