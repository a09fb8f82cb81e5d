"""At most ``per_host`` sub-requests of the browser's pages in flight to one host at once.

A sub-request (a script, a ``fetch()``, a stylesheet: anything but a page's own request, which
the crawl's host slot already counts) waits in Fetch.requestPaused for a place, and gives it
back when the browser reports it finished or failed, or when its page is closed. Counted across
all the browser's pages (and across a recycle: the old browser's pages count until they end).
"""

import asyncio
from collections.abc import Callable

from scraper.urls import url_host

_KEPT = 1024  # idle hosts' entries are dropped past this many


class HostGate:
    """``await enter(url, key)`` before a sub-request goes out; ``leave(key)`` once it ended."""

    def __init__(self, per_host: Callable[[str], int]) -> None:
        self._per_host = per_host
        self._busy: dict[str, int] = {}
        self._held: dict[str, str] = {}  # request key -> host
        self._freed: dict[str, asyncio.Event] = {}

    def in_flight(self, host: str) -> int:
        return self._busy.get(host, 0)

    async def enter(self, url: str, key: str) -> None:
        if key in self._held:  # a redirect of a request holding its place already
            return
        host = url_host(url)
        limit = max(1, self._per_host(host))
        while self._busy.get(host, 0) >= limit:
            freed = self._freed.setdefault(host, asyncio.Event())
            freed.clear()
            await freed.wait()
        self._busy[host] = self._busy.get(host, 0) + 1
        self._held[key] = host

    def leave(self, key: str) -> None:
        """Give back ``key``'s place (nothing if it holds none: idempotent)."""
        host = self._held.pop(key, None)
        if host is None:
            return
        self._busy[host] -= 1
        freed = self._freed.get(host)
        if freed is not None:
            freed.set()
        if self._busy[host] == 0 and len(self._busy) > _KEPT:
            del self._busy[host]
            self._freed.pop(host, None)
