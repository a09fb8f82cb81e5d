"""The browser as the Fetcher's second transport: one hop is one page loaded in the Renderer.

:class:`RenderTransport` keeps the :class:`scraper.fetch.Transport` contract, so the Fetcher's
retries, redirects, hooks and ``FetchResult`` hold for rendered pages: the answer is the page's
DOM after its scripts ran (UTF-8), with the status and MIME type of the page's own response. The
browser follows redirects by itself; one that ended elsewhere answers a ``302`` to where it
ended, and the Fetcher's next hop (checked by its hooks like any redirect) gets the page the
browser already loaded, without loading it again. The browser starts on the first page (none
for a crawl that never renders) and is closed with the transport. Failures leave as
FetchErrors: ``render_failed`` (the browser could not load it: connection refused...),
``render_blocked`` (its own request refused inside the browser: not retried),
``render_crashed`` (it crashed twice), ``timeout``. A proxy's failure (Chrome's
``ERR_PROXY_*``, ``ERR_TUNNEL_*``, ``ERR_SOCKS_*``; the proxy's own 407, 401 or 502 answer)
leaves as the ProxyFailure the Fetcher charges to the proxy and fails over from, as over HTTP.
"""

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from scraper.config import Settings
from scraper.errors import PermanentFetchError, ScraperError, TransientFetchError
from scraper.fetch import FetchRequest, HopResponse
from scraper.fetch.guard import AddressPolicy
from scraper.fetch.proxies import ProxyFailure, ProxyReason, parse_proxy
from scraper.fetch.proxywire import proxy_answer
from scraper.render.browser import BrowserCrashed, find_browser
from scraper.render.proxy import is_proxy_error
from scraper.render.renderer import Renderer
from scraper.render.requests import RequestFilter
from scraper.render.results import RenderResult, RenderStats, Site
from scraper.urls import try_normalize, url_host

_LANDED = 64  # redirect targets the browser loaded, kept for the Fetcher's next hop
_SLACK_S = 10.0  # beyond the page's own timeout: set-up, reading the DOM
_SOCKS_LOGIN = "the browser cannot log in to a socks5:// proxy: give rendered hosts an http:// one"


class RenderTransport:
    """``async with``; ``send`` renders a page. ``allowed(url)`` (set by the crawl, robots.txt
    of out-of-scope hosts) may refuse a page's sub-requests inside the browser."""

    def __init__(self, settings: Settings, policy: AddressPolicy) -> None:
        self._settings = settings
        self._binary = find_browser()
        if self._binary is None:
            raise ScraperError(
                "--render needs a headless Chromium: apt-get install --no-install-recommends "
                "chromium-headless-shell (or name one in SCRAPER_BROWSER)"
            )
        self._filter = RequestFilter(policy, self._allowed)
        self.allowed: Callable[[str], Awaitable[bool]] | None = None
        self._renderer: Renderer | None = None
        self._starting = asyncio.Lock()
        self._landed: dict[str, RenderResult] = {}

    @property
    def stats(self) -> RenderStats | None:
        """The renderer's figures; None while no page has needed it."""
        return None if self._renderer is None else self._renderer.stats

    def line(self) -> str:
        return "" if self._renderer is None else self._renderer.stats.line()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._renderer is not None:
            await self._renderer.__aexit__(et, e, tb)

    async def _allowed(self, url: str) -> bool:
        return self.allowed is None or await self.allowed(url)

    async def _started(self) -> Renderer:
        async with self._starting:
            if self._renderer is None:
                s = self._settings
                renderer = Renderer(
                    self._filter,
                    tabs=s.render_tabs,
                    recycle_after=s.render_recycle_pages,
                    memory_cap=s.render_memory_mb * 1024 * 1024,
                    timeout=s.render_timeout_s,
                    binary=self._binary,
                    per_host=lambda host: s.for_host(host).per_host,
                )
                await renderer.__aenter__()
                self._renderer = renderer
            return self._renderer

    async def send(
        self,
        request: FetchRequest,
        on_headers: Callable[[int], None],
        on_sent: Callable[[float], None] | None = None,
        before: Callable[[], Awaitable[None]] | None = None,
    ) -> HopResponse:
        """Render ``request.url`` (a GET: a form or body is not sent) and answer its DOM."""
        url = request.url
        result = self._landed.pop(url, None)
        if result is None:
            result = await self._render(url, request, on_sent, before)
        final = try_normalize(result.final_url) or url
        if final != url:
            if len(self._landed) >= _LANDED:
                self._landed.clear()
            self._landed[final] = result
            on_headers(302)
            return _answer(302, "text/html", ((b"Location", final.encode()),), request)
        status = result.status or 200
        if request.proxy and url.startswith("http:"):  # the proxy's own 407, 401, 502...
            failure = proxy_answer(status, dict(result.headers), parse_proxy(request.proxy))
            if failure is not None:
                raise failure
        on_headers(status)
        body = result.html.encode("utf-8", "replace")
        return _answer(status, result.content_type, (), request, body)

    async def _render(
        self,
        url: str,
        request: FetchRequest,
        on_sent: Callable[[float], None] | None,
        before: Callable[[], Awaitable[None]] | None,
    ) -> RenderResult:
        if request.proxy and request.proxy.startswith("socks5://") and "@" in request.proxy:
            raise PermanentFetchError("render_failed", _SOCKS_LOGIN)
        renderer = await self._started()
        wait_for = self._settings.for_host(url_host(url)).wait_for or None
        try:
            async with asyncio.timeout(self._settings.render_timeout_s + _SLACK_S):
                return await renderer.render(
                    url, wait_for=wait_for, before=before, site=_site(request, on_sent)
                )
        except TimeoutError:
            raise TransientFetchError("timeout", f"rendering {url}") from None
        except BrowserCrashed as exc:
            raise TransientFetchError("render_crashed", str(exc)) from None
        except ConnectionError as exc:
            if request.proxy and is_proxy_error(str(exc)):  # charged to the proxy: failover
                proxy = parse_proxy(request.proxy)
                raise ProxyFailure(ProxyReason.ERROR, proxy, str(exc)) from None
            if "ERR_BLOCKED_BY_CLIENT" in str(exc):  # refused inside the browser: not retried
                raise PermanentFetchError("render_blocked", str(exc)) from None
            raise TransientFetchError("render_failed", str(exc)) from None
        except RuntimeError as exc:
            raise TransientFetchError("render_failed", str(exc)) from None


def _site(request: FetchRequest, on_sent: Callable[[float], None] | None) -> Site:
    """The request's headers as the browser takes them: the User-Agent as an override, the
    ``Cookie`` header as cookies of the page's URL, the rest as extra headers; the request's
    proxy (the pool's choice for its host) as the page's."""
    agent, cookies, headers = "", [], []
    for name, value in request.headers.items():
        lower = name.lower()
        if lower == "user-agent":
            agent = value
        elif lower == "cookie":
            for pair in value.split(";"):
                key, _, val = pair.strip().partition("=")
                if key:
                    cookies.append((key, val))
        else:
            headers.append((name, value))
    return Site(agent, tuple(headers), tuple(cookies), on_sent, request.proxy or "")


def _answer(
    status: int,
    content_type: str,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    request: FetchRequest,
    body: bytes = b"",
) -> HopResponse:
    return HopResponse(
        status=status,
        reason="",
        version="",
        raw_headers=raw_headers,
        sent_headers=tuple(request.headers.items()),
        peer="",
        content_type=content_type,
        charset="utf-8",
        body=body,
        size=len(body),
    )
