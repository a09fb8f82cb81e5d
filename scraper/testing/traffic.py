"""What the test site records and what a test may change while it runs, under app keys.

:class:`Traffic` (``TRAFFIC``), kept by the :func:`record` middleware: hits, start times, requests
in flight, headers, bytes streamed. :class:`SiteConfig` (``CONFIG``): robots.txt and the
generated site's size and latency. ``FLAKY``: how often each failing route has answered.
:func:`html` is the page every route builds on.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler


@dataclass
class Traffic:
    """What the server saw: hits and start times per path (with query), requests in flight,
    each path's last request headers, and the body bytes that streaming routes got out."""

    hits: Counter[str] = field(default_factory=Counter)
    starts: list[tuple[float, str]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    ports: set[int] = field(default_factory=set)  # the clients' source ports: one per connection
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while nothing is in flight

    def __post_init__(self) -> None:
        self.idle.set()


@dataclass
class SiteConfig:
    """Behaviour a test can change while the site runs (app state itself is frozen then)."""

    robots_status: int = 404
    robots_body: str = ""
    robots_failures: int = 0  # answer this many robots.txt requests with 503 first
    gen_pages: int = 1000  # size of the generated site under /gen/
    gen_latency_ms: int = 0  # each /gen/ page answers after this long


TRAFFIC = web.AppKey("traffic", Traffic)
CONFIG = web.AppKey("config", SiteConfig)
FLAKY = web.AppKey("flaky", Counter[str])


def html(title: str, body: str, head: str = "") -> web.Response:
    doc = (
        f"<!doctype html><html><head><title>{title}</title>{head}</head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html")


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    traffic = request.app[TRAFFIC]
    traffic.hits[request.path_qs] += 1
    traffic.starts.append((time.monotonic(), request.path_qs))
    traffic.headers[request.path_qs] = dict(request.headers)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if peer:
        traffic.ports.add(peer[1])
    traffic.in_flight += 1
    traffic.peak_in_flight = max(traffic.peak_in_flight, traffic.in_flight)
    traffic.idle.clear()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        traffic.in_flight -= 1
        if traffic.in_flight == 0:
            traffic.idle.set()
