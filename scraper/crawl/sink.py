"""The sink stage: batches page and failure records and writes each batch in one transaction.

A batch is written when it reaches ``batch_size``, when ``flush_interval_s`` has passed since its
first record, when the frontier is starving for new URLs, or at the end of the crawl. After each
write ``on_commit`` tells the frontier, which counts pages and claims the new links.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scraper.models import GONE_STATUSES, CheckedRecord, PageRecord, SinkRecord
from scraper.storage import CrawlStore

log = logging.getLogger(__name__)
events = logging.getLogger("scraper.events")  # one record per stored page and per failure


def _log_event(record: SinkRecord) -> None:
    if isinstance(record, CheckedRecord):
        fields: dict[str, object] = {"url": record.url, "status": record.status,
                                     "attempt": record.attempts}  # fmt: skip
        events.info("unchanged %s %d", record.url, record.status,
                    extra={"event": "unchanged", "fields": fields})  # fmt: skip
    elif isinstance(record, PageRecord):
        fields = {
            "url": record.url,
            "status": record.status,
            "elapsed_ms": record.elapsed_ms,
            "attempt": record.attempts,
            "depth": record.depth,
            "size_bytes": record.size_bytes,
        }
        events.info(
            "page %s %d", record.url, record.status, extra={"event": "page", "fields": fields}
        )
    else:
        fields = {"url": record.url, "reason": record.reason, "attempt": record.attempts,
                  "state": record.state.value}  # fmt: skip
        events.info(
            "%s %s: %s",
            record.state.value,
            record.url,
            record.reason,
            extra={"event": "failure", "fields": fields},
        )


@dataclass(frozen=True, slots=True)
class SinkStats:
    pages_written: int
    failures_written: int
    unchanged_written: int  # revisits that found their page unchanged
    changed_written: int  # revisits that found it changed (removed ones included)
    removed_written: int  # revisits that found it gone (404, 410)
    batches: int
    last_batch_ms: float
    queued: int


class Sink:
    """The only writer of crawl results. ``run`` ends after the ``None`` sentinel."""

    def __init__(
        self,
        store: CrawlStore,
        *,
        batch_size: int,
        flush_interval_s: float,
        on_commit: Callable[[Sequence[SinkRecord]], None],
        urgent: Callable[[], bool],
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._on_commit = on_commit
        self._urgent = urgent
        self.inbox: asyncio.Queue[SinkRecord | None] = asyncio.Queue(maxsize=batch_size * 2)
        self._pages = 0
        self._failures = 0
        self._unchanged = 0
        self._changed = 0
        self._removed = 0
        self._batches = 0
        self._last_batch_ms = 0.0

    async def run(self) -> None:
        batch: list[SinkRecord] = []
        deadline: float | None = None
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    record = await self.inbox.get()
            except TimeoutError:
                await self._flush(batch)
                deadline = None
                continue
            if not batch:
                deadline = asyncio.get_running_loop().time() + self._flush_interval_s
            while record is not None:  # and what else has come meanwhile, without waiting
                batch.append(record)
                if len(batch) >= self._batch_size or self.inbox.empty():
                    break
                record = self.inbox.get_nowait()
            if record is None:
                await self._flush(batch)
                return
            if len(batch) >= self._batch_size or (self.inbox.empty() and self._urgent()):
                await self._flush(batch)
                deadline = None

    async def _flush(self, batch: list[SinkRecord]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        records = tuple(batch)
        batch.clear()
        await self._store.write_batch(records)
        pages = sum(isinstance(r, PageRecord) for r in records)
        unchanged = sum(isinstance(r, CheckedRecord) for r in records)
        self._pages += pages
        self._unchanged += unchanged
        changed = [r for r in records if isinstance(r, PageRecord) and r.revisit]
        self._changed += len(changed)
        self._removed += sum(r.status in GONE_STATUSES for r in changed)
        self._failures += len(records) - pages - unchanged
        self._batches += 1
        self._last_batch_ms = (time.perf_counter() - started) * 1000
        if events.isEnabledFor(logging.INFO):
            for record in records:
                _log_event(record)
        self._on_commit(records)

    def stats(self) -> SinkStats:
        return SinkStats(
            pages_written=self._pages,
            failures_written=self._failures,
            unchanged_written=self._unchanged,
            changed_written=self._changed,
            removed_written=self._removed,
            batches=self._batches,
            last_batch_ms=round(self._last_batch_ms, 1),
            queued=self.inbox.qsize(),
        )
