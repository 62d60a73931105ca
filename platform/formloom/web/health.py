"""Health endpoints, three questions for three askers:

- `GET /livez` (liveness, for a supervisor deciding to restart the process):
  is the process alive and answering HTTP? Never touches the database, so a
  database outage does not get every web process restarted.
- `GET /healthz` (health, for monitors): can this process read and write the
  database? A read (`SELECT 1`) and a cheap committed write (one small row of
  automation_state is touched) — a read-only SQLite file or a read-only
  PostgreSQL fails the write.
- `GET /readyz` (readiness, for a load balancer deciding to send traffic):
  the health checks, and the database schema is at this code's migration head
  (a new release before `formloom init` is not ready).

Each answers 200 `{"status": "ok"}`, or 503 with Retry-After and
`{"status": "unavailable", "failed": [names of the failed checks]}`.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache

from flask import Blueprint, jsonify
from sqlalchemy import text, update

from ..automation.jobs import insert_ignore
from ..automation.tables import automation_state
from ..store.migrate import current_revision, head_revision
from .errors import RETRY_AFTER_SECONDS
from .helpers import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

PROBE_KEY = "health:write_probe"
PROBE_TIMEOUT_MS = 2000          # PostgreSQL: a probe stuck behind locks fails instead of hanging


def check_read() -> None:
    with db().read() as conn:
        conn.execute(text("SELECT 1"))


def check_write() -> None:
    """Touch one small row and commit: fails when the database cannot be written."""
    now = datetime.now(timezone.utc)
    with db().write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_MS}"))
        if not insert_ignore(conn, automation_state, {"key": PROBE_KEY, "value": {}, "updated_at": now}, "key"):
            conn.execute(update(automation_state).where(automation_state.c.key == PROBE_KEY).values(updated_at=now))


@lru_cache(maxsize=4)
def _head(url: str) -> str | None:
    return head_revision(url)


def check_schema() -> None:
    database = db()
    if current_revision(database.engine) != _head(database.url):
        raise RuntimeError("the database schema is not at this release's migration head (run formloom init)")


def _answer(checks) -> tuple:
    failed = []
    for name, check in checks:
        try:
            check()
        except Exception as error:
            log.warning("health check %s failed: %s", name, str(error).strip().splitlines()[0] if str(error) else
                        type(error).__name__)
            failed.append(name)
    if failed:
        return jsonify({"status": "unavailable", "failed": failed}), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return jsonify({"status": "ok"}), 200


HEALTH_CHECKS = (("database_read", check_read), ("database_write", check_write))


@bp.get("/livez")
def livez():
    return jsonify({"status": "ok"}), 200


@bp.get("/healthz")
def healthz():
    return _answer(HEALTH_CHECKS)


@bp.get("/readyz")
def readyz():
    return _answer(HEALTH_CHECKS + (("database_schema", check_schema),))
