"""The per-URL work of a crawl: robots gate, fetch within the host's slot, parse, record.

``fetch_worker`` tasks take URLs from the frontier and put (item, outcome) on the parse inbox
(a revisit known unchanged without parsing, a 304 or the same bytes, goes straight to the sink);
``parser`` tasks turn outcomes into sink records (parsing HTML and sitemaps in a process pool
when there is one). The last worker out sends each parser its sentinel, the last parser out
sends the sink its own.
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from functools import partial

from scraper.config import Settings
from scraper.crawl import revisit
from scraper.crawl.links import LinkFilter
from scraper.crawl.records import Outcome, Records, captured, run_in_pool
from scraper.crawl.rendering import Rendering, browser_allows
from scraper.crawl.robots import RobotsGate
from scraper.crawl.scheduler import Scheduler
from scraper.crawl.session import AUTH_LOST, Sessions
from scraper.crawl.sink import Sink
from scraper.crawl.slots import HostSlots
from scraper.errors import FetchError, Interrupted, PermanentFetchError
from scraper.fetch import BLOCK_REASONS, Fetcher, FetchHooks, FetchRequest
from scraper.models import FailureRecord, FetchResult, FrontierItem, FrontierState, SinkRecord
from scraper.parse import STOP_SIGNALS, pool_size
from scraper.storage import CrawlStore
from scraper.urls import url_host

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Flight:
    """A URL a worker is busy with: since when, and how many requests it has made for it."""

    item: FrontierItem
    started: float
    attempt: int = 0
    task: "asyncio.Task[object] | None" = None  # the worker fetching it


# The most pages one parser sends to the parse pool in one call.
PARSE_BATCH = 64
# Reasons that mean "not allowed to fetch" (or answered with a block page) rather than "tried
# and failed".
_BLOCKING_REASONS = frozenset({"private_address", *BLOCK_REASONS})


class _LeaseEnding(Exception):
    """This worker's lease on the host has too little time left to start a request."""


class Workers:
    """Fetch workers and parsers, sharing the crawl's stages."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: CrawlStore,
        frontier: Scheduler,
        slots: HostSlots,
        gate: RobotsGate,
        fetcher: Fetcher,
        links: LinkFilter,
        sink: Sink,
        pool: Executor | None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._frontier = frontier
        self._slots = slots
        self._gate = gate
        self._fetcher = fetcher
        self._links = links
        self._sink = sink
        self._records = Records(settings, links=links, pool=pool)
        self._sessions = Sessions(settings, fetcher, store)
        processes = pool_size(settings.parse_workers, settings.markdown)
        self.parsers = processes * 4 or 1  # several in flight hide the IPC round trip
        self._inbox: asyncio.Queue[tuple[FrontierItem, Outcome] | None] = asyncio.Queue(
            maxsize=settings.concurrency * 2
        )
        self._live_workers = settings.concurrency
        self._live_parsers = self.parsers
        self.in_flight: dict[str, Flight] = {}
        self._hurry: asyncio.TimerHandle | None = None
        self._dropping = False  # the grace period after a stop is over
        self.rendering = Rendering(settings, slots, partial(run_in_pool, pool), fetcher.browser)
        if fetcher.browser is not None:
            fetcher.browser.allowed = partial(browser_allows, settings, links, gate, frontier)

    # -- fetch workers --------------------------------------------------------------------------

    async def fetch_worker(self) -> None:
        while (item := await self._frontier.next_item()) is not None:
            outcome = await self._fetch(item)
            if outcome is None:
                continue
            check = self._known_unchanged(item, outcome)
            if check is not None:  # nothing to parse: straight to the sink
                await self._sink.inbox.put(check)
            else:
                await self._inbox.put((item, outcome))
        self._live_workers -= 1
        if self._live_workers == 0:
            await self._sessions.save()  # the jar as the last page left it
            for _ in range(self.parsers):
                await self._inbox.put(None)

    def hurry(self, grace_s: float) -> None:
        """Give in-flight fetches ``grace_s`` more seconds; those still running then are dropped
        (their URLs stay in_progress and go back to pending)."""
        if self._hurry is None:
            self._hurry = asyncio.get_running_loop().call_later(grace_s, self._drop_in_flight)

    def _drop_in_flight(self) -> None:
        """The grace period is over: cancel the fetches still running (see :meth:`_fetch`)."""
        self._dropping = True
        for flight in self.in_flight.values():
            if flight.task is not None:
                flight.task.cancel()

    async def _fetch(self, item: FrontierItem) -> Outcome | None:
        """Fetch one URL; None when it was put back in the frontier, or cut off by a stop
        (a cancellation of our own, :meth:`_drop_in_flight`'s; any other goes on)."""
        if self._dropping:
            return None
        try:
            return await self._fetch_in_time(item)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._dropping or task is None or task.uncancel() > 0:
                raise
            log.info("stopping: dropped %s, still in flight after the grace period", item.url)
            return None

    async def _fetch_in_time(self, item: FrontierItem) -> Outcome | None:
        flight = Flight(item, time.monotonic(), task=asyncio.current_task())
        self.in_flight[item.url] = flight
        hooks = self._hooks(item, flight)
        try:
            decision = await self._gate.check(item.url, item.host, hooks)
            if decision.retry_in_s is not None:
                self._frontier.requeue(item)
                return None
            if not decision.allowed:
                return FailureRecord(item.id, item.url, 0, decision.reason, decision.state)
            return await self._fetch_page(item, hooks)
        except _LeaseEnding:
            self._frontier.requeue(item)  # handed out again once renewed; dropped if lost
            return None
        except FetchError as exc:
            log.info("failed %s after %d attempts: %s", item.url, exc.attempts, exc)
            blocked = isinstance(exc, PermanentFetchError) and exc.reason in _BLOCKING_REASONS
            state = FrontierState.BLOCKED if blocked else FrontierState.FAILED
            return FailureRecord(item.id, item.url, exc.attempts, exc.reason, state)
        finally:
            del self.in_flight[item.url]
            self._frontier.release(item.host)

    async def _fetch_page(self, item: FrontierItem, hooks: FetchHooks) -> Outcome:
        """The page within its site's session: logged in to first if the site has a login;
        if the session is gone, logged in to again once, then ``auth_lost``."""
        seen = await self._sessions.ready(item.host, item.url, hooks)
        result = await self._get(item, hooks)
        if seen and self._sessions.lost(item.host, result):
            if await self._sessions.restore(item.host, item.url, hooks, seen):
                result = await self._get(item, hooks)
            if self._sessions.lost(item.host, result):
                log.info("failed %s: the session is gone (%s)", item.url, result.final_url)
                return FailureRecord(item.id, item.url, result.attempts, AUTH_LOST)
        await self._sessions.save(force=False)
        return result

    async def _get(self, item: FrontierItem, hooks: FetchHooks) -> FetchResult:
        """The page over HTTP, or rendered in the browser when :class:`Rendering` says so."""
        if self.rendering.at_once(item.host):
            result = await self._fetcher.fetch(FetchRequest(item.url, render=True), hooks)
            if result.is_html or not 200 <= result.status < 300:
                return replace(result, rendered=True)
            log.info("not HTML in the browser, fetched over HTTP: %s", item.url)
        result = await self._fetcher.fetch(item.url, hooks, item.previous)
        if not await self.rendering.after_http(item.host, result):
            return result
        try:
            rendered = await self._fetcher.fetch(FetchRequest(item.url, render=True), hooks)
        except FetchError as exc:
            log.warning("could not render %s, kept as fetched: %s", item.url, exc)
            return result
        return replace(rendered, rendered=True, attempts=result.attempts + rendered.attempts)

    def _hooks(self, item: FrontierItem, flight: Flight) -> FetchHooks:
        """Politeness, redirect and throttling callbacks for every request made for ``item``."""
        booked = True  # the dispatcher booked the first request's start time

        async def before_attempt(attempt: int) -> None:
            nonlocal booked
            if booked:
                booked = False
            else:
                await asyncio.sleep(self._frontier.reserve(item.host))
            if not self._store.may_start(item.host):  # a shared store's lease is running out
                raise _LeaseEnding(item.host)
            flight.attempt += 1

        async def allow_redirect(target: str) -> bool:
            if self._links.host_if_allowed(target) is None:
                return False
            return not await self._store.is_known(target)

        def on_response(
            reason: str, status: int, seconds: float, retry_after: float | None
        ) -> None:
            self._observe(item.host, reason, status, seconds)
            if retry_after is not None:  # no request to this host before then (capped)
                self._slots.defer(item.host, min(retry_after, self._settings.retry_backoff_max_s))

        def on_sent(url: str, at: float) -> None:
            if url == item.url or url_host(url) == item.host:  # another host: not its slot
                self._slots.sent(item.host, at)
            self.rendering.sent(url, at)

        before_render = self.rendering.before_render
        return FetchHooks(before_attempt, allow_redirect, on_response, on_sent, before_render)

    def _observe(self, host: str, reason: str, status: int, seconds: float) -> None:
        """Adapt the host's pace to a response; a block page slows the host down as a 429
        does, from now (the next request waits the new delay)."""
        if reason in BLOCK_REASONS:
            self._slots.observe(host, 429, seconds)
            self._slots.defer(host, self._slots.delay_of(host))
        else:
            self._slots.observe(host, status, seconds)

    # -- parsers --------------------------------------------------------------------------------

    async def parser(self) -> None:
        """Turn fetched outcomes into sink records until this parser's sentinel arrives."""
        last = False
        while not last:
            jobs, last = await self._take_jobs()
            for record in await self._records.build(jobs):
                await self._sink.inbox.put(record)
        self._live_parsers -= 1
        if self._live_parsers == 0:
            await self._sink.inbox.put(None)

    async def _take_jobs(self) -> tuple[list[tuple[FrontierItem, Outcome]], bool]:
        """Wait for one job, then take what else is queued, up to PARSE_BATCH; (jobs, sentinel
        seen). Under load one trip to the parse pool carries many pages; idle, it carries one."""
        jobs: list[tuple[FrontierItem, Outcome]] = []
        job = await self._inbox.get()
        while job is not None:
            jobs.append(job)
            if len(jobs) >= PARSE_BATCH or self._inbox.empty():
                return jobs, False
            job = self._inbox.get_nowait()
        return jobs, True

    def _known_unchanged(self, item: FrontierItem, outcome: Outcome) -> SinkRecord | None:
        """A revisit known unchanged without parsing (a 304, or the same bytes): its record."""
        if not isinstance(outcome, FetchResult):
            return None
        record = revisit.unchanged(self._settings, item, outcome)  # None for a first visit
        return None if record is None else captured(record, outcome)


@contextlib.contextmanager
def interrupted_by_signals(what: str, hint: str = "") -> Iterator[None]:
    """In a task without a graceful stop of its own (``reparse``, the bench's raw fetch): SIGINT
    or SIGTERM cancels the task, and the block raises :class:`Interrupted` (exit 130 or 143,
    ``"<what>: interrupted by SIGINT[; <hint>]"``) instead of that cancellation. Main thread."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    caught: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if not caught and task is not None:
            caught.append(sig)
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    except asyncio.CancelledError:
        if not caught or task is None or task.uncancel() > 0:
            raise  # not (only) our own cancellation
        message = f"{what}: interrupted by {caught[0].name}" + (f"; {hint}" if hint else "")
        raise Interrupted(message, caught[0]) from None
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
