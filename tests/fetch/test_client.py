"""The fetcher against the real synthetic site: redirects, limits, broken servers, SSRF guard."""

import asyncio
import ipaddress
import ssl
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.errors import FetchError, PermanentFetchError, TransientFetchError, UsageError
from scraper.fetch import Fetcher, FetchHooks, is_public_address
from scraper.models import FetchResult
from scraper.testing import ENCODED_TITLE, brotli_bomb, make_app
from tests.conftest import traffic

MIB = 1 << 20
PEAK_BYTES = 20_000_000
# Zero-wait retries, one retry, short timeouts; each test overrides what it needs.
FETCH_SETTINGS: dict[str, Any] = {
    "retries": 1,
    "retry_backoff_s": 0.0,
    "retry_backoff_max_s": 0.0,
    "timeout_s": 5.0,
    "connect_timeout_s": 2.0,
}


@dataclass
class Hooks:
    """FetchHooks that record every call; ``follow`` answers allow_redirect."""

    follow: bool = True
    attempts: list[int] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    responses: list[tuple[str, int, float]] = field(default_factory=list)
    retry_afters: list[float | None] = field(default_factory=list)
    sent: list[tuple[str, float]] = field(default_factory=list)

    async def before_attempt(self, n: int) -> None:
        self.attempts.append(n)

    async def allow_redirect(self, target: str) -> bool:
        self.redirects.append(target)
        return self.follow

    def on_response(
        self, reason: str, status: int, seconds: float, retry_after_s: float | None
    ) -> None:
        self.responses.append((reason, status, seconds))
        self.retry_afters.append(retry_after_s)

    def on_sent(self, url: str, at: float) -> None:
        self.sent.append((url, at))

    def hooks(self) -> FetchHooks:
        return FetchHooks(self.before_attempt, self.allow_redirect, self.on_response, self.on_sent)


async def fetch(
    url: object,
    hooks: Hooks | None = None,
    trusted: tuple[str, ...] = ("127.0.0.1",),
    **overrides: Any,
) -> FetchResult:
    """One fetch through a fresh Fetcher with test settings plus ``overrides``."""
    settings = Settings(**{**FETCH_SETTINGS, **overrides})
    async with Fetcher(settings, trusted_hosts=trusted) as fetcher:
        return await fetcher.fetch(str(url), (hooks or Hooks()).hooks())


async def fetch_error(url: object, hooks: Hooks | None = None, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch(url, hooks, **kwargs)
    return caught.value


async def server_idle(site: TestServer) -> None:
    """Wait (bounded) until every handler has returned, e.g. noticed that the client left."""
    await asyncio.wait_for(traffic(site).idle.wait(), timeout=3)


def base(site: TestServer) -> str:
    return str(site.make_url("")).rstrip("/")


# --- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirect_chain_is_followed_hop_by_hop(site: TestServer, code: int):
    """Each hop of a redirect chain is requested once and offered to allow_redirect first."""
    hooks = Hooks()
    result = await fetch(site.make_url(f"/redirect/3?code={code}"), hooks)
    hops = [f"/redirect/{n}?code={code}" for n in (3, 2, 1, 0)]
    assert (result.status, result.final_url) == (200, base(site) + hops[-1])
    assert b"Redirect target" in result.body
    assert hooks.redirects == [base(site) + hop for hop in hops[1:]]
    assert [traffic(site).hits[hop] for hop in hops] == [1, 1, 1, 1]
    assert hooks.attempts == [1]
    assert [r[:2] for r in hooks.responses] == [("ok", 200)]


async def test_relative_location_is_resolved_against_the_current_url(site: TestServer):
    """A relative Location ("a?x=1") is resolved against the redirecting URL and normalized."""
    result = await fetch(site.make_url("/goto").with_query(u="a?x=1#frag"))
    assert result.final_url == f"{base(site)}/a?x=1"
    assert result.status == 200


async def test_refused_redirect_returns_the_3xx_itself(site: TestServer):
    """When allow_redirect says no, the 3xx is the result and its target is not requested."""
    hooks = Hooks(follow=False)
    result = await fetch(site.make_url("/redirect/2"), hooks)
    assert (result.status, result.final_url, result.body) == (302, f"{base(site)}/redirect/1", b"")
    assert hooks.redirects == [f"{base(site)}/redirect/1"]
    assert traffic(site).hits["/redirect/1"] == 0


@pytest.mark.parametrize("path", ["/loop/a", "/self-redirect"])
async def test_redirect_loop_is_permanent(site: TestServer, path: str):
    """A redirect back to a URL already in the chain fails at once, without a retry."""
    error = await fetch_error(site.make_url(path))
    assert isinstance(error, PermanentFetchError)
    assert (error.reason, error.attempts) == ("redirect_loop", 1)
    assert traffic(site).hits[path] == 1


async def test_more_hops_than_max_redirects_fail(site: TestServer):
    """With max_redirects=2, a 2-hop chain works and a 5-hop chain stops after 2 hops."""
    assert (await fetch(site.make_url("/redirect/2"), max_redirects=2)).status == 200
    error = await fetch_error(site.make_url("/redirect/5"), max_redirects=2)
    assert (error.reason, error.attempts) == ("too_many_redirects", 1)
    hits = traffic(site).hits
    assert [hits[f"/redirect/{n}"] for n in (5, 4, 3)] == [1, 1, 1]
    assert hits["/redirect/2"] == 1  # by the first fetch only


@pytest.mark.parametrize("kind", ["missing", "scheme", "invalid"])
async def test_unusable_location_is_a_bad_redirect(site: TestServer, kind: str):
    """A redirect without Location, to ftp:, or to an unparsable URL is a permanent bad_redirect."""
    error = await fetch_error(site.make_url(f"/bad-redirect/{kind}"))
    assert (error.reason, error.attempts) == ("bad_redirect", 1)


async def test_other_3xx_with_location_is_a_result(site: TestServer):
    """A 300 (not a redirect status we follow) is returned as is, its Location not requested."""
    result = await fetch(site.make_url("/goto").with_query(u="/a", code="300"))
    assert (result.status, result.final_url) == (300, str(site.make_url("/goto?u=/a&code=300")))
    assert traffic(site).hits["/a"] == 0


# --- body size and compression --------------------------------------------------------------


async def test_content_length_over_the_limit_is_refused_before_reading(site: TestServer):
    """A 50 MiB Content-Length over max_body_bytes is refused fast, and the server stops."""
    started = time.perf_counter()
    error = await fetch_error(site.make_url("/huge/50"), max_body_bytes=MIB)
    assert (error.reason, error.attempts) == ("body_too_large", 1)
    assert "Content-Length 52428800" in error.detail
    assert 0 < time.perf_counter() - started < 2
    await server_idle(site)
    assert traffic(site).sent["/huge/50"] < 20 * MIB


@pytest.mark.parametrize("mode", ["chunked", "eof"])
async def test_body_without_length_is_cut_at_the_limit(site: TestServer, mode: str):
    """A 50 MiB body without Content-Length is refused once 1 MiB arrived, in little memory."""
    tracemalloc.start()
    try:
        error = await fetch_error(site.make_url(f"/huge/50?mode={mode}"), max_body_bytes=MIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (error.reason, error.detail) == ("body_too_large", f"more than {MIB} bytes")
    assert peak < PEAK_BYTES
    await server_idle(site)
    assert traffic(site).sent[f"/huge/50?mode={mode}"] < 20 * MIB


async def test_large_non_html_body_is_streamed_and_counted_not_kept(site: TestServer):
    """A 50 MiB binary within the limit is read whole but only counted, so memory stays small."""
    tracemalloc.start()
    try:
        url = site.make_url("/huge/50?mode=chunked&type=application/octet-stream")
        result = await fetch(url, max_body_bytes=60 * MIB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.status, result.size_bytes, result.body) == (200, 50 * MIB, b"")
    assert peak < PEAK_BYTES


async def test_body_longer_than_its_content_length_is_refused(site: TestServer):
    """A response that keeps sending past its Content-Length is a bad_response, retried."""
    error = await fetch_error(site.make_url("/huge/50?mode=lie"))
    assert (error.reason, error.attempts) == ("bad_response", 2)


@pytest.mark.parametrize(("coding", "wire_bytes"), [("gzip", 1_061_908), ("br", 193_153)])
async def test_decompression_bomb_is_refused_early_in_little_memory(
    site: TestServer, coding: str, wire_bytes: int
):
    """1 GiB of zeros compressed (gzip ~1 MB, br ~190 KB) stops at 2 MB inflated, peak < 20 MB."""
    brotli_bomb(1024)  # made (and cached) before measuring: the server shares our process
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = await fetch_error(site.make_url(f"/bomb/{coding}"), max_body_bytes=2_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (error.reason, error.attempts) == ("body_too_large", 1)
    assert error.detail == "more than 2000000 bytes"  # Content-Length (compressed) was under it
    assert peak < PEAK_BYTES
    assert 0 < time.perf_counter() - started < 2
    await server_idle(site)
    assert traffic(site).sent[f"/bomb/{coding}"] <= wire_bytes


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
async def test_compressed_pages_are_decoded(site: TestServer, coding: str):
    """gzip, deflate (zlib or raw) and brotli bodies arrive decoded; br is advertised."""
    result = await fetch(site.make_url(f"/encoded/{coding}"))
    assert result.body.startswith(b"<!doctype html>")
    assert ENCODED_TITLE.encode() in result.body
    assert result.size_bytes == len(result.body) > 1000
    accepted = traffic(site).headers[f"/encoded/{coding}"]["Accept-Encoding"]
    assert {"gzip", "deflate", "br"} <= {c.strip() for c in accepted.split(",")}


async def test_undecodable_body_is_a_bad_encoding(site: TestServer):
    """A body that claims gzip but is not is retried, then recorded as bad_encoding."""
    error = await fetch_error(site.make_url("/bad-encoding"))
    assert (error.reason, error.attempts) == ("bad_encoding", 2)


async def test_urls_go_out_percent_encoded_as_normalized(site: TestServer):
    """A space and a non-ASCII letter in the URL, or in a redirect's Location, reach the server
    percent-encoded (a raw space would make the request line invalid: 400, not 404)."""
    direct = await fetch(f"{base(site)}/no such/é?q=a b")
    assert (direct.status, direct.final_url) == (404, f"{base(site)}/no%20such/%C3%A9?q=a%20b")
    moved = await fetch(site.make_url("/goto").with_query(u="/no such?q=a b"))
    assert (moved.status, moved.final_url) == (404, f"{base(site)}/no%20such?q=a%20b")
    assert {"/no%20such/%C3%A9?q=a%20b", "/no%20such?q=a%20b"} <= set(traffic(site).hits)


# --- connections ----------------------------------------------------------------------------


@pytest.mark.parametrize(("keepalive_s", "connections"), [(15.0, 1), (0.0, 3)])
async def test_keepalive_reuses_a_connection_and_zero_opens_one_per_request(
    site: TestServer, keepalive_s: float, connections: int
):
    """Three requests to one host in a row: one connection kept alive, or three with 0."""
    settings = Settings(**{**FETCH_SETTINGS, "keepalive_s": keepalive_s})
    async with Fetcher(settings, trusted_hosts=("127.0.0.1",)) as fetcher:
        for n in range(3):
            result = await fetcher.fetch(str(site.make_url(f"/gen/{n}")), Hooks().hooks())
            assert result.status == 200
    assert len(traffic(site).ports) == connections


# --- timeouts and broken connections --------------------------------------------------------


async def test_trickling_server_is_cut_off_at_the_total_timeout(site: TestServer):
    """One byte every 0.2 s is cut off at timeout_s per attempt; the handler then stops."""
    hooks = Hooks()
    started = time.perf_counter()
    error = await fetch_error(site.make_url("/trickle"), hooks, timeout_s=0.5)
    elapsed = time.perf_counter() - started
    assert isinstance(error, TransientFetchError)
    assert (error.reason, error.attempts) == ("timeout", 2)
    assert 1.0 <= elapsed < 2.5
    assert [(reason, status) for reason, status, _ in hooks.responses] == [("timeout", 200)] * 2
    await server_idle(site)
    assert 2 <= traffic(site).sent["/trickle"] <= 10


@pytest.mark.parametrize(
    ("path", "reason", "requests"),
    [
        ("/reset", "connection_reset", 3),
        ("/truncated", "payload_error", 3),
        # aiohttp itself sends an idempotent request again once if the server hangs up first
        ("/hangup", "server_disconnected", 6),
        ("/bad-chunked", "bad_chunked", 3),
    ],
)
async def test_broken_responses_are_retried_then_recorded(
    site: TestServer, path: str, reason: str, requests: int
):
    """A reset, a truncated body, a hang-up or a bad chunk is retried, then named, quickly."""
    hooks = Hooks()
    started = time.perf_counter()
    error = await fetch_error(site.make_url(path), hooks, retries=2)
    assert isinstance(error, TransientFetchError)
    assert (error.reason, error.attempts) == (reason, 3)
    assert traffic(site).hits[path] == requests
    assert hooks.attempts == [1, 2, 3]
    assert [r for r, _, _ in hooks.responses] == [reason] * 3
    assert 0 < time.perf_counter() - started < 2  # not a read timeout (5 s)


async def test_untrusted_certificate_is_a_tls_error(aiohttp_server: Any):
    """An HTTPS server with a certificate from an unknown CA is refused as tls_error."""
    cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server: TestServer = await aiohttp_server(make_app(), ssl=context)
    hooks = Hooks()
    error = await fetch_error(server.make_url("/a"), hooks)
    assert str(server.make_url("/a")).startswith("https://")
    assert (error.reason, error.attempts) == ("tls_error", 2)
    assert "CERTIFICATE_VERIFY_FAILED" in error.detail
    assert traffic(server).hits["/a"] == 0
    assert [(r, s) for r, s, _ in hooks.responses] == [("tls_error", 0)] * 2


async def test_unknown_host_is_a_dns_error():
    """A name under .invalid does not resolve: retried, then dns_error."""
    error = await fetch_error("http://nothing-here.invalid/", trusted=())
    assert (error.reason, error.attempts) == ("dns_error", 2)


async def test_refused_connection_is_a_connect_error(unused_tcp_port: int):
    """Nothing listening on the port: retried, then connect_error."""
    error = await fetch_error(f"http://127.0.0.1:{unused_tcp_port}/")
    assert (error.reason, error.attempts) == ("connect_error", 2)


# --- status codes and retries ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "low", "high"), [("seconds", 2, 2), ("date", 0.5, 2.01)])
async def test_429_carries_its_retry_after(site: TestServer, kind: str, low: float, high: float):
    """A 429 is transient http_429 with Retry-After parsed from seconds or an HTTP-date."""
    error = await fetch_error(site.make_url(f"/retry-after/{kind}"))
    assert isinstance(error, TransientFetchError)
    assert (error.reason, error.attempts) == ("http_429", 2)
    assert error.retry_after_s is not None
    assert low <= error.retry_after_s <= high
    assert traffic(site).hits[f"/retry-after/{kind}"] == 2


async def test_retry_after_is_honoured_up_to_the_backoff_cap(site: TestServer):
    """Retry-After: 2 with retry_backoff_max_s=0.3 waits about 0.3 s before the retry."""
    hooks = Hooks()
    await fetch_error(site.make_url("/retry-after/seconds"), hooks, retry_backoff_max_s=0.3)
    starts = [t for t, _ in traffic(site).starts]
    assert len(starts) == 2
    assert 0.28 <= starts[1] - starts[0] < 1.0
    assert hooks.attempts == [1, 2]


async def test_server_error_is_retried_then_fetched(site: TestServer):
    """A 500 then 200 takes two attempts, and each attempt reports its outcome."""
    hooks = Hooks()
    settings = Settings(**FETCH_SETTINGS)
    async with Fetcher(settings, trusted_hosts=["127.0.0.1"]) as fetcher:
        result = await fetcher.fetch(str(site.make_url("/flaky/1")), hooks.hooks())
        assert fetcher.retried == 1
    assert (result.status, result.attempts) == (200, 2)
    assert [(r, s) for r, s, _ in hooks.responses] == [("http_500", 500), ("ok", 200)]


async def test_on_response_reports_time_to_headers(site: TestServer):
    """The seconds given to on_response cover the wait for the response headers."""
    hooks = Hooks()
    await fetch(site.make_url("/slow/200"), hooks)
    [(reason, status, seconds)] = hooks.responses
    assert (reason, status) == ("ok", 200)
    assert 0.19 <= seconds < 1.0


async def test_invalid_url_is_permanent():
    """A URL that is not http(s) fails at once as invalid_url."""
    error = await fetch_error("ftp://example.com/file")
    assert (error.reason, error.attempts) == ("invalid_url", 1)


# --- SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::a9fe:a9fe",
    ],
)
def test_non_public_addresses(address: str):
    """Loopback, private, link-local, CGNAT, multicast, reserved and embedding forms are refused."""
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]
)
def test_public_addresses(address: str):
    """Ordinary global unicast addresses, also IPv4-mapped or 6to4, are public."""
    assert is_public_address(ipaddress.ip_address(address))


async def test_private_ip_literal_is_refused_unless_trusted(site: TestServer):
    """A loopback IP URL is refused before connecting unless trusted or allow_private is on."""
    hooks = Hooks()
    error = await fetch_error(site.make_url("/a"), hooks, trusted=())
    assert (error.reason, error.attempts) == ("private_address", 1)
    assert traffic(site).hits["/a"] == 0
    assert [(r, s) for r, s, _ in hooks.responses] == [("private_address", 0)]
    assert (await fetch(site.make_url("/a"), trusted=(), allow_private=True)).status == 200
    mapped = f"http://[::ffff:127.0.0.1]:{site.port}/a"
    assert (await fetch_error(mapped, trusted=())).reason == "private_address"


async def test_name_resolving_to_loopback_is_refused(site: TestServer):
    """localhost is checked on its resolved address (127.0.0.1 or ::1), so it is refused."""
    error = await fetch_error(f"http://localhost:{site.port}/a", trusted=())
    assert (error.reason, error.attempts) == ("private_address", 1)
    assert traffic(site).hits["/a"] == 0


async def test_resolve_mapping_to_loopback_needs_a_trusted_host(site: TestServer):
    """public.test pinned to 127.0.0.1 is refused when untrusted and fetched when trusted."""
    url = f"http://public.test:{site.port}/a"
    pinned = ("public.test:127.0.0.1",)
    error = await fetch_error(url, trusted=("127.0.0.1",), resolve=pinned)
    assert (error.reason, error.attempts) == ("private_address", 1)
    assert traffic(site).hits["/a"] == 0
    result = await fetch(url, trusted=("public.test",), resolve=pinned)
    assert (result.status, result.final_url) == (200, url)
    assert traffic(site).headers["/a"]["Host"] == f"public.test:{site.port}"


async def test_every_redirect_hop_is_checked(site: TestServer):
    """A trusted host redirecting to an untrusted loopback address is stopped at that hop."""
    url = f"http://public.test:{site.port}/to-loopback"
    pinned = ("public.test:127.0.0.1",)
    error = await fetch_error(url, trusted=("public.test",), resolve=pinned)
    assert (error.reason, error.attempts) == ("private_address", 1)
    assert (traffic(site).hits["/to-loopback"], traffic(site).hits["/a"]) == (1, 0)
    result = await fetch(url, trusted=("public.test", "127.0.0.1"), resolve=pinned)
    assert result.final_url == f"{base(site)}/a"


@pytest.mark.parametrize(
    "entry", ["public.test", "public.test:not-an-ip", ":127.0.0.1", "a b:127.0.0.1", "x:1.2.3"]
)
def test_bad_resolve_entry_is_a_usage_error(entry: str):
    """A resolve entry that is not HOST:IP is refused when the Fetcher is built."""
    with pytest.raises(UsageError, match="resolve"):
        Fetcher(Settings(resolve=(entry,)))


async def test_each_request_reports_when_it_went_out(site: TestServer):
    """on_sent gets every request of a redirect chain, once each, at a time between the call and
    the server's receipt of that request."""
    hooks = Hooks()
    before = time.monotonic()
    await fetch(site.make_url("/redirect/2"), hooks)
    arrivals = [at for at, _ in traffic(site).starts]
    assert hooks.sent[0][0].endswith("/redirect/2")
    assert len(hooks.sent) == len(traffic(site).starts) == 3  # /redirect/2, /redirect/1, target
    for (_, sent), arrived in zip(hooks.sent, arrivals, strict=True):
        assert before <= sent <= arrived + 0.001
