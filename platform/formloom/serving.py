"""Serving the web app with waitress, and stopping it gracefully.

`waitress.serve` stops on SIGTERM by leaving its socket loop at once: answers
still being written are lost, and whatever runs next (the background worker)
is only told afterwards. Here the loop is ours. On SIGTERM or SIGINT:

1. `on_stop` runs at once (the background worker starts winding down meanwhile);
2. the listening sockets close, so new connections are refused;
3. the loop keeps running until every request in flight has finished and its
   answer has been sent, for at most `drain` seconds;
4. the request threads are stopped and every connection is closed.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(app, *, host: str, port: int, threads: int = 8, on_stop: Callable[[], None] | None = None,
          drain: float = DRAIN_SECONDS, stop: threading.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or until `stop` is set), then stop gracefully."""
    stop = stop or threading.Event()
    socket_map: dict = {}
    server = create_server(app, map=socket_map, host=host, port=port, threads=threads)
    dispatcher = server.task_dispatcher

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
