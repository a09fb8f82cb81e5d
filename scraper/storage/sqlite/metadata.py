"""A page's metadata on SQLite (schema 8, :mod:`scraper.storage.metadata`): the table, the
statement a sink batch runs for its pages' rows (inside the batch trigger,
:data:`~scraper.storage.sqlite.statements.BATCH_WRITER`), and reparse's."""

from collections.abc import Sequence

import aiosqlite

from scraper.models import Reparsed
from scraper.storage.metadata import METADATA_COLUMNS, metadata_ddl, reparsed_metadata

METADATA = metadata_ddl({"bigint": "INTEGER", "int": "INTEGER", "text": "TEXT", "json": "TEXT"})
_VALUES = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(12))
_LATEST = "(SELECT max(id) FROM versions WHERE url = json_extract(value, '$[0]'))"
# [[url, metadata, canonical_url, ..., band3], ...] (after the batch's versions): each page's
# row for its URL's latest version, one kept per version (a page written twice stays one); none
# for a URL without a version.
INSERT_METADATA = f"""
INSERT OR IGNORE INTO metadata (version_id, url, {METADATA_COLUMNS})
SELECT {_LATEST}, {_VALUES} FROM json_each(?) WHERE {_LATEST} IS NOT NULL
"""
# reparse: a version's row replaced (params: version id, url, metadata, ..., band3).
REPARSED_METADATA = (
    f"INSERT OR REPLACE INTO metadata (version_id, url, {METADATA_COLUMNS}) "
    f"VALUES ({', '.join('?' * 13)})"
)


async def update_reparsed_metadata(db: aiosqlite.Connection, pages: Sequence[Reparsed]) -> None:
    """The metadata rows of versions parsed again (in the caller's transaction)."""
    await db.executemany(REPARSED_METADATA, reparsed_metadata(pages))
