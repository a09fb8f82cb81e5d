"""A latency-bound site of many hosts, for crawls shared by several workers.

Any host name reaches it (the crawler pins the names with its ``resolve`` setting); each host
serves ``pages`` pages ``/0`` .. ``/P-1`` after ``latency_s``: ``/0`` (the seed) links to every
other page of its host, each other page to ``/0`` and two siblings. Every request is written to an
access log in the bench's format (``host end_s duration_s status``, see
:mod:`scraper.bench.access_log`), so a test or the bench can tell what the site saw: per-host gaps
between request starts and requests in flight. ``python -m scraper.testing hosts`` serves it.
"""

import asyncio
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aiohttp import web


@dataclass(frozen=True, slots=True)
class HostsSpec:
    pages: int
    latency_s: float = 0.0


def hosts_page(spec: HostsSpec, host: str, n: int) -> str:
    if n == 0:
        targets = list(range(1, spec.pages))
    else:
        targets = [0, *(m for m in (n + 1, n + 2) if m < spec.pages)]
    links = "".join(f'<li><a href="/{m}">page {m}</a></li>' for m in targets)
    words = " ".join(f"{host} page {n} word{k}" for k in range(40))
    return (
        f"<html><head><title>{host} page {n}</title></head>"
        f"<body><h1>{host} page {n}</h1><p>{words}</p><ul>{links}</ul></body></html>"
    )


def make_hosts_app(spec: HostsSpec, log: TextIO) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        started = time.time()
        host = (request.host or "").rsplit(":", 1)[0]
        try:
            n = int(request.match_info["n"])
        except ValueError:
            n = -1
        if spec.latency_s:
            await asyncio.sleep(spec.latency_s)
        if 0 <= n < spec.pages:
            resp = web.Response(text=hosts_page(spec, host, n), content_type="text/html")
        else:
            resp = web.Response(status=404, text="not found")
        ended = time.time()
        log.write(f"{host} {ended:.3f} {ended - started:.3f} {resp.status}\n")
        return resp

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{n}", page)
    return app


def serve_hosts(spec: HostsSpec, sock: socket.socket, log_path: Path) -> None:
    """Serve on ``sock`` until killed (SIGTERM/SIGINT: the log is flushed on the way out)."""
    with log_path.open("a", buffering=1 << 16) as log:
        web.run_app(make_hosts_app(spec, log), sock=sock, print=None, handle_signals=True)
