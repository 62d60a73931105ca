"""The baseline's JSON API: what the hand-written app would add to match Formloom's
/api/v1 for the opportunity alone (issue 16: api_create, api_list_filtered, api_update,
api_stage_move are measured against it; api_mixed_16_clients also reads single records).

Bearer tokens (SHA-256 in `bl_api_tokens`, as Formloom keeps them), JSON in and out, the
same validation as the baseline's form (the WTForms form fed the JSON values: required,
lengths, ranges, money, choices, the customer and contacts exist), unknown keys refused,
an optimistic version check on every change (409), the lead score recomputed, a history
row on create and on every move, 422 listing every problem. No CSRF: a token is not a
cookie.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from flask import Blueprint, Flask, g, jsonify, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

FIELDS = ("name", "customer", "decision_maker", "contacts", "amount", "source", "expected_close", "need",
          "budget_fit", "authority", "timing", "competitor_count", "risk", "budget_confirmed", "needs_summary",
          "proposal_date", "proposal_link", "contract_signed_on", "lost_reason", "lost_note", "last_follow_up_at",
          "in_pool")
COLUMN = {"customer": "customer_id", "decision_maker": "decision_maker_id"}


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def record_json(o, contacts: list[int]) -> dict:
    data = {key: _json_value(getattr(o, COLUMN.get(key, key))) for key in FIELDS if key != "contacts"}
    data.update(contacts=contacts or None, score=_json_value(o.score), tier=o.tier)
    return {"id": o.id, "version": o.version, "stage": o.stage, "owner": o.owner_id, "data": data,
            "created_at": o.created_at.isoformat(), "updated_at": o.updated_at.isoformat()}


def _form_text(key: str, value) -> str | None:
    """A JSON value as the form field reads it (None: absent)."""
    if value is None or value is False:
        return None
    if value is True:
        return "y"
    if key == "contacts" and isinstance(value, list):
        return " ".join(str(v) for v in value)
    if key == "last_follow_up_at" and isinstance(value, str):
        return value[:16]
    return str(value)


def _form_data(values: dict) -> MultiDict:
    return MultiDict([(k, text) for k, v in values.items() if (text := _form_text(k, v)) is not None])


def _problems(form) -> list[dict]:
    return [{"field": key, "message": message} for key, messages in form.errors.items() for message in messages]


def register_api(app: Flask, engine) -> None:
    from .baseline_app import (ApiToken, Opportunity, OpportunityContact, OpportunityForm, STAGES, StageHistory, User,
                               apply_move, contact_ids, fill, list_statement, move_problems, utcnow)

    api = Blueprint("bl_api", __name__, url_prefix="/api")
    postgres = engine.dialect.name == "postgresql"

    def error(status: int, message: str, problems: list | None = None):
        body = {"error": message}
        if problems is not None:
            body["errors"] = problems
        return jsonify(body), status

    @api.before_request
    def authenticate():
        scheme, _sep, secret = (request.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return error(401, "Send your API token as: Authorization: Bearer TOKEN")
        token = g.db.scalar(select(ApiToken).where(
            ApiToken.token_hash == hashlib.sha256(secret.strip().encode()).hexdigest()))
        user = g.db.get(User, token.user_id) if token is not None and token.revoked_at is None else None
        if user is None or not user.active:
            return error(401, "This API token is not valid.")
        g.api_user = user
        return None

    def body(allowed: tuple[str, ...]):
        if not request.is_json:
            return None, error(415, "Send JSON.")
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return None, error(400, "The body must be a JSON object.")
        unknown = [k for k in payload if k not in allowed]
        data = payload.get("data", {})
        if unknown or not isinstance(data, dict):
            return None, error(400, "Unknown key in the body." if unknown else "data must be an object.")
        bad = [{"field": k, "message": "This field does not exist."} for k in data if k not in FIELDS]
        if bad:
            return None, error(422, "Some values need attention.", bad)
        return payload, None

    def load(opportunity_id: int):
        query = select(Opportunity).where(Opportunity.id == opportunity_id)
        return g.db.scalar(query.with_for_update() if postgres else query)

    def contacts_of(o) -> list[int]:
        return list(g.db.scalars(select(OpportunityContact.contact_id)
                                 .where(OpportunityContact.opportunity_id == o.id)))

    @api.get("/opportunities")
    def list_api():
        stmt, offset = list_statement(request.args, engine.dialect.name)
        rows = g.db.execute(stmt).all()
        items = [record_json(row[0], []) for row in rows[:50]]
        return jsonify({"items": items, "limit": 50, "offset": offset, "has_more": len(rows) > 50})

    @api.get("/opportunities/<int:opportunity_id>")
    def get_api(opportunity_id: int):
        o = g.db.get(Opportunity, opportunity_id)
        if o is None:
            return error(404, "There is no such record.")
        return jsonify(record_json(o, contacts_of(o)))

    @api.post("/opportunities")
    def create_api():
        payload, refused = body(("data",))
        if refused:
            return refused
        form = OpportunityForm(formdata=_form_data(payload.get("data") or {}), meta={"csrf": False})
        if not form.validate():
            return error(422, "Some values need attention.", _problems(form))
        now, user_id = utcnow(), g.api_user.id
        o = Opportunity(stage=STAGES[0][0], stage_entered_at=now, owner_id=user_id, created_by=user_id,
                        updated_by=user_id, created_at=now, updated_at=now, version=1)
        fill(o, form)
        g.db.add(o)
        g.db.flush()
        contacts = contact_ids(form.contacts.data) or []
        for cid in contacts:
            g.db.add(OpportunityContact(opportunity_id=o.id, contact_id=cid))
        g.db.add(StageHistory(opportunity_id=o.id, from_stage=None, to_stage=o.stage, user_id=user_id, at=now))
        g.db.commit()
        return jsonify(record_json(o, contacts)), 201

    @api.patch("/opportunities/<int:opportunity_id>")
    def update_api(opportunity_id: int):
        payload, refused = body(("data", "version"))
        if refused:
            return refused
        version = payload.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            return error(428, "Say which version of the record you are changing.")
        o = load(opportunity_id)
        if o is None:
            return error(404, "There is no such record.")
        if o.version != version:
            return error(409, "Someone else changed this record.")
        current = {key: _json_value(getattr(o, COLUMN.get(key, key))) for key in FIELDS if key != "contacts"}
        current["contacts"] = contacts_of(o)
        form = OpportunityForm(formdata=_form_data(current | payload["data"]), meta={"csrf": False})
        if not form.validate():
            return error(422, "Some values need attention.", _problems(form))
        fill(o, form)
        contacts = contact_ids(form.contacts.data) or []
        if "contacts" in payload["data"] and contacts != current["contacts"]:
            g.db.query(OpportunityContact).filter(OpportunityContact.opportunity_id == o.id).delete()
            for cid in contacts:
                g.db.add(OpportunityContact(opportunity_id=o.id, contact_id=cid))
        o.updated_at, o.updated_by, o.version = utcnow(), g.api_user.id, o.version + 1
        g.db.commit()
        return jsonify(record_json(o, contacts))

    @api.post("/opportunities/<int:opportunity_id>/stage")
    def move_api(opportunity_id: int):
        payload, refused = body(("to", "version"))
        if refused:
            return refused
        target = payload.get("to")
        if target not in [k for k, _l, _p in STAGES]:
            return error(422, "There is no such stage.", [{"field": "to", "message": "There is no such stage."}])
        o = load(opportunity_id)
        if o is None:
            return error(404, "There is no such record.")
        version = payload.get("version")
        if version is not None and version != o.version:
            return error(409, "Someone else changed this record.")
        problems = move_problems(g.db, o, target)
        if problems:
            return error(422, "This record cannot move yet.", [{"field": None, "message": p} for p in problems])
        apply_move(g.db, o, target, g.api_user.id)
        g.db.commit()
        return jsonify(record_json(o, contacts_of(o)))

    from flask_wtf.csrf import CSRFProtect
    csrf = app.extensions.get("csrf")
    if isinstance(csrf, CSRFProtect):
        csrf.exempt(api)
    app.register_blueprint(api)
