"""The seam between the fetch policy and the wire: a :class:`Transport` sends one request.

:class:`scraper.fetch.Fetcher` keeps the policy (retries, redirects, hooks, conditional headers,
the address guard's literal check) and hands each hop to a transport as a :class:`FetchRequest`
(normalized URL, every header); the transport answers a :class:`HopResponse` as the server
sent it (status, version, reason, raw headers, peer address, the request headers actually
sent, the body) or raises a :class:`scraper.errors.FetchError`. It follows no redirect and
retries nothing. :class:`scraper.fetch.http.AiohttpTransport` is today's; a browser can be a
second one.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What to fetch: ``Fetcher.fetch`` takes one (or a bare URL, a GET).

    ``form`` is sent urlencoded, ``body`` as is (at most one of them); ``headers`` go on top of
    the site's. ``proxy`` is the proxy URL to use (None: direct, or the crawl's choice).
    Redirect hops after the first request are GETs without a body.
    """

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = None
    body: bytes | None = None
    proxy: str | None = None
    render: bool = False  # load it in the headless browser (the Fetcher's browser transport)


@dataclass(frozen=True, slots=True)
class HopResponse:
    """One response as received. ``raw_headers`` keeps the bytes, case, order and duplicates;
    ``headers`` is the same list decoded (latin-1). ``body`` is empty unless it was read (see
    the transport); ``size`` counts the decoded bytes read, kept or not; ``raw_body`` is the
    body as received (content-coded, chunked framing removed) when the transport keeps it.
    ``peer`` is the address the connection went to (the proxy's, behind a proxy), ``""`` if
    unknown."""

    status: int
    reason: str
    version: str  # "HTTP/1.1"
    raw_headers: tuple[tuple[bytes, bytes], ...]
    sent_headers: tuple[Header, ...]
    peer: str
    content_type: str
    charset: str | None
    body: bytes = b""
    size: int = 0
    request_line: str = ""  # "GET /a?b HTTP/1.1" as written ("" if unknown)
    raw_body: bytes | None = None  # the body as received, content-coded (kept with archive)
    truncated: bool = False  # the body was cut at max_body_bytes (archive)

    @property
    def headers(self) -> tuple[Header, ...]:
        return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw_headers)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), None if absent."""
        return self.header_values((name,))[0]

    def header_values(self, names: tuple[str, ...]) -> tuple[str | None, ...]:
        """The first value of each header of ``names`` (case-insensitive), in one pass."""
        wanted = [name.lower().encode("latin-1") for name in names]
        found: dict[bytes, str] = {}
        for key, value in self.raw_headers:
            key = key.lower()
            if key in wanted and key not in found:
                found[key] = value.decode("latin-1")
        return tuple(found.get(name) for name in wanted)


class Transport(Protocol):
    """Sends one hop. Open with ``async with``; ``send`` calls ``on_headers(status)`` when the
    response head has come and ``on_sent(at)`` (``time.monotonic()``) once the request is
    written. Raises FetchError (translated) on any failure; never follows a redirect."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def send(
        self,
        request: FetchRequest,
        on_headers: Callable[[int], None],
        on_sent: Callable[[float], None] | None = None,
    ) -> HopResponse: ...


class BrowserTransport(Transport, Protocol):
    """A transport that loads pages in a browser: ``send`` also awaits ``before()`` right
    before the page's own request goes out (after the browser's set-up, which takes time), so
    the host's politeness holds from the moment the browser sends it. ``allowed(url)``, when
    set, may refuse the page's sub-requests (robots.txt of other hosts)."""

    allowed: Callable[[str], Awaitable[bool]] | None

    def line(self) -> str:
        """The browser as ``scraper status`` shows it (``""`` while none has started)."""
        ...

    async def send(
        self,
        request: FetchRequest,
        on_headers: Callable[[int], None],
        on_sent: Callable[[float], None] | None = None,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> HopResponse: ...
