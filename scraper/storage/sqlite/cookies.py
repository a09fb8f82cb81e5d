"""The session's cookie jar on SQLite (:mod:`scraper.storage.cookies`): load, and save in one
transaction of the store's (the caller holds the store's lock)."""

from collections.abc import Collection, Sequence

import aiosqlite

from scraper.models import StoredCookie
from scraper.storage import cookies as jar


async def load(db: aiosqlite.Connection) -> list[StoredCookie]:
    async with db.execute(jar.LOAD_COOKIES, (jar.now(),)) as cur:
        return jar.stored_cookies(list(await cur.fetchall()))


async def save(
    db: aiosqlite.Connection, cookies: Sequence[StoredCookie], gone: Collection[jar.CookieKey]
) -> None:
    await db.execute(jar.DROP_EXPIRED, (jar.now(),))
    await db.executemany(jar.DROP_COOKIE, jar.gone_rows(gone))
    await db.executemany(jar.SAVE_COOKIE, jar.cookie_rows(cookies))
