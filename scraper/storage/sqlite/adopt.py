"""Frontier rows for pages that arrive without a claim, on SQLite (:mod:`scraper.storage.adopt`);
in a transaction of the store's."""

from collections.abc import Sequence

import aiosqlite
import orjson

from scraper.storage.adopt import SQLITE_ADOPT, SQLITE_ADOPTED


async def adopt(db: aiosqlite.Connection, urls: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each ``(url, host)`` its frontier row in progress; their ids by URL."""
    rows = orjson.dumps(urls).decode()
    await db.execute(SQLITE_ADOPT, (rows,))
    async with db.execute(SQLITE_ADOPTED, (rows,)) as cur:
        row = await cur.fetchone()
    ids = row[0] if row else None
    return {url: int(i) for url, i in orjson.loads(str(ids or "{}")).items()}
