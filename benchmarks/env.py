"""Setting up a benchmark database: Formloom's tables (Alembic) with the CRM installed,
the baseline's tables, the same users in both, and the two Flask apps over it."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DB = os.environ.get("BENCH_PG_DATABASE", "formloom_bench")
ADMIN_EMAIL, PASSWORD = "bench.admin@bench.formloom", "bench-password-1"
SECRET = "bench-secret-key"
ROOT = Path(__file__).resolve().parent.parent


def fresh_database(kind: str, workdir: Path, pg_database: str | None = None) -> str:
    """An empty database: a file in `workdir`, or PostgreSQL's `pg_database` (default PG_DB) dropped
    and created again."""
    name = pg_database or PG_DB
    if kind == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(kind: str, url: str, pg_database: str | None = None) -> None:
    if kind == "postgres":
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {pg_database or PG_DB} WITH (FORCE)"))
        engine.dispose()


def formloom_config(url: str, workdir: Path) -> dict:
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE": str(workdir / "instance"),
            "FORMLOOM_ENV": "production"}


def setup(url: str, workdir: Path) -> dict:
    """Migrate, install the CRM, create users (Formloom) and the same users (baseline)."""
    from formloom.app import create_app
    from formloom.auth.users import create_user
    from formloom.resources import template_dir
    from formloom.store.install import install_path
    from formloom.store.tables import users
    from .baseline_app import Base, make_engine
    from formloom.store.migrate import upgrade

    upgrade(url)
    flask_app = create_app(formloom_config(url, workdir))
    db = flask_app.extensions["formloom.db"]
    result = install_path(db, template_dir("crm"))
    version_id = result.version.id
    with db.write() as conn:
        admin = create_user(conn, ADMIN_EMAIL, PASSWORD, name="Bench Admin", roles=[("crm", "admin")])
        manager = create_user(conn, "bench.manager@bench.formloom", PASSWORD, name="Bench Manager",
                              roles=[("crm", "manager")])
        # two of the eight are senior sales, as on a real team: the CRM routes high-score
        # creates to them, and without them that rule fails instead of assigning
        owners = [create_user(conn, f"sales{n}@bench.formloom", PASSWORD, name=f"Sales {n}",
                              roles=[("crm", "sales")] + ([("crm", "senior_sales")] if n < 2 else []),
                              manager_id=manager) for n in range(8)]
        rows = conn.execute(users.select()).all()
        from formloom.auth.tokens import create_token
        formloom_token = create_token(conn, admin, "benchmark")[1]
        # the worker would resync every record on its first pass after an install; an import
        # that wrote its own reminders marks the version as synced (what resync would record)
        from formloom.automation.tables import automation_state
        conn.execute(automation_state.insert().values(key="synced:crm", value={"version": version_id},
                                                      updated_at=datetime.now(timezone.utc)))
    db.dispose()
    bl_engine = make_engine(url)
    Base.metadata.create_all(bl_engine)
    with bl_engine.begin() as conn:
        conn.execute(text("INSERT INTO bl_users (id, email, name, password_hash, active) "
                          "VALUES (:id, :email, :name, :password_hash, :active)"),
                     [{"id": r.id, "email": r.email, "name": r.name, "password_hash": r.password_hash,
                       "active": True} for r in rows])
        if bl_engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('bl_users', 'id'), (SELECT max(id) FROM bl_users))"))
        baseline_token = "bl_" + secrets.token_urlsafe(32)
        conn.execute(text("INSERT INTO bl_api_tokens (user_id, token_hash) VALUES (:user_id, :token_hash)"),
                     {"user_id": admin, "token_hash": hashlib.sha256(baseline_token.encode()).hexdigest()})
    bl_engine.dispose()
    return {"version_id": version_id, "admin_id": admin, "owners": owners,
            "api_tokens": {"formloom": formloom_token, "baseline": baseline_token}}


def load_tranche(url: str, start: int, end: int, owners: list[int], now: datetime) -> dict:
    """Bulk load in a child process (its peak RSS is the load's own)."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.data", "load", "--url", url, "--start", str(start),
                          "--end", str(end), "--owners", json.dumps(owners), "--now", now.isoformat()],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bulk load failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_rate(url: str, n: int, owners: list[int]) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.data", "import-rate", "--url", url, "--n", str(n),
                          "--owners", json.dumps(owners)], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"import-rate failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the apps ----------------------------------------------------------------------------------------------

def formloom_app(url: str, workdir: Path):
    """Formloom's own app factory. Until the web layer has a stage-move endpoint, a thin
    adapter route (below) does what such a route does: policy, CSRF, move_to_stage in one
    write transaction, redirect to the record."""
    from formloom.app import create_app
    flask_app = create_app(formloom_config(url, workdir))
    if stage_move_endpoint(flask_app) is None:
        add_move_adapter(flask_app)
    return flask_app


def stage_move_endpoint(flask_app) -> str | None:
    for rule in flask_app.url_map.iter_rules():
        if rule.endpoint.startswith("bench_"):
            continue
        if "POST" in (rule.methods or ()) and ("stage" in rule.rule or "move" in rule.rule) and "record_id" in rule.arguments:
            return rule.rule
    return None


MOVE_ADAPTER = "/bench/apps/<app_key>/<entity_key>/<int:record_id>/stage"


def add_move_adapter(flask_app) -> None:
    from flask import Blueprint, redirect, render_template_string, request, url_for
    from flask_login import login_required
    from formloom.errors import FormloomError
    from formloom.web.helpers import current_actor, db, lang, load_entity
    from formloom.workflow import move_to_stage

    bp = Blueprint("bench_move", __name__)

    @bp.post(MOVE_ADAPTER)
    @login_required
    def move(app_key: str, entity_key: str, record_id: int):
        place = load_entity(app_key, entity_key)
        expected = request.form.get("version", "")     # the same fields as the web layer's route
        try:
            with db().write() as conn:
                move_to_stage(conn, place.app, place.entity, record_id, request.form.get("to", ""),
                              current_actor(), expected_version=int(expected) if expected.isdigit() else None,
                              lang=lang())
        except FormloomError as problem:
            return render_template_string("<p>{{ m }}</p>", m=str(problem)), getattr(problem, "status", 400)
        return redirect(url_for("records.detail", app_key=app_key, entity_key=entity_key, record_id=record_id), 303)

    flask_app.register_blueprint(bp)


def baseline_app(url: str):
    from .baseline_app import create_baseline_app
    return create_baseline_app(url, SECRET)
