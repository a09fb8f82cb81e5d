"""The parse stage: fetched outcomes in, sink records out.

Any producer of responses feeds it: the crawl's parsers (:mod:`scraper.crawl.workers`), and an
import of archived captures. HTML pages are parsed in one call to the parse pool per batch (or
inline without a pool); a sitemap's URLs are admitted through the crawl's link filter; a revisit
whose content hashes the same becomes a check record instead of a new version.
"""

import asyncio
import json
import zlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from typing import TypeVar, TypeVarTuple

from scraper.config import Settings
from scraper.crawl import revisit
from scraper.crawl.links import LinkFilter, to_follow
from scraper.models import (
    CheckedRecord,
    FailureRecord,
    FetchResult,
    FrontierItem,
    PageRecord,
    ParsedPage,
    ParseJob,
    SinkRecord,
)
from scraper.parse import (
    PDF_TYPE,
    UNREADABLE,
    looks_like_sitemap,
    parse_many,
    parse_sitemap,
    stop_signals_blocked,
)
from scraper.urls import try_normalize, url_host

Outcome = FetchResult | FailureRecord

Ts = TypeVarTuple("Ts")
R = TypeVar("R")


class Records:
    """Builds the sink records of fetched outcomes (the parse stage shared by its producers)."""

    def __init__(self, settings: Settings, *, links: LinkFilter, pool: Executor | None) -> None:
        self._settings = settings
        self._links = links
        self._pool = pool
        self._spec = settings.parse_spec

    async def _run(self, fn: Callable[[*Ts], R], *args: *Ts) -> R:
        return await run_in_pool(self._pool, fn, *args)

    async def build(self, jobs: list[tuple[FrontierItem, Outcome]]) -> list[SinkRecord]:
        """Sink records for ``jobs``, in order; their HTML and PDF pages parsed in one pool call."""
        html = [isinstance(r, FetchResult) and self._parses(r) for _, r in jobs]
        requests = [
            self._job(item, r)
            for (item, r), parse in zip(jobs, html, strict=True)
            if parse and isinstance(r, FetchResult)
        ]
        parsed = iter(await self._run(parse_many, requests, self._spec) if requests else [])
        records: list[SinkRecord] = []
        for (item, outcome), parse in zip(jobs, html, strict=True):
            if isinstance(outcome, FailureRecord):
                records.append(outcome)
            elif parse:
                page, packed = next(parsed)
                unread = page == UNREADABLE  # a broken PDF: stored as any binary, no text
                records.append(self._page(item, outcome, None if unread else page, packed))
            else:
                records.append(await self._unparsed(item, outcome))
        return records

    def _job(self, item: FrontierItem, r: FetchResult) -> ParseJob:
        keep = self._settings.store_html
        return ParseJob(
            r.body, self._base(item, r), r.charset, keep, r.content_language, r.content_type
        )

    @staticmethod
    def _parses(r: FetchResult) -> bool:
        return 200 <= r.status < 300 and bool(r.body) and (r.is_html or r.content_type == PDF_TYPE)

    @staticmethod
    def _base(item: FrontierItem, r: FetchResult) -> str:
        return try_normalize(r.final_url) or item.url

    async def _unparsed(self, item: FrontierItem, r: FetchResult) -> SinkRecord:
        """A response that is not a parsed HTML page: a sitemap (its URLs), or kept as is."""
        new_urls: tuple[tuple[str, str], ...] = ()
        if 200 <= r.status < 300 and r.body:
            base = self._base(item, r)
            if looks_like_sitemap(base, r.content_type, r.body):
                sitemap = await self._run(parse_sitemap, r.body, base)
                new_urls = self._links.admit(sitemap.urls + sitemap.sitemaps, item.depth)
        keep = self._settings.store_html and bool(r.body)
        packed = await self._run(zlib.compress, r.body) if keep else None
        return self._page(item, r, None, packed, new_urls)

    def _page(
        self,
        item: FrontierItem,
        r: FetchResult,
        parsed: ParsedPage | None,
        packed: bytes | None,
        new_urls: tuple[tuple[str, str], ...] | None = None,
    ) -> SinkRecord:
        """The page's record; a revisit whose content hashes the same is only checked (its
        links are not followed again: what is linked from an unchanged page is known)."""
        data = json.dumps(parsed.data, ensure_ascii=False) if parsed and parsed.data else None
        raw = revisit.raw_hash(r)
        content = revisit.page_hash(r, parsed, data, raw)
        if item.previous is not None and content == item.previous.content_hash:
            return captured(revisit.checked(self._settings, item, r, raw), r)
        links = parsed.links if parsed else ()
        if new_urls is None:
            canonical = parsed.metadata.canonical_url if parsed and parsed.metadata else None
            followed = links if self._settings.follow_canonical else to_follow(links, r, canonical)
            new_urls = self._links.admit(followed, item.depth)
        return PageRecord(
            frontier_id=item.id,
            url=item.url,
            final_url=r.final_url,
            status=r.status,
            content_type=r.content_type,
            title=parsed.title if parsed else None,
            description=parsed.description if parsed else None,
            text=parsed.text if parsed else None,
            depth=item.depth,
            fetched_at=r.fetched_at,
            elapsed_ms=r.elapsed_ms,
            size_bytes=r.size_bytes,
            attempts=r.attempts,
            links=links,
            new_urls=new_urls,
            data=data,
            body=packed,
            charset=r.charset,
            redirected_to=_redirect_target(item.url, r),
            visit=revisit.visit(self._settings, item, r, hashes=(raw, content), changed=True),
            content=parsed.content if parsed else None,
            revisit=item.previous is not None,
            metadata=parsed.metadata if parsed else None,
            captures=r.captures,
            rendered=r.rendered,
        )


async def run_in_pool(pool: Executor | None, fn: Callable[[*Ts], R], *args: *Ts) -> R:
    """``fn(*args)`` in the parse pool (picklable top-level ``fn``), or inline without one.

    Submitted with SIGINT/SIGTERM blocked, so a worker process it starts is never killed by a
    Ctrl-C meant for the crawler (:func:`scraper.parse.html.stop_signals_blocked`).
    """
    if pool is None:
        return fn(*args)
    with stop_signals_blocked():
        result = asyncio.get_running_loop().run_in_executor(pool, fn, *args)
    return await result


def _redirect_target(url: str, r: FetchResult) -> tuple[str, str] | None:
    """(url, host) where a followed redirect chain ended, if not at ``url``; None otherwise (a
    3xx stored as is points to a URL known already or out of scope)."""
    if r.final_url == url or 300 <= r.status < 400:
        return None
    return r.final_url, url_host(r.final_url)


def captured(record: SinkRecord, r: FetchResult) -> SinkRecord:
    """``record`` with the fetch's hops as received (--archive: a revisit's too)."""
    if r.captures and isinstance(record, PageRecord | CheckedRecord):
        return replace(record, captures=r.captures)
    return record
