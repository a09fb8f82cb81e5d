"""The crawl engine: one coroutine that builds every stage from ``Settings`` and runs the crawl.

Shape (each arrow a bounded queue, each box a named task in one ``asyncio.TaskGroup``)::

    dispatcher -> fetch-worker-N -> parser-N -> sink
        ^                                        |
        +------------- committed records --------+

The store and the HTTP session are opened outside the group so they close last. The first
SIGINT/SIGTERM stops dispatching (in-flight pages finish, the sink flushes); the second cancels.
"""

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from scraper.config import Settings, settings_from_json, settings_to_json
from scraper.crawl.links import LinkFilter
from scraper.crawl.rendering import browser_for
from scraper.crawl.report import CrawlStats, CrawlSummary
from scraper.crawl.revisit import RevisitPlan
from scraper.crawl.robots import RobotsGate
from scraper.crawl.scheduler import Scheduler
from scraper.crawl.signals import crawl_signals
from scraper.crawl.sink import Sink
from scraper.crawl.slots import HostSlots, host_quota
from scraper.crawl.status import (
    TOP_HOSTS,
    FlightInfo,
    HostInfo,
    Rates,
    Snapshot,
    build_snapshot,
)
from scraper.crawl.tasks import describe_tasks
from scraper.crawl.workers import Workers
from scraper.errors import ScraperError, StoreError
from scraper.fetch import Fetcher
from scraper.models import FrontierState
from scraper.parse import check_rules, parse_pool, pool_size
from scraper.storage import CrawlStore, db_label, open_crawl_store
from scraper.urls import try_normalize, url_host

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class _Parts:
    frontier: Scheduler
    sink: Sink
    fetcher: Fetcher
    pipeline: Workers
    gate: RobotsGate
    slots: HostSlots


class Crawl:
    """One crawl of ``settings.seeds`` into ``settings.db``."""

    def __init__(
        self,
        settings: Settings,
        on_progress: Callable[[CrawlStats], None] | None = None,
        progress_interval_s: float = 0.5,
        *,
        save_settings: bool = True,
        grace_s: float = 5.0,
        revisit: RevisitPlan | None = None,
    ) -> None:
        """``save_settings=False`` (resume) leaves the settings stored with the crawl as they
        are; ``grace_s`` is how long in-flight requests may take after the first signal;
        ``revisit`` (a recrawl) schedules stored pages for a revisit first."""
        self._settings = settings
        self._revisit = revisit
        self._revisits: int | None = None
        self._pages_at_start: int | None = None
        self._crawl_pages: int | None = None  # a shared crawl's, counted by the store
        self._save_settings = save_settings
        self._grace_s = grace_s
        self._nothing_to_do = False
        self._forced = False
        self._store: CrawlStore | None = None
        self._rates = Rates()
        self._started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._on_progress = on_progress
        self._progress_interval_s = progress_interval_s
        self._started = time.monotonic()
        self._frontier: Scheduler | None = None
        self._parts: _Parts | None = None
        self._signal: str | None = None
        self._done = asyncio.Event()

    async def run(self) -> CrawlSummary:
        """Crawl until the frontier is exhausted, ``max_pages`` is reached, or a signal stops it.

        Raises ScraperError (never an ExceptionGroup) when the crawl cannot go on.
        """
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith("Task-"):
            task.set_name("crawl")  # named for `scraper status`, unless the caller named it
        try:
            return await self._run_translated()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._forced or task is None:
                raise
            task.uncancel()  # our own cancel, from a second signal: stop here, report
            return self._summary()

    async def _run_translated(self) -> CrawlSummary:
        try:
            return await self._run()
        except* ScraperError as group:
            raise _first(group) from None
        except* sqlite3.OperationalError as group:  # the SQLite file's disk full, read-only...
            raise StoreError(f"database {self._settings.db}: {_first(group)}") from None
        except* Exception as group:
            leaf = _first(group)
            raise ScraperError(f"internal error: {type(leaf).__name__}: {leaf}") from leaf

    async def _run(self) -> CrawlSummary:
        check_rules(self._settings.extract)
        s = self._settings
        async with open_crawl_store(s.db, lease_s=s.lease_s, retry_s=s.retry_s) as store:
            self._store = store
            s = self._settings = await self._settle_settings(store)
            await store.recover_abandoned()  # what a killed worker left claimed
            if self._revisit is not None:
                plan = self._revisit
                self._revisits = await store.schedule_revisits(
                    due_at=plan.due_at, checked_before=plan.checked_before
                )
            seeds = _normalize_seeds(s.seeds)
            self._pages_at_start = await store.page_count()
            slots = HostSlots(
                s.per_host,
                s.delay_s,
                max_delay_s=s.max_delay_s,
                autothrottle=s.autothrottle,
                for_host=s.for_host,
            )
            frontier = self._frontier = Scheduler(
                store,
                slots,
                buffer_size=max(256, s.concurrency * 8),
                host_buffer=host_quota(s),
                window=s.concurrency + 2 * s.batch_size,
                max_pages=s.max_pages,
                pages_stored=self._pages_at_start,
            )
            await frontier.add_seeds(seeds)
            if not await store.crawl_finished(s.max_pages):
                trusted = {urlsplit(seed).hostname or "" for seed in seeds}
                fetcher_of = Fetcher(
                    s, trusted, record_proxies=store.record_proxies, browser=browser_for(s)
                )
                async with fetcher_of as fetcher:
                    await self._crawl(store, fetcher, frontier, slots, seeds)
                await store.release_claims()  # URLs cut off by a stop go back to pending
                await self._publish("interrupted" if self._signal else "finished")
            else:
                self._nothing_to_do = True
            counts, failures = await store.frontier_tally()
            pages = await store.page_count()  # every worker's, on a shared crawl
        return self._summary(counts, tuple(failures), pages)

    def _summary(
        self,
        counts: dict[FrontierState, int] | None = None,
        failures: tuple[tuple[str, int], ...] = (),
        pages: int | None = None,
    ) -> CrawlSummary:
        stats = self._frontier.stats() if self._frontier else None
        sink = self._parts.sink.stats() if self._parts else None
        failed, blocked = run = (stats.failed, stats.blocked) if stats else (0, 0)
        if counts is not None:
            failed, blocked = counts[FrontierState.FAILED], counts[FrontierState.BLOCKED]
        return CrawlSummary(
            db=db_label(self._settings.db),
            pages=pages if pages is not None else stats.pages if stats else 0,
            new_pages=stats.new_pages if stats else 0,
            failed=failed,
            blocked=blocked,
            pending=None if counts is None else counts[FrontierState.PENDING],
            elapsed_s=time.monotonic() - self._started,
            interrupted_by=self._signal,
            nothing_to_do=self._nothing_to_do,
            failures=failures,
            max_pages=self._settings.max_pages,
            revisits=self._revisits,
            unchanged=sink.unchanged_written if sink else 0,
            changed=sink.changed_written if sink else 0,
            removed=sink.removed_written if sink else 0,
            pages_at_start=self._pages_at_start,
            shared=self._store is not None and self._store.leases,
            run_failed=run[0],
            run_blocked=run[1],
            renderer=self._parts.pipeline.rendering.line() if self._parts else "",
        )

    async def _settle_settings(self, store: CrawlStore) -> Settings:
        """Seeds accumulate across the runs of one database. A new crawl stores its settings;
        with ``save_settings=False`` the stored ones are kept, only new seeds added to them."""
        s = self._settings
        text = await store.load_settings()
        stored = None if text is None else settings_from_json(text, s.db)
        if stored is not None:
            s = dataclasses.replace(s, seeds=tuple(dict.fromkeys(stored.seeds + s.seeds)))
        if self._save_settings or stored is None:
            await store.save_settings(settings_to_json(s))
        elif s.seeds != stored.seeds:
            await store.save_settings(settings_to_json(dataclasses.replace(stored, seeds=s.seeds)))
        return s

    async def _crawl(
        self,
        store: CrawlStore,
        fetcher: Fetcher,
        frontier: Scheduler,
        slots: HostSlots,
        seeds: list[str],
    ) -> None:
        s = self._settings
        links = LinkFilter(
            {url_host(seed) for seed in seeds},
            s.scope,
            s.allow,
            s.deny,
            s.max_depth,
            s.max_url_length,
            s.for_host,
        )

        async def add_sitemaps(urls: tuple[str, ...]) -> None:
            if s.sitemaps:
                await frontier.add_discovered(links.admit(urls, -1), depth=0)

        gate = RobotsGate(
            fetcher,
            slots,
            for_host=s.for_host,
            on_sitemaps=add_sitemaps,
            retry_s=s.robots_retry_s,
        )
        sink = Sink(
            store,
            batch_size=s.batch_size,
            flush_interval_s=s.flush_interval_s,
            on_commit=frontier.committed,
            urgent=frontier.wants_flush,
        )
        with parse_pool(pool_size(s.parse_workers, s.markdown)) as pool, self._signals():
            pipeline = Workers(
                s,
                store=store,
                frontier=frontier,
                slots=slots,
                gate=gate,
                fetcher=fetcher,
                links=links,
                sink=sink,
                pool=pool,
            )
            self._parts = _Parts(frontier, sink, fetcher, pipeline, gate, slots)
            await self._run_stages(frontier, sink, pipeline)

    async def _run_stages(self, frontier: Scheduler, sink: Sink, pipeline: Workers) -> None:
        workers = self._settings.concurrency
        async with asyncio.TaskGroup() as tg:
            tg.create_task(frontier.run(workers), name="dispatcher")
            for n in range(workers):
                tg.create_task(pipeline.fetch_worker(), name=f"fetch-worker-{n}")
            for n in range(pipeline.parsers):
                tg.create_task(pipeline.parser(), name=f"parser-{n}")
            tg.create_task(self._run_sink(sink), name="sink")
            tg.create_task(self._report(), name="status")
            if self._store is not None and self._store.leases:
                tg.create_task(frontier.keep_leases(self._done), name="host-leases")

    async def _run_sink(self, sink: Sink) -> None:
        try:
            await sink.run()
        finally:
            self._done.set()

    async def _report(self) -> None:
        """Tell the progress display, and publish a status snapshot about once a second."""
        saved_at = 0.0
        while not self._done.is_set():
            if self._on_progress is not None:
                self._on_progress(self.stats())
            if time.monotonic() - saved_at >= STATUS_INTERVAL_S:
                saved_at = time.monotonic()
                await self._publish("stopping" if self._signal else "running")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._progress_interval_s):
                    await self._done.wait()
        if self._on_progress is not None:
            self._on_progress(self.stats())

    async def _publish(self, state: str) -> None:
        if self._store is not None:
            if self._store.leases:  # a shared crawl: the store counts every worker's pages
                self._crawl_pages = await self._store.page_count()
            await self._store.publish_status(self.snapshot(state).to_json())

    def snapshot(self, state: str) -> Snapshot:
        """Everything ``scraper status`` shows, taken now."""
        p = self._parts
        if p is None:
            raise RuntimeError("crawl has not started")
        stats = self.stats()
        f = stats.frontier
        counters = {
            "fetched": f.dispatched,
            "stored": f.new_pages,
            **({"checked": stats.checked} if self._revisits is not None else {}),
            "failed": f.failed,
            "blocked": f.blocked,
            "retried": stats.retried,
            "queued": f.buffered,
            "discovered": f.discovered,
            "in_flight": stats.in_flight,
        }
        now = time.monotonic()
        flights = [
            FlightInfo(url, fl.item.host, round(now - fl.started, 2), fl.attempt)
            for url, fl in p.pipeline.in_flight.items()
        ]
        queued = p.frontier.queued
        hosts = [
            HostInfo(h.host, queued(h.host), h.in_flight, round(h.delay_s, 3),
                     round(h.next_start_in_s, 3))
            for h in p.slots.busiest(queued, TOP_HOSTS)
        ]  # fmt: skip
        return build_snapshot(
            state=state,
            started_at=self._started_at,
            elapsed_s=stats.elapsed_s,
            counters=counters,
            rates=self._rates,
            in_flight=flights,
            hosts=hosts,
            tasks=describe_tasks(asyncio.all_tasks()),
            renderer=p.pipeline.rendering.line(),
        )

    def stats(self) -> CrawlStats:
        p = self._parts
        if p is None:
            raise RuntimeError("crawl has not started")
        return CrawlStats(
            elapsed_s=time.monotonic() - self._started,
            frontier=p.frontier.stats(),
            sink=p.sink.stats(),
            retried=p.fetcher.retried,
            in_flight=len(p.pipeline.in_flight),
            robots_fetched=p.gate.fetched,
            busiest=self._busiest(p, 3),
            revisits=self._revisits,
            crawl_pages=self._crawl_pages,
        )

    @staticmethod
    def _busiest(p: "_Parts", top: int) -> tuple[tuple[str, int, int, float], ...]:
        queued = p.frontier.queued
        return tuple(
            (h.host, queued(h.host), h.in_flight, h.delay_s) for h in p.slots.busiest(queued, top)
        )

    # -- signals --------------------------------------------------------------------------------

    def _signals(self) -> contextlib.AbstractContextManager[None]:
        task = asyncio.current_task()

        def on_signal(sig: signal.Signals) -> None:
            if self._signal is None and self._parts is not None:
                self._signal = sig.name
                log.warning("%s: finishing in-flight pages; send it again to stop now", sig.name)
                self._parts.frontier.stop()
                self._parts.pipeline.hurry(self._grace_s)
            elif task is not None and not self._forced:
                log.warning("%s again: stopping now", sig.name)
                self._forced = True
                task.cancel()

        return crawl_signals(on_signal)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _normalize_seeds(seeds: tuple[str, ...]) -> list[str]:
    """Normalize seeds, dropping duplicates; the CLI has already reported bad ones."""
    return list(dict.fromkeys(url for url in map(try_normalize, seeds) if url is not None))
