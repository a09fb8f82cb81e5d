"""Versions parsed again (``reparse``) on SQLite: their columns, their page's, their main
content, chunks and metadata, in a transaction of the store's."""

from collections.abc import Sequence

import aiosqlite
import orjson

from scraper.models import Reparsed
from scraper.storage.contents import chunk_rows, reparsed_contents
from scraper.storage.sqlite.metadata import update_reparsed_metadata
from scraper.storage.sqlite.statements import (
    REPARSED_CHUNK,
    REPARSED_CHUNKS_GONE,
    REPARSED_CONTENT,
    REPARSED_PAGE,
    REPARSED_VERSION,
)


async def write_reparsed(db: aiosqlite.Connection, pages: Sequence[Reparsed]) -> None:
    """New title, description, text, data and content hash for versions parsed again;
    for the latest version of its URL, its page's too, and its links."""
    await db.executemany(REPARSED_VERSION, [
        (p.title, p.description, p.text, p.data, p.content_hash, p.version_id)
        for p in pages
    ])  # fmt: skip
    await db.executemany(REPARSED_PAGE, [
        (p.title, p.description, p.text, p.data, _links(p), p.content_hash, p.url, p.version_id)
        for p in pages
    ])  # fmt: skip
    contents = reparsed_contents(pages)
    await db.executemany(REPARSED_CONTENT, [(v, url, c.markdown) for v, url, c in contents])
    await db.executemany(REPARSED_CHUNKS_GONE, [(v,) for v, _, _ in contents])
    await db.executemany(
        REPARSED_CHUNK, [(v, *row) for v, url, c in contents for row in chunk_rows(url, c)]
    )
    await update_reparsed_metadata(db, pages)


def _links(p: Reparsed) -> str | None:
    return orjson.dumps(p.links).decode() if p.links else None
