"""Main content of an HTML page, as Markdown and plain text, from the lexbor tree the parser
already built (issue 26). A pure function: it reads the tree and never changes it, so the rest of
:func:`scraper.parse.html.parse_html` (links, extraction rules, the page's whole visible text)
sees the same tree.

STUB: the interface only. The real extractor (boilerplate removal, Markdown) replaces the body of
:func:`main_content`; its signature and :class:`MainContent` stay.
"""

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser


@dataclass(frozen=True, slots=True)
class MainContent:
    """The page's main content: ``markdown`` (CommonMark/GFM, links and images absolute,
    blocks separated by one blank line) and ``text`` (the same content as plain text, whitespace
    collapsed, for the full-text index and scoring)."""

    markdown: str
    text: str


def main_content(tree: LexborHTMLParser, base_url: str) -> MainContent:
    """The main content of the page parsed into ``tree``; relative URLs are resolved against
    ``base_url`` (the document base URL). Never raises; falls back to the whole body's text
    when no main content is found. Does not mutate ``tree``."""
    root = tree.body or tree.root
    text = " ".join(root.text(separator=" ").split()) if root is not None else ""
    return MainContent(markdown=text, text=text)
