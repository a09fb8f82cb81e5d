"""``scraper import``: archived captures into a crawl database, through the crawl's own parse
stage (:class:`~scraper.crawl.records.Records`) and sink, as if they had just been fetched.

Each capture (a response, or a revisit resolved to the response it points at) becomes a page
version fetched at its WARC-Date, in fetch-time order over all the files. Its URL gets a frontier
row from :meth:`CrawlStore.adopt`; its in-scope links not captured become pending, for a
``resume`` to fetch. The crawl's settings are stored when the database has none, with one seed
per imported host (the first URL captured of it), so ``resume`` and ``recrawl`` work.
"""

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scraper.config import Settings, settings_from_json, settings_to_json
from scraper.crawl.links import LinkFilter
from scraper.crawl.records import Records
from scraper.crawl.sink import Sink
from scraper.crawl.workers import interrupted_by_signals
from scraper.importing import CaptureReader, Entry, FileReport, Survey, survey
from scraper.models import FetchResult, FrontierItem, FrontierState, SinkRecord
from scraper.parse import parse_pool, pool_size
from scraper.storage import CrawlStore, open_crawl_store
from scraper.urls import url_host

CHUNK = 256  # captures read, parsed and handed to the sink at a time


@dataclass(frozen=True, slots=True)
class ImportSummary:
    files: tuple[FileReport, ...]
    pages: int  # page records written (a version each, unless the content is the latest's)
    pending: int  # links found that no file captured, left for ``resume``


async def import_archives(settings: Settings, paths: Sequence[Path]) -> ImportSummary:
    """Import the captures of ``paths`` into ``settings.db``; UsageError for a file that cannot
    be opened. Takes the crawl lock like a crawl."""
    hint = "the captures imported so far are kept; run it again to import them all"
    with interrupted_by_signals("import", hint):
        return await _import(settings, paths)


async def _import(settings: Settings, paths: Sequence[Path]) -> ImportSummary:
    found = await asyncio.to_thread(survey, paths)
    async with open_crawl_store(settings.db) as store:
        settings = await _crawl_settings(store, settings, found)
        links = LinkFilter(
            {url_host(seed) for seed in settings.seeds},
            settings.scope,
            settings.allow,
            settings.deny,
            settings.max_depth,
            settings.max_url_length,
            settings.for_host,
        )
        processes = pool_size(settings.parse_workers, settings.markdown)
        parsers = max(1, processes * 2)  # several chunks in the pool at once
        feed = _Feed(store, parsers)
        sink = Sink(
            store,
            batch_size=settings.batch_size,
            flush_interval_s=settings.flush_interval_s,
            on_commit=feed.committed,
            urgent=lambda: True,  # write what is there when the inbox runs dry
        )
        with parse_pool(processes) as pool, CaptureReader(found) as reader:
            records = Records(settings, links=links, pool=pool)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(sink.run(), name="sink")
                tg.create_task(feed.read(found, reader), name="import-reader")
                for n in range(parsers):
                    tg.create_task(feed.parse(records, sink), name=f"import-parser-{n}")
        pending = (await store.frontier_tally())[0].get(FrontierState.PENDING, 0)
    return ImportSummary(tuple(found.reports), sink.stats().pages_written, pending)


async def _crawl_settings(store: CrawlStore, settings: Settings, found: Survey) -> Settings:
    """This run's settings with the imported hosts among its seeds; stored as the crawl's own
    for a new crawl, else only the new seeds added to the stored ones (flags apply to this run,
    as for ``crawl``)."""
    text = await store.load_settings()
    stored = settings if text is None else settings_from_json(text, settings.db)
    hosts = tuple(found.hosts.values())
    seeds = tuple(dict.fromkeys(stored.seeds + hosts))
    if text is None or seeds != stored.seeds:
        await store.save_settings(settings_to_json(dataclasses.replace(stored, seeds=seeds)))
    return dataclasses.replace(settings, seeds=tuple(dict.fromkeys(settings.seeds + seeds)))


Job = tuple[FrontierItem, FetchResult]


class _Feed:
    """Reads captures a chunk at a time (in a thread) for ``parsers`` tasks that parse them
    (several pool processes busy at once) and hand their records to the sink. A URL is never in
    two unwritten chunks: a chunk waits until the one before holding its URL is written, so a
    page's captures are written in fetch-time order (and a page is upserted once a statement)."""

    def __init__(self, store: CrawlStore, parsers: int) -> None:
        self._store = store
        self._parsers = self._live = parsers
        self._jobs: asyncio.Queue[list[Job] | None] = asyncio.Queue(maxsize=parsers)
        self._unwritten: set[str] = set()
        self._written = asyncio.Event()

    def committed(self, records: Sequence[SinkRecord]) -> None:
        self._unwritten.difference_update(r.url for r in records)
        self._written.set()

    async def read(self, found: Survey, reader: CaptureReader) -> None:
        for chunk in _chunks(found.entries):
            results = await asyncio.to_thread(reader.read, chunk)
            urls = {r.url for r in results}
            while urls & self._unwritten:
                self._written.clear()
                await self._written.wait()
            ids = await self._store.adopt([(url, url_host(url)) for url in urls])
            self._unwritten |= urls
            if results:
                await self._jobs.put(
                    [(FrontierItem(ids[r.url], r.url, url_host(r.url), 0, 0), r) for r in results]
                )
        for _ in range(self._parsers):
            await self._jobs.put(None)

    async def parse(self, records: Records, sink: Sink) -> None:
        while (jobs := await self._jobs.get()) is not None:
            for record in await records.build(list(jobs)):
                await sink.inbox.put(record)
        self._live -= 1
        if self._live == 0:
            await sink.inbox.put(None)


def _chunks(entries: Sequence[Entry]) -> list[list[Entry]]:
    """``entries`` in order, cut into chunks of at most CHUNK with no URL twice in one."""
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    urls: set[str] = set()
    for entry in entries:
        if len(current) >= CHUNK or entry.url in urls:
            chunks.append(current)
            current, urls = [], set()
        current.append(entry)
        urls.add(entry.url)
    if current:
        chunks.append(current)
    return chunks
