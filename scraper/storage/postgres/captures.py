"""``--archive`` captures on PostgreSQL (schema 8, :mod:`scraper.storage.captures`): the
statement a sink batch adds to its pipeline, after the batch's versions (for the version id)."""

from collections.abc import Sequence

from scraper.models import SinkRecord
from scraper.storage.captures import capture_rows

_TYPES = "text int text text text bytea bytea int bytea bigint text int".split()  # noqa: SIM905
_COLUMNS = "url, hop, target_uri, fetched_at, peer, request, response, status, body, length"
INSERT_CAPTURES = f"""
INSERT INTO captures (version_id, url, hop, target_uri, fetched_at, peer, request, response,
                      status, body, body_length, payload_digest, truncated)
SELECT (SELECT max(id) FROM versions v WHERE v.url = t.url), t.url, t.hop, t.target_uri,
       t.fetched_at, t.peer, t.request, t.response, t.status,
       CASE WHEN t.status BETWEEN 200 AND 299 AND EXISTS (
           SELECT 1 FROM captures c WHERE c.target_uri = t.target_uri
           AND c.payload_digest = t.digest AND c.status = t.status AND c.body IS NOT NULL)
       THEN NULL ELSE t.body END,
       t.length, t.digest, t.truncated
FROM unnest({", ".join(f"%s::{t}[]" for t in _TYPES)})
     WITH ORDINALITY AS t({_COLUMNS}, digest, truncated, n)
ORDER BY t.n
"""


def capture_statements(records: Sequence[SinkRecord]) -> list[tuple[str, list[list[object]]]]:
    """The statement (and its column arrays) that stores a batch's captures, if it has any."""
    rows = capture_rows(records)
    if not rows:
        return []
    return [(INSERT_CAPTURES, [[row[i] for row in rows] for i in range(len(_TYPES))])]
