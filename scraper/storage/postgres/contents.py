"""A page's main content on PostgreSQL (schema 7, :mod:`scraper.storage.contents`): the
statements a sink batch adds for its pages' Markdown and chunks, and reparse's."""

from collections.abc import Sequence

from scraper.models import PageRecord, Reparsed
from scraper.storage.contents import chunk_rows, content_rows, reparsed_contents

# (urls, markdowns): each page's main content for its URL's latest version (after the batch's
# versions), one kept per version (a page written twice stays one).
INSERT_CONTENTS = """
INSERT INTO contents (version_id, url, markdown)
SELECT (SELECT max(id) FROM versions v WHERE v.url = t.url), t.url, t.markdown
FROM unnest(%s::text[], %s::text[]) AS t(url, markdown)
WHERE EXISTS (SELECT 1 FROM versions v WHERE v.url = t.url)
ON CONFLICT (version_id) DO NOTHING
"""
_CHUNK_ARRAYS = "%s::int[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[]"
INSERT_CHUNKS = f"""
INSERT INTO chunks (version_id, seq, url, heading, markdown, tokens, hash)
SELECT (SELECT max(id) FROM versions v WHERE v.url = t.url), t.seq, t.url, t.heading,
       t.markdown, t.tokens, t.hash
FROM unnest({_CHUNK_ARRAYS}) AS t(seq, url, heading, markdown, tokens, hash)
WHERE EXISTS (SELECT 1 FROM versions v WHERE v.url = t.url)
ON CONFLICT (version_id, seq) DO NOTHING
"""
# reparse: (version ids, urls, markdowns), each version's content replaced; then its chunks.
REPARSED_CONTENTS = """
INSERT INTO contents (version_id, url, markdown)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])
ON CONFLICT (version_id) DO UPDATE SET markdown = excluded.markdown
"""
REPARSED_CHUNKS_GONE = "DELETE FROM chunks WHERE version_id = ANY(%s::bigint[])"
REPARSED_CHUNKS = f"""
INSERT INTO chunks (version_id, seq, url, heading, markdown, tokens, hash)
SELECT * FROM unnest(%s::bigint[], {_CHUNK_ARRAYS})
"""


def _clean(text: str) -> str:
    return text.replace("\x00", "")  # PostgreSQL's text has no NUL


def _columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    return [[row[i] for row in rows] for i in range(width)]


def batch_statements(pages: Sequence[PageRecord]) -> list[tuple[str, list[list[object]]]]:
    """The statements (and their column arrays) that store a batch's contents and chunks."""
    contents = content_rows(pages)
    if not contents:
        return []
    markdowns = [(url, _clean(c.markdown)) for url, c in contents]
    statements = [(INSERT_CONTENTS, _columns(markdowns, 2))]
    chunks = [_chunk(row) for url, c in contents for row in chunk_rows(url, c)]
    if chunks:
        statements.append((INSERT_CHUNKS, _columns(chunks, 6)))
    return statements


def reparse_statements(pages: Sequence[Reparsed]) -> list[tuple[str, list[list[object]]]]:
    """The statements that replace the contents and chunks of versions parsed again."""
    contents = reparsed_contents(pages)
    if not contents:
        return []
    ids: list[object] = [v for v, _, _ in contents]
    chunks = [(v, *_chunk(row)) for v, url, c in contents for row in chunk_rows(url, c)]
    rows = [(v, url, _clean(c.markdown)) for v, url, c in contents]
    return [
        (REPARSED_CONTENTS, _columns(rows, 3)),
        (REPARSED_CHUNKS_GONE, [ids]),
        (REPARSED_CHUNKS, _columns(chunks, 7)),
    ]


def _chunk(row: tuple[int, str, str, str, int, str]) -> tuple[object, ...]:
    seq, url, heading, markdown, tokens, digest = row
    return (seq, url, _clean(heading), _clean(markdown), tokens, digest)
