"""Block detection against the test site's block pages: challenges, captchas, access-denied
and tiny pages are failures with a reason, ordinary pages are not."""

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.errors import FetchError
from scraper.fetch import Fetcher, FetchHooks
from scraper.fetch.blocks import BlockedError, block_reason
from scraper.models import FetchResult
from tests.conftest import traffic

SETTINGS: dict[str, Any] = {"retries": 2, "retry_backoff_s": 0.0, "retry_backoff_max_s": 0.0}


async def _noop(n: int) -> None:
    return None


async def _follow(target: str) -> bool:
    return True


HOOKS = FetchHooks(_noop, _follow, lambda reason, status, s, retry_after: None)


async def fetch_paths(site: TestServer, *paths: str) -> list[FetchResult | FetchError]:
    """Fetch ``paths`` in order with one Fetcher; each a result or its error."""
    out: list[FetchResult | FetchError] = []
    async with Fetcher(Settings(**SETTINGS), trusted_hosts=["127.0.0.1"]) as fetcher:
        for path in paths:
            try:
                out.append(await fetcher.fetch(str(site.make_url(path)), HOOKS))
            except FetchError as exc:
                out.append(exc)
    return out


@pytest.mark.parametrize(
    ("path", "reason", "status"),
    [
        ("/block/challenge", "challenge", 503),
        ("/block/captcha", "captcha", 403),
        ("/block/turnstile", "captcha", 200),
        ("/block/denied", "denied", 200),
    ],
)
async def test_block_pages_are_blocked(site: TestServer, path: str, reason: str, status: int):
    """A challenge, captcha or access-denied page is a BlockedError with its reason and status,
    not a page, and is not retried (a 503 challenge is fetched once)."""
    (error,) = await fetch_paths(site, path)
    assert isinstance(error, BlockedError)
    assert (error.reason, error.status) == (reason, status)
    assert traffic(site).hits[path] == 1


async def test_ordinary_pages_are_not_blocks(site: TestServer) -> None:
    """A large page with a reCAPTCHA contact form, and a plain 503, are not blocks."""
    contact, plain = await fetch_paths(site, "/block/contact", "/status/503")
    assert isinstance(contact, FetchResult)
    assert contact.status == 200
    assert isinstance(plain, FetchError)
    assert plain.reason == "http_503"
    assert traffic(site).hits["/status/503"] == 3  # retried as before


async def test_tiny_page_among_large_ones_is_denied(site: TestServer) -> None:
    """Once a host's pages are large (20 KB), a page of a few bytes from it is ``denied``; the
    same tiny page from a host with no history is an ordinary page."""
    (fresh,) = await fetch_paths(site, "/block/tiny")
    assert isinstance(fresh, FetchResult)
    *big, tiny = await fetch_paths(site, *(f"/block/big/{n}" for n in range(8)), "/block/tiny")
    assert all(isinstance(r, FetchResult) for r in big)
    assert isinstance(tiny, BlockedError)
    assert tiny.reason == "denied"


@pytest.mark.parametrize(
    ("status", "html", "reason"),
    [
        (200, b"<html><head><TITLE>Just a moment...</TITLE></head><body>x</body>", "challenge"),
        (403, b"<title>Attention Required! | Cloudflare</title>", "challenge"),
        (200, b'<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1">', "challenge"),
        (200, b'<script src="https://challenges.cloudflare.com/cdn-cgi/challenge/x">', "challenge"),
        (503, b"<p>DDoS-Guard</p>", "challenge"),
        (403, b"<title>Request blocked</title><p>Sorry</p>", "denied"),
        (429, b"<title>Access denied | example.org</title>", "denied"),
        (403, b"<h1>Access Denied</h1>", "denied"),
        (200, b"<title>Access denied</title>" + b"<p>An article about it.</p>" * 800, None),
        (200, b"<title>A page</title><p>/cdn-cgi/challenge is a path</p>", None),
        (404, b"<title>Just a moment...</title>", None),
        (200, b"<script>window._cf_chl_opt={}</script>" + b"<p>text</p>" * 2000, "challenge"),
        (200, b"<p>text</p>" * 2000 + b"<script>window._cf_chl_opt={}</script>", None),
        (403, b"<p>text</p>" * 2000 + b"<script>window._cf_chl_opt={}</script>", "challenge"),
    ],
)
def test_block_markers_in_the_title_and_the_head(status: int, html: bytes, reason: str | None):
    """Title markers match the document's title (any case), the others its head (of a large
    200 page, its first 8 KB); a large 200 page titled like a block page, or a 404, is not one."""
    assert block_reason(status, html) == reason
