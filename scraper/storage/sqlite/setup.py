"""Opening an SQLite crawl database: is the file ours, of a version we read, and (for a crawl)
set up or migrated to the current schema. Shared by the crawl's store and the read store."""

import logging
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from scraper.digest import page_content_hash
from scraper.errors import StoreError
from scraper.storage.sqlite.schema import APPLICATION_ID, MIGRATIONS, SCHEMA, SCHEMA_VERSION

log = logging.getLogger(__name__)


async def scalar(db: aiosqlite.Connection, sql: str, params: Sequence[object] = ()) -> object:
    """The first column of the first row of ``sql`` (None without a row)."""
    async with db.execute(sql, params) as cur:
        row = await cur.fetchone()
    return None if row is None else row[0]


async def schema_version(db: aiosqlite.Connection, path: Path) -> int:
    """The version of a crawl database this scraper reads; StoreError for anything else."""
    if await scalar(db, "PRAGMA application_id") != APPLICATION_ID:
        raise StoreError(f"{path} is not a crawl database")
    value = await scalar(db, "SELECT value FROM meta WHERE key = 'schema_version'")
    try:
        version = int(str(value))
    except ValueError:
        version = -1
    if not min(MIGRATIONS) <= version <= SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}; this scraper reads versions up "
            f"to {SCHEMA_VERSION}"
        )
    return version


async def prepare_for_crawl(db: aiosqlite.Connection, path: Path) -> None:
    """Check the file is ours (or empty) before writing anything, then set it up: a new file
    gets the schema, an older crawl database is migrated (one transaction), a newer one is
    refused."""
    empty = not await scalar(db, "SELECT count(*) FROM sqlite_master")
    version = SCHEMA_VERSION if empty else await schema_version(db, path)
    await db.execute("PRAGMA busy_timeout = 10000")
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    if empty:
        await db.executescript(
            f"BEGIN; {SCHEMA}"
            f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
            f"PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
        )
    elif version < SCHEMA_VERSION:
        await db.create_function(
            "scraper_content_hash", 6, page_content_hash, deterministic=True
        )  # schema 6 hashes the stored pages
        script = "".join(MIGRATIONS[v] for v in range(version, SCHEMA_VERSION))
        log.warning("upgrading %s from schema version %d to %d", path, version, SCHEMA_VERSION)
        await db.executescript(
            f"BEGIN; {script}"
            f"UPDATE meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'; COMMIT;"
        )
