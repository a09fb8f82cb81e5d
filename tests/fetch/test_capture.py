"""Captures for archives (--archive): each hop's heads and bytes exactly as on the wire."""

import gzip
import tracemalloc
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.fetch import Fetcher, FetchHooks
from scraper.fetch.decode import BodyDecoder
from scraper.models import FetchResult
from scraper.testing import brotli_bomb
from scraper.testing.archive import ARCHIVE_PAGES

SETTINGS: dict[str, Any] = {"retries": 0, "timeout_s": 5.0, "archive": True}


async def _before(n: int) -> None:
    pass


async def _follow(target: str) -> bool:
    return True


HOOKS = FetchHooks(_before, _follow, lambda *_: None)


async def fetch(url: object, **overrides: Any) -> FetchResult:
    settings = Settings(**{**SETTINGS, **overrides})
    async with Fetcher(settings, trusted_hosts=("127.0.0.1",)) as fetcher:
        return await fetcher.fetch(str(url), HOOKS)


def base(site: TestServer) -> str:
    return str(site.make_url("")).rstrip("/")


@pytest.mark.parametrize("path", sorted(ARCHIVE_PAGES))
async def test_capture_keeps_the_bytes_and_heads_as_on_the_wire(site: TestServer, path: str):
    """The body is the payload as served (content-coded, no chunk framing), the page decoded;
    the raw headers keep case, order and duplicates; the request head is what was sent."""
    page = ARCHIVE_PAGES[path]
    result = await fetch(site.make_url(path))
    assert result.body == page.doc
    (capture,) = result.captures
    assert capture.body == page.payload
    assert capture.url == base(site) + path
    assert capture.peer == "127.0.0.1"  # a small response: its connection released already
    assert capture.response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert capture.response.endswith(b"\r\n\r\n")
    head = capture.response.split(b"\r\n")
    sent = [f"{k}: {v}".encode() for k, v in page.headers]
    assert [line for line in head if line in sent] == sent
    if page.chunks:
        assert b"Transfer-Encoding: chunked" in head
    request = capture.request.split(b"\r\n")
    assert request[0] == f"GET {path} HTTP/1.1".encode()
    assert b"Accept-Encoding: gzip, deflate, br" in request
    assert f"Host: {site.host}:{site.port}".encode() in request
    assert capture.fetched_at.endswith("+00:00")


async def test_each_redirect_hop_is_captured_in_order(site: TestServer):
    """A chain of two redirects is three captures: 302, 302, 200, each with its own request."""
    result = await fetch(site.make_url("/redirect/2"))
    assert [c.response.split(b"\r\n")[0] for c in result.captures] == [
        b"HTTP/1.1 302 Found",
        b"HTTP/1.1 302 Found",
        b"HTTP/1.1 200 OK",
    ]
    assert [c.request.split(b"\r\n")[0] for c in result.captures] == [
        b"GET /redirect/2 HTTP/1.1",
        b"GET /redirect/1 HTTP/1.1",
        b"GET /redirect/0 HTTP/1.1",
    ]
    assert result.captures[0].body == b"moved"  # a redirect's own body is kept


async def test_a_body_past_the_cap_is_cut_and_marked_truncated(site: TestServer):
    """With --archive a body past max_body_bytes is kept cut there, not refused."""
    result = await fetch(site.make_url("/huge/1?mode=chunked"), max_body_bytes=100_000)
    assert (result.status, result.truncated, result.size_bytes) == (200, True, 100_000)
    (capture,) = result.captures
    assert capture.truncated
    assert 100_000 <= len(capture.body) < 1 << 20


async def test_without_archive_nothing_is_captured(site: TestServer):
    """Without --archive a fetch keeps no capture, and still decodes the page."""
    result = await fetch(site.make_url("/archive/gzip"), archive=False)
    assert result.captures == ()
    assert result.body == ARCHIVE_PAGES["/archive/gzip"].doc


def test_decoder_inflates_a_bomb_a_step_at_a_time():
    """Each decoded piece is at most the step, however much one input chunk inflates to."""
    bomb = gzip.compress(bytes(10 << 20))
    decoder = BodyDecoder("gzip", step=4096)
    pieces = decoder.feed(bomb[:20_000])
    sizes = [len(next(pieces)) for _ in range(50)]
    assert max(sizes) <= 4096
    assert sum(sizes) == 50 * 4096


@pytest.mark.parametrize("coding", ["gzip", "br"])
async def test_a_bomb_is_cut_early_in_little_memory_when_archiving(site: TestServer, coding: str):
    """With --archive a 1 GiB bomb is cut at 2 MB decoded, its few raw chunks kept, the peak
    of traced memory under 20 MB."""
    brotli_bomb(1024)  # made (and cached) before measuring: the server shares our process
    tracemalloc.start()
    try:
        result = await fetch(site.make_url(f"/bomb/{coding}"), max_body_bytes=2_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.truncated, result.size_bytes, len(result.body)) == (True, 2_000_000, 2_000_000)
    (capture,) = result.captures
    assert capture.truncated
    assert 0 < len(capture.body) < 300_000
    assert peak < 20_000_000
