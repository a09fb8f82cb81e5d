"""``--archive`` captures on SQLite (schema 8, :mod:`scraper.storage.captures`): the statement
a sink batch runs for each hop, after the batch's versions (for the version id)."""

from collections.abc import Sequence

import aiosqlite

from scraper.storage.captures import CaptureRow

# ?1 url, ?2 hop, ?3 target_uri, ?4 fetched_at, ?5 peer, ?6 request, ?7 response, ?8 status,
# ?9 body, ?10 body_length, ?11 payload_digest, ?12 truncated
INSERT_CAPTURE = """
INSERT INTO captures (version_id, url, hop, target_uri, fetched_at, peer, request, response,
                      status, body, body_length, payload_digest, truncated)
SELECT (SELECT max(id) FROM versions WHERE url = ?1), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
       CASE WHEN ?8 BETWEEN 200 AND 299 AND EXISTS (
           SELECT 1 FROM captures c WHERE c.target_uri = ?3 AND c.payload_digest = ?11
           AND c.status = ?8 AND c.body IS NOT NULL) THEN NULL ELSE ?9 END,
       ?10, ?11, ?12
"""


async def write_captures(db: aiosqlite.Connection, rows: Sequence[CaptureRow]) -> None:
    """Store a batch's captures (in the caller's transaction, after its versions)."""
    await db.executemany(INSERT_CAPTURE, rows)
