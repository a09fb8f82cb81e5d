"""What both backends store the same way of pages built by JavaScript (schema 12): the column
``pages.rendered``, 1 when the page's body is the DOM the headless browser built (``--render``),
0 for a page fetched over HTTP (every page stored before this version)."""

from collections.abc import Sequence

from scraper.models import PageRecord

RENDERED_SCHEMA = 12  # the version of both backends' schemas that adds the column
RENDERED_COLUMN = "ALTER TABLE pages ADD COLUMN rendered INTEGER NOT NULL DEFAULT 0;"


def rendered_urls(pages: Sequence[PageRecord]) -> tuple[list[str], list[str]]:
    """The URLs of a batch's pages to mark rendered, and those to mark not rendered (revisits
    fetched over HTTP: the page may have been rendered before)."""
    on = [p.url for p in pages if p.rendered]
    off = [p.url for p in pages if p.revisit and not p.rendered]
    return on, off
