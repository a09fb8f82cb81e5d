"""The fallback bench server's request times: when the bytes arrived, not when a thread read
them (the politeness tests compare those times with the crawl's delay)."""

import socket
import sys
import time

import pytest

from scraper.bench.pyserver import _SO_TIMESTAMPNS, _arrival


@pytest.mark.skipif(sys.platform != "linux", reason="receive timestamps are Linux's")
def test_a_request_read_late_is_timed_by_its_arrival():
    """Bytes read 0.3 s after they came are timed when they came, and are still there to read;
    a closed connection has no time."""
    assert _SO_TIMESTAMPNS is not None
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        time.sleep(0.05)  # the kernel turns receive timestamps on a moment later
        with socket.create_connection(server.getsockname()) as client:
            sent = time.time()
            client.sendall(b"GET / HTTP/1.1\r\n\r\n")
            time.sleep(0.3)
            conn, _ = server.accept()
            with conn:
                arrived = _arrival(conn)
                assert arrived is not None
                assert sent - 0.01 <= arrived <= sent + 0.1  # not when read (0.3 s later)
                assert conn.recv(100) == b"GET / HTTP/1.1\r\n\r\n"
                client.close()
                assert _arrival(conn) is None
