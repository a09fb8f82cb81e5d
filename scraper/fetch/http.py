"""The aiohttp transport: one ClientSession, one hop per ``send``, bodies capped while read.

The connector resolves through :class:`scraper.fetch.guard.GuardedResolver` (the address guard)
and stamps the moment each request reaches the socket (:class:`_StampedRequest`). aiohttp's
errors are translated by :mod:`scraper.fetch.errors`; none leaves this module.
"""

import asyncio
import time
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.connector import Connection
from yarl import URL

from scraper.config import Settings
from scraper.errors import FetchError, PermanentFetchError
from scraper.fetch.cookies import file_cookies, session_jar
from scraper.fetch.errors import EXPECTED, translate
from scraper.fetch.guard import AddressPolicy, GuardedResolver
from scraper.fetch.transport import FetchRequest, HopResponse
from scraper.models import HTML_TYPES

_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Bodies kept in the response: pages to parse, robots.txt, sitemaps. Others are only counted.
_KEEP_TYPES = HTML_TYPES | {"text/plain", "text/xml", "application/xml"}
_KEEP_TYPES |= {"application/gzip", "application/x-gzip"}


def reads_body(status: int) -> bool:
    """Whether a response's body is read: not for a redirect, a 304 (no content, RFC 9110
    15.4.5), a 429 or a 5xx (retried: only its status and head count)."""
    return status not in REDIRECTS and status != 304 and status != 429 and status < 500


class AiohttpTransport:
    """Sends hops through one shared aiohttp session; use as ``async with``."""

    def __init__(self, settings: Settings, policy: AddressPolicy) -> None:
        self._settings = settings
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None
        self._file_cookies = file_cookies(settings)  # read now: a bad file fails at once

    async def __aenter__(self) -> Self:
        s = self._settings
        self._resolver = GuardedResolver(self._policy)
        self._session = aiohttp.ClientSession(
            connector=_connector(s, self._resolver),
            # Per request, each redirect hop on its own, body included (aiohttp's total).
            timeout=aiohttp.ClientTimeout(total=s.timeout_s, sock_connect=s.connect_timeout_s),
            headers={"User-Agent": s.user_agent, "Accept": _ACCEPT},
            cookie_jar=session_jar(s, self._file_cookies),
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
        if self._session is None:
            raise RuntimeError("fetcher is not open")
        token = _ON_SENT.set(on_sent)
        try:
            async with self._session.request(
                request.method,
                URL(request.url, encoded=True),  # normalized: percent-encoded, punycode host
                allow_redirects=False,
                headers=dict(request.headers),
                data=request.form if request.form is not None else request.body,
                proxy=request.proxy,
            ) as resp:
                on_headers(resp.status)
                return await self._receive(resp)
        except FetchError:
            raise
        except EXPECTED as exc:
            raise translate(exc) from exc
        finally:
            _ON_SENT.reset(token)

    async def _receive(self, resp: aiohttp.ClientResponse) -> HopResponse:
        peer = _peer(resp)
        body, size = b"", 0
        if reads_body(resp.status):
            body, size = await self._read(resp, keep=resp.content_type in _KEEP_TYPES)
        return HopResponse(
            status=resp.status,
            reason=resp.reason or "",
            version=_version(resp),
            raw_headers=tuple(resp.raw_headers),
            sent_headers=tuple(resp.request_info.headers.items()),
            peer=peer,
            content_type=resp.content_type,
            charset=resp.charset,
            body=body,
            size=size,
        )

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


# Who wants to know when the current task's request went out (``on_sent`` of ``send``).
_ON_SENT: ContextVar[Callable[[float], None] | None] = ContextVar("on_sent", default=None)


class _StampedRequest(aiohttp.ClientRequest):
    """Tells the send that made it (:data:`_ON_SENT`) when it was sent: the time is taken
    once ``send`` has written the request to the socket, so a stall before the write (a GC
    pause, the thread descheduled) can only make it later, and the next request to the host
    is never less than its delay after this one reached the server."""

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        response = await super().send(conn)
        on_sent = _ON_SENT.get()
        if on_sent is not None:
            on_sent(time.monotonic())
        return response
