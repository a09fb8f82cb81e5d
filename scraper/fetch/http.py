"""The aiohttp transport: one ClientSession, one hop per ``send``, bodies capped while read.

The connector resolves through :class:`scraper.fetch.guard.GuardedResolver` (the address guard)
and stamps the moment each request reaches the socket (:class:`_StampedRequest`, which also
notes the peer address and the request line there). aiohttp hands over the body as received
(``auto_decompress=False``); :mod:`scraper.fetch.decode` decodes it, and with ``archive`` on
the bytes as received are kept too. aiohttp's errors are translated by
:mod:`scraper.fetch.errors`; none leaves this module.
"""

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from yarl import URL

from scraper.config import Settings
from scraper.errors import FetchError, PermanentFetchError
from scraper.fetch.cookies import SiteCookieJar, file_cookies, session_jar
from scraper.fetch.decode import ACCEPT_ENCODING, CappedBody
from scraper.fetch.errors import EXPECTED, translate
from scraper.fetch.guard import AddressPolicy, GuardedResolver
from scraper.fetch.proxies import Proxy, parse_proxy
from scraper.fetch.proxywire import (
    PROXY_ERRORS,
    failure_of,
    hidden,
    proxy_answer,
    socks_connector,
)
from scraper.fetch.transport import FetchRequest, HopResponse
from scraper.models import HTML_TYPES

_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Bodies kept in the response: pages to parse, robots.txt, sitemaps. Others are only counted.
_KEEP_TYPES = HTML_TYPES | {"text/plain", "text/xml", "application/xml"}
_KEEP_TYPES |= {"application/gzip", "application/x-gzip", "application/pdf"}


# 403, 429 and 503 bodies are read up to this, to tell a challenge or a block page (blocks.py).
BLOCK_BODY_BYTES = 64 * 1024
_SMALL_BODY = frozenset({403, 429, 503})


def reads_body(status: int) -> bool:
    """Whether a response's body is read: not for a redirect, a 304 (no content, RFC 9110
    15.4.5), or a 5xx but 503 (retried: only its status and head count); those of 403, 429
    and 503 up to :data:`BLOCK_BODY_BYTES`, kept or not."""
    if status in _SMALL_BODY:
        return True
    return status not in REDIRECTS and status != 304 and status < 500


class AiohttpTransport:
    """Sends hops through one shared aiohttp session; use as ``async with``."""

    def __init__(self, settings: Settings, policy: AddressPolicy) -> None:
        self._settings = settings
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._file_cookies = file_cookies(settings)  # read now: a bad file fails at once
        self._proxies: dict[str, Proxy] = {}
        self._socks: dict[str, aiohttp.ClientSession] = {}  # one session per SOCKS proxy

    async def __aenter__(self) -> Self:
        s = self._settings
        self._resolver = GuardedResolver(self._policy)
        self._session = self._new_session(_connector(s, self._resolver))
        return self

    def _new_session(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        s = self._settings
        return aiohttp.ClientSession(
            connector=connector,
            # Per request, each redirect hop on its own, body included (aiohttp's total).
            timeout=aiohttp.ClientTimeout(total=s.timeout_s, sock_connect=s.connect_timeout_s),
            headers={
                "User-Agent": s.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            auto_decompress=False,  # decoded here (fetch.decode): the raw bytes stay at hand
            cookie_jar=session_jar(s, self._file_cookies),
            trust_env=False,
            request_class=_StampedRequest,
        )

    def _route(self, request: FetchRequest) -> tuple[aiohttp.ClientSession, Proxy | None]:
        """The session to send ``request`` on, and its proxy (None: direct)."""
        if self._session is None:
            raise RuntimeError("fetcher is not open")
        if request.proxy is None:
            return self._session, None
        proxy = self._proxies.get(request.proxy)
        if proxy is None:
            proxy = self._proxies[request.proxy] = parse_proxy(request.proxy)
        if not proxy.socks:
            return self._session, proxy
        session = self._socks.get(proxy.url)
        if session is None:
            s = self._settings
            connector = socks_connector(proxy, limit=s.concurrency, force_close=s.keepalive_s == 0)
            session = self._socks[proxy.url] = self._new_session(connector)
        return session, proxy

    @property
    def cookie_jar(self) -> SiteCookieJar | None:
        """The session's jar, None when no host has cookies on (or before opening)."""
        jar = self._session.cookie_jar if self._session is not None else None
        return jar if isinstance(jar, SiteCookieJar) else None

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for session in (*self._socks.values(), self._session):
            if session is not None:
                await session.close()
        if self._resolver is not None:
            await self._resolver.close()

    def cookie_header(self, url: str) -> str:
        """The ``Cookie`` header the session's jar holds for ``url`` (``""``: none)."""
        if self._session is None:
            return ""
        found = self._session.cookie_jar.filter_cookies(URL(url, encoded=True))
        return "; ".join(f"{name}={morsel.value}" for name, morsel in found.items())

    async def send(
        self,
        request: FetchRequest,
        on_headers: Callable[[int], None],
        on_sent: Callable[[float], None] | None = None,
    ) -> HopResponse:
        """One request, no redirect followed; the body is read (see :func:`reads_body`)."""
        session, proxy = self._route(request)
        wire = _Wire(on_sent, capture=self._settings.archive)
        token = _WIRE.set(wire)
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),  # normalized: percent-encoded, punycode host
                allow_redirects=False,
                headers=dict(request.headers),
                data=request.form if request.form is not None else request.body,
                proxy=None if proxy is None or proxy.socks else proxy.url,
            ) as resp:
                on_headers(resp.status)
                if proxy is not None and on_sent is not None:
                    # The proxy may have passed the request on any time until now: the delay
                    # to the host's next request counts from here too (politeness at the host).
                    on_sent(time.monotonic())
                if proxy is not None and not proxy.socks and request.url.startswith("http:"):
                    failure = proxy_answer(resp.status, resp.headers, proxy)
                    if failure is not None:  # the proxy's own answer, not the site's
                        raise failure
                return await self._receive(resp, wire)
        except FetchError:
            raise
        except (*EXPECTED, *PROXY_ERRORS) as exc:
            if proxy is None:
                raise translate(exc) from exc
            raise failure_of(exc, proxy) or hidden(translate(exc), proxy) from None
        finally:
            _WIRE.reset(token)

    async def _receive(self, resp: aiohttp.ClientResponse, wire: "_Wire") -> HopResponse:
        archive = self._settings.archive
        peer = (wire.peer or _peer(resp)) if archive else ""
        read = CappedBody(None, 0, keep=False, raw=archive)
        if reads_body(resp.status) or (archive and resp.status in REDIRECTS):
            read = await self._read(resp, keep=resp.content_type in _KEEP_TYPES)
        return HopResponse(
            status=resp.status,
            reason=resp.reason or "",
            version=_version(resp),
            raw_headers=tuple(resp.raw_headers),
            sent_headers=tuple(resp.request_info.headers.items()) if archive else (),
            peer=peer,
            content_type=resp.content_type,
            charset=resp.charset,
            body=read.body,
            size=read.size,
            request_line=wire.request_line,
            raw_body=read.raw,
            truncated=read.truncated,
        )

    async def _read(self, resp: aiohttp.ClientResponse, keep: bool) -> CappedBody:
        """Stream the body, refusing it past ``max_body_bytes`` (decoded), or with ``archive``
        cutting it there (``truncated``).

        Decoded incrementally (:mod:`scraper.fetch.decode`, a step at a time), so a
        decompression bomb costs a few chunks of memory, not its size.
        """
        s = self._settings
        coding = resp.headers.get("Content-Encoding")
        if resp.status in _SMALL_BODY:  # an error page: its head is enough, cut there
            body = CappedBody(coding, BLOCK_BODY_BYTES, keep=keep, raw=s.archive, cut=True)
        else:
            length = resp.content_length
            if length is not None and length > s.max_body_bytes and not s.archive:
                raise PermanentFetchError("body_too_large", f"Content-Length {length}")
            body = CappedBody(coding, s.max_body_bytes, keep=keep, raw=s.archive, cut=s.archive)
        undo = _fail_body_on_close(resp)
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                if not body.add(chunk):
                    break
        finally:
            undo()
        return body


def _version(resp: aiohttp.ClientResponse) -> str:
    v = resp.version
    return "" if v is None else f"HTTP/{v.major}.{v.minor}"


def _peer(resp: aiohttp.ClientResponse) -> str:
    """The connection's remote address as ``ip`` (``""`` once released or unknown)."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    peername = transport.get_extra_info("peername") if transport is not None else None
    return str(peername[0]) if peername else ""


def _connector(s: Settings, resolver: AbstractResolver) -> aiohttp.TCPConnector:
    """The session's connection pool: idle connections kept ``keepalive_s`` (0: none kept)."""
    return aiohttp.TCPConnector(
        limit=s.concurrency,
        ttl_dns_cache=300,
        resolver=resolver,
        force_close=s.keepalive_s == 0,
        keepalive_timeout=s.keepalive_s or None,  # None: aiohttp's value with force_close
    )


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


@dataclass(slots=True)
class _Wire:
    """What the current task's request noted as it went out: who wants to know when
    (``on_sent`` of ``send``), and for a ``capture`` the peer address and the request line as
    written."""

    on_sent: Callable[[float], None] | None
    capture: bool = False
    peer: str = ""
    request_line: str = ""


_WIRE: ContextVar[_Wire | None] = ContextVar("wire", default=None)


class _StampedRequest(aiohttp.ClientRequest):
    """Tells the send that made it (:data:`_WIRE`) when it was sent: the time is taken
    once ``send`` has written the request to the socket, so a stall before the write (a GC
    pause, the thread descheduled) can only make it later, and the next request to the host
    is never less than its delay after this one reached the server."""

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        response = await super().send(conn)
        wire = _WIRE.get()
        if wire is not None:
            if wire.on_sent is not None:
                wire.on_sent(time.monotonic())
            if not wire.capture:
                return response
            transport = conn.transport  # here still: released early for a small response
            peername = transport.get_extra_info("peername") if transport is not None else None
            wire.peer = str(peername[0]) if peername else ""
            path = str(self.url) if self.proxy and not self.is_ssl() else self.url.raw_path_qs
            v = self.version
            wire.request_line = f"{self.method} {path} HTTP/{v.major}.{v.minor}"
        return response
