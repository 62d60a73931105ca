"""Settings from the environment, with defaults that make `formloom run` work
on a fresh machine: a SQLite file and a generated secret in the instance folder."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_MAX_CONTENT_LENGTH = 1_000_000   # bytes; larger request bodies answer 413
DEFAULT_SESSION_IDLE_MINUTES = 480       # a session unused this long ends (a working day's pause)
DEFAULT_SESSION_MAX_HOURS = 24           # and any session ends this long after its login


def instance_path() -> Path:
    return Path(os.environ.get("FORMLOOM_INSTANCE", Path.cwd() / "instance")).resolve()


def database_url(instance: Path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'formloom.db'}"


def secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def settings_from_env() -> dict:
    instance = instance_path()
    env = os.environ.get("FORMLOOM_ENV", "production")
    return {
        "INSTANCE": str(instance),
        "DATABASE_URL": database_url(instance),
        "SECRET_KEY": secret_key(instance),
        "FORMLOOM_ENV": env,
        "MAX_CONTENT_LENGTH": int(os.environ.get("FORMLOOM_MAX_BODY", DEFAULT_MAX_CONTENT_LENGTH)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("FORMLOOM_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_IDLE_MINUTES": float(os.environ.get("FORMLOOM_SESSION_IDLE_MINUTES", DEFAULT_SESSION_IDLE_MINUTES)),
        "SESSION_MAX_HOURS": float(os.environ.get("FORMLOOM_SESSION_MAX_HOURS", DEFAULT_SESSION_MAX_HOURS)),
        "SMTP_URL": os.environ.get("SMTP_URL"),
        "REDIS_URL": os.environ.get("REDIS_URL"),
        "BABEL_DEFAULT_LOCALE": "en",
        # links the server hands out use this, never the request's Host header
        "FORMLOOM_BASE_URL": os.environ.get("FORMLOOM_BASE_URL", "").rstrip("/"),
        # Host names the server answers to (Flask refuses others with 400); none: any
        "TRUSTED_HOSTS": [h.strip() for h in os.environ.get("FORMLOOM_TRUSTED_HOSTS", "").split(",") if h.strip()]
        or None,
    }
