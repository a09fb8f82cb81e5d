"""Per-host slots: how many requests may be in flight to a host, and when the next may start.

In the spirit of Scrapy's downloader slots: each host has a capacity (``per_host``) and a spacing
between request *starts* (``delay_s``). The frontier takes a slot when it hands a URL to a worker
and the worker gives it back when the fetch is over, retries included; every attempt, the first
and each retry, reserves its start time with :meth:`HostSlots.reserve`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Slot:
    in_flight: int = 0
    next_start: float = 0.0


class HostSlots:
    """Capacity and spacing per host; plain bookkeeping, no I/O, no waiting."""

    def __init__(
        self, per_host: int, delay_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_host = per_host
        self.delay_s = delay_s
        self._clock = clock
        self._slots: dict[str, _Slot] = {}

    def wait_s(self, host: str) -> float | None:
        """Seconds until a new request to ``host`` may start; None if the host is at capacity."""
        slot = self._slots.get(host)
        if slot is None:
            return 0.0
        if slot.in_flight >= self.per_host:
            return None
        return max(0.0, slot.next_start - self._clock())

    def acquire(self, host: str) -> None:
        """Take one unit of the host's capacity (the frontier does, at hand-out)."""
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = _Slot()
        slot.in_flight += 1

    def reserve(self, host: str) -> float:
        """Book the host's next start time; return how many seconds to wait before starting."""
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = _Slot()
        now = self._clock()
        start = max(now, slot.next_start)
        slot.next_start = start + self.delay_s
        return start - now

    def release(self, host: str) -> None:
        """Give back the capacity taken by :meth:`acquire`; forget idle hosts whose gap is over."""
        slot = self._slots[host]
        slot.in_flight -= 1
        if slot.in_flight == 0 and slot.next_start <= self._clock():
            del self._slots[host]

    def in_flight(self, host: str) -> int:
        slot = self._slots.get(host)
        return 0 if slot is None else slot.in_flight

    def hosts(self) -> int:
        """How many hosts have state (in flight, or inside their delay)."""
        return len(self._slots)
