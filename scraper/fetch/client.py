"""The fetcher: the fetch policy (redirects, retries, hooks, validators) over a transport.

A failure leaves as :class:`TransientFetchError` (retried with jittered exponential backoff,
capped by attempts and by ``retry_backoff_max_s`` per wait, which also caps ``Retry-After``) or
:class:`PermanentFetchError`, carrying ``attempts``. Reasons, transient: ``timeout``,
``dns_error``, ``connect_error``, ``tls_error``, ``server_disconnected`` (closed before
answering), ``connection_reset``, ``payload_error`` (body cut short), ``bad_chunked``,
``bad_encoding`` (undecodable gzip/deflate/br), ``bad_response`` (unparsable head, data past the
body), ``connection_error``, ``http_429``, ``http_5xx``; permanent: ``invalid_url``,
``private_address``, ``bad_redirect``, ``redirect_loop``, ``too_many_redirects``,
``body_too_large``, ``invalid_request``.

Redirects (301 302 303 307 308) are followed here hop by hop, as GETs, each target resolved and
normalized; the chain is one attempt. Any other status not retried, 3xx included, is a result.
Every hop passes the address guard (:mod:`scraper.fetch.guard`) and goes out through a
:class:`scraper.fetch.transport.Transport` (:mod:`scraper.fetch.http`: aiohttp, whose errors
:mod:`scraper.fetch.errors` translates); retries follow :mod:`scraper.fetch.retries`.
"""

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Self

from scraper.config import Settings
from scraper.errors import FetchError, InvalidURL, PermanentFetchError, TransientFetchError
from scraper.fetch.addresses import host_key, parse_resolve, parse_retry_after
from scraper.fetch.blocks import BlockDetector
from scraper.fetch.capture import capture_of, now
from scraper.fetch.cookies import SiteCookieJar
from scraper.fetch.guard import AddressPolicy, TargetGuard
from scraper.fetch.http import REDIRECTS, AiohttpTransport
from scraper.fetch.proxies import ProxyFailure, ProxyPool, ProxyRow, settings_proxies
from scraper.fetch.retries import RetryPolicy
from scraper.fetch.transport import BrowserTransport, FetchRequest, Transport
from scraper.models import Capture, FetchResult, PreviousVisit
from scraper.urls import join_url, normalize_url, url_host

_PAGE_HEADERS = ("ETag", "Last-Modified", "Content-Language")  # kept of a page's answer


@dataclass(frozen=True, slots=True)
class FetchHooks:
    """What the caller does around a fetch.

    ``before_attempt(n)`` is awaited before attempt n = 1, 2, ... (the politeness slot).
    ``allow_redirect(target)`` is awaited with each normalized redirect target before it is
    followed; False stops there and returns the 3xx itself (``final_url`` = the target).
    ``on_response(reason, status, seconds, retry_after_s)`` is called once after every attempt:
    ``"ok"`` or the error's reason, the last response's status (0 if none), seconds from the
    start of the attempt's last request to its response headers (or to the failure, if none
    came), and the server's ``Retry-After`` in seconds when a 429/5xx carried one.
    ``on_sent(url, at)`` is called once a request has been written to the socket (``at``:
    ``time.monotonic()``, taken after the write): the moment the politeness delay to the next
    request to that host is counted from (in the browser: when the page's own request is let
    out, and again when its answer came). ``before_render(url)`` is awaited in the browser right
    before the page's own request goes out (see :class:`BrowserTransport`).
    """

    before_attempt: Callable[[int], Awaitable[None]]
    allow_redirect: Callable[[str], Awaitable[bool]]
    on_response: Callable[[str, int, float, float | None], None]
    on_sent: Callable[[str, float], None] | None = None
    before_render: Callable[[str], Awaitable[None]] | None = None


@dataclass(slots=True)
class _Clock:
    """The current request of an attempt: when it started, its status once headers came."""

    started: float = field(default_factory=time.perf_counter)
    status: int = 0
    headers_s: float | None = None

    def request(self) -> None:
        self.started, self.status, self.headers_s = time.perf_counter(), 0, None

    def headers(self, status: int) -> None:
        self.status, self.headers_s = status, time.perf_counter() - self.started

    def seconds(self) -> float:
        return time.perf_counter() - self.started if self.headers_s is None else self.headers_s


@dataclass(frozen=True, slots=True)
class _Page:
    """One response of a redirect chain, read and released."""

    status: int
    content_type: str
    charset: str | None
    body: bytes = b""
    size: int = 0
    location: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    capture: Capture | None = None  # with --archive
    truncated: bool = False
    content_language: str | None = None


class Fetcher:
    """Fetches URLs through one transport (one shared session).

    Use as ``async with Fetcher(settings) as f:``.

    ``trusted_hosts`` are the seeds' hostnames (no port): they may be on private addresses.
    ``record_proxies`` is awaited at the end with each proxy's (masked URL, requests,
    failures, last error), if any proxy was used. ``browser(policy)`` makes the transport of
    requests with ``render`` set (the crawl's renderer; without one they go over HTTP). Raises
    UsageError at once for a bad ``settings.resolve`` entry or proxy.
    """

    def __init__(
        self,
        settings: Settings,
        trusted_hosts: Iterable[str] = (),
        *,
        record_proxies: Callable[[list[ProxyRow]], Awaitable[None]] | None = None,
        browser: Callable[[AddressPolicy], BrowserTransport] | None = None,
    ) -> None:
        self._settings = settings
        self._record_proxies = record_proxies
        self._policy = AddressPolicy(
            trusted=frozenset(host_key(host) for host in trusted_hosts),
            allow_private=settings.allow_private,
            pinned=parse_resolve(settings.resolve),
        )
        self._http = AiohttpTransport(settings, self._policy)
        self._transport: Transport = self._http
        self.browser = None if browser is None else browser(self._policy)
        self._retries = RetryPolicy(settings)
        self.proxies = ProxyPool(
            lambda host: settings.for_host(host).proxies,
            known=settings_proxies(settings),
            rotation=settings.proxy_rotation,
            cooldown_s=settings.proxy_cooldown_s,
        )
        self._target_guard = TargetGuard(self._policy) if self.proxies.used else None
        self._blocks = BlockDetector()
        self.retried = 0

    async def __aenter__(self) -> Self:
        await self._transport.__aenter__()
        if self.browser is not None:
            try:
                await self.browser.__aenter__()
            except BaseException:
                await self._transport.__aexit__(None, None, None)
                raise
        return self

    @property
    def cookie_jar(self) -> SiteCookieJar | None:
        """The session's cookie jar (None: no host has cookies on)."""
        return self._http.cookie_jar

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.browser is not None:
                await self.browser.__aexit__(et, e, tb)
        finally:
            await self._transport.__aexit__(et, e, tb)
        if self._target_guard is not None:
            await self._target_guard.close()
        report = self.proxies.report()
        if self._record_proxies is not None and report:
            await self._record_proxies(
                [(h.proxy, h.requests, h.failures, h.last_error) for h in report]
            )

    async def fetch(
        self, request: FetchRequest | str, hooks: FetchHooks, previous: PreviousVisit | None = None
    ) -> FetchResult:
        """Fetch ``request`` (a bare URL: a GET) following redirects, retrying transient
        failures. With ``previous`` validators the first request is conditional
        (``If-None-Match``, ``If-Modified-Since``, RFC 9110 13.1): an unchanged page answers
        ``304`` without a body.

        Raises FetchError (with ``attempts`` set) when the URL cannot be fetched.
        """
        if isinstance(request, str):
            request = FetchRequest(request)
        conditional = _conditional_headers(previous)
        try:
            await hooks.before_attempt(1)
            return await self._attempt(request, 1, hooks, conditional)
        except FetchError as exc:
            exc.attempts = 1
            if not isinstance(exc, TransientFetchError) or not self._retries.retrying:
                raise
            return await self._retry(request, hooks, conditional, exc)

    async def _retry(
        self,
        request: FetchRequest,
        hooks: FetchHooks,
        conditional: dict[str, str] | None,
        first: TransientFetchError,
    ) -> FetchResult:
        """The retry policy's tenacity loop after a failed first attempt: its attempt 1 replays
        that failure (so its waits, Retry-After and logging are the policy's), the next ones
        fetch again."""
        attempt_no = 1
        try:
            async for attempt in self._retries.attempts(request.url):
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    if attempt_no == 1:
                        raise first
                    self.retried += 1
                    await hooks.before_attempt(attempt_no)
                    return await self._attempt(request, attempt_no, hooks, conditional)
        except FetchError as exc:
            exc.attempts = attempt_no
            raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _attempt(
        self,
        request: FetchRequest,
        attempt_no: int,
        hooks: FetchHooks,
        conditional: dict[str, str] | None,
    ) -> FetchResult:
        clock = _Clock()
        try:
            result = await self._through_proxies(request, attempt_no, hooks, clock, conditional)
        except FetchError as exc:
            retry_after = exc.retry_after_s if isinstance(exc, TransientFetchError) else None
            hooks.on_response(exc.reason, clock.status, clock.seconds(), retry_after)
            raise
        hooks.on_response("ok", result.status, clock.seconds(), None)
        return result

    async def _through_proxies(
        self,
        request: FetchRequest,
        attempt_no: int,
        hooks: FetchHooks,
        clock: _Clock,
        conditional: dict[str, str] | None,
    ) -> FetchResult:
        """:meth:`_follow`, again through another proxy (after the host's politeness wait)
        while a proxy fails, a bounded number of times (:meth:`ProxyPool.choose` raises
        ProxiesDown once every one is down)."""
        failovers = 0
        while True:
            try:
                return await self._follow(request, attempt_no, hooks, clock, conditional)
            except ProxyFailure as exc:
                self.proxies.failed(exc)
                failovers += 1
                if failovers > self.proxies.failover_limit(url_host(request.url)):
                    raise
                await hooks.before_attempt(attempt_no + 1)  # not counted as a retry

    async def _follow(
        self,
        request: FetchRequest,
        attempt_no: int,
        hooks: FetchHooks,
        clock: _Clock,
        conditional: dict[str, str] | None,
    ) -> FetchResult:
        """One attempt: the request and its redirect chain, up to ``max_redirects`` hops (the
        validators and the request's headers and body go with the first request only)."""
        started = time.perf_counter()
        try:
            current = normalize_url(request.url)
        except InvalidURL as exc:
            raise PermanentFetchError("invalid_url", exc.reason) from None
        visited = {current}
        hops = 0
        hop, headers = replace(request, url=current), conditional  # the first request's only
        captures: list[Capture] = []
        while True:
            page = await self._request(hop, clock, hooks, headers)
            if page.capture is not None:
                captures.append(page.capture)
            if page.status not in REDIRECTS:
                break
            target = _redirect_target(current, page.location, visited)
            if not await hooks.allow_redirect(target):
                current = target
                break
            hops += 1
            if hops > self._settings.max_redirects:
                raise PermanentFetchError(
                    "too_many_redirects", f"more than {hops - 1} from {request.url}"
                )
            visited.add(target)
            current = target
            hop, headers = FetchRequest(current, proxy=request.proxy, render=request.render), None
        return FetchResult(
            url=request.url,
            final_url=current,
            status=page.status,
            content_type=page.content_type,
            charset=page.charset,
            body=page.body,
            size_bytes=page.size,
            elapsed_ms=round((time.perf_counter() - started) * 1000),
            attempts=attempt_no,
            fetched_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            etag=page.etag,
            last_modified=page.last_modified,
            captures=tuple(captures),
            truncated=page.truncated,
            content_language=page.content_language,
        )

    async def _request(
        self,
        request: FetchRequest,
        clock: _Clock,
        hooks: FetchHooks,
        headers: Mapping[str, str] | None = None,
    ) -> _Page:
        """Send ``request`` (its URL normalized) without following redirects, with the host's
        headers (its site table's, ``--header``), then ``headers``, then the request's own; in
        the browser when it asks to be rendered, with the host's cookies as a ``Cookie``."""
        url = request.url
        host = url_host(url)
        self._policy.check_literal(url)
        if request.proxy is None and self.proxies.used:
            proxy = await self.proxies.choose(host)
            if proxy is not None:
                request = replace(request, proxy=proxy.url)
        if request.proxy is not None and self._target_guard is not None:
            await self._target_guard.check(url)  # the connector resolves the proxy only
        clock.request()
        hop = replace(
            request,
            headers={
                **self._settings.for_host(host).request_headers(),
                **(headers or {}),
                **request.headers,
            },
        )
        sent = None if hooks.on_sent is None else partial(hooks.on_sent, url)
        at = now() if self._settings.archive else ""
        if request.render and self.browser is not None:
            cookie = self._http.cookie_header(url)
            if cookie:
                hop = replace(hop, headers={**hop.headers, "Cookie": cookie})
            before = None if hooks.before_render is None else partial(hooks.before_render, url)
            resp = await self.browser.send(hop, clock.headers, sent, before)
        else:
            resp = await self._transport.send(hop, clock.headers, sent)
        if request.proxy is not None:
            self.proxies.succeeded_url(request.proxy)
        status = resp.status
        capture = capture_of(resp, url, at) if self._settings.archive else None
        self._blocks.check(host, resp)  # raises BlockedError for a challenge or block page
        if status in REDIRECTS:
            location = resp.header("Location")
            return _Page(
                status, resp.content_type, resp.charset, location=location, capture=capture
            )
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(resp.header("Retry-After"))
            raise TransientFetchError(f"http_{status}", resp.reason, retry_after)
        etag, modified, language = resp.header_values(_PAGE_HEADERS)
        return _Page(
            status, resp.content_type, resp.charset, resp.body, resp.size, None, etag, modified,
            capture, resp.truncated, language,
        )  # fmt: skip


def _conditional_headers(previous: PreviousVisit | None) -> dict[str, str] | None:
    """The validators of a page's last visit as request headers; None without any."""
    if previous is None:
        return None
    headers = {"If-None-Match": previous.etag, "If-Modified-Since": previous.last_modified}
    return {name: value for name, value in headers.items() if value} or None


def _redirect_target(current: str, location: str | None, visited: set[str]) -> str:
    """The normalized URL a redirect from ``current`` points to; raise if it must not be taken."""
    target = join_url(current, location) if location else None
    if target is None:
        raise PermanentFetchError("bad_redirect", f"Location {location!r} on {current}")
    if target in visited:
        raise PermanentFetchError("redirect_loop", f"{target} again, from {current}")
    return target
