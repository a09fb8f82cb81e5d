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

from scraper.config import Settings
from scraper.errors import FetchError, InvalidURL, ScraperError
from scraper.fetcher import Fetcher
from scraper.frontier import Frontier, FrontierStats, LinkFilter
from scraper.models import (
    FailureRecord,
    FetchResult,
    FrontierItem,
    FrontierState,
    PageRecord,
    SinkRecord,
)
from scraper.parse import parse_html
from scraper.politeness import HostSlots
from scraper.sink import Sink, SinkStats
from scraper.store import Store
from scraper.urls import normalize_url, url_host

log = logging.getLogger(__name__)

Fetched = tuple[FrontierItem, FetchResult | FetchError]


@dataclass(frozen=True, slots=True)
class CrawlStats:
    """A snapshot of the whole crawl, for progress displays."""

    elapsed_s: float
    frontier: FrontierStats
    sink: SinkStats
    retried: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    db: Path
    pages: int
    failed: int
    pending: int
    elapsed_s: float
    interrupted_by: str | None  # "SIGINT" / "SIGTERM" when stopped by a signal


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
        self._sink: Sink | None = None
        self._fetcher: Fetcher | None = None
        self._parse_inbox: asyncio.Queue[Fetched | None] = asyncio.Queue(
            maxsize=settings.concurrency * 2
        )
        self._in_flight = 0
        self._live_workers = 0
        self._live_parsers = 0
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
        slots = HostSlots(s.per_host, s.delay_s)
        async with Store(Path(s.db)) as store, Fetcher(s) as fetcher:
            await store.reset_in_progress()
            self._fetcher = fetcher
            frontier = self._frontier = Frontier(
                store,
                slots,
                buffer_size=max(256, s.concurrency * 8),
                host_buffer=max(64, s.per_host * 16),
                max_pages=s.max_pages,
                pages_stored=await store.page_count(),
            )
            await frontier.add_seeds(seeds)
            links = LinkFilter(map(url_host, seeds), s.scope, s.allow, s.deny, s.max_depth)
            sink = self._sink = Sink(
                store,
                batch_size=s.batch_size,
                flush_interval_s=s.flush_interval_s,
                on_commit=frontier.committed,
                urgent=frontier.is_starving,
            )
            with _parse_pool(s.parse_workers) as pool, self._signals():
                await self._run_stages(frontier, sink, fetcher, links, pool)
            counts = await store.frontier_counts()
        stats = frontier.stats()
        return CrawlSummary(
            db=Path(s.db),
            pages=stats.pages,
            failed=stats.failed,
            pending=counts[FrontierState.PENDING],
            elapsed_s=time.monotonic() - self._started,
            interrupted_by=self._signal,
        )

    async def _run_stages(
        self,
        frontier: Frontier,
        sink: Sink,
        fetcher: Fetcher,
        links: LinkFilter,
        pool: Executor | None,
    ) -> None:
        s = self._settings
        parsers = s.parse_workers * 4 or 1  # several parses in flight hide the IPC round trip
        self._live_workers = s.concurrency
        async with asyncio.TaskGroup() as tg:
            tg.create_task(frontier.run(s.concurrency), name="dispatcher")
            for n in range(s.concurrency):
                tg.create_task(
                    self._fetch_worker(frontier, fetcher, parsers), name=f"fetch-worker-{n}"
                )
            self._live_parsers = parsers
            for n in range(parsers):
                tg.create_task(self._parser(sink, links, pool), name=f"parser-{n}")
            tg.create_task(self._run_sink(sink), name="sink")
            if self._on_progress is not None:
                tg.create_task(self._report(self._on_progress), name="progress")

    # -- stages ---------------------------------------------------------------------------------

    async def _fetch_worker(self, frontier: Frontier, fetcher: Fetcher, parsers: int) -> None:
        while (item := await frontier.next_item()) is not None:
            outcome = await self._fetch(frontier, fetcher, item)
            await self._parse_inbox.put((item, outcome))
        self._live_workers -= 1
        if self._live_workers == 0:
            for _ in range(parsers):
                await self._parse_inbox.put(None)

    async def _fetch(
        self, frontier: Frontier, fetcher: Fetcher, item: FrontierItem
    ) -> FetchResult | FetchError:
        async def before_attempt(attempt: int) -> None:
            if attempt > 1:  # the first start was booked by the dispatcher
                await asyncio.sleep(frontier.reserve(item.host))

        self._in_flight += 1
        try:
            return await fetcher.fetch(item.url, before_attempt)
        except FetchError as exc:
            log.info("failed %s after %d attempts: %s", item.url, exc.attempts, exc)
            return exc
        finally:
            self._in_flight -= 1
            frontier.release(item.host)

    async def _parser(self, sink: Sink, links: LinkFilter, pool: Executor | None) -> None:
        while (job := await self._parse_inbox.get()) is not None:
            item, outcome = job
            await sink.inbox.put(await self._record(item, outcome, links, pool))
        self._live_parsers -= 1
        if self._live_parsers == 0:
            await sink.inbox.put(None)

    async def _record(
        self,
        item: FrontierItem,
        outcome: FetchResult | FetchError,
        links: LinkFilter,
        pool: Executor | None,
    ) -> SinkRecord:
        if isinstance(outcome, FetchError):
            return FailureRecord(item.id, item.url, outcome.attempts, outcome.reason)
        r = outcome
        title = description = text = None
        found: tuple[str, ...] = ()
        if r.is_html and 200 <= r.status < 300:
            base = _safe_normalize(r.final_url) or item.url
            args = (r.body, base, r.charset, self._settings.max_links_per_page)
            if pool is None:
                parsed = parse_html(*args)
            else:
                parsed = await asyncio.get_running_loop().run_in_executor(pool, parse_html, *args)
            title, description, text, found = (
                parsed.title,
                parsed.description,
                parsed.text,
                parsed.links,
            )
        return PageRecord(
            frontier_id=item.id,
            url=item.url,
            final_url=r.final_url,
            status=r.status,
            content_type=r.content_type,
            title=title,
            description=description,
            text=text,
            depth=item.depth,
            fetched_at=r.fetched_at,
            elapsed_ms=r.elapsed_ms,
            size_bytes=r.size_bytes,
            attempts=r.attempts,
            links=found,
            new_urls=links.admit(found, item.depth),
        )

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
        if self._frontier is None or self._sink is None or self._fetcher is None:
            raise RuntimeError("crawl has not started")
        return CrawlStats(
            elapsed_s=time.monotonic() - self._started,
            frontier=self._frontier.stats(),
            sink=self._sink.stats(),
            retried=self._fetcher.retried,
            in_flight=self._in_flight,
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


def _safe_normalize(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidURL:
        return None


def _normalize_seeds(seeds: tuple[str, ...]) -> list[str]:
    """Normalize seeds, dropping duplicates; the CLI has already reported bad ones."""
    out: dict[str, None] = {}
    for seed in seeds:
        if (url := _safe_normalize(seed)) is not None:
            out[url] = None
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
