"""`GET /healthz`: 200 when the database answers, 503 when it does not."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from .helpers import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        with db().read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: the database did not answer")
        return jsonify({"status": "unavailable"}), 503
    return jsonify({"status": "ok"}), 200
