"""``export --chunks``: every page's latest chunks as rows, or the delta since a time, so that a
vector store re-embeds only what changed.

Rows: ``op`` (``upsert``, ``delete``), ``id`` (``URL#HASH``: the same text of the same page is
the same chunk whatever its position), ``url``, ``seq``, ``heading``, ``tokens``, ``hash``,
``markdown`` (null for a delete). Since TIME: upserts for the latest chunks whose id the URL's
version of TIME (the last fetched before it) did not have, deletes for that version's chunks
whose id the latest has not (all of them for a page removed since).
"""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from scraper.export.markdown import sql_literal
from scraper.storage import open_read_store
from scraper.storage.reading import Rows

_COLUMNS = "c.url || '#' || c.hash AS id, c.url, c.seq, c.heading, c.tokens, c.hash"
_LATEST = "SELECT c.* FROM chunks AS c JOIN pages_markdown AS m ON m.version_id = c.version_id"
ALL = f"SELECT 'upsert' AS op, {_COLUMNS}, c.markdown FROM ({_LATEST}) AS c ORDER BY 3, 4"
SINCE = f"""
WITH latest AS ({_LATEST}),
before AS (SELECT p.url, (SELECT v.id FROM versions AS v
                          WHERE v.url = p.url AND v.fetched_at < {{t}}
                          ORDER BY v.fetched_at DESC, v.id DESC LIMIT 1) AS version_id
           FROM pages AS p),
old AS (SELECT c.* FROM chunks AS c JOIN before AS b ON b.version_id = c.version_id)
SELECT 'upsert' AS op, {_COLUMNS}, c.markdown FROM latest AS c
WHERE NOT EXISTS (SELECT 1 FROM old AS o WHERE o.url = c.url AND o.hash = c.hash)
UNION ALL
SELECT 'delete', {_COLUMNS}, NULL FROM old AS c
WHERE NOT EXISTS (SELECT 1 FROM latest AS n WHERE n.url = c.url AND n.hash = c.hash)
ORDER BY 3, 1 DESC, 4
"""


@contextlib.asynccontextmanager
async def export_chunks(db: str | Path, changed_since: str | None) -> AsyncIterator[Rows]:
    """The chunk rows (see the module), streamed."""
    sql = ALL if changed_since is None else SINCE.format(t=sql_literal(changed_since))
    async with open_read_store(db) as store, store.rows(sql) as rows:
        yield rows
