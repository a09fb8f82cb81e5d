"""Which pages a crawl renders in the headless browser, and the pace of the browser's requests.

``never`` fetches over HTTP only; ``always`` renders every page (a response that is not HTML is
fetched again over HTTP); ``auto`` fetches over HTTP and renders a page when
:func:`scraper.parse.needs_render` says its scripts build it, then remembers its host: the
host's next pages are rendered at once (no HTTP fetch first). The memory is bounded
(:data:`HOSTS_KEPT`, the hosts seen last). Each host's mode is its own (``render`` per site).

A page's own request in the browser keeps the host's delay (:meth:`Rendering.before_render`,
awaited right before the browser sends it, after its set-up and its wait for a tab): no request
to the host, over HTTP or in the browser, went out less than the host's delay before.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from scraper.config import Settings
from scraper.crawl.links import LinkFilter
from scraper.crawl.robots import RobotsGate
from scraper.crawl.scheduler import Scheduler
from scraper.crawl.slots import HostSlots
from scraper.fetch import BrowserTransport, FetchHooks
from scraper.models import FetchResult, RenderMode
from scraper.parse import needs_render
from scraper.render import RenderTransport
from scraper.urls import url_host

HOSTS_KEPT = 4096
T = TypeVar("T")
_NEVER = RenderMode.NEVER


def renders(settings: Settings) -> bool:
    """Whether a crawl with ``settings`` may render any page (globally or for some site)."""
    sites = (value for rule in settings.sites for name, value in rule.values if name == "render")
    return settings.render != _NEVER or any(value != _NEVER for value in sites)


class Rendering:
    """The crawl's rendering decisions; ``run(fn, *args)`` runs the trigger in the parse pool."""

    def __init__(
        self,
        settings: Settings,
        slots: HostSlots,
        run: Callable[[Callable[[bytes], bool], bytes], Awaitable[bool]],
        browser: BrowserTransport | None,
    ) -> None:
        self._settings = settings
        self._slots = slots
        self._run = run
        self._browser = browser
        self.enabled = browser is not None
        self._js_hosts: OrderedDict[str, None] = OrderedDict()
        self._sent: OrderedDict[str, float] = OrderedDict()

    def line(self) -> str:
        """The renderer's line for ``status`` and the summary (``""``: it never started)."""
        return "" if self._browser is None else self._browser.line()

    def mode(self, host: str) -> RenderMode:
        if not self.enabled:
            return _NEVER
        return RenderMode(self._settings.for_host(host).render)

    def at_once(self, host: str) -> bool:
        """Render the host's page without fetching it over HTTP first?"""
        mode = self.mode(host)
        return mode == RenderMode.ALWAYS or (mode == RenderMode.AUTO and host in self._js_hosts)

    async def after_http(self, host: str, result: FetchResult) -> bool:
        """Render this page fetched over HTTP? (``auto``: its scripts build it; the host is
        remembered then.)"""
        if not (200 <= result.status < 300 and result.is_html and result.body):
            return False
        if self.mode(host) != RenderMode.AUTO or not await self._run(needs_render, result.body):
            return False
        _remember(self._js_hosts, host, None)
        return True

    def sent(self, url: str, at: float) -> None:
        """A request to ``url``'s host went out at ``at`` (hosts that may render only)."""
        if not self.enabled:
            return
        host = url_host(url)
        if self.mode(host) != _NEVER:
            _remember(self._sent, host, max(at, self._sent.get(host, at)))

    async def before_render(self, url: str) -> None:
        """Wait until the host's delay has passed since its last request, then book now."""
        host = url_host(url)
        while True:
            last = self._sent.get(host)
            wait = 0.0 if last is None else last + self._slots.delay_of(host) - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        now = time.monotonic()
        _remember(self._sent, host, now)  # a tab ready at the same moment waits for this one
        self._slots.sent(host, now)


def _remember(kept: OrderedDict[str, T], host: str, value: T) -> None:
    kept[host] = value
    kept.move_to_end(host)
    if len(kept) > HOSTS_KEPT:
        kept.popitem(last=False)


async def browser_allows(
    settings: Settings, links: LinkFilter, gate: RobotsGate, frontier: Scheduler, url: str
) -> bool:
    """May the browser make this sub-request? Hosts in the crawl's scope, yes (their pages
    pass the gate themselves); another host only where its robots.txt allows ``url`` (fetched
    once per host, keeping that host's delay; unreachable for now refuses)."""
    if links.host_if_allowed(url) is not None:
        return True
    host = url_host(url)

    async def before_attempt(attempt: int) -> None:
        await asyncio.sleep(frontier.reserve(host))

    async def follow(target: str) -> bool:
        return True

    hooks = FetchHooks(before_attempt, follow, lambda reason, status, seconds, retry: None)
    return (await gate.check(url, host, hooks)).allowed


def browser_for(settings: Settings) -> "partial[RenderTransport] | None":
    """The Fetcher's browser transport of a crawl that may render (started on its first page)."""
    return partial(RenderTransport, settings) if renders(settings) else None
