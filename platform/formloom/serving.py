"""Serving the web app with waitress, and stopping it gracefully.

`waitress.serve` stops on SIGTERM by leaving its socket loop at once: answers
still being written are lost, and whatever runs next (the background worker)
is only told afterwards. Here the loop is ours. On SIGTERM or SIGINT:

1. `on_stop` runs at once (the background worker starts winding down meanwhile);
2. the listening sockets close, so new connections are refused;
3. the loop keeps running until every request in flight has finished and its
   answer has been sent, for at most `drain` seconds;
4. the request threads are stopped and every connection is closed.

Logging must never hold up the loop. waitress warns "Task queue depth is N" from the loop
thread, while it holds the lock every request thread needs to take its next request, and it
does so for every request that waits for a free thread: under a steady load, a line per
request. Once stderr stopped taking lines (a pipe nobody reads, a stopped terminal, a
stalled log collector) the loop blocked in write() and every request in flight went
unanswered. So that warning is let through once a minute, and `logging_off_the_loop` hands
records to one writer thread through a bounded queue, dropping (and counting) what does not
fit rather than waiting.
"""
from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from contextlib import contextmanager
from logging.handlers import QueueHandler, QueueListener
from typing import Callable, Iterator

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: waitress's "Task queue depth" warning at most once per this many seconds
QUEUE_WARNING_SECONDS = 60.0
#: log records waiting for the writer thread; more are dropped (and counted), never waited for
LOG_BACKLOG = 10_000


def serve(app, *, host: str, port: int, threads: int = 8, on_stop: Callable[[], None] | None = None,
          drain: float = DRAIN_SECONDS, stop: threading.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set), then stop gracefully."""
    stop = stop or threading.Event()
    socket_map: dict = {}
    server = create_server(app, map=socket_map, host=host, port=port, threads=threads)
    dispatcher = server.task_dispatcher
    queue_warnings = Throttle(QUEUE_WARNING_SECONDS)
    dispatcher.queue_logger.addFilter(queue_warnings)

    def _on_signal(signum, frame):
        if not stop.is_set():
            log.info("signal %s: finishing the requests in flight, then stopping", signum)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _on_signal) for sig in STOP_SIGNALS}
    try:
        while not stop.is_set():
            wasyncore.loop(timeout=0.5, map=socket_map, count=1)
        if on_stop is not None:
            on_stop()
        _close_listeners(socket_map)
        deadline = time.monotonic() + drain
        while _busy(socket_map, dispatcher) and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=socket_map, count=1)
        if _busy(socket_map, dispatcher):
            log.warning("stopping with requests still in flight after %ss", drain)
    finally:
        dispatcher.shutdown(timeout=1)
        wasyncore.close_all(socket_map)
        dispatcher.queue_logger.removeFilter(queue_warnings)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _close_listeners(socket_map: dict) -> None:
    """Stop accepting connections; the wake-up trigger stays, request threads still use it."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.accepting = False
            wasyncore.dispatcher.close(dispatcher)


def _busy(socket_map: dict, dispatcher) -> bool:
    """A request is running, queued, being received, or its answer is not fully sent."""
    if dispatcher.active_count > 0 or dispatcher.queue:
        return True
    return any(isinstance(ch, HTTPChannel) and (ch.requests or ch.request is not None or ch.total_outbufs_len > 0)
               for ch in list(socket_map.values()))


class Throttle(logging.Filter):
    """Lets one record through per `seconds`; the next one through says how many were held
    back meanwhile, so a warning that repeats on every request still shows, once in a while."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.seconds, self.clock = seconds, clock
        self._open_at = float("-inf")
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        with self._lock:
            if now < self._open_at:
                self._held += 1
                return False
            held, self._held = self._held, 0
            self._open_at = now + self.seconds
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {self.seconds:g} s, not logged)"
        return True


class _DroppingQueueHandler(QueueHandler):
    """Puts records on a bounded queue and never waits: when the writer is behind, a record is
    dropped and counted, and the next one that fits is preceded by a line saying how many."""

    def __init__(self, backlog: queue.Queue):
        super().__init__(backlog)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        """Called under the handler's lock (Handler.handle), so `dropped` needs no other."""
        try:
            if self.dropped:
                notice = logging.LogRecord("formloom.serving", logging.WARNING, __file__, 0,
                                           "%d log records dropped: the log output was not keeping up",
                                           (self.dropped,), None)
                self.queue.put_nowait(self.prepare(notice))
                self.dropped = 0
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


@contextmanager
def logging_off_the_loop(*, backlog: int = LOG_BACKLOG) -> Iterator[None]:
    """While inside, every record that reaches the root logger is written by one thread of
    its own, to the handlers configured before (or, with none, to stderr from WARNING up, as
    Python does unconfigured), so no request thread and not the loop ever waits on a slow or
    stuck log output."""
    root = logging.getLogger()
    before = list(root.handlers)
    if before:
        targets = before
    else:
        fallback = logging.StreamHandler(sys.stderr)
        fallback.setLevel(logging.WARNING)
        targets = [fallback]
    handler = _DroppingQueueHandler(queue.Queue(maxsize=backlog))
    listener = QueueListener(handler.queue, *targets, respect_handler_level=True)
    for h in before:
        root.removeHandler(h)
    root.addHandler(handler)
    listener.start()
    try:
        yield
    finally:
        root.removeHandler(handler)
        for h in before:
            root.addHandler(h)
        _stop_listener(listener)


def _stop_listener(listener: QueueListener, timeout: float = 2.0) -> None:
    """Write what is queued, waiting at most `timeout` for a stuck output (then give up on it:
    the writer thread is a daemon)."""
    try:
        listener.enqueue_sentinel()
    except queue.Full:
        return
    thread = listener._thread
    if thread is not None:
        thread.join(timeout)
    listener._thread = None
