"""The session's cookie jar on PostgreSQL (:mod:`scraper.storage.cookies`): load and save, each
in the caller's transaction. Several workers save their jars into one table: a save upserts the
worker's cookies and deletes those its jar dropped, never another worker's others."""

from collections.abc import Collection, Sequence

from scraper.models import StoredCookie
from scraper.storage.cookies import (
    DROP_COOKIE,
    DROP_EXPIRED,
    LOAD_COOKIES,
    SAVE_COOKIE,
    CookieKey,
    cookie_rows,
    gone_rows,
    now,
    postgres,
    stored_cookies,
)
from scraper.storage.postgres.connect import Conn


async def load(conn: Conn) -> list[StoredCookie]:
    cur = await conn.execute(postgres(LOAD_COOKIES), (now(),))
    return stored_cookies(await cur.fetchall())


async def save(conn: Conn, cookies: Sequence[StoredCookie], gone: Collection[CookieKey]) -> None:
    await conn.execute(postgres(DROP_EXPIRED), (now(),))
    async with conn.cursor() as cur:
        if gone:
            await cur.executemany(postgres(DROP_COOKIE), gone_rows(gone))
        if cookies:
            await cur.executemany(postgres(SAVE_COOKIE), cookie_rows(cookies))
