"""The reading boundary: what the read commands (query, search, export, stats, status) ask of a
crawl database, whatever the backend (``sqlite/readstore.py``, ``postgres/readstore.py``).

Rows come out the same from both backends: Python ints, floats, str, bytes and None, with
timestamps as the ISO-8601 text SQLite stores (``2026-12-06T00:00:00.000+00:00``) and JSON
columns as JSON text, so every output format is the same for the same crawl.
"""

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from scraper.errors import UsageError
from scraper.storage.proxyhealth import PROXY_HEALTH

Row = tuple[object, ...]
# A worker whose last heartbeat is older than this is dead (killed, crashed or cut off).
HEARTBEAT_DEAD_S = 10.0


@dataclass(frozen=True, slots=True)
class CrawlCounts:
    """What ``scraper stats`` reports, read in one snapshot. Groups are (key..., count)."""

    pages: int
    links: int
    by_status: tuple[tuple[int, int], ...]
    by_host: tuple[tuple[str, int], ...]
    by_content_type: tuple[tuple[str, int], ...]
    frontier: tuple[tuple[str, int], ...]
    failures: tuple[tuple[str, str, int], ...]  # state, last_error, URLs
    first_fetched_at: str | None
    last_fetched_at: str | None
    blocked_by_host: tuple[tuple[str, str, int], ...] = ()  # host, block reason, URLs
    proxies: tuple[tuple[str, int, int, str], ...] = ()  # proxy_health rows (schema 8)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One worker of a crawl as the database knows it.

    ``name`` is empty and ``heartbeat_age_s``/``alive`` are None on SQLite, where one worker at
    a time writes and its liveness is a probe of the crawl lock (``crawl_running``).
    """

    name: str
    status: str | None  # its last status snapshot (JSON), None if none published yet
    heartbeat_age_s: float | None  # seconds since its last heartbeat, by the database's clock
    alive: bool | None  # heartbeat younger than HEARTBEAT_DEAD_S, and not ended
    ended_age_s: float | None = None  # seconds since it left the crawl; None: it has not
    end_error: str | None = None  # what ended it, if an error did
    hosts_held: int | None = None  # hosts it holds a live lease on; None on SQLite


@dataclass(frozen=True, slots=True)
class PendingHosts:
    """A shared crawl's hosts with pending URLs, and how many of them a worker holds a live
    lease on: each host is fetched by one worker at a time, so a worker finds nothing to do
    while every such host is held."""

    hosts: int
    held: int


class Rows(Protocol):
    """The result of one statement: its column names, then its rows a chunk at a time."""

    columns: tuple[str, ...]

    async def fetch(self) -> list[Row]:
        """The next chunk of rows; an empty list at the end."""
        ...


class CrawlReader(Protocol):
    """A crawl database opened read-only (``async with`` opens and closes it).

    Opening raises UsageError (exit 2) for a database that does not exist where the user named
    a file, StoreError (exit 1) for one that cannot be reached or is not a crawl database.
    """

    def rows(self, sql: str) -> contextlib.AbstractAsyncContextManager[Rows]:
        """One statement of the user's, refused (UsageError) if it writes or if there is more
        than one; its rows are read as they are consumed (bounded memory)."""
        ...

    def search(
        self, terms: Sequence[str], *, raw: bool, limit: int, markers: tuple[str, str]
    ) -> contextlib.AbstractAsyncContextManager[Rows]:
        """Pages matching ``terms`` (plain words: every word, a trailing ``*`` a prefix; with
        ``raw``, the backend's query syntax), best first. Columns: url, title, snippet (matched
        words between ``markers``), score (higher is better). ``limit`` 0: all."""
        ...

    def pages(
        self, changed_since: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[Rows]:
        """Every stored page with the columns of SQLite's ``pages``, first stored first; with
        ``changed_since`` (a stored time), only those new or changed since then, not removed."""
        ...

    def changes(self, since: str) -> contextlib.AbstractAsyncContextManager[Rows]:
        """What happened to the crawl's pages since ``since`` (a stored time), oldest first:
        url, change (new, changed, removed), at."""
        ...

    async def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``settings``), None if there is none."""
        ...

    async def worker_statuses(self) -> list[str]:
        """The last status snapshot (JSON) each worker published."""
        ...

    async def workers(self) -> list[WorkerStatus]:
        """Every worker of the crawl, oldest first, with its heartbeat's age."""
        ...

    async def pending_hosts(self) -> PendingHosts | None:
        """The hosts with pending URLs and how many are held; None without leases (SQLite)."""
        ...

    async def counts(self) -> CrawlCounts:
        """The crawl in numbers, all read from one snapshot."""
        ...

    async def totals(self) -> tuple[tuple[str, int], ...]:
        """The crawl's totals, cheap enough for ``status --watch``: ``("pages", N)``, then the
        frontier's URLs by state, most first (see :func:`read_totals`)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...


BY_STATUS = "SELECT status, count(*) FROM pages GROUP BY status ORDER BY status"
BY_TYPE = "SELECT content_type, count(*) FROM pages GROUP BY 1 ORDER BY 2 DESC, 1"
BY_HOST = "SELECT host, count(*) FROM pages GROUP BY host ORDER BY 2 DESC, 1"
FRONTIER = "SELECT state, count(*) FROM frontier GROUP BY state ORDER BY 2 DESC, 1"
FAILURES = """
SELECT state, coalesce(last_error, 'unknown'), count(*) FROM frontier
WHERE state IN ('failed', 'blocked') GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
"""


# URLs answered with a block page (fetch.blocks: challenge, captcha, denied), by host.
BLOCKED_BY_HOST = """
SELECT host, last_error, count(*) FROM frontier
WHERE state = 'blocked' AND last_error IN ('challenge', 'captcha', 'denied')
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
"""


async def read_counts(
    query: Callable[[str], Awaitable[list[Row]]],
    links_sql: str,
    by_host_sql: str = BY_HOST,
    proxies: bool = True,
) -> CrawlCounts:
    """The crawl's numbers from ``query`` (the backend's, in one snapshot): the same SQL on
    both backends but for counting links (JSON functions differ). ``proxies``: the database
    has ``proxy_health`` (schema 8)."""
    [(pages, first, last)] = await query(
        "SELECT count(*), min(fetched_at), max(fetched_at) FROM pages"
    )
    [(links,)] = await query(links_sql)
    return CrawlCounts(
        pages=int(str(pages)),
        links=int(str(links)),
        by_status=tuple((int(k), n) for k, n in _pairs(await query(BY_STATUS))),
        by_host=_pairs(await query(by_host_sql)),
        by_content_type=_pairs(await query(BY_TYPE)),
        frontier=_pairs(await query(FRONTIER)),
        failures=tuple(
            (str(state), str(reason), int(str(n))) for state, reason, n in await query(FAILURES)
        ),
        first_fetched_at=None if first is None else str(first),
        last_fetched_at=None if last is None else str(last),
        blocked_by_host=tuple(
            (str(host), str(why), int(str(n))) for host, why, n in await query(BLOCKED_BY_HOST)
        ),
        proxies=tuple(
            (str(p), int(str(r)), int(str(f)), str(e))
            for p, r, f, e in (await query(PROXY_HEALTH) if proxies else [])
        ),
    )


async def read_totals(query: Callable[[str], Awaitable[list[Row]]]) -> tuple[tuple[str, int], ...]:
    """Pages stored, then URLs by frontier state: the same SQL on both backends."""
    [(pages,)] = await query("SELECT count(*) FROM pages")
    return (("pages", int(str(pages))), *_pairs(await query(FRONTIER)))


def _pairs(rows: list[Row]) -> tuple[tuple[str, int], ...]:
    return tuple((str(key), int(str(n))) for key, n in rows)


def search_words(terms: Sequence[str]) -> list[tuple[str, bool]]:
    """The words of ``terms`` as (word, prefix?): a trailing ``*`` asks for a prefix; words
    without a letter or digit (which tokenizers drop) are left out. UsageError if none is left.
    """
    words = []
    for word in (w for term in terms for w in term.split()):
        core = word.rstrip("*")
        if any(ch.isalnum() for ch in core):
            words.append((core, core != word))
    if not words:
        raise UsageError("nothing to search for: give at least one word")
    return words


# The rows of ``CrawlReader.changes`` ({mark}: the backend's placeholder for the time).
CHANGES = (
    "SELECT url, change, fetched_at AS at FROM versions WHERE fetched_at >= {mark} "
    "ORDER BY fetched_at, id"
)
# The filter of ``CrawlReader.pages(changed_since=...)``.
CHANGED_SINCE = "changed_at >= {mark} AND status NOT IN (404, 410)"
