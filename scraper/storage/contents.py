"""What both backends store the same way of a page's main content (schema 7): its Markdown per
version (``contents``, keyed by ``versions.id`` as ``bodies`` is), its chunks (``chunks``), and
the view ``pages_markdown`` (each page's latest Markdown, by URL). The ``pages`` row, its
full-text index and its content hash are untouched: a page does not read as changed after the
upgrade."""

from collections.abc import Sequence

from scraper.models import Content, PageRecord, Reparsed
from scraper.storage.versionorder import latest_version

CONTENTS_SCHEMA = 7  # the version of both backends' schemas that adds these tables


def contents_ddl(types: dict[str, str]) -> str:
    """The tables and the view, in a backend's ``types`` (``int``, ``bigint``, ``text``)."""
    text, bigint = types["text"], types["bigint"]
    return (
        f"""
CREATE TABLE contents (  -- a version's main content as Markdown ([parse] markdown)
    version_id {bigint} PRIMARY KEY,  -- versions.id
    url        {text} NOT NULL,
    markdown   {text} NOT NULL
);
CREATE TABLE chunks (  -- a version's main content cut for retrieval ([parse] chunks)
    version_id {bigint} NOT NULL,  -- versions.id
    seq        {types["int"]} NOT NULL,  -- 0, 1, ... in document order
    url        {text} NOT NULL,
    heading    {text} NOT NULL,  -- the heading path: Install > Linux
    markdown   {text} NOT NULL,  -- opens with the heading path
    tokens     {types["int"]} NOT NULL,  -- cl100k_base tokens
    hash       {text} NOT NULL,  -- blake2b of markdown (32 hex digits)
    PRIMARY KEY (version_id, seq)
);
"""
        + MARKDOWN_VIEW
    )


# Each page's Markdown of its latest version (by fetch time: storage.versionorder).
MARKDOWN_VIEW = f"""
CREATE VIEW pages_markdown (url, version_id, markdown) AS
SELECT p.url, c.version_id, c.markdown FROM pages AS p
JOIN contents AS c ON c.version_id = {latest_version("p.url")};
"""


def content_rows(pages: Sequence[PageRecord]) -> list[tuple[str, Content]]:
    """(url, content) of the pages of a batch that have a main content."""
    return [(p.url, p.content) for p in pages if p.content is not None]


def chunk_rows(url: str, content: Content) -> list[tuple[int, str, str, str, int, str]]:
    """(seq, url, heading, markdown, tokens, hash) of a content's chunks."""
    return [(c.seq, url, c.heading, c.markdown, c.tokens, c.hash) for c in content.chunks]


def reparsed_contents(pages: Sequence[Reparsed]) -> list[tuple[int, str, Content]]:
    """(version id, url, content) of the versions parsed again that have a main content."""
    return [(p.version_id, p.url, p.content) for p in pages if p.content is not None]
