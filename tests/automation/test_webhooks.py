"""Webhooks: signed, retried with backoff, dead-lettered, and never sent to private
addresses unless allowed."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from formloom.automation import dead_letters, retry_job, webhook_secret
from formloom.automation.channels.webhook import AddressRefused, refusal, resolve
from formloom.store.tables import jobs

from .conftest import SETTINGS, rule


class Hook:
    """A local HTTP server answering from a script of statuses ("sleep" = too slow)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = hook.script.pop(0) if hook.script else 200
                if status == "sleep":
                    time.sleep(0.6)
                    status = 200
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?x=1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


ALLOWED = SETTINGS.but(webhook_allow=("127.0.0.1/32",), webhook_timeout=0.3)


def webhook_desk(desk_factory, url):
    desk = desk_factory([rule("push", {"type": "record_created"}, {"type": "webhook", "url": url})])
    ticket = desk.create()
    desk.process()
    return desk, ticket


def job(desk):
    [row] = desk.rows(jobs, jobs.c.kind == "webhook")
    return row


def test_webhook_is_signed_and_carries_an_idempotency_key(desk_factory, hook):
    desk, ticket = webhook_desk(desk_factory, hook.url)
    desk.work(ALLOWED)
    [request] = hook.requests
    with desk.db.write() as conn:
        secret = webhook_secret(conn, "support")
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Formloom-Signature"] == expected
    assert request["headers"]["Idempotency-Key"] == job(desk).idempotency_key
    assert request["path"] == "/hook?x=1"
    payload = json.loads(request["body"])
    assert payload["record"]["id"] == ticket.id and payload["rule"] == "push"
    assert job(desk).status == "done"


def test_500_is_retried_with_backoff_then_dead_lettered_and_retry_works(desk_factory, hook):
    desk, _ = webhook_desk(desk_factory, hook.url)
    hook.script = [500, 500, 500]
    desk.work(ALLOWED)
    first = job(desk)
    assert (first.status, first.attempts) == ("pending", 1)
    delay = (first.due_at.replace(tzinfo=None) - desk.now().replace(tzinfo=None)).total_seconds()
    assert 5 <= delay <= 10                              # base 10 s, jittered between half and all
    desk.work(ALLOWED)
    assert len(hook.requests) == 1                       # not yet due again
    for _ in range(2):
        desk.travel(desk.now().replace(microsecond=0) + (job(desk).due_at.replace(tzinfo=None) -
                                                          desk.now().replace(tzinfo=None)) + _one_second())
        desk.work(ALLOWED)
    assert len(hook.requests) == 3
    assert job(desk).status == "dead" and "500" in job(desk).last_error
    with desk.db.read() as conn:
        assert [d["id"] for d in dead_letters(conn, "support")] == [job(desk).id]
    with desk.db.write() as conn:
        assert retry_job(conn, job(desk).id)
    desk.work(ALLOWED)
    assert job(desk).status == "done" and len(hook.requests) == 4
    assert len({r["headers"]["Idempotency-Key"] for r in hook.requests}) == 1


def _one_second():
    from datetime import timedelta
    return timedelta(seconds=1)


def test_a_timeout_is_temporary(desk_factory, hook):
    desk, _ = webhook_desk(desk_factory, hook.url)
    hook.script = ["sleep"]
    desk.work(ALLOWED)
    row = job(desk)
    assert row.status == "pending" and "timed out" in row.last_error


@pytest.mark.parametrize("status", [404, 302])
def test_4xx_and_redirects_are_permanent(desk_factory, hook, status):
    desk, _ = webhook_desk(desk_factory, hook.url)
    hook.script = [status]
    desk.work(ALLOWED)
    assert job(desk).status == "failed" and len(hook.requests) == 1


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_temporary(desk_factory, hook, status):
    desk, _ = webhook_desk(desk_factory, hook.url)
    hook.script = [status]
    desk.work(ALLOWED)
    assert job(desk).status == "pending"


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1",
                                  "[::ffff:127.0.0.1]", "[::1]", "169.254.169.254", "192.168.1.5", "0.0.0.0",
                                  "[fe80::1]", "100.64.0.1"])
def test_private_and_loopback_addresses_are_refused_by_default(host):
    with pytest.raises(AddressRefused):
        resolve(f"http://{host}:8080/x")


def test_public_addresses_pass_and_the_allow_list_opens_private_ones():
    assert refusal(__import__("ipaddress").ip_address("93.184.216.34")) is None
    assert resolve("http://93.184.216.34/x").address == "93.184.216.34"
    assert resolve("http://10.0.0.1/x", allow=("10.0.0.0/8",)).address == "10.0.0.1"
    assert resolve("http://127.0.0.1/x", allow_private=True).address == "127.0.0.1"


def test_a_refused_webhook_sends_nothing_and_is_not_retried(desk_factory, hook):
    desk, _ = webhook_desk(desk_factory, hook.url)
    desk.work(SETTINGS)                        # default settings: private addresses refused
    assert hook.requests == []
    row = job(desk)
    assert row.status == "failed" and "loopback" in row.last_error


def test_saving_a_record_does_not_wait_on_a_down_webhook(desk_factory):
    desk, ticket = webhook_desk(desk_factory, "http://127.0.0.1:9/down")
    desk.update(ticket, score=1)
    desk.process()
    row = job(desk)                            # queued for the worker; the save made no delivery attempt
    assert row.status == "pending" and row.attempts == 0
