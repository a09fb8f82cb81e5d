"""All SQL lives here. The engine talks to a crawl's database through :class:`CrawlStore`
(``base.py``), the read commands through :class:`CrawlReader` (``reading.py``); the backend is
chosen from the database's address: a ``postgresql://`` (or ``postgres://``) URL is PostgreSQL
(``postgres/``), a URL of any other scheme an error, anything else a file path, SQLite, the
embedded default (``sqlite/``)."""

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from scraper.errors import UsageError
from scraper.storage.base import CrawlStore, HostTiming, NewUrl, Tally
from scraper.storage.reading import (
    CrawlCounts,
    CrawlReader,
    PendingHosts,
    Row,
    Rows,
    WorkerStatus,
)
from scraper.storage.sqlite import lock
from scraper.storage.sqlite.readstore import ReadStore
from scraper.storage.sqlite.store import Store as SqliteStore

if TYPE_CHECKING:  # the PostgreSQL backend (psycopg: 0.1 s of imports) loads on first use
    from scraper.storage.postgres.databases import drop_database, fresh_database
    from scraper.storage.postgres.store import PostgresStore


def __getattr__(name: str) -> object:
    """The PostgreSQL backend's public names, imported when first asked for (PEP 562)."""
    if name == "PostgresStore":
        from scraper.storage.postgres.store import PostgresStore

        return PostgresStore
    if name in ("drop_database", "fresh_database"):
        from scraper.storage.postgres import databases

        return getattr(databases, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CrawlCounts",
    "CrawlReader",
    "CrawlStore",
    "HostTiming",
    "NewUrl",
    "PendingHosts",
    "PostgresStore",
    "ReadStore",
    "Row",
    "Rows",
    "SqliteStore",
    "Tally",
    "WorkerStatus",
    "crawl_exists",
    "crawl_running",
    "db_label",
    "drop_database",
    "fresh_database",
    "is_postgres",
    "open_crawl_store",
    "open_read_store",
]


POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # libpq's URIs
_URL = re.compile(r"([a-z][a-z0-9+.-]*)://", re.IGNORECASE)  # RFC 3986's scheme, then //


def is_postgres(db: str | Path) -> bool:
    """Is ``db`` the URL of a PostgreSQL database (else an SQLite file's path)? UsageError for
    a URL of another scheme (``mysql://``, a typo such as ``postgresq://``): never a path."""
    if not isinstance(db, str) or db.startswith(POSTGRES_SCHEMES):
        return isinstance(db, str)
    if url := _URL.match(db):
        raise UsageError(
            f"unsupported database URL scheme '{url.group(1)}://': the database is a "
            "postgresql:// or postgres:// URL, or an SQLite file's path"
        )
    return False


def db_label(db: str | Path) -> str:
    """``db`` as it may be shown: a URL without its password."""
    if not is_postgres(db):
        return str(db)
    from scraper.storage.postgres.connect import redact

    return redact(str(db))


def open_crawl_store(
    db: str | Path, *, lease_s: float = 30.0, retry_s: float = 60.0
) -> contextlib.AbstractAsyncContextManager[CrawlStore]:
    """The crawl's store for ``db``, for ``async with``: opening it joins the crawl as a worker
    (SQLite: takes the crawl lock, StoreError if another crawl holds it; PostgreSQL: registers
    the worker, whose host leases last ``lease_s`` unless renewed, transient errors retried
    for ``retry_s``)."""
    if is_postgres(db):
        from scraper.storage.postgres.store import PostgresStore

        return PostgresStore(str(db), lease_s=lease_s, retry_s=retry_s)
    return SqliteStore(Path(db))


def open_read_store(db: str | Path) -> CrawlReader:
    """The crawl database ``db`` opened read-only, for ``async with``."""
    if is_postgres(db):
        from scraper.storage.postgres.readstore import PostgresReadStore

        return PostgresReadStore(str(db))
    return ReadStore(Path(db))


def crawl_exists(db: str | Path) -> bool:
    """Does ``db`` hold a crawl already (SQLite: a non-empty file; PostgreSQL: the crawl's
    tables)? False where a new crawl would create it."""
    if is_postgres(db):
        from scraper.storage.postgres import probe

        return probe.crawl_exists(str(db))
    path = Path(db)
    return path.is_file() and path.stat().st_size > 0


def crawl_running(db: str | Path) -> bool:
    """Does a worker hold the crawl in ``db`` right now? (SQLite: a probe of the crawl lock;
    PostgreSQL: a worker's heartbeat younger than HEARTBEAT_DEAD_S by the database's clock.)"""
    if is_postgres(db):
        from scraper.storage.postgres import probe

        return probe.crawl_running(str(db))
    return lock.crawl_running(Path(db))
