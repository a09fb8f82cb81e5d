"""All SQL lives here: the crawl database's schema, the frontier's claims and the sink's batches.

SQLite through aiosqlite, one connection, WAL mode so readers in other processes never block the
crawl. Every write that must be atomic is one transaction taken under an ``asyncio.Lock`` (claims
from the frontier and batches from the sink share the connection). Writes are idempotent: a page
written twice (a re-fetch after a crash) stays one row.
"""

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite
import orjson

from scraper.errors import StoreError
from scraper.models import (
    CheckedRecord,
    FrontierItem,
    PageRecord,
    Reparsed,
    SinkRecord,
    StoredBody,
    StoredCookie,
)
from scraper.storage.base import HostTiming, NewUrl, Tally, tally
from scraper.storage.captures import capture_rows
from scraper.storage.contents import chunk_rows, content_rows
from scraper.storage.cookies import CookieKey
from scraper.storage.metadata import metadata_rows
from scraper.storage.proxyhealth import ProxyRow, proxy_health_rows, upsert_proxy_health
from scraper.storage.rendered import rendered_urls
from scraper.storage.revisits import (
    checked_columns,
    finished_rows,
    revisit_filter,
    visit_columns,
)
from scraper.storage.sqlite import adopt, cookies
from scraper.storage.sqlite.captures import write_captures
from scraper.storage.sqlite.claims import Claims
from scraper.storage.sqlite.lock import take_crawl_lock
from scraper.storage.sqlite.reparsed import write_reparsed
from scraper.storage.sqlite.schema import BODIES, MARK_RENDERED
from scraper.storage.sqlite.setup import prepare_for_crawl, scalar
from scraper.storage.sqlite.statements import (
    BATCH_WRITER,
    BODIES_PAGE,
    INSERT_BODY,
    INSERT_NEW_URLS,
    PARSED_PAGE,
    RETRY_FAILED,
    SCHEDULE,
    STORED_OF_BATCH,
    TALLY,
    UNFINISHED,
    WRITE_BATCH,
)
from scraper.urls import url_host

log = logging.getLogger(__name__)


class Store:
    """The crawl database, opened by the crawl that writes it (reading is
    :class:`~scraper.storage.sqlite.readstore.ReadStore`'s). Use as
    ``async with Store(path) as store:``.

    The file and its directory are created if missing, and the store holds an exclusive lock on
    the file for as long as it is open, so two crawls never share a database (the lock dies with
    the process, kill -9 included).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._lock_fd: int | None = None
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        # This worker's claims not yet finished, and the pages stored (counted on first use).
        # Exact here: the crawl lock makes this worker the database's only writer.
        self._claimed = 0
        self._pages: int | None = None

    @property
    def worker(self) -> str:
        return self._worker

    async def __aenter__(self) -> Self:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = take_crawl_lock(self.path)
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            self._claims = Claims(self._db)
            await prepare_for_crawl(self.db, self.path)
            await self.db.executescript(BATCH_WRITER)
        except BaseException as exc:  # Ctrl-C too: an open connection's thread would hang exit
            await self.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open database {self.path}: {exc}") from None
            if isinstance(exc, OSError):
                raise StoreError(f"cannot open database {self.path}: {exc.strerror}") from None
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()
        if self._lock_fd is not None:  # after SQLite's own descriptors are closed
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def save_settings(self, settings_json: str) -> None:
        """Remember the crawl's settings (seeds, scope, limits, politeness) for ``resume``."""
        await self._put_meta("settings", settings_json)

    async def load_settings(self) -> str | None:
        """The settings saved by the last crawl, as JSON; None if none were saved."""
        value = await self._scalar("SELECT value FROM meta WHERE key = 'settings'")
        return value if isinstance(value, str) else None

    async def publish_status(self, snapshot_json: str) -> None:
        """Publish this worker's status snapshot for ``scraper status`` (``meta.status``: one
        worker at a time writes an SQLite crawl)."""
        await self._put_meta("status", snapshot_json)

    async def record_proxies(self, rows: Sequence[ProxyRow]) -> None:
        async with self._transaction() as db:
            await db.executemany(upsert_proxy_health("?"), proxy_health_rows(rows))

    async def _put_meta(self, key: str, value: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        return await scalar(self.db, sql, params)

    # -- frontier -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, serialized with every other use of the connection."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Insert (url, host, depth) rows as pending; URLs already known are left alone.

        Returns how many were new.
        """
        async with self._transaction() as db:
            before = db.total_changes
            rows = [(depth, [(url, host)]) for url, host, depth in urls]
            await db.execute(INSERT_NEW_URLS, (_json(rows),))
            return db.total_changes - before

    async def claim(
        self,
        limit: int,
        exclude_hosts: Iterable[str] = (),
        *,
        max_pages: int = 0,
        per_host: int = 0,
        new_hosts: int | None = None,
    ) -> list[FrontierItem]:
        """Mark up to ``limit`` pending URLs in_progress and return them, shallowest first;
        with ``max_pages``, no more than pages stored plus URLs claimed may reach; with
        ``per_host``, at most that many of one host.

        Hosts in ``exclude_hosts`` are skipped (their in-memory queue is full). Such a claim
        looks at the first ``CLAIM_SCAN`` pending URLs in order only; if those are mostly the
        left-out hosts' (one big site), the rest comes from up to ``CLAIM_HOSTS`` other hosts,
        found host by host in the ``frontier_pending_host`` index. Its cost so stays bounded
        whatever the left-out hosts have pending (a ``host NOT IN (...)`` filter over the whole
        order read it all: 91 ms a claim beside a million pending URLs of one host).
        """
        if max_pages:
            limit = min(limit, max_pages - await self._page_total() - self._claimed)
        if limit <= 0:
            return []
        excluded = list(dict.fromkeys(exclude_hosts))
        capped = 0 < per_host < limit
        async with self._lock:
            if not excluded and not capped:
                rows = await self._claims.in_order(limit)
            elif capped:
                rows = await self._claims.in_turn(set(excluded), limit, per_host)
            else:
                rows = await self._claims.scanned(excluded, limit)
                if len(rows) < limit:
                    skip = {*excluded, *(item.host for item in rows)}
                    rows += await self._claims.by_host(skip, limit - len(rows))
        self._claimed += len(rows)
        return sorted(rows, key=lambda i: (i.depth, i.id))

    async def schedule_revisits(self, *, due_at: str | None, checked_before: str | None) -> int:
        """Stored pages back to pending for a revisit: all, or those due by ``due_at``, or
        those last checked before ``checked_before`` (both: both). One transaction."""
        where, params = revisit_filter(due_at, checked_before, "?")
        async with self._transaction() as db:
            cur = await db.execute(SCHEDULE.format(where=where), params)
            return cur.rowcount

    async def retry_failed(self, reasons: Collection[str] = ()) -> int:
        """Failed URLs back to pending (see ``CrawlStore.retry_failed``)."""
        wanted = _json(sorted(reasons))
        async with self._transaction() as db:
            cur = await db.execute(RETRY_FAILED, (wanted, wanted))
            return cur.rowcount

    # -- host leases: the crawl lock makes this worker the holder of every host -----------------

    @property
    def leases(self) -> bool:
        return False

    def take_new_hosts(self) -> dict[str, float]:
        return {}

    def take_lost_hosts(self) -> set[str]:
        return set()

    def may_start(self, host: str) -> bool:
        return True

    async def renew_leases(self, timings: Mapping[str, HostTiming], keep: Collection[str]) -> None:
        return None

    async def release(self, ids: Sequence[int]) -> None:
        """Return claimed but unfetched URLs to pending (at shutdown)."""
        if ids:
            async with self._transaction() as db:
                before = db.total_changes
                await db.executemany(
                    "UPDATE frontier SET state = 'pending' WHERE id = ? AND state = 'in_progress'",
                    [(i,) for i in ids],
                )
                self._claimed = max(0, self._claimed - (db.total_changes - before))

    async def release_claims(self) -> int:
        """Every URL this worker holds goes back to pending (the crawl lock: all claims)."""
        return await self._unclaim_all()

    async def recover_abandoned(self) -> int:
        """URLs left claimed by a worker that died go back to pending. Under the crawl lock no
        other worker is alive, so every claim found is abandoned (call it right after opening)."""
        return await self._unclaim_all()

    async def _unclaim_all(self) -> int:
        async with self._lock:
            cur = await self.db.execute(
                "UPDATE frontier SET state = 'pending' WHERE state = 'in_progress'"
            )
            self._claimed = 0
            return cur.rowcount

    async def crawl_finished(self, max_pages: int = 0) -> bool:
        """Nothing pending and nothing claimed, or ``max_pages`` pages stored."""
        if max_pages and await self._page_total() >= max_pages:
            return True
        return await self._scalar(UNFINISHED) is None

    async def _page_total(self) -> int:
        if self._pages is None:
            self._pages = await self.page_count()
        return self._pages

    async def is_known(self, url: str) -> bool:
        """Is ``url`` in the frontier already (in any state)?"""
        async with self._lock:
            return await self._scalar("SELECT 1 FROM frontier WHERE url = ?", (url,)) is not None

    async def load_cookies(self) -> list[StoredCookie]:
        async with self._lock:
            return await cookies.load(self.db)

    async def save_cookies(self, jar: Sequence[StoredCookie], gone: Collection[CookieKey]) -> None:
        async with self._transaction() as db:
            await cookies.save(db, jar, gone)

    async def adopt(self, urls: Sequence[tuple[str, str]]) -> dict[str, int]:
        async with self._transaction() as db:
            return await adopt.adopt(db, urls)

    # -- sink -----------------------------------------------------------------------------------

    async def write_batch(self, records: Sequence[SinkRecord]) -> None:
        """Write pages, links, new URLs and frontier states of a batch in one transaction.

        A URL is marked done in the same transaction that stores its page, so the frontier and
        the pages never disagree, whatever moment the process dies at. Without stored bodies
        that is one statement (:data:`WRITE_BATCH`), a transaction of its own.
        """
        pages = [r for r in records if isinstance(r, PageRecord)]
        bodies = [(p.url, p.charset, p.body, p.url) for p in pages if p.body is not None]
        captures = capture_rows(records)  # --archive
        rendered = [urls for urls in rendered_urls(pages) if urls]
        try:
            async with self._transaction() if bodies or captures or rendered else self._lock:
                added = await self._write(records, pages)
                for value, urls in zip((1, 0), rendered_urls(pages), strict=True):
                    if urls:
                        await self.db.execute(MARK_RENDERED, (value, _json(urls)))
                if bodies:  # BLOBs have no JSON form: one bound row each (--store-html only)
                    for sql in BODIES.split(";")[:2]:  # the table exists once a body is stored
                        await self.db.execute(sql)
                    await self.db.executemany(INSERT_BODY, bodies)  # after their versions
                if captures:
                    await write_captures(self.db, captures)
        except sqlite3.OperationalError as exc:  # disk full, read-only: the batch rolled back
            raise StoreError(f"cannot write to database {self.path}: {exc}") from None
        self._claimed = max(0, self._claimed - len(records))
        if self._pages is not None:
            self._pages += added

    async def _write(self, records: Sequence[SinkRecord], pages: list[PageRecord]) -> int:
        """The batch's statement; returns how many of its pages are new rows (revisited ones
        are already stored), counted only while the page total is cached (``--max-pages``)."""
        page_rows = [
            (p.url, p.final_url, p.status, p.content_type, p.title, p.description, p.text,
             p.depth, p.fetched_at, p.elapsed_ms, p.size_bytes, p.data, p.links or None,
             url_host(p.url), *visit_columns(p))
            for p in pages
        ]  # fmt: skip
        checked = [checked_columns(r) for r in records if isinstance(r, CheckedRecord)]
        targets = [(*p.redirected_to, p.depth) for p in pages if p.redirected_to]
        found = [(p.depth + 1, p.new_urls) for p in pages if p.new_urls]
        contents = [
            (url, c.markdown, [r[:1] + r[2:] for r in chunk_rows(url, c)])
            for url, c in content_rows(pages)
        ]
        row = [_json(c) if c else None for c in (page_rows, contents, checked, targets, found)]
        counted = self._pages is not None and pages
        stored = await scalar(self.db, STORED_OF_BATCH, (row[0],)) if counted else 0
        meta = metadata_rows(pages)
        finished = _json(finished_rows(records))
        await self.db.execute(WRITE_BATCH, [*row, finished, _json(meta) if meta else None])
        return len(pages) - (stored if isinstance(stored, int) else 0)

    # -- reparse ------------------------------------------------------------------------------

    async def stored_bodies(self, batch_size: int) -> AsyncIterator[list[StoredBody]]:
        """HTML pages with a stored body, in batches (keyset pagination: memory stays flat)."""
        last_id = 0
        while await self._has_bodies():
            async with self.db.execute(BODIES_PAGE, (last_id, batch_size)) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return
            last_id = rows[-1][0]
            yield [StoredBody(*row) for row in rows]

    async def html_pages_without_body(self) -> int:
        sql = "SELECT count(*) FROM pages p WHERE " + PARSED_PAGE
        if await self._has_bodies():
            sql += " AND NOT EXISTS (SELECT 1 FROM bodies b WHERE b.url = p.url)"
        count = await self._scalar(sql)
        return count if isinstance(count, int) else 0

    async def _has_bodies(self) -> bool:
        """Was a body ever stored (--store-html)? Only then is there a ``bodies`` table."""
        found = await self._scalar("SELECT 1 FROM sqlite_master WHERE name = 'bodies'")
        return found is not None

    async def update_parsed(self, pages: Sequence[Reparsed]) -> None:
        """New title, description, text, data and content hash for versions parsed again;
        for the latest version of its URL, its page's too, and its links."""
        async with self._transaction() as db:
            await write_reparsed(db, pages)

    # -- counts ---------------------------------------------------------------------------------

    async def page_count(self) -> int:
        count = await self._scalar("SELECT count(*) FROM pages")
        return count if isinstance(count, int) else 0

    async def frontier_tally(self) -> Tally:
        """URLs by state, and failed URLs by ``last_error`` (most first), in one scan."""
        async with self.db.execute(TALLY) as cur:
            return tally(await cur.fetchall())


def _json(rows: object) -> str:
    """A batch's rows as JSON text for json_each (orjson: 20x the stdlib encoder on a batch)."""
    return orjson.dumps(rows).decode()
