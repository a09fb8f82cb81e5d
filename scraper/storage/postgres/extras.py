"""Small writes of the PostgreSQL store kept out of its class: proxies' health and adopted
URLs (:mod:`scraper.storage.proxyhealth`, :mod:`scraper.storage.adopt`), each in the caller's
transaction."""

from collections.abc import Sequence

from scraper.storage.adopt import POSTGRES_ADOPT
from scraper.storage.postgres.setup import Conn
from scraper.storage.proxyhealth import ProxyRow, proxy_health_rows, upsert_proxy_health


async def record_proxies(conn: Conn, rows: Sequence[ProxyRow]) -> None:
    """Each proxy's figures added to its ``proxy_health`` row."""
    async with conn.cursor() as cur:
        await cur.executemany(upsert_proxy_health("%s"), proxy_health_rows(rows))


async def adopt(conn: Conn, urls: Sequence[tuple[str, str]], worker: str) -> dict[str, int]:
    """Each ``(url, host)`` its frontier row in progress, claimed by ``worker``; ids by URL."""
    ordered = sorted(urls)  # one order for every writer, as add_urls
    params = ([u for u, _ in ordered], [h for _, h in ordered], worker)
    rows = await (await conn.execute(POSTGRES_ADOPT, params)).fetchall()
    return {str(url): int(i) for url, i in rows}
