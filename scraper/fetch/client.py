"""The fetcher: one aiohttp ClientSession; redirects, body caps, retries, one result or error.

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
Every hop passes the address guard (:mod:`scraper.fetch.guard`); retries follow
:mod:`scraper.fetch.retries`, and aiohttp's errors are translated by :mod:`scraper.fetch.errors`.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from yarl import URL

from scraper.config import Settings
from scraper.errors import FetchError, InvalidURL, PermanentFetchError, TransientFetchError
from scraper.fetch.addresses import host_key, parse_resolve, parse_retry_after
from scraper.fetch.cookies import SiteCookieJar, load_cookies, read_cookies_txt
from scraper.fetch.errors import EXPECTED, translate
from scraper.fetch.guard import AddressPolicy, GuardedResolver
from scraper.fetch.retries import RetryPolicy
from scraper.models import HTML_TYPES, FetchResult, PreviousVisit
from scraper.urls import join_url, normalize_url, url_host

_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Bodies kept in FetchResult.body: pages to parse, robots.txt, sitemaps. Others are only counted.
_KEEP_TYPES = HTML_TYPES | {"text/plain", "text/xml", "application/xml"}
_KEEP_TYPES |= {"application/gzip", "application/x-gzip"}


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
    request to that host is counted from.
    """

    before_attempt: Callable[[int], Awaitable[None]]
    allow_redirect: Callable[[str], Awaitable[bool]]
    on_response: Callable[[str, int, float, float | None], None]
    on_sent: Callable[[str, float], None] | None = None


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


class Fetcher:
    """Fetches URLs through one shared session. Use as ``async with Fetcher(settings) as f:``.

    ``trusted_hosts`` are the seeds' hostnames (no port): they may be on private addresses.
    Raises UsageError at once for a bad ``settings.resolve`` entry.
    """

    def __init__(self, settings: Settings, trusted_hosts: Iterable[str] = ()) -> None:
        self._settings = settings
        self._policy = AddressPolicy(
            trusted=frozenset(host_key(host) for host in trusted_hosts),
            allow_private=settings.allow_private,
            pinned=parse_resolve(settings.resolve),
        )
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._retries = RetryPolicy(settings)
        self.retried = 0
        # [cookies] the files of --cookies and the sites' cookies_file, read now (errors at once)
        self._file_cookies = [c for path in _cookie_files(settings) for c in read_cookies_txt(path)]
        self.cookie_jar: SiteCookieJar | None = None

    async def __aenter__(self) -> Self:
        s = self._settings
        self._resolver = GuardedResolver(self._policy)
        # [cookies] the session's jar: only hosts with cookies on store and send cookies
        self.cookie_jar = SiteCookieJar(lambda host: s.for_host(host).cookies_on)
        load_cookies(self.cookie_jar, self._file_cookies)
        self._session = aiohttp.ClientSession(
            connector=_connector(s, self._resolver),
            # Per request, each redirect hop on its own, body included (aiohttp's total).
            timeout=aiohttp.ClientTimeout(total=s.timeout_s, sock_connect=s.connect_timeout_s),
            headers={"User-Agent": s.user_agent, "Accept": _ACCEPT},
            cookie_jar=self.cookie_jar,  # [cookies]
            trust_env=False,
            request_class=_StampedRequest,
        )
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._resolver is not None:
            await self._resolver.close()

    async def fetch(
        self, url: str, hooks: FetchHooks, previous: PreviousVisit | None = None
    ) -> FetchResult:
        """Fetch ``url`` (following redirects), retrying transient failures. With ``previous``
        validators the first request is conditional (``If-None-Match``, ``If-Modified-Since``,
        RFC 9110 13.1): an unchanged page answers ``304`` without a body.

        Raises FetchError (with ``attempts`` set) when the URL cannot be fetched.
        """
        conditional = _conditional_headers(previous)
        try:
            await hooks.before_attempt(1)
            return await self._attempt(url, 1, hooks, conditional)
        except FetchError as exc:
            exc.attempts = 1
            if not isinstance(exc, TransientFetchError) or not self._retries.retrying:
                raise
            return await self._retry(url, hooks, conditional, exc)

    async def _retry(
        self,
        url: str,
        hooks: FetchHooks,
        conditional: dict[str, str] | None,
        first: TransientFetchError,
    ) -> FetchResult:
        """The retry policy's tenacity loop after a failed first attempt: its attempt 1 replays
        that failure (so its waits, Retry-After and logging are the policy's), the next ones
        fetch again."""
        attempt_no = 1
        try:
            async for attempt in self._retries.attempts(url):
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    if attempt_no == 1:
                        raise first
                    self.retried += 1
                    await hooks.before_attempt(attempt_no)
                    return await self._attempt(url, attempt_no, hooks, conditional)
        except FetchError as exc:
            exc.attempts = attempt_no
            raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _attempt(
        self,
        url: str,
        attempt_no: int,
        hooks: FetchHooks,
        conditional: dict[str, str] | None,
    ) -> FetchResult:
        clock = _Clock()
        try:
            result = await self._follow(url, attempt_no, hooks, clock, conditional)
        except FetchError as exc:
            retry_after = exc.retry_after_s if isinstance(exc, TransientFetchError) else None
            hooks.on_response(exc.reason, clock.status, clock.seconds(), retry_after)
            raise
        hooks.on_response("ok", result.status, clock.seconds(), None)
        return result

    async def _follow(
        self,
        url: str,
        attempt_no: int,
        hooks: FetchHooks,
        clock: _Clock,
        conditional: dict[str, str] | None,
    ) -> FetchResult:
        """One attempt: the request and its redirect chain, up to ``max_redirects`` hops (the
        validators go with the first request only: they belong to ``url``)."""
        started = time.perf_counter()
        try:
            current = normalize_url(url)
        except InvalidURL as exc:
            raise PermanentFetchError("invalid_url", exc.reason) from None
        visited = {current}
        hops = 0
        headers = conditional  # the first request's only
        while True:
            page = await self._request(current, clock, hooks.on_sent, headers)
            headers = None
            if page.status not in _REDIRECTS:
                break
            target = _redirect_target(current, page.location, visited)
            if not await hooks.allow_redirect(target):
                current = target
                break
            hops += 1
            if hops > self._settings.max_redirects:
                raise PermanentFetchError("too_many_redirects", f"more than {hops - 1} from {url}")
            visited.add(target)
            current = target
        return FetchResult(
            url=url,
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
        )

    async def _request(
        self,
        url: str,
        clock: _Clock,
        on_sent: Callable[[str, float], None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Page:
        """GET ``url`` without following redirects, with the host's headers (its site table's,
        ``--header``); the body is read whole unless it is a 3xx."""
        if self._session is None:
            raise RuntimeError("fetcher is not open")
        self._policy.check_literal(url)
        clock.request()
        token = _ON_SENT.set(None if on_sent is None else (on_sent, url))
        try:
            async with self._session.get(
                URL(url, encoded=True),  # normalized: already percent-encoded, host in punycode
                allow_redirects=False,
                headers={
                    **self._settings.for_host(url_host(url)).request_headers(),
                    **(headers or {}),
                },
            ) as resp:
                clock.headers(resp.status)
                return await self._receive(resp)
        except FetchError:
            raise
        except EXPECTED as exc:
            raise translate(exc) from exc
        finally:
            _ON_SENT.reset(token)

    async def _receive(self, resp: aiohttp.ClientResponse) -> _Page:
        status = resp.status
        if status in _REDIRECTS:
            location = resp.headers.get("Location")
            return _Page(status, resp.content_type, resp.charset, location=location)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise TransientFetchError(f"http_{status}", resp.reason or "", retry_after)
        if status == 304:  # no content, by definition (RFC 9110 15.4.5): nothing to read
            body, size = b"", 0
        else:
            body, size = await self._read(resp, keep=resp.content_type in _KEEP_TYPES)
        etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        return _Page(status, resp.content_type, resp.charset, body, size, None, etag, modified)

    async def _read(self, resp: aiohttp.ClientResponse, keep: bool) -> tuple[bytes, int]:
        """Stream the body, refusing it past ``max_body_bytes`` (decompressed).

        aiohttp inflates gzip/deflate/br incrementally (``max_length`` per step, paused while
        our buffer is full), so a decompression bomb costs a few chunks of memory, not its size.
        """
        limit = self._settings.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise PermanentFetchError("body_too_large", f"Content-Length {resp.content_length}")
        chunks: list[bytes] = []
        size = 0
        undo = _fail_body_on_close(resp)
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PermanentFetchError("body_too_large", f"more than {limit} bytes")
                if keep:
                    chunks.append(chunk)
        finally:
            undo()
        return b"".join(chunks), size


def _cookie_files(s: Settings) -> list[str]:
    """[cookies] The cookies.txt files to load: ``cookies_file`` and the sites' own."""
    files = [s.cookies_file] if s.cookies_file else []
    for rule in s.sites:
        files += [str(v) for name, v in rule.values if name == "cookies_file" and v]
    return list(dict.fromkeys(files))


def _connector(s: Settings, resolver: AbstractResolver) -> aiohttp.TCPConnector:
    """The session's connection pool: idle connections kept ``keepalive_s`` (0: none kept)."""
    return aiohttp.TCPConnector(
        limit=s.concurrency,
        ttl_dns_cache=300,
        resolver=resolver,
        force_close=s.keepalive_s == 0,
        keepalive_timeout=s.keepalive_s or None,  # None: aiohttp's value with force_close
    )


def _conditional_headers(previous: PreviousVisit | None) -> dict[str, str] | None:
    """The validators of a page's last visit as request headers; None without any."""
    if previous is None:
        return None
    headers = {"If-None-Match": previous.etag, "If-Modified-Since": previous.last_modified}
    return {name: value for name, value in headers.items() if value} or None


def _fail_body_on_close(resp: aiohttp.ClientResponse) -> Callable[[], object]:
    """Fail the body at once if the connection is lost with the body neither done nor failed.

    Works around aiohttp 3.14's C parser: an error in the body (an invalid chunk size) closes
    the connection but leaves the reader waiting until ``sock_read`` times out; the parser's
    error is kept on the protocol. Returns the undo, to call once the body is read.
    """
    protocol = resp.connection.protocol if resp.connection is not None else None
    if protocol is None:
        return lambda: None

    def check(_: object) -> None:
        if not resp.content.is_eof() and resp.content.exception() is None:
            error = f"Response payload is not completed: {protocol.exception()!r}"
            resp.content.set_exception(aiohttp.ClientPayloadError(error))

    closed = protocol.closed
    if closed is None:  # the connection is lost already
        check(None)
        return lambda: None
    closed.remove_done_callback(_retrieve)  # at most one per connection, however often reused
    closed.add_done_callback(_retrieve)
    closed.add_done_callback(check)
    return lambda: closed.remove_done_callback(check)


def _retrieve(closed: "asyncio.Future[None]") -> None:
    """Mark the ``closed`` future's exception seen, since we made aiohttp create the future."""
    if not closed.cancelled():
        closed.exception()


def _redirect_target(current: str, location: str | None, visited: set[str]) -> str:
    """The normalized URL a redirect from ``current`` points to; raise if it must not be taken."""
    target = join_url(current, location) if location else None
    if target is None:
        raise PermanentFetchError("bad_redirect", f"Location {location!r} on {current}")
    if target in visited:
        raise PermanentFetchError("redirect_loop", f"{target} again, from {current}")
    return target


# Who wants to know when the current task's request went out: (``FetchHooks.on_sent``, url).
_ON_SENT: ContextVar[tuple[Callable[[str, float], None], str] | None] = ContextVar(
    "on_sent", default=None
)


class _StampedRequest(aiohttp.ClientRequest):
    """Tells the fetch that made it (:data:`_ON_SENT`) when it was sent: the time is taken
    once ``send`` has written the request to the socket, so a stall before the write (a GC
    pause, the thread descheduled) can only make it later, and the next request to the host
    is never less than its delay after this one reached the server."""

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        response = await super().send(conn)
        sent = _ON_SENT.get()
        if sent is not None:
            sent[0](sent[1], time.monotonic())
        return response
