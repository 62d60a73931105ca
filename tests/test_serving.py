"""The server keeps answering whatever happens to its log output.

`formloom run` on PostgreSQL under 16 clients once went a minute without answering anyone:
waitress warned "Task queue depth is N" for nearly every request, from its loop thread and
under the lock its request threads take work with, and once stderr (a pipe nobody read
yet) was full, that write never returned. These specify the two halves of the cure: the
warning is let through once in a while, and log records are written by a thread of their
own, so a stuck output stalls nothing but that thread."""
from __future__ import annotations

import logging
import logging.handlers
import socket
import threading
import urllib.request

from formloom import serving


class StuckStream:
    """A log output that takes nothing until `release` is set, as a full pipe nobody reads."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.entered.set()
        self.release.wait(30)
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _record(msg: str = "Task queue depth is %d", *args) -> logging.LogRecord:
    return logging.LogRecord("waitress.queue", logging.WARNING, __file__, 1, msg, args or (3,), None)


# -- the throttle -------------------------------------------------------------------------------

def test_a_warning_repeated_on_every_request_is_let_through_once_per_period_with_a_count():
    clock = [100.0]
    throttle = serving.Throttle(60, clock=lambda: clock[0])
    passed = []
    for second in range(0, 150, 5):          # one warning every 5 s for 150 s
        clock[0] = 100.0 + second
        record = _record()
        if throttle.filter(record):
            passed.append((second, record.getMessage()))
    assert passed == [(0, "Task queue depth is 3"),
                      (60, "Task queue depth is 3 (and 11 more like it in the last 60 s, not logged)"),
                      (120, "Task queue depth is 3 (and 11 more like it in the last 60 s, not logged)")]


def test_a_warning_after_a_quiet_period_passes_without_a_count():
    clock = [0.0]
    throttle = serving.Throttle(60, clock=lambda: clock[0])
    assert throttle.filter(_record())
    clock[0] = 500.0
    record = _record()
    assert throttle.filter(record) and record.getMessage() == "Task queue depth is 3"


def test_the_server_stops_throttling_waitress_once_it_stopped():
    stop = threading.Event()
    stop.set()                                 # serve() returns at once
    serving.serve(lambda environ, start_response: [], host="127.0.0.1", port=_free_port(), threads=1, stop=stop)
    assert not any(isinstance(f, serving.Throttle) for f in logging.getLogger("waitress.queue").filters)


# -- logging off the loop -------------------------------------------------------------------------

def test_requests_are_answered_while_the_log_output_is_stuck():
    stuck = StuckStream()
    output = logging.StreamHandler(stuck)
    root = logging.getLogger()
    root.addHandler(output)
    gate = threading.Event()
    app_log = logging.getLogger("formloom.test_serving")

    def app(environ, start_response):
        app_log.warning("handling %s", environ["PATH_INFO"])      # every request logs, as a failing rule does
        gate.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    port = _free_port()
    stop = threading.Event()
    answers: dict[str, bytes] = {}
    try:
        with serving.logging_off_the_loop():
            server = threading.Thread(target=serving.serve, args=(app,),
                                      kwargs={"host": "127.0.0.1", "port": port, "threads": 1, "stop": stop},
                                      daemon=True)
            server.start()
            clients = [threading.Thread(target=lambda p=f"/{k}": answers.__setitem__(
                p, urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=20).read()), daemon=True)
                for k in range(6)]                   # one thread, six requests: five wait, and waitress warns
            for c in _started(port, clients):
                c.start()
            assert stuck.entered.wait(10)            # the output took the first line and holds on to it
            gate.set()
            for c in clients:
                c.join(20)
            assert answers == {f"/{k}": f"/{k}".encode() for k in range(6)}
            assert stuck.lines == []                 # ... all answered while the output was still stuck
            stop.set()
            server.join(10)
            stuck.release.set()
    finally:
        stuck.release.set()
        stop.set()
        root.removeHandler(output)
    assert root.handlers.count(output) == 0 and not any(
        isinstance(h, logging.handlers.QueueHandler) for h in root.handlers)
    assert any("handling /" in line for line in stuck.lines)      # the lines were written once it moved


def _wait_for(condition) -> None:
    for _ in range(400):
        if condition():
            return
        threading.Event().wait(0.05)
    raise AssertionError("timed out")


def _started(port: int, clients: list) -> list:
    """Wait for the server to listen before the clients connect."""
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return clients
        except OSError:
            threading.Event().wait(0.05)
    raise AssertionError("the server did not listen")


def test_records_that_do_not_fit_are_dropped_and_counted_never_waited_for():
    stuck = StuckStream()
    output = logging.StreamHandler(stuck)
    root = logging.getLogger()
    root.addHandler(output)
    log = logging.getLogger("formloom.test_serving")
    try:
        with serving.logging_off_the_loop(backlog=3):
            log.warning("first")                     # taken by the writer, which then hangs on it
            assert stuck.entered.wait(10)
            for k in range(10):                      # 3 fit in the queue, 7 are dropped; none of this waits
                log.warning("line %d", k)
            stuck.release.set()
            _wait_for(lambda: any("line 2" in line for line in stuck.lines))     # the queue drained
            log.warning("after")
    finally:
        stuck.release.set()
        root.removeHandler(output)
    written = "".join(stuck.lines)
    assert "first" in written and "line 0" in written and "line 2" in written
    assert "line 3" not in written and "line 9" not in written
    assert "7 log records dropped: the log output was not keeping up" in written
    assert written.index("dropped") < written.index("after")


def test_without_a_configured_handler_warnings_go_to_stderr_as_python_writes_them(capsys):
    root = logging.getLogger()
    saved = list(root.handlers)
    for h in saved:
        root.removeHandler(h)
    try:
        with serving.logging_off_the_loop():
            logging.getLogger("formloom.test_serving").warning("a warning for the operator")
            logging.getLogger("formloom.test_serving").info("not for the operator")
    finally:
        for h in saved:
            root.addHandler(h)
    assert capsys.readouterr().err == "a warning for the operator\n"
