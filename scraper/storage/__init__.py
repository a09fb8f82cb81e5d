"""All SQL lives here. The engine talks to a crawl's database through :class:`CrawlStore`
(``base.py``), the read commands through :class:`ReadStore`; the backend is chosen from the
database's address (a file path: SQLite, the embedded default, in ``sqlite/``; a
``postgresql://`` URL: PostgreSQL, for a crawl shared by several workers, in ``postgres/``)."""

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from scraper.storage.base import CrawlStore, HostTiming, NewUrl, Tally
from scraper.storage.postgres.store import PostgresStore
from scraper.storage.sqlite import lock
from scraper.storage.sqlite.readstore import CrawlCounts, ReadStore, Row, Rows
from scraper.storage.sqlite.store import Store as SqliteStore

__all__ = [
    "CrawlCounts",
    "CrawlStore",
    "HostTiming",
    "NewUrl",
    "PostgresStore",
    "ReadStore",
    "Row",
    "Rows",
    "SqliteStore",
    "Tally",
    "crawl_running",
    "display_db",
    "is_postgres",
    "open_crawl_store",
    "open_read_store",
]


def open_crawl_store(
    db: str | Path, *, lease_s: float = 30.0
) -> contextlib.AbstractAsyncContextManager[CrawlStore]:
    """The crawl's store for ``db``, for ``async with``: opening it joins the crawl as a worker
    (SQLite: takes the crawl lock, StoreError if another crawl holds it; PostgreSQL: registers
    the worker, whose host leases last ``lease_s`` unless renewed)."""
    if is_postgres(db):
        return PostgresStore(str(db), lease_s=lease_s)
    return SqliteStore(Path(db))


def open_read_store(db: str | Path) -> ReadStore:
    """The crawl database ``db`` opened read-only, for ``async with``."""
    return ReadStore(Path(db))


def crawl_running(db: str | Path) -> bool:
    """Does a worker hold the crawl in ``db`` right now? (SQLite: a probe of the crawl lock.)"""
    return lock.crawl_running(Path(db))


def is_postgres(db: str | Path) -> bool:
    """Is ``db`` a PostgreSQL database's URL (``postgresql://`` or ``postgres://``)?"""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def display_db(db: str | Path) -> str:
    """``db`` as messages name it: a PostgreSQL URL without its password."""
    if not is_postgres(db):
        return str(db)
    parts = urlsplit(str(db))
    if parts.password is None:
        return str(db)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
