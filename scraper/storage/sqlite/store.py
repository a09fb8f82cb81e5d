"""All SQL lives here: the crawl database's schema, the frontier's claims and the sink's batches.

SQLite through aiosqlite, one connection, WAL mode so readers in other processes never block the
crawl. Every write that must be atomic is one transaction taken under an ``asyncio.Lock`` (claims
from the frontier and batches from the sink share the connection). Writes are idempotent: a page
written twice (a re-fetch after a crash) stays one row.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite
import orjson

from scraper.errors import StoreError
from scraper.models import (
    FailureRecord,
    FrontierItem,
    FrontierState,
    PageRecord,
    Reparsed,
    SinkRecord,
    StoredBody,
)
from scraper.storage.sqlite.schema import APPLICATION_ID, BODIES, MIGRATIONS, SCHEMA, SCHEMA_VERSION
from scraper.urls import url_host

log = logging.getLogger(__name__)

# A sink batch is written with one statement per table, its rows passed as one JSON array and
# unpacked by json_each: SQLite then inserts them all in one call that runs without the GIL.
# (executemany binds each row in Python, taking the GIL back once per row: with the event loop
# busy in the main thread, that cost 3x the SQL itself.)
_PAGE_COLUMNS = (
    "url, final_url, status, content_type, title, description, text, depth, fetched_at, "
    "elapsed_ms, size_bytes, data, links, host"
)
_UPSERT_PAGE = f"""
INSERT INTO pages ({_PAGE_COLUMNS})
SELECT {", ".join(f"json_extract(value, '$[{i}]')" for i in range(14))}
FROM json_each(?) WHERE true
ON CONFLICT (url) DO UPDATE SET
    final_url = excluded.final_url, status = excluded.status,
    content_type = excluded.content_type, title = excluded.title,
    description = excluded.description, text = excluded.text, depth = excluded.depth,
    fetched_at = excluded.fetched_at, elapsed_ms = excluded.elapsed_ms,
    size_bytes = excluded.size_bytes, data = excluded.data, links = excluded.links
"""
# [[depth, [[url, host], ...]], ...]: the new URLs of a batch's pages, or seeds (add_urls)
_INSERT_NEW_URLS = """
INSERT OR IGNORE INTO frontier (url, host, depth)
SELECT json_extract(url.value, '$[0]'), json_extract(url.value, '$[1]'),
       json_extract(page.value, '$[0]')
FROM json_each(?) AS page, json_each(page.value, '$[1]') AS url
"""
# [[url, host, depth], ...]: where followed redirects ended, content stored under the first URL;
# done, so a link to one later is not fetched again (pending ones are not claimed yet).
_REDIRECT_TARGETS_DONE = """
INSERT INTO frontier (url, host, depth, state)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), 'done'
FROM json_each(?) WHERE true
ON CONFLICT (url) DO UPDATE SET state = 'done' WHERE state = 'pending'
"""
# [[id, state, attempts, last_error], ...]
_FINISH = """
UPDATE frontier SET state = json_extract(row.value, '$[1]'),
    attempts = json_extract(row.value, '$[2]'), last_error = json_extract(row.value, '$[3]')
FROM json_each(?) AS row WHERE frontier.id = json_extract(row.value, '$[0]')
"""
# -- claims: UPDATE ... WHERE id IN (<ids>) RETURNING the claimed rows ----------------------
_CLAIM = "UPDATE frontier SET state = 'in_progress' WHERE id IN ("
_CLAIMED = ") RETURNING id, url, host, depth, attempts"
_CLAIM_IN_ORDER = (
    f"{_CLAIM}SELECT id FROM frontier WHERE state = 'pending' ORDER BY depth, id LIMIT ?{_CLAIMED}"
)
# The first pending URLs in order (at most CLAIM_SCAN), less those of full hosts; {not_in}: (?, ...)
_CLAIM_SCANNED = (
    _CLAIM + "SELECT id FROM (SELECT id, host, depth FROM frontier WHERE state = 'pending' "
    "ORDER BY depth, id LIMIT ?) WHERE host NOT IN {not_in} ORDER BY depth, id LIMIT ?" + _CLAIMED
)
CLAIM_SCAN = 4096  # ~0.4 ms of SQLite
# One host's shallowest pending URLs (params: host, limit): an arm of a claim's UNION ALL.
_HOST_PENDING = (
    "SELECT * FROM (SELECT id FROM frontier WHERE state = 'pending' AND host = ? "
    "ORDER BY depth, id LIMIT ?)"
)
# Distinct hosts with pending URLs, each found by one seek past the previous one (a loose index
# scan of frontier_pending_host): cost ~ hosts returned x log(pending), whatever their URLs.
_PENDING_HOSTS = """
WITH RECURSIVE hosts (host) AS (
    SELECT min(host) FROM frontier WHERE state = 'pending'
    UNION ALL
    SELECT (SELECT min(host) FROM frontier WHERE state = 'pending' AND host > hosts.host)
    FROM hosts WHERE hosts.host IS NOT NULL
    LIMIT ?
)
SELECT host FROM hosts WHERE host IS NOT NULL
"""
CLAIM_HOSTS = 64  # hosts a claim that leaves some out draws from (SQLite allows 500 arms)

_PARSED_PAGE = (
    "p.content_type IN ('text/html', 'application/xhtml+xml') AND p.status BETWEEN 200 AND 299"
)
_BODIES_PAGE = (
    "SELECT p.id, p.url, p.final_url, b.charset, b.body FROM pages p JOIN bodies b USING (url) "
    f"WHERE p.id > ? AND {_PARSED_PAGE} ORDER BY p.id LIMIT ?"
)


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

    async def __aenter__(self) -> Self:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_crawl_lock()
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._prepare()
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

    @staticmethod
    def crawl_running(path: Path) -> bool:
        """Does a crawl hold this database's lock right now? (A probe: the lock is not kept.)"""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases the probe's shared lock
        return False

    def _take_crawl_lock(self) -> None:
        """flock the database file itself; a second crawl on it is refused at once."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"another crawl is running on {self.path}") from None
        self._lock_fd = fd

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def _prepare(self) -> None:
        """Check the file is ours (or empty) before writing anything, then set it up.

        A crawl migrates an older crawl database; a database from a newer version is refused.
        """
        app_id = await self._scalar("PRAGMA application_id")
        tables = await self._scalar("SELECT count(*) FROM sqlite_master")
        if app_id != APPLICATION_ID and tables:
            raise StoreError(f"{self.path} is not a crawl database")
        await self.db.execute("PRAGMA busy_timeout = 10000")
        version = SCHEMA_VERSION
        if app_id == APPLICATION_ID:
            version = _version(
                await self._scalar("SELECT value FROM meta WHERE key = 'schema_version'")
            )
            if not min(MIGRATIONS) <= version <= SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this scraper reads versions up "
                    f"to {SCHEMA_VERSION}"
                )
        await self.db.execute("PRAGMA journal_mode = WAL")
        await self.db.execute("PRAGMA synchronous = NORMAL")
        if app_id != APPLICATION_ID:
            await self.db.executescript(
                f"BEGIN; {SCHEMA}"
                f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
                f"PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
            )
        elif version < SCHEMA_VERSION:
            await self._migrate(version)

    async def _migrate(self, version: int) -> None:
        """Bring a database from ``version`` to the current schema, in one transaction."""
        script = "".join(MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
        log.warning("upgrading %s from schema version %d to %d", self.path, version, SCHEMA_VERSION)
        await self.db.executescript(
            f"BEGIN; {script}"
            f"UPDATE meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'; COMMIT;"
        )

    async def save_settings(self, settings_json: str) -> None:
        """Remember the crawl's settings (seeds, scope, limits, politeness) for ``resume``."""
        await self._put_meta("settings", settings_json)

    async def load_settings(self) -> str | None:
        """The settings saved by the last crawl, as JSON; None if none were saved."""
        value = await self._scalar("SELECT value FROM meta WHERE key = 'settings'")
        return value if isinstance(value, str) else None

    async def save_status(self, snapshot_json: str) -> None:
        """Publish the running crawl's status snapshot for ``scraper status``."""
        await self._put_meta("status", snapshot_json)

    async def _put_meta(self, key: str, value: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        async with self.db.execute(sql, params) as cur:
            row = await cur.fetchone()
        return None if row is None else row[0]

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

    async def add_urls(self, urls: Iterable[tuple[str, str, int]]) -> int:
        """Insert (url, host, depth) rows as pending; URLs already known are left alone.

        Returns how many were new.
        """
        async with self._transaction() as db:
            before = db.total_changes
            rows = [(depth, [(url, host)]) for url, host, depth in urls]
            await db.execute(_INSERT_NEW_URLS, (_json(rows),))
            return db.total_changes - before

    async def claim(self, limit: int, exclude_hosts: Iterable[str] = ()) -> list[FrontierItem]:
        """Mark up to ``limit`` pending URLs in_progress and return them, shallowest first.

        Hosts in ``exclude_hosts`` are skipped (their in-memory queue is full). Such a claim
        looks at the first ``CLAIM_SCAN`` pending URLs in order only; if those are mostly the
        left-out hosts' (one big site), the rest comes from up to ``CLAIM_HOSTS`` other hosts,
        found host by host in the ``frontier_pending_host`` index. Its cost so stays bounded
        whatever the left-out hosts have pending (a ``host NOT IN (...)`` filter over the whole
        order read it all: 91 ms a claim beside a million pending URLs of one host).
        """
        excluded = list(dict.fromkeys(exclude_hosts))
        async with self._lock:
            if not excluded:
                rows = await self.db.execute_fetchall(_CLAIM_IN_ORDER, (limit,))
            else:
                not_in = f"({','.join('?' * len(excluded))})"
                sql = _CLAIM_SCANNED.format(not_in=not_in)
                rows = list(await self.db.execute_fetchall(sql, [CLAIM_SCAN, *excluded, limit]))
                if len(rows) < limit:
                    rows += await self._claim_by_host(set(excluded), limit - len(rows))
        return sorted((FrontierItem(*row) for row in rows), key=lambda i: (i.depth, i.id))

    async def _claim_by_host(self, excluded: set[str], limit: int) -> list[sqlite3.Row]:
        """Claim up to ``limit`` URLs, the shallowest of each of up to ``CLAIM_HOSTS`` hosts
        (in host order) with pending URLs and not in ``excluded``."""
        hosts = await self._pending_hosts(excluded, min(CLAIM_HOSTS, limit))
        if not hosts:
            return []
        each = limit // len(hosts)  # >= 1; a host with fewer leaves room unused
        sql = _CLAIM + " UNION ALL ".join([_HOST_PENDING] * len(hosts)) + _CLAIMED
        return list(
            await self.db.execute_fetchall(sql, [v for host in hosts for v in (host, each)])
        )

    async def _pending_hosts(self, excluded: set[str], count: int) -> list[str]:
        """Up to ``count`` hosts with pending URLs, none in ``excluded`` (in host order)."""
        rows = await self.db.execute_fetchall(_PENDING_HOSTS, (count + len(excluded),))
        return [host for (host,) in rows if host not in excluded][:count]

    async def release(self, ids: Sequence[int]) -> None:
        """Return claimed but unfetched URLs to pending (at shutdown)."""
        if ids:
            async with self._transaction() as db:
                await db.executemany(
                    "UPDATE frontier SET state = 'pending' WHERE id = ? AND state = 'in_progress'",
                    [(i,) for i in ids],
                )

    async def reset_in_progress(self) -> int:
        """After a crash, URLs left in_progress were never recorded: make them pending again."""
        async with self._lock:
            cur = await self.db.execute(
                "UPDATE frontier SET state = 'pending' WHERE state = 'in_progress'"
            )
            return cur.rowcount

    async def is_known(self, url: str) -> bool:
        """Is ``url`` in the frontier already (in any state)?"""
        async with self._lock:
            return await self._scalar("SELECT 1 FROM frontier WHERE url = ?", (url,)) is not None

    # -- sink -----------------------------------------------------------------------------------

    async def write_batch(self, records: Sequence[SinkRecord]) -> None:
        """Write pages, links, new URLs and frontier states of a batch in one transaction.

        A URL is marked done in the same transaction that stores its page, so the frontier and
        the pages never disagree, whatever moment the process dies at.
        """
        pages = [r for r in records if isinstance(r, PageRecord)]
        failures = [r for r in records if isinstance(r, FailureRecord)]
        async with self._transaction():
            await self._write(pages, failures)

    async def _write(self, pages: list[PageRecord], failures: list[FailureRecord]) -> None:
        db = self.db
        rows = [
            (p.url, p.final_url, p.status, p.content_type, p.title, p.description, p.text,
             p.depth, p.fetched_at, p.elapsed_ms, p.size_bytes, p.data, p.links or None,
             url_host(p.url))
            for p in pages
        ]  # fmt: skip
        await db.execute(_UPSERT_PAGE, (_json(rows),))
        bodies = [(p.url, p.charset, p.body) for p in pages if p.body is not None]
        if bodies:  # BLOBs have no JSON form: one bound row each (--store-html only)
            await db.execute(BODIES)  # the table exists only once a body is stored
            await db.executemany(
                "INSERT OR REPLACE INTO bodies (url, charset, body) VALUES (?, ?, ?)", bodies
            )
        targets = [(*p.redirected_to, p.depth) for p in pages if p.redirected_to]
        if targets:  # before the new URLs: a target also linked from this batch stays done
            await db.execute(_REDIRECT_TARGETS_DONE, (_json(targets),))
        found = [(p.depth + 1, p.new_urls) for p in pages if p.new_urls]
        if found:
            await db.execute(_INSERT_NEW_URLS, (_json(found),))
        done = FrontierState.DONE.value
        finished: list[tuple[int, str, int, str | None]]
        finished = [(p.frontier_id, done, p.attempts, None) for p in pages]
        finished += [(f.frontier_id, f.state.value, f.attempts, f.reason) for f in failures]
        await db.execute(_FINISH, (_json(finished),))

    # -- reparse ------------------------------------------------------------------------------

    async def stored_bodies(self, batch_size: int) -> AsyncIterator[list[StoredBody]]:
        """HTML pages with a stored body, in batches (keyset pagination: memory stays flat)."""
        last_id = 0
        while await self._has_bodies():
            async with self.db.execute(_BODIES_PAGE, (last_id, batch_size)) as cur:
                rows = list(await cur.fetchall())
            if not rows:
                return
            last_id = rows[-1][0]
            yield [StoredBody(*row[1:]) for row in rows]

    async def html_pages_without_body(self) -> int:
        sql = "SELECT count(*) FROM pages p WHERE " + _PARSED_PAGE
        if await self._has_bodies():
            sql += " AND NOT EXISTS (SELECT 1 FROM bodies b WHERE b.url = p.url)"
        count = await self._scalar(sql)
        return count if isinstance(count, int) else 0

    async def _has_bodies(self) -> bool:
        """Was a body ever stored (--store-html)? Only then is there a ``bodies`` table."""
        found = await self._scalar("SELECT 1 FROM sqlite_master WHERE name = 'bodies'")
        return found is not None

    async def update_parsed(self, pages: Sequence[Reparsed]) -> None:
        """New title, description, text, data and links for pages parsed again."""
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE pages SET title = ?, description = ?, text = ?, data = ?, links = ?"
                " WHERE url = ?",
                [
                    (p.title, p.description, p.text, p.data, _json(p.links) if p.links else None,
                     p.url)
                    for p in pages
                ],
            )  # fmt: skip

    # -- counts ---------------------------------------------------------------------------------

    async def has_pending(self) -> bool:
        found = await self._scalar("SELECT 1 FROM frontier WHERE state = 'pending' LIMIT 1")
        return found is not None

    async def page_count(self) -> int:
        count = await self._scalar("SELECT count(*) FROM pages")
        return count if isinstance(count, int) else 0

    async def frontier_tally(self) -> tuple[dict[FrontierState, int], list[tuple[str, int]]]:
        """URLs by state, and failed URLs by ``last_error`` (most first), in one scan."""
        async with self.db.execute(_TALLY) as cur:
            rows = await cur.fetchall()
        counts = dict.fromkeys(FrontierState, 0)
        failures: dict[str, int] = {}
        for state, reason, n in rows:
            counts[FrontierState(state)] += n
            if reason is not None:
                failures[reason] = n
        return counts, sorted(failures.items(), key=lambda item: (-item[1], item[0]))

    async def frontier_counts(self) -> dict[FrontierState, int]:
        async with self.db.execute("SELECT state, count(*) FROM frontier GROUP BY state") as cur:
            rows = await cur.fetchall()
        counts = dict.fromkeys(FrontierState, 0)
        counts.update({FrontierState(state): n for state, n in rows})
        return counts


_TALLY = """
SELECT state, CASE state WHEN 'failed' THEN coalesce(last_error, 'unknown') END, count(*)
FROM frontier GROUP BY 1, 2
"""


def _json(rows: object) -> str:
    """A batch's rows as JSON text for json_each (orjson: 20x the stdlib encoder on a batch)."""
    return orjson.dumps(rows).decode()


def _version(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1
