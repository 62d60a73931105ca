"""Email through a real SMTP server (SMTP_URL), or into the outbox_mail table when
none is configured (the demo shows it on an admin page).

SMTP_URL: smtp://user:pass@host:port (STARTTLS on port 587, or with ?starttls=1),
smtps://... for TLS from the start. The job's idempotency key becomes the
Message-ID, so a resend after a crash carries the same Message-ID. SMTP 5xx
answers are permanent failures, 4xx answers and connection problems temporary.
"""
from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Connection

from ...store.tables import outbox_mail
from ..jobs import insert_ignore
from . import PermanentError, TemporaryError


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    security: str          # "starttls" | "ssl" | "none"


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise PermanentError(f"SMTP_URL must look like smtp://user:pass@host:587, not {parts.scheme}://...")
    query = parse_qs(parts.query)
    ssl_from_start = parts.scheme == "smtps"
    port = parts.port or (465 if ssl_from_start else 25)
    if ssl_from_start:
        security = "ssl"
    elif port == 587 or query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"):
        security = "starttls"
    else:
        security = "none"
    return SmtpTarget(parts.hostname, port, unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, security)


def message_id_for(key: str, domain: str = "formloom") -> str:
    """A valid, stable Message-ID for an idempotency key (the key itself may hold ':' and spaces)."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build_message(mail_from: str, to: str, subject: str, body: str, message_id: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = to
    msg["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(now.astimezone(timezone.utc))
    msg.set_content(body)
    return msg


def send_smtp(url: str, msg: EmailMessage, timeout: float = 10.0) -> None:
    """Hand the message to the SMTP server; raise PermanentError or TemporaryError."""
    target = parse_smtp_url(url)
    try:
        if target.security == "ssl":
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with client:
            client.ehlo()
            if target.security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if target.username:
                client.login(target.username, target.password or "")
            refused = client.send_message(msg)
            if refused:
                codes = [code for code, _ in refused.values()]
                error = PermanentError if all(c >= 500 for c in codes) else TemporaryError
                raise error(f"recipients refused: {refused}")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = PermanentError if codes and all(c >= 500 for c in codes) else TemporaryError
        raise error(f"recipients refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        error = PermanentError if exc.smtp_code >= 500 else TemporaryError
        raise error(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise TemporaryError(f"SMTP server unreachable: {exc or type(exc).__name__}") from exc


def store_in_outbox(conn: Connection, msg: EmailMessage, body: str, now: datetime) -> bool:
    """No SMTP configured: keep the mail for the outbox page (once per Message-ID)."""
    return insert_ignore(conn, outbox_mail, {
        "message_id": msg["Message-ID"], "to_addr": msg["To"], "subject": msg["Subject"] or "",
        "body": body, "created_at": now}, "message_id")
