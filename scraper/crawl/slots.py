"""Per-host slots: how many requests may be in flight to a host, and when the next may start.

In the spirit of Scrapy's downloader slots: each host has a capacity (``per_host``) and a delay
between request *starts*. The frontier takes a slot when it hands a URL to a worker and the
worker gives it back when the fetch is over, retries included; every request reserves its start
time with :meth:`HostSlots.reserve`.

A host's delay is adaptive (like Scrapy's AutoThrottle): it moves toward ``latency / per_host``,
never below the configured ``delay_s`` or the host's robots.txt ``Crawl-delay``, doubles on 429
and 503 and only shrinks again on good responses; it never exceeds ``max_delay_s`` (a
Crawl-delay is capped there too). ``Retry-After`` defers the host's next start outright.

Each host's capacity, delay, cap and autothrottle are its own: ``Settings.for_host`` (its
``[site."PATTERN"]`` tables over the globals), asked when the host gets a slot.

Memory stays bounded by the hosts of the last minutes, not all hosts ever crawled: a slot with
nothing in flight is dropped at release if it holds nothing to remember, and otherwise (a gap
still to keep, a tuned delay) once it has been idle for ``forget_s`` (60 s, like Scrapy's
downloader slot GC), when the host starts again from the configured delay. A slot holding a
robots.txt Crawl-delay is kept: the gate reads robots.txt once per host.
"""

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

from scraper.config import Settings
from scraper.sites import HostSettings
from scraper.storage import HostTiming

_OVERLOADED = frozenset({429, 503})
FORGET_S = 60.0


@dataclass(slots=True)
class _Slot:
    site: HostSettings  # the host's configured per_host, delay, cap and autothrottle
    delay_s: float
    floor_s: float
    in_flight: int = 0
    next_start: float = 0.0

    @property
    def tuned(self) -> bool:
        """Holding something to remember: a Crawl-delay, or a delay autothrottle moved."""
        return self.floor_s != self.site.delay_s or self.delay_s != self.site.delay_s


@dataclass(frozen=True, slots=True)
class HostState:
    """One host's scheduling state, for status displays."""

    host: str
    in_flight: int
    delay_s: float
    next_start_in_s: float


class HostSlots:
    """Capacity, spacing and adaptive delay per host; bookkeeping only, no I/O, no waiting."""

    def __init__(
        self,
        per_host: int,
        delay_s: float,
        *,
        max_delay_s: float = 60.0,
        autothrottle: bool = False,
        forget_s: float = FORGET_S,
        clock: Callable[[], float] = time.monotonic,
        for_host: Callable[[str], HostSettings] | None = None,
    ) -> None:
        """``per_host``, ``delay_s``, ``max_delay_s`` and ``autothrottle`` apply to every host,
        unless ``for_host`` (``Settings.for_host``) says what one host gets."""
        self.per_host = per_host
        self.delay_s = delay_s
        default = HostSettings(delay_s, per_host, max(max_delay_s, delay_s), autothrottle)
        self._for_host = for_host or (lambda host: default)
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._forget_s = forget_s
        self._next_collect = clock() + forget_s

    def _slot(self, host: str) -> _Slot:
        slot = self._slots.get(host)
        if slot is None:
            site = self._for_host(host)
            slot = self._slots[host] = _Slot(site, site.delay_s, site.delay_s)
        return slot

    def wait_s(self, host: str) -> float | None:
        """Seconds until a new request to ``host`` may start; None if the host is at capacity."""
        slot = self._slots.get(host)
        if slot is None:
            return 0.0
        if slot.in_flight >= slot.site.per_host:
            return None
        return max(0.0, slot.next_start - self._clock())

    def acquire(self, host: str) -> None:
        """Take one unit of the host's capacity (the frontier does, at hand-out)."""
        self._slot(host).in_flight += 1
        if self._clock() >= self._next_collect:
            self._collect()

    def _collect(self) -> None:
        """Drop the slots idle for ``forget_s`` (Crawl-delay ones excepted); at most every
        ``forget_s / 2``, so the scan costs little per hand-out."""
        now = self._clock()
        self._next_collect = now + self._forget_s / 2
        idle = [
            host
            for host, slot in self._slots.items()
            if slot.in_flight == 0
            and slot.floor_s == slot.site.delay_s
            and now - slot.next_start >= self._forget_s
        ]
        for host in idle:
            del self._slots[host]

    def release(self, host: str) -> None:
        """Give back what :meth:`acquire` took; forget a host that is idle and at rest."""
        slot = self._slots[host]
        slot.in_flight -= 1
        if slot.in_flight == 0 and slot.next_start <= self._clock() and not slot.tuned:
            del self._slots[host]

    def reserve(self, host: str) -> float:
        """Book the host's next start time; return how many seconds to wait before starting."""
        slot = self._slot(host)
        now = self._clock()
        start = max(now, slot.next_start)
        slot.next_start = start + slot.delay_s
        return start - now

    def sent(self, host: str, at: float) -> None:
        """A request to ``host`` went out at ``at`` (its headers were written): the next may
        not start before ``at`` + the host's delay, whatever was booked. Counting the delay from
        here, not from the hand-out, keeps the spacing the server sees whatever the event loop's
        lag between handing a URL out and sending its request."""
        slot = self._slots.get(host)
        if slot is not None:
            slot.next_start = max(slot.next_start, at + slot.delay_s)

    def defer(self, host: str, seconds: float) -> None:
        """No request to ``host`` starts in the next ``seconds`` (Retry-After, robots retry)."""
        slot = self._slot(host)
        slot.next_start = max(slot.next_start, self._clock() + seconds)

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        """Raise the host's minimum delay to its robots.txt Crawl-delay (capped)."""
        slot = self._slot(host)
        cap = max(slot.site.max_delay_s, slot.site.delay_s)
        slot.floor_s = max(slot.site.delay_s, min(seconds, cap))
        slot.delay_s = max(slot.delay_s, slot.floor_s)

    def observe(self, host: str, status: int, latency_s: float) -> None:
        """Adapt the host's delay to one response (status 0: no response)."""
        slot = self._slot(host)
        site = slot.site
        if not site.autothrottle:
            return
        if status in _OVERLOADED:
            new = max(slot.delay_s * 2, 1.0)
        else:
            target = latency_s / site.per_host
            new = max(target, (slot.delay_s + target) / 2)
            if (status == 0 or status >= 400) and new < slot.delay_s:
                return  # errors never speed a host up
        slot.delay_s = min(max(new, slot.floor_s), max(site.max_delay_s, slot.floor_s))

    def timings(self) -> dict[str, HostTiming]:
        """(seconds until the next start, spacing) of every host with a slot: what a shared
        store records with a host's lease, so its next owner keeps the spacing."""
        now = self._clock()
        return {h: (max(0.0, s.next_start - now), s.delay_s) for h, s in self._slots.items()}

    def busy(self) -> set[str]:
        """Hosts with requests in flight."""
        return {host for host, slot in self._slots.items() if slot.in_flight}

    def active(self) -> int:
        """Hosts with a slot: those crawled in the last ``forget_s`` or so."""
        return len(self._slots)

    def delay_of(self, host: str) -> float:
        slot = self._slots.get(host)
        return self._for_host(host).delay_s if slot is None else slot.delay_s

    def in_flight(self, host: str) -> int:
        slot = self._slots.get(host)
        return 0 if slot is None else slot.in_flight

    def busiest(self, queued: Callable[[str], int], top: int) -> list[HostState]:
        """The ``top`` hosts with the most URLs ``queued`` (a host's count) plus in flight, most
        first (ties: host name, last first); states of those only, not of every host."""
        now = self._clock()
        best = heapq.nlargest(
            top, self._slots.items(), key=lambda kv: (queued(kv[0]) + kv[1].in_flight, kv[0])
        )
        return [HostState(h, s.in_flight, s.delay_s, max(0.0, s.next_start - now)) for h, s in best]

    def snapshot(self) -> list[HostState]:
        now = self._clock()
        return [
            HostState(host, s.in_flight, s.delay_s, max(0.0, s.next_start - now))
            for host, s in self._slots.items()
        ]


def host_quota(s: Settings) -> int:
    """URLs of one host kept claimed in memory. Without a delay, plenty (a big site keeps every
    worker busy); with one, a host can start only ``per_host`` requests per delay, so a few:
    the buffer then holds URLs of as many hosts as possible and none waits behind another's."""
    return max(64, s.per_host * 16) if s.delay_s == 0 else max(1, s.per_host)
