"""The crawl's store on PostgreSQL: several workers, on any number of machines, share one crawl.

psycopg 3 on a small pool of connections. A worker fetches only the hosts it holds a lease on
(``hosts.owner``, ``lease_until``): claims lease hosts and take their URLs, the engine's
heartbeat renews the leases or releases them, and a host whose worker stopped renewing is taken
over once its lease ran out, its claimed URLs with it. Every write is one transaction and
idempotent (a page written twice stays one row), so a transaction cut by a lost connection is
simply run again: transient errors are retried for ``retry_s``, then StoreError.
"""

import asyncio
import logging
import os
import socket
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Self, TypeVar

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from scraper.errors import StoreError
from scraper.models import FrontierItem, Reparsed, SinkRecord, StoredBody, StoredCookie
from scraper.storage.base import HostTiming, NewUrl, Tally, tally
from scraper.storage.cookies import CookieKey
from scraper.storage.postgres import claims, cookies, extras
from scraper.storage.postgres.batch import update_parsed, write
from scraper.storage.postgres.leases import Leases
from scraper.storage.postgres.reconcile import RECONCILE_S, Known, give_back_unknown
from scraper.storage.postgres.setup import (
    CONNECT_TIMEOUT_S,
    Conn,
    address,
    connect,
    end_error,
    leave_crawl,
    one_line,
    prepare_for_crawl,
    retrying,
)
from scraper.storage.postgres.statements import (
    ABANDONED_HOSTS,
    ADD_URLS,
    BODIES_PAGE,
    CLEAR_EXPIRED,
    GET_META,
    HEARTBEAT,
    IS_KNOWN,
    PAGE_COUNT,
    PREVIOUS,
    PUBLISH,
    PUT_META,
    RECOVER,
    RELEASE_HOSTS,
    RELEASE_IDS,
    RELEASE_MINE,
    RENEW,
    RETRY_FAILED,
    SCHEDULE,
    TALLY,
    UNFINISHED,
    WITHOUT_BODY,
)
from scraper.storage.proxyhealth import ProxyRow
from scraper.storage.revisits import revisit_filter, with_previous

log = logging.getLogger(__name__)

T = TypeVar("T")
POOL_SIZE = 4


class PostgresStore:
    """The crawl database at ``url`` (``postgresql://user@host:port/dbname``), opened by one
    worker of the crawl: ``async with PostgresStore(url) as store:``.

    ``lease_s``: how long a host lease lasts without renewal (the engine renews about once a
    second). ``worker``: this worker's name, ``hostname:pid`` by default. ``retry_s``: how long
    transient database errors are retried before StoreError. ``reconcile_s``: how often the
    renewal gives back URLs claimed for this worker that it does not know (:mod:`.reconcile`).
    """

    def __init__(
        self,
        url: str,
        *,
        lease_s: float = 30.0,
        worker: str | None = None,
        retry_s: float = 60.0,
        reconcile_s: float = RECONCILE_S,
    ) -> None:
        self.url = url
        self._worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._lease_s = lease_s
        self._retry_s = retry_s
        self._leases = Leases(lease_s)
        self._known = Known(reconcile_s)  # the ids it claims, checked every reconcile_s
        self._leasing = asyncio.Lock()  # this worker's claims and renewals, one at a time
        self._pool: AsyncConnectionPool[Conn] | None = None

    @property
    def worker(self) -> str:
        return self._worker

    def __repr__(self) -> str:
        return f"PostgresStore({address(self.url)!r}, worker={self._worker!r})"

    async def __aenter__(self) -> Self:
        conn = await connect(self.url)
        try:
            await prepare_for_crawl(conn, self.url, self._worker)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open database {self._where}: {self._why(exc)}") from None
        finally:
            await conn.close()
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=POOL_SIZE,
            open=False,
            timeout=max(1.0, min(10.0, self._retry_s)),
            # custom plans always: a generic plan of the statements that take arrays (renewal,
            # claims) does not know their sizes (renew_leases of 640 hosts: 10 -> 85 ms from the
            # 11th run on, when psycopg's prepared statement switched to its generic plan)
            kwargs={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": "-c plan_cache_mode=force_custom_plan",
            },
            name=f"scraper-{self._worker}",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except BaseException as exc:  # Ctrl-C too: the pool's tasks must end
            await pool.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"cannot open database {self._where}: {self._why(exc)}") from None
            raise
        self._pool = pool
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(error=end_error(e))

    async def close(self, *, error: str | None = None) -> None:
        """Leave the crawl: its leases released, its end recorded (``error``: what ended it; its
        row stays, with its last status); URLs it still claims are left for recovery."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        try:
            async with pool.connection(timeout=CONNECT_TIMEOUT_S) as conn:
                await leave_crawl(conn, self._worker, error)
        except psycopg.OperationalError as exc:  # the leases run out by themselves
            log.warning("database %s: leases not released: %s", self._where, self._why(exc))
        finally:
            self._leases.clear()
            await pool.close()

    @property
    def _where(self) -> str:
        return address(self.url)

    def _why(self, exc: BaseException) -> str:
        return one_line(exc, self.url)

    async def _run(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """``work`` on a connection of the pool, as one transaction (committed when it
        returns), run again on transient errors for ``retry_s``; then StoreError."""
        if self._pool is None:
            raise RuntimeError("store is not open")
        pool = self._pool
        try:
            async for attempt in retrying(self._retry_s, self.url):
                with attempt:
                    async with pool.connection() as conn:
                        return await work(conn)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"database {self._where} unavailable for {self._retry_s:g} s: {self._why(exc)}"
            ) from None
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _execute(self, sql: str, params: Sequence[object] | Mapping[str, object]) -> int:
        """Run one statement; how many rows it changed."""

        async def work(conn: Conn) -> int:
            return (await conn.execute(sql, params)).rowcount

        return await self._run(work)

    async def _rows(
        self, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> list[TupleRow]:
        async def work(conn: Conn) -> list[TupleRow]:
            return await (await conn.execute(sql, params)).fetchall()

        return await self._run(work)

    async def _value(self, sql: str, params: Sequence[object] = ()) -> object:
        rows = await self._rows(sql, params)
        return rows[0][0] if rows else None

    # -- the crawl's settings and status ------------------------------------------------------

    async def load_settings(self) -> str | None:
        value = await self._value(GET_META, ("settings",))
        return value if isinstance(value, str) else None

    async def save_settings(self, settings_json: str) -> None:
        await self._execute(PUT_META, ("settings", settings_json))

    async def record_proxies(self, rows: Sequence[ProxyRow]) -> None:
        await self._run(lambda conn: extras.record_proxies(conn, rows))

    async def publish_status(self, snapshot_json: str) -> None:
        """This worker's row of ``workers``: its status, and its heartbeat now."""
        await self._execute(PUBLISH, (snapshot_json, self._worker))

    # -- the frontier ---------------------------------------------------------------------------

    async def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Insert (url, host, depth) rows as pending, and a ``hosts`` row for each new host;
        URLs already known are left alone. Returns how many were new."""
        rows = sorted(urls)  # one order for every writer: no deadlock between two
        if not rows:
            return 0
        found = await self._value(ADD_URLS, [list(column) for column in zip(*rows, strict=True)])
        return found if isinstance(found, int) else 0

    async def is_known(self, url: str) -> bool:
        return bool(await self._value(IS_KNOWN, (url,)))

    async def adopt(self, urls: Sequence[tuple[str, str]]) -> dict[str, int]:
        return await self._run(lambda conn: extras.adopt(conn, urls, self._worker))

    async def claim(
        self,
        limit: int,
        exclude_hosts: Iterable[str] = (),
        *,
        max_pages: int = 0,
        per_host: int = 0,
        new_hosts: int | None = None,
    ) -> list[FrontierItem]:
        """Claim URLs of the hosts this worker holds, then lease hosts for the rest (see
        ``CrawlStore.claim``); the hosts leased wait in :meth:`take_new_hosts`."""
        if limit <= 0:
            return []
        req = claims.Request(
            worker=self._worker, lease_s=self._lease_s, margin_s=self._leases.margin_s, limit=limit,
            excluded=list(dict.fromkeys(exclude_hosts)), max_pages=max_pages,
            per_host=per_host, new_hosts=new_hosts,
        )  # fmt: skip

        tries = 0

        async def work(conn: Conn) -> tuple[claims.Claimed, list[TupleRow]]:
            nonlocal tries
            tries += 1  # a retry: the outcome of the first try may be unknown
            done = await claims.claim(conn, req, self._known.ids if tries > 1 else None)
            urls = [row[1] for row in done.rows]  # revisits: what their last visit left
            found = await (await conn.execute(PREVIOUS, (urls,))).fetchall() if urls else []
            return done, found

        async with self._leasing:
            done, found = await self._run(work)
            self._leases.leased(done.sent_at, done.leased)
            self._known.claimed(row[0] for row in done.rows)
        items = with_previous([FrontierItem(*row) for row in done.rows], found)
        return sorted(items, key=lambda i: (i.depth, i.id))

    async def schedule_revisits(self, *, due_at: str | None, checked_before: str | None) -> int:
        """Stored pages back to pending for a revisit (see ``CrawlStore.schedule_revisits``)."""
        where, params = revisit_filter(due_at, checked_before, "%s::timestamptz")
        return await self._execute(SCHEDULE.format(where=where), params)

    async def retry_failed(self, reasons: Collection[str] = ()) -> int:
        """Failed URLs back to pending (see ``CrawlStore.retry_failed``)."""
        return await self._execute(RETRY_FAILED, {"reasons": sorted(reasons)})

    # -- host leases ----------------------------------------------------------------------------

    @property
    def leases(self) -> bool:
        return True

    def take_new_hosts(self) -> dict[str, float]:
        return self._leases.take_new()

    def take_lost_hosts(self) -> set[str]:
        return self._leases.take_lost()

    def may_start(self, host: str) -> bool:
        return self._leases.may_start(host)

    async def renew_leases(self, timings: Mapping[str, HostTiming], keep: Collection[str]) -> None:
        """In one transaction: extend the leases of the hosts in ``keep`` this worker still
        holds, release the others, record each one's next start and spacing, and beat the
        worker's heartbeat. Hosts it believed held and does not are lost
        (:meth:`take_lost_hosts`)."""
        hosts = sorted(timings)
        params = {
            "me": self._worker, "keep": sorted(keep), "lease_s": self._lease_s, "hosts": hosts,
            "waits": [max(0.0, timings[h][0]) for h in hosts],
            "gaps": [max(0.0, timings[h][1]) for h in hosts],
        }  # fmt: skip

        check = self._known.due()

        async def work(conn: Conn) -> tuple[float, list[TupleRow], tuple[set[int], list[int]]]:
            sent_at = time.monotonic()
            held = await (await conn.execute(RENEW, params)).fetchall()
            await conn.execute(HEARTBEAT, (self._worker,))
            mine = await give_back_unknown(conn, self._worker, self._known) if check else None
            return sent_at, held, mine or (set(), [])

        async with self._leasing:
            sent_at, held, (mine, unknown) = await self._run(work)
            self._leases.renewed(sent_at, ((host, kept) for host, kept in held), keep)
            if check:
                self._known.ids &= mine
        if unknown:
            log.warning("gave back %d URLs claimed for this worker it did not know", len(unknown))
        if check:  # and what dead workers left (their hosts' leases ran out)
            await self.recover_abandoned()

    async def release(self, ids: Sequence[int]) -> None:
        """Give back URLs this worker claimed and did not fetch (others' are left alone)."""
        if ids:
            await self._execute(RELEASE_IDS, (list(ids), self._worker))
            self._known.ended(ids)

    async def release_claims(self) -> int:
        """Give back every URL this worker claims, and every host it holds (each one's next
        start recorded one spacing from now)."""

        async def work(conn: Conn) -> int:
            count = (await conn.execute(RELEASE_MINE, (self._worker,))).rowcount
            await conn.execute(RELEASE_HOSTS, (self._worker,))
            return count

        async with self._leasing:
            count = await self._run(work)
            self._leases.clear()
            self._known.ids.clear()
        return count

    async def recover_abandoned(self) -> int:
        """URLs claimed on hosts nobody holds a live lease on go back to pending (their worker
        is gone: killed, crashed, cut off), and those hosts' expired leases are cleared, their
        spacing kept. Returns how many URLs."""

        async def work(conn: Conn) -> int:
            hosts = [host for (host,) in await (await conn.execute(ABANDONED_HOSTS)).fetchall()]
            if not hosts:
                return 0
            await conn.execute(CLEAR_EXPIRED, (hosts,))
            return (await conn.execute(RECOVER, (hosts,))).rowcount

        return await self._run(work)

    async def crawl_finished(self, max_pages: int = 0) -> bool:
        """Nothing pending and nothing claimed by any worker, or ``max_pages`` pages stored."""
        if max_pages and await self.page_count() >= max_pages:
            return True
        return not await self._value(UNFINISHED)

    async def page_count(self) -> int:
        count = await self._value(PAGE_COUNT)
        return count if isinstance(count, int) else 0

    async def frontier_tally(self) -> Tally:
        """URLs by state, and failed URLs by ``last_error`` (most first), in one scan."""
        return tally(await self._rows(TALLY))

    # -- the sink -------------------------------------------------------------------------------

    async def write_batch(self, records: Sequence[SinkRecord]) -> None:
        """Pages, bodies, redirect targets, new URLs and frontier states of a batch in one
        transaction (see :func:`.batch.write`); run again whole after a lost connection."""
        if records:
            await self._run(lambda conn: write(conn, records))
            self._known.ended(r.frontier_id for r in records)

    async def load_cookies(self) -> list[StoredCookie]:
        return await self._run(cookies.load)

    async def save_cookies(self, jar: Sequence[StoredCookie], gone: Collection[CookieKey]) -> None:
        await self._run(lambda conn: cookies.save(conn, jar, gone))

    # -- reparse --------------------------------------------------------------------------------

    async def stored_bodies(self, batch_size: int) -> AsyncIterator[list[StoredBody]]:
        """HTML pages with a stored body, in batches (keyset pagination: memory stays flat)."""
        last_id = 0
        while rows := await self._rows(BODIES_PAGE, (last_id, batch_size)):
            last_id = rows[-1][0]
            yield [StoredBody(*row) for row in rows]

    async def html_pages_without_body(self) -> int:
        count = await self._value(WITHOUT_BODY)
        return count if isinstance(count, int) else 0

    async def update_parsed(self, pages: Sequence[Reparsed]) -> None:
        """New title, description, text, data, content hash and main content for versions
        parsed again, in one transaction (see :func:`.batch.update_parsed`)."""
        if pages:
            await self._run(lambda conn: update_parsed(conn, pages))
