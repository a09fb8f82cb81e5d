"""Migrations of a PostgreSQL crawl database, run by the first worker that opens it (under the
setup lock, in the setup's transaction: all or nothing).

5 -> 6 (revisits): the revisit columns of pages; each page's content hash, computed here as
the crawler computes it (:func:`scraper.digest.page_content_hash`; PostgreSQL has no such
function), in batches; every page its first version; bodies one per version.

6 -> 7 (main content): the contents and chunks tables and the pages_markdown view
(:mod:`scraper.storage.contents`), empty until pages are fetched again or reparsed.

7 -> 8 (metadata): the metadata table and the pages_metadata view
(:mod:`scraper.storage.metadata`), empty until pages are fetched again or reparsed.

8 -> 9 (cookies): the cookies table, the session's jar (:mod:`scraper.storage.cookies`).

9 -> 10 (captures): the captures table (:mod:`scraper.storage.captures`), empty until pages are
fetched with ``--archive``.

10 -> 11 (proxies): the proxy_health table (:mod:`scraper.storage.proxyhealth`), empty.

11 -> 12 (pages built by JavaScript): ``pages.rendered`` (:mod:`scraper.storage.rendered`), 0.

12 -> 13 (versions by fetch time): pages_markdown and pages_metadata made again
(:mod:`scraper.storage.versionorder`).

Within 6: ``workers.ended_at`` and ``end_error`` (a worker's end, for ``scraper status``), added
to a database made before them. Nullable columns older scrapers ignore, so the version stays.
"""

import logging

from scraper.digest import page_content_hash
from scraper.storage.contents import MARKDOWN_VIEW
from scraper.storage.metadata import METADATA_VIEW
from scraper.storage.postgres.connect import Conn
from scraper.storage.postgres.metadata import METADATA
from scraper.storage.postgres.schema import (
    BODIES,
    CAPTURES,
    CONTENTS,
    COOKIES,
    PROXY_HEALTH,
    REVISIT_COLUMNS,
    VERSIONS,
)
from scraper.storage.rendered import RENDERED_COLUMN
from scraper.storage.revisits import BODIES_OF_VERSIONS, FIRST_VERSIONS
from scraper.storage.versionorder import reordered_views

log = logging.getLogger(__name__)

HASH_BATCH = 2000
_PAGES_AFTER = """
SELECT id, status, content_type, size_bytes, title, text, data::text FROM pages
WHERE id > %s ORDER BY id LIMIT %s
"""
_SET_HASHES = """
UPDATE pages p SET content_hash = t.hash
FROM unnest(%s::bigint[], %s::text[]) AS t(id, hash) WHERE p.id = t.id
"""
_TO_6_BEFORE = (
    "ALTER TABLE pages "
    + ", ".join(f"ADD COLUMN {name} {kind}" for name, kind in REVISIT_COLUMNS)
    + "; UPDATE pages SET checked_at = fetched_at, changed_at = fetched_at;"
)
_TO_6_AFTER = (
    VERSIONS
    + FIRST_VERSIONS
    + "ALTER TABLE bodies RENAME TO bodies_5; ALTER INDEX bodies_pkey RENAME TO bodies_5_pkey;"
    + BODIES
    + BODIES_OF_VERSIONS
)


async def migrate_to_6(conn: Conn) -> None:
    """Schema 5 to 6, in the caller's transaction."""
    await conn.execute(_TO_6_BEFORE)
    last = 0
    while True:
        cur = await conn.execute(_PAGES_AFTER, (last, HASH_BATCH))
        rows = await cur.fetchall()
        if not rows:
            break
        ids = [row[0] for row in rows]
        hashes = [
            page_content_hash(status, ctype, size, title, text, data)
            for _id, status, ctype, size, title, text, data in rows
        ]
        await conn.execute(_SET_HASHES, (ids, hashes))
        last = ids[-1]
    await conn.execute(_TO_6_AFTER)


async def migrate(conn: Conn, version: int) -> None:
    """A database of schema ``version`` to the current one, in the caller's transaction."""
    if version <= 5:
        await migrate_to_6(conn)
    if version <= 6:
        await conn.execute(CONTENTS)  # 6 -> 7
    if version <= 7:
        await conn.execute(METADATA)  # 7 -> 8
    if version <= 8:
        await conn.execute(COOKIES)  # 8 -> 9
    if version <= 9:
        await conn.execute(CAPTURES)  # 9 -> 10
    if version <= 10:
        await conn.execute(PROXY_HEALTH)  # 10 -> 11
    if version <= 11:
        await conn.execute(RENDERED_COLUMN)  # 11 -> 12
    await conn.execute(reordered_views(MARKDOWN_VIEW + METADATA_VIEW))  # 12 -> 13


_HAS_WORKER_ENDS = """
SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = current_schema()
               AND table_name = 'workers' AND column_name = 'ended_at')
"""
_ADD_WORKER_ENDS = "ALTER TABLE workers ADD COLUMN ended_at timestamptz, ADD COLUMN end_error text"


async def add_worker_ends(conn: Conn) -> None:
    """The workers' end columns, if the database has none yet (caller's transaction)."""
    row = await (await conn.execute(_HAS_WORKER_ENDS)).fetchone()
    if not (row and row[0]):
        await conn.execute(_ADD_WORKER_ENDS)
