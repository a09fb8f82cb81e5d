"""The scheduler (the ``dispatcher`` task): claims URLs through the store and hands them to idle
fetch workers.

The frontier lives in the database; only a bounded buffer of claimed URLs is in memory, grouped
by host. A URL is handed to a worker only when a worker is idle and the URL's host has a free
slot whose delay has passed, round-robin across hosts, so a slow or rate-limited host never holds
workers that other hosts could use. Breadth-first: claims come shallowest first.

This worker is done when nothing is buffered, nothing is outstanding (handed out but not yet
committed by the sink) and its last claim found nothing more; the crawl is over when the store
says so (nothing pending and nothing claimed by any worker, or ``max_pages`` stored). URLs still
buffered at the end go back to pending.

On a shared store (several workers, ``store.leases``) a worker fetches only hosts it holds a
lease on: claims lease new hosts only for fetch workers that would otherwise idle; the engine's
``host-leases`` task (:meth:`Scheduler.renew_leases`) renews the leases of hosts with URLs
buffered or in flight about once a second and gives back the others, with their spacing; a
host's first request waits out the spacing its previous owner applied, and no request starts
unless the lease has time left (``store.may_start``). URLs of a host whose lease was lost are
dropped: its new owner has them.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scraper.crawl.slots import HostSlots
from scraper.models import FailureRecord, FrontierItem, FrontierState, PageRecord, SinkRecord
from scraper.storage import CrawlStore
from scraper.urls import url_host

log = logging.getLogger(__name__)

_BLOCKED = FrontierState.BLOCKED
RECHECK_FINISHED_S = 0.2  # this worker is done but the crawl is not: look again this often
RENEW_S = 1.0  # a shared store's host leases are renewed this often
LEASE_RETRY_S = 0.25  # a host whose lease has too little time left is looked at again after this
IDLE_CLAIM_S = 0.5  # idle fetch workers ask for new hosts at most this often when none was free


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    buffered: int
    outstanding: int
    dispatched: int
    pages: int
    new_pages: int  # stored by this run
    failed: int
    blocked: int
    discovered: int
    idle_workers: int
    recent_failures: tuple[tuple[str, str], ...] = ()  # (url, reason), newest last


class Scheduler:
    """Dispatcher between the frontier table and the fetch workers."""

    def __init__(
        self,
        store: CrawlStore,
        slots: HostSlots,
        *,
        buffer_size: int,
        host_buffer: int,
        window: int,
        max_pages: int,
        pages_stored: int,
    ) -> None:
        """``window`` caps URLs handed out but not yet committed: what a kill -9 can cost."""
        self._store = store
        self._slots = slots
        self._buffer_size = buffer_size
        self._host_buffer = host_buffer
        self._window = window
        self._max_pages = max_pages
        self._buffer: dict[str, deque[FrontierItem]] = {}
        # Hosts with buffered URLs by the time they may start next: (due, order, host).
        self._ready: list[tuple[float, int, str]] = []
        self._scheduled: set[str] = set()
        self._order = itertools.count()
        self._buffered = 0
        self._outstanding = 0
        self._idle = 0
        self._may_have_more = True
        # Counts the events that may make claimable URLs appear (a commit with new URLs, a full
        # host's queue getting room): a claim that began before one cannot tell "nothing
        # pending" from what it missed.
        self._more_events = 0
        self._claiming = False
        self._idle_claim_at = 0.0  # no claim for idle workers' new hosts before (monotonic)
        self._store_lock = asyncio.Lock()  # a claim and a lease renewal never overlap
        self._workers = 1
        self._stopping = False
        self._wake = asyncio.Event()
        self._claim_wanted = asyncio.Event()
        self._handoff: asyncio.Queue[FrontierItem | None] = asyncio.Queue()
        self._pages = pages_stored
        self._pages_at_start = pages_stored
        self._failed = 0
        self._blocked = 0
        self._recent_failures: deque[tuple[str, str]] = deque(maxlen=3)
        self._dispatched = 0
        self._discovered = 0

    # -- called by other stages -----------------------------------------------------------------

    async def add_seeds(self, seeds: Iterable[str]) -> int:
        """Put seed URLs (normalized already) in the frontier at depth 0; known URLs are left
        alone."""
        added = await self._store.add_urls((url, url_host(url), 0) for url in seeds)
        self._note_new_urls(added)
        return added

    async def next_item(self) -> FrontierItem | None:
        """Wait for the next URL to fetch (None: no more work). Called by each idle worker."""
        self._idle += 1
        self._wake.set()
        try:
            return await self._handoff.get()
        finally:
            self._idle -= 1

    def release(self, host: str) -> None:
        """A worker is done fetching from ``host`` (whatever the outcome)."""
        self._slots.release(host)
        if host in self._buffer:
            self._schedule(host, 0.0)  # it may have been at capacity, out of the ready heap
        self._wake.set()

    def requeue(self, item: FrontierItem) -> None:
        """Take back a handed-out URL that cannot be fetched yet; it goes first in its host's line.

        The caller defers the host (``HostSlots.defer``) so the URL is not handed out again at once.
        """
        self._buffer.setdefault(item.host, deque()).appendleft(item)
        self._buffered += 1
        self._outstanding -= 1
        self._schedule(item.host, 0.0)
        self._wake.set()

    async def add_discovered(self, rows: Iterable[tuple[str, str]], depth: int) -> None:
        """Add (url, host) pairs found outside a page (robots.txt Sitemap: lines) at ``depth``."""
        added = await self._store.add_urls((url, host, depth) for url, host in rows)
        self._note_new_urls(added)
        self._wake.set()

    def reserve(self, host: str) -> float:
        """Book a retry's start on ``host``; seconds to wait before it (see HostSlots.reserve)."""
        return self._slots.reserve(host)

    def committed(self, records: Sequence[SinkRecord]) -> None:
        """The sink wrote ``records``: they stop being outstanding; their links may be claimed."""
        pages = sum(isinstance(r, PageRecord) and not r.revisit for r in records)  # new pages
        self._recent_failures.extend(
            (r.url, r.reason) for r in records if isinstance(r, FailureRecord)
        )
        blocked = sum(isinstance(r, FailureRecord) and r.state is _BLOCKED for r in records)
        self._pages += pages
        self._blocked += blocked
        self._failed += sum(isinstance(r, FailureRecord) for r in records) - blocked
        self._outstanding -= len(records)
        self._note_new_urls(sum(len(r.new_urls) for r in records if isinstance(r, PageRecord)))
        self._wake.set()

    def wants_flush(self) -> bool:
        """Workers are idle and nothing can be handed out until the sink commits: nothing is
        buffered, or every buffered host is at capacity (its URLs wait for its own fetches)."""
        waiting = self._buffered == 0 or not self._ready  # no buffered host may start soon
        return self._idle > 0 and (waiting or self._outstanding >= self._window)

    def budget_spent(self) -> bool:
        """``max_pages`` pages are stored already."""
        return bool(self._max_pages) and self._pages >= self._max_pages

    def stop(self) -> None:
        """Stop handing out URLs; in-flight ones finish and are recorded."""
        self._stopping = True
        self._wake.set()

    def queued(self, host: str) -> int:
        """URLs of ``host`` buffered, waiting for its turn."""
        return len(self._buffer.get(host, ()))

    def stats(self) -> SchedulerStats:
        return SchedulerStats(
            buffered=self._buffered,
            outstanding=self._outstanding,
            dispatched=self._dispatched,
            pages=self._pages,
            new_pages=self._pages - self._pages_at_start,
            failed=self._failed,
            blocked=self._blocked,
            discovered=self._discovered,
            idle_workers=self._idle,
            recent_failures=tuple(self._recent_failures),
        )

    # -- the dispatcher task --------------------------------------------------------------------

    async def run(self, workers: int) -> None:
        """Dispatch until the crawl is over or stopped, then send each worker its sentinel.

        Claims run in their own task, so handing out buffered URLs never waits for the database
        (where a claim may queue behind the sink's batch).
        """
        self._workers = workers
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._claim_loop(), name="frontier-claims")
            try:
                await self._dispatch()
            finally:
                self._stopping = True
                self._claim_wanted.set()
        await self._store.release([item.id for q in self._buffer.values() for item in q])
        self._buffer.clear()
        self._ready.clear()
        self._scheduled.clear()
        self._buffered = 0
        for _ in range(workers):
            self._handoff.put_nowait(None)

    async def _dispatch(self) -> None:
        while not self._stopping:
            self._wake.clear()
            next_wake_s = self._hand_out()
            if self._wants_claim():  # after the hand-out: idle workers it served need no host
                self._claim_wanted.set()
            if self._finished():
                if await self._store.crawl_finished(self._max_pages):
                    return
                self._maybe_more()  # other workers still hold claims: their commits may add
                next_wake_s = RECHECK_FINISHED_S
            try:
                async with asyncio.timeout(next_wake_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _claim_loop(self) -> None:
        while not self._stopping:
            await self._claim_wanted.wait()
            if self._stopping:
                return
            self._claiming = True
            try:
                await self._refill()
            finally:
                self._claiming = False
                self._claim_wanted.clear()
                self._wake.set()

    async def keep_leases(self, done: asyncio.Event) -> None:
        """A shared store's heartbeat: renew the leases each second until the last commit."""
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), RENEW_S)
                continue  # done: the loop ends
            await self.renew_leases()

    async def renew_leases(self) -> None:
        """One renewal: keep the hosts with URLs buffered or in flight, give back the others
        with their spacing, drop what this worker lost."""
        keep = set(self._buffer) | self._slots.busy()
        async with self._store_lock:
            await self._store.renew_leases(self._slots.timings(), keep)
        self._drop(self._store.take_lost_hosts())

    def _drop(self, hosts: set[str]) -> None:
        """Forget the buffered URLs of ``hosts``, lost to another worker (which has them)."""
        for host in hosts:
            queue = self._buffer.pop(host, None)
            if queue:
                log.warning("lost the lease on %s: %d URLs left to its new owner", host, len(queue))
                self._buffered -= len(queue)
        if hosts:
            self._wake.set()

    def _maybe_more(self) -> None:
        self._more_events += 1
        self._may_have_more = True

    def _note_new_urls(self, count: int) -> None:
        if count:
            self._discovered += count
            self._maybe_more()

    def _budget(self) -> int:
        """How many more URLs may be handed out without overshooting ``max_pages``."""
        if not self._max_pages:
            return self._capacity()
        return self._max_pages - self._pages - self._outstanding

    def _finished(self) -> bool:
        if self._outstanding or self._claiming:
            return False
        if self.budget_spent():
            return True
        return self._buffered == 0 and not self._may_have_more

    def _wants_claim(self) -> bool:
        if self._claiming or self._claim_size() <= 0:
            return False
        if self._may_have_more:
            return self._buffered <= self._capacity() // 2
        # A shared store: workers idle while other hosts may be free to lease
        return (
            self._store.leases and self._unserved() > 0 and time.monotonic() >= self._idle_claim_at
        )

    def _unserved(self) -> int:
        """Idle fetch workers that no buffered host can serve now."""
        if self._ready and self._ready[0][0] <= time.monotonic():
            return 0
        return max(0, self._idle - self._handoff.qsize())

    def _new_hosts(self) -> int:
        """Hosts a claim may lease now: enough to give every fetch worker a host, and one for
        each idle worker that no held host can serve."""
        held = len(self._buffer.keys() | self._slots.busy())
        wanted = -(-self._workers // self._slots.per_host) - held
        return max(wanted, self._unserved())

    def _capacity(self) -> int:
        """URLs to keep claimed: ``buffer_size``, or a host's quota for every host crawled now,
        if more (each host must have its next URL at hand when its delay ends)."""
        return max(self._buffer_size, self._host_buffer * self._slots.active())

    def _claim_size(self) -> int:
        return min(self._capacity() - self._buffered, self._budget() - self._buffered)

    async def _refill(self) -> None:
        want = self._claim_size()
        if want <= 0:
            return
        full = [host for host, q in self._buffer.items() if len(q) >= self._host_buffer]
        events_before = self._more_events
        new_hosts = self._new_hosts() if self._store.leases else None
        async with self._store_lock:
            items = await self._store.claim(
                want, full, max_pages=self._max_pages, per_host=self._host_buffer,
                new_hosts=new_hosts,
            )  # fmt: skip
            leased = self._store.take_new_hosts()
        for host, wait_s in leased.items():
            self._slots.defer(host, wait_s)  # the spacing its last owner kept goes on
        short = len(items) < want and self._more_events == events_before
        if short and (new_hosts is None or len(leased) < max(1, new_hosts)):
            self._may_have_more = False  # nothing since the claim began could have added more
        if self._store.leases and not leased:
            self._idle_claim_at = time.monotonic() + IDLE_CLAIM_S
        for item in items:
            queue = self._buffer.get(item.host)
            if queue is None:
                queue = self._buffer[item.host] = deque()
                self._schedule(item.host, 0.0)
            queue.append(item)
        self._buffered += len(items)

    def _hand_out(self) -> float | None:
        """Give ready URLs to idle workers; return seconds until the next host is due, if any.

        Hosts with buffered URLs wait in a heap by the time they may start next, so a hand-out
        looks only at hosts that are due, however many are buffered. The heap is a hint: a
        host's slot has the last word (its delay may have grown, it may be at capacity).
        """
        free = min(
            self._idle - self._handoff.qsize(),
            self._budget(),
            self._window - self._outstanding,
        )
        now = time.monotonic()
        ready = self._ready
        while free > 0 and ready and ready[0][0] <= now:
            _, _, host = heapq.heappop(ready)
            self._scheduled.discard(host)
            if host not in self._buffer:
                continue
            wait_s = self._slots.wait_s(host)
            if wait_s is None:
                continue  # at capacity: release() brings it back
            if wait_s == 0 and not self._store.may_start(host):
                wait_s = LEASE_RETRY_S  # its lease is running out: a renewal may extend it
            if wait_s > 0:
                self._schedule(host, now + wait_s)
                continue
            self._give(host, now)
            free -= 1
        if not ready or ready[0][0] <= now:
            return None  # nothing due, or no worker free: a worker or a commit wakes us
        return ready[0][0] - now

    def _schedule(self, host: str, at: float) -> None:
        """Put ``host`` in the ready heap, due at ``at`` (monotonic seconds), once."""
        if host not in self._scheduled:
            self._scheduled.add(host)
            heapq.heappush(self._ready, (at, next(self._order), host))

    def _give(self, host: str, now: float) -> None:
        queue = self._buffer[host]
        item = queue.popleft()
        if not queue:
            del self._buffer[host]
        if len(queue) == self._host_buffer - 1:
            self._maybe_more()  # the host was full, so left out of claims: it has room again
        self._slots.acquire(host)
        self._slots.reserve(host)
        if queue:
            wait_s = self._slots.wait_s(host)
            if wait_s is not None:  # else at capacity: release() brings it back
                self._schedule(host, now + wait_s)  # now: due again in this same hand-out
        self._buffered -= 1
        self._outstanding += 1
        self._dispatched += 1
        self._handoff.put_nowait(item)
