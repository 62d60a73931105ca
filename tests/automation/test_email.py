"""Email through a real SMTP server (aiosmtpd): down then up, 4xx retried with the
same Message-ID, 5xx permanent, a worker dying after the server accepted."""
import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from formloom.automation.worker import JOB_KINDS, claim_jobs
from formloom.store.tables import jobs

from .conftest import SETTINGS, rule


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.received = []          # parsed messages accepted
        self.script = []            # SMTP answers to DATA, e.g. "451 busy"; then "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content)
        answer = self.script.pop(0) if self.script else "250 OK"
        if answer.startswith("250"):
            self.received.append(msg)
        return answer


@pytest.fixture
def smtp():
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    inbox.url = f"smtp://127.0.0.1:{port}"
    inbox.start = controller.start
    inbox.stop = controller.stop
    yield inbox
    try:
        controller.stop()
    except Exception:
        pass


def mail_desk(desk_factory):
    desk = desk_factory([rule("mail", {"type": "record_created"},
                              {"type": "email", "to": ["owner"], "subject": "New {{ record.subject }}"})])
    desk.create()
    desk.process()
    return desk


def mail_job(desk):
    [row] = desk.rows(jobs, jobs.c.kind == "email")
    return row


def later(desk, seconds):
    desk.travel(desk.now() + timedelta(seconds=seconds))


def test_smtp_down_then_up_delivers_once(desk_factory, smtp):
    settings = SETTINGS.but(smtp_url=smtp.url, smtp_timeout=2)
    desk = mail_desk(desk_factory)
    desk.work(settings)                                   # nothing listens yet
    row = mail_job(desk)
    assert row.status == "pending" and row.attempts == 1
    smtp.start()
    later(desk, 11)
    desk.work(settings)
    later(desk, 3600)
    desk.work(settings)
    assert mail_job(desk).status == "done"
    [msg] = smtp.received
    assert msg["To"] == "ann@example.com" and msg["Subject"] == "New Printer on fire"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@formloom>")


def test_4xx_is_retried_with_the_same_message_id_and_5xx_is_permanent(desk_factory, smtp):
    smtp.start()
    settings = SETTINGS.but(smtp_url=smtp.url)
    desk = mail_desk(desk_factory)
    seen = []
    smtp.script = ["451 try again later"]
    original = smtp.handle_DATA

    async def spy(server, session, envelope):
        seen.append(message_from_bytes(envelope.content)["Message-ID"])
        return await original(server, session, envelope)

    smtp.handle_DATA = spy
    desk.work(settings)
    assert mail_job(desk).status == "pending"
    later(desk, 11)
    desk.work(settings)
    assert mail_job(desk).status == "done"
    assert len(seen) == 2 and seen[0] == seen[1]
    desk.create(subject="another")
    desk.process()
    smtp.script = ["550 no such user"]
    desk.work(settings)
    statuses = sorted(r.status for r in desk.rows(jobs, jobs.c.kind == "email"))
    assert statuses == ["done", "failed"]


def test_a_worker_dying_after_the_server_accepted_resends_once_with_the_same_message_id(desk_factory, smtp):
    smtp.start()
    settings = SETTINGS.but(smtp_url=smtp.url)
    desk = mail_desk(desk_factory)
    # the dying worker: claims, sends, and never marks the job done
    token, [claimed] = claim_jobs(desk.db, desk.now(), worker_id="doomed", lease_seconds=60)
    from formloom.automation.channels.email import build_message, message_id_for, send_smtp
    payload = claimed.payload
    send_smtp(smtp.url, build_message(settings.mail_from, payload["to"], payload["subject"], payload["body"],
                                      message_id_for(claimed.idempotency_key), desk.now()))
    assert desk.work(settings) == 0                       # its lease still holds
    later(desk, 61)
    assert desk.work(settings) == 1
    later(desk, 3600)
    desk.work(settings)
    assert mail_job(desk).status == "done"
    assert len(smtp.received) == 2
    assert smtp.received[0]["Message-ID"] == smtp.received[1]["Message-ID"]
    assert JOB_KINDS["email"]
