"""How automation reaches the outside world: SMTP, webhook policy, links, retries.

Read from the environment by default (`Settings.from_env()`); the web app builds
one from its config (`Settings.from_mapping(app.config)`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Mapping


def _flag(value: object) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _list(value: object) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value or "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    smtp_url: str | None = None
    mail_from: str = "formloom@localhost"
    smtp_timeout: float = 10.0
    base_url: str = ""                                     # for links in messages, e.g. https://crm.example.com
    webhook_allow_private: bool = False                    # FORMLOOM_WEBHOOK_ALLOW_PRIVATE=1
    webhook_allow: tuple[str, ...] = ()                    # FORMLOOM_WEBHOOK_ALLOW: hosts or CIDRs
    webhook_timeout: float = 10.0
    max_attempts: int = 6                                  # then the job is dead-lettered
    backoff_base: float = 30.0                             # seconds; doubled per attempt, with jitter
    backoff_cap: float = 3600.0
    lease_seconds: float = 300.0                           # a claimed job is reclaimable after this
    batch_size: int = 200                                  # jobs claimed at once (reminders: one transaction)
    batch_reminders: bool = True                           # a claimed batch's reminders in one transaction
    poll_interval: float = 2.0
    secrets: Mapping[str, str] = field(default_factory=dict)   # secret_ref -> value (else env FORMLOOM_SECRET_<REF>)

    @classmethod
    def from_mapping(cls, config: Mapping[str, object]) -> "Settings":
        def get(name: str, default: object = None) -> object:
            return config.get(name, os.environ.get(name, default))

        return cls(
            smtp_url=(str(get("SMTP_URL")) if get("SMTP_URL") else None),
            mail_from=str(get("MAIL_FROM") or get("FORMLOOM_MAIL_FROM") or cls.mail_from),
            base_url=str(get("FORMLOOM_BASE_URL") or "").rstrip("/"),
            webhook_allow_private=_flag(get("FORMLOOM_WEBHOOK_ALLOW_PRIVATE")),
            webhook_allow=_list(get("FORMLOOM_WEBHOOK_ALLOW")),
        )

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.from_mapping({})

    def but(self, **changes) -> "Settings":
        return replace(self, **changes)

    def secret(self, ref: str) -> str | None:
        if ref in self.secrets:
            return self.secrets[ref]
        env_name = "FORMLOOM_SECRET_" + "".join(c if c.isalnum() else "_" for c in ref).upper()
        return os.environ.get(env_name)
