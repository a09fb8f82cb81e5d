"""The bench site's server when nginx is not installed: the standard library's threaded HTTP
server, run in its own process (``python -m scraper.bench.pyserver serve DIR PORT [ACCESS_LOG|-]
[novalidators]``, started by :func:`scraper.bench.site.serve`), with an access log in nginx's
fields (:data:`scraper.bench.site.LOG_FORMAT`)."""

import contextlib
import functools
import http.server
import queue
import socket
import struct
import sys
import threading
import time
from typing import Any, ClassVar, TextIO

WARM_THREADS = 64  # connection threads the fallback server starts before its first connection
# Linux's receive timestamps (socket(7) SO_TIMESTAMPNS; the socket module does not name it).
_SO_TIMESTAMPNS = 35 if sys.platform == "linux" else None


def _arrival(sock: socket.socket) -> float | None:
    """When the next bytes on ``sock`` reached this host (the kernel's receive timestamp),
    waiting for them without reading them; None when the kernel gave no time (or the peer
    closed). Assumes no pipelining (HTTP/1.1 clients, aiohttp included, do not pipeline): the
    previous request was read whole, so the next one's bytes are still in the socket."""
    if _SO_TIMESTAMPNS is None:
        return None
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return float(seconds + nanoseconds / 1e9)
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like nginx and aiohttp's pool expect

    def log_message(self, format: str, *args: object) -> None:
        pass


class _LoggingHandler(_QuietHandler):
    """Writes one access-log line per GET in :data:`LOG_FORMAT`'s fields, as nginx does."""

    log: ClassVar[TextIO]
    lock: ClassVar[threading.Lock] = threading.Lock()
    status: object = "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.status = int(code) if isinstance(code, int) else code  # an HTTPStatus is an int

    started: float = 0.0
    arrived: float | None = None

    def handle_one_request(self) -> None:
        # The request's start is when its first bytes arrived, as nginx counts $request_time
        # from the first bytes read: not when this thread, once the OS runs it and it has the
        # GIL, gets to read them (10-20 ms later now and then on a busy 2-core machine, which
        # made a request look early after a late one).
        self.arrived = _arrival(self.connection)
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.started = self.arrived if self.arrived is not None else time.time()
        return super().parse_request()

    def do_GET(self) -> None:
        super().do_GET()
        ended = time.time()
        host = (self.headers.get("Host") or "-").split(":")[0].lower()
        with self.lock:
            self.log.write(f"{host} {ended:.3f} {ended - self.started:.3f} {self.status}\n")
            self.log.flush()


class _NoValidatorsHandler(_QuietHandler):
    """Answers every GET whole: conditional request headers are ignored."""

    def do_GET(self) -> None:
        del self.headers["If-Modified-Since"]
        del self.headers["If-None-Match"]
        super().do_GET()


class _Server(http.server.ThreadingHTTPServer):
    """A thread per connection, :data:`WARM_THREADS` of them started beforehand: a new
    connection is read at once, not after a thread's start-up (under load, several ms each,
    one after the other: the first request of each host would look late in the log)."""

    request_queue_size = 1024  # a burst of connects must not overflow the listen backlog
    daemon_threads = True

    def server_activate(self) -> None:
        if _SO_TIMESTAMPNS is not None:  # inherited by the accepted connections
            self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        super().server_activate()
        self._jobs: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = WARM_THREADS
        for _ in range(WARM_THREADS):
            threading.Thread(target=self._warm_worker, daemon=True).start()

    def _warm_worker(self) -> None:
        while True:
            request, address = self._jobs.get()
            self.process_request_thread(request, address)
            with self._lock:
                self._idle += 1

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put((request, client_address))
                return
        super().process_request(request, client_address)  # all busy: a new thread, as before


def serve_directory(
    directory: str, port: int, access_log: str | None = None, validators: bool = True
) -> None:
    """The fallback server, run in its own process: static files of ``directory``, forever;
    with ``access_log``, one line per GET written there (:data:`LOG_FORMAT`); without
    ``validators``, conditional requests are answered whole."""
    handler_class: type[_QuietHandler] = _QuietHandler if validators else _NoValidatorsHandler
    if access_log is not None:
        _LoggingHandler.log = open(access_log, "a")  # noqa: SIM115 - open for the process's life
        handler_class = _LoggingHandler
    handler = functools.partial(handler_class, directory=directory)
    with _Server(("127.0.0.1", port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) not in (4, 5, 6):
        sys.exit(
            "usage: python -m scraper.bench.pyserver serve DIR PORT [ACCESS_LOG|-] [novalidators]"
        )
    log = next(iter(sys.argv[4:5]), "-")
    with contextlib.suppress(KeyboardInterrupt):
        serve_directory(
            sys.argv[2], int(sys.argv[3]), None if log == "-" else log, sys.argv[5:] == []
        )
