"""The orchestrator: one coroutine that builds every stage from ``Settings`` and runs the crawl.

Shape (each arrow a bounded queue, each box a named task in one ``asyncio.TaskGroup``)::

    dispatcher -> fetch-worker-N -> parser-N -> sink
        ^                                        |
        +------------- committed records --------+

The store and the HTTP session are opened outside the group so they close last. The first
SIGINT/SIGTERM stops dispatching (in-flight pages finish, the sink flushes); the second cancels.
"""

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scraper.config import Settings
from scraper.errors import InvalidURL, ScraperError
from scraper.fetcher import Fetcher
from scraper.frontier import Frontier, FrontierStats, LinkFilter
from scraper.gate import RobotsGate
from scraper.models import FrontierState
from scraper.pipeline import Pipeline
from scraper.politeness import HostSlots
from scraper.sink import Sink, SinkStats
from scraper.store import Store
from scraper.urls import normalize_url, url_host

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CrawlStats:
    """A snapshot of the whole crawl, for progress displays."""

    elapsed_s: float
    frontier: FrontierStats
    sink: SinkStats
    retried: int
    in_flight: int
    robots_fetched: int


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    db: Path
    pages: int
    failed: int
    blocked: int
    pending: int
    elapsed_s: float
    interrupted_by: str | None  # "SIGINT" / "SIGTERM" when stopped by a signal


@dataclass(frozen=True, slots=True)
class _Parts:
    frontier: Frontier
    sink: Sink
    fetcher: Fetcher
    pipeline: Pipeline
    gate: RobotsGate


class Crawl:
    """One crawl of ``settings.seeds`` into ``settings.db``."""

    def __init__(
        self,
        settings: Settings,
        on_progress: Callable[[CrawlStats], None] | None = None,
        progress_interval_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self._on_progress = on_progress
        self._progress_interval_s = progress_interval_s
        self._started = time.monotonic()
        self._frontier: Frontier | None = None
        self._parts: _Parts | None = None
        self._signal: str | None = None
        self._done = asyncio.Event()

    async def run(self) -> CrawlSummary:
        """Crawl until the frontier is exhausted, ``max_pages`` is reached, or a signal stops it.

        Raises ScraperError (never an ExceptionGroup) when the crawl cannot go on.
        """
        try:
            return await self._run()
        except* ScraperError as group:
            raise _first(group) from None
        except* Exception as group:
            leaf = _first(group)
            raise ScraperError(f"internal error: {type(leaf).__name__}: {leaf}") from leaf

    async def _run(self) -> CrawlSummary:
        s = self._settings
        seeds = _normalize_seeds(s.seeds)
        seed_hosts = {url_host(seed) for seed in seeds}
        trusted = {urlsplit(seed).hostname or "" for seed in seeds}
        slots = HostSlots(
            s.per_host, s.delay_s, max_delay_s=s.max_delay_s, autothrottle=s.autothrottle
        )
        async with Store(Path(s.db)) as store, Fetcher(s, trusted) as fetcher:
            await store.reset_in_progress()
            frontier = self._frontier = Frontier(
                store,
                slots,
                buffer_size=max(256, s.concurrency * 8),
                host_buffer=max(64, s.per_host * 16),
                max_pages=s.max_pages,
                pages_stored=await store.page_count(),
            )
            await frontier.add_seeds(seeds)
            links = LinkFilter(seed_hosts, s.scope, s.allow, s.deny, s.max_depth, s.max_url_length)

            async def add_sitemaps(urls: tuple[str, ...]) -> None:
                if s.sitemaps:
                    await frontier.add_discovered(links.admit(urls, -1), depth=0)

            gate = RobotsGate(
                fetcher,
                slots,
                enabled=s.robots,
                user_agent=s.user_agent,
                on_sitemaps=add_sitemaps,
                retry_s=s.robots_retry_s,
            )
            sink = Sink(
                store,
                batch_size=s.batch_size,
                flush_interval_s=s.flush_interval_s,
                on_commit=frontier.committed,
                urgent=frontier.is_starving,
            )
            with _parse_pool(s.parse_workers) as pool, self._signals():
                pipeline = Pipeline(
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
                self._parts = _Parts(frontier, sink, fetcher, pipeline, gate)
                await self._run_stages(frontier, sink, pipeline)
            counts = await store.frontier_counts()
        stats = frontier.stats()
        return CrawlSummary(
            db=Path(s.db),
            pages=stats.pages,
            failed=stats.failed,
            blocked=stats.blocked,
            pending=counts[FrontierState.PENDING],
            elapsed_s=time.monotonic() - self._started,
            interrupted_by=self._signal,
        )

    async def _run_stages(self, frontier: Frontier, sink: Sink, pipeline: Pipeline) -> None:
        workers = self._settings.concurrency
        async with asyncio.TaskGroup() as tg:
            tg.create_task(frontier.run(workers), name="dispatcher")
            for n in range(workers):
                tg.create_task(pipeline.fetch_worker(), name=f"fetch-worker-{n}")
            for n in range(pipeline.parsers):
                tg.create_task(pipeline.parser(), name=f"parser-{n}")
            tg.create_task(self._run_sink(sink), name="sink")
            if self._on_progress is not None:
                tg.create_task(self._report(self._on_progress), name="progress")

    async def _run_sink(self, sink: Sink) -> None:
        try:
            await sink.run()
        finally:
            self._done.set()

    async def _report(self, on_progress: Callable[[CrawlStats], None]) -> None:
        while not self._done.is_set():
            on_progress(self.stats())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._progress_interval_s):
                    await self._done.wait()
        on_progress(self.stats())

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
        )

    # -- signals --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        installed: list[signal.Signals] = []

        def on_signal(sig: signal.Signals) -> None:
            if self._signal is None and self._frontier is not None:
                self._signal = sig.name
                log.warning("%s: finishing in-flight pages; send it again to stop now", sig.name)
                self._frontier.stop()
            elif task is not None:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
            except (RuntimeError, ValueError):  # not the main thread
                break
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _normalize_seeds(seeds: tuple[str, ...]) -> list[str]:
    """Normalize seeds, dropping duplicates; the CLI has already reported bad ones."""
    out: dict[str, None] = {}
    for seed in seeds:
        with contextlib.suppress(InvalidURL):
            out[normalize_url(seed)] = None
    return list(out)


@contextlib.contextmanager
def _parse_pool(workers: int) -> Iterator[Executor | None]:
    """Parsing runs in ``workers`` processes (0: inline on the event loop, for small crawls)."""
    if workers == 0:
        yield None
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
