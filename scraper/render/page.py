"""One page being rendered: its session, what its events said, when it is ready."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from scraper.render.proxy import BrowserProxy

# A page is ready this long after its load event with no request of its own in flight (or at
# Chrome's networkIdle, 500 ms without any, if that comes first).
QUIET_S = 0.15
NET_START = "Network.requestWillBeSent"
NET_END = frozenset({"Network.loadingFinished", "Network.loadingFailed"})


@dataclass(slots=True)
class Page:
    session: str
    loader: str | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    idle_loaders: set[str] = field(default_factory=set)
    status: int | None = None
    final_url: str = ""
    content_type: str = "text/html"
    headers: tuple[tuple[str, str], ...] = ()  # of its own response
    requests: int = 0
    refused: int = 0
    verdicts: set[asyncio.Task[None]] = field(default_factory=set)
    on_sent: Callable[[float], None] | None = None  # told when the page's own request goes out
    before_send: Callable[[], Awaitable[None]] | None = None  # awaited right before it does
    net: set[str] = field(default_factory=set)  # its requests in flight
    loaded: set[str] = field(default_factory=set)  # loaders whose load event came
    quiet: asyncio.TimerHandle | None = None
    held: set[str] = field(default_factory=set)  # its sub-requests' places (HostGate)
    closed: bool = False
    proxy: BrowserProxy | None = None  # its context's proxy, whose 407 it answers
    answered: set[str] = field(default_factory=set)  # requests whose 407 got credentials

    def track(self, method: str, params: dict[str, Any]) -> None:
        """Network activity and the load event: ready once quiet for QUIET_S after the load."""
        if method == NET_START:
            self.net.add(params.get("requestId", ""))
        elif method in NET_END:
            self.net.discard(params.get("requestId", ""))
        elif method == "Page.lifecycleEvent" and params.get("name") == "load":
            self.loaded.add(params.get("loaderId", ""))
        else:
            return
        self.rearm()

    def rearm(self) -> None:
        if self.quiet is not None:
            self.quiet.cancel()
            self.quiet = None
        if self.loader in self.loaded and not self.net and not self.idle.is_set():
            self.quiet = asyncio.get_running_loop().call_later(QUIET_S, self.idle.set)
