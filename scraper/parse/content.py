"""Main content of an HTML page, as Markdown and plain text, from the lexbor tree the parser
already built (issue 26). A pure function: it reads the tree and never changes it, so the rest of
:func:`scraper.parse.html.parse_html` (links, extraction rules, the page's whole visible text)
sees the same tree.

The root is chosen by :func:`scraper.parse.root.main_root`, rendered by
:class:`scraper.parse.markdown.Writer` without the elements :class:`~scraper.parse.boilerplate.
Skipper` rejects, and its blocks pruned by :func:`scraper.parse.smooth.prune`; a root that gives
(almost) nothing falls back to the whole body, then to the body's plain text.
"""

import logging
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.boilerplate import Skipper
from scraper.parse.lead import leads
from scraper.parse.markdown import Writer
from scraper.parse.root import main_root
from scraper.parse.smooth import prune

log = logging.getLogger(__name__)

_MIN_TEXT = 100  # a root with less text than this falls back to the whole body


@dataclass(frozen=True, slots=True)
class MainContent:
    """The page's main content: ``markdown`` (CommonMark/GFM, links and images absolute,
    blocks separated by one blank line) and ``text`` (the same content as plain text, whitespace
    collapsed, for the full-text index and scoring)."""

    markdown: str
    text: str
    blocks: tuple[str, ...] = ()  # markdown's blank-line separated blocks, as written


def _render(root: LexborNode, base_url: str, skip: Skipper) -> MainContent:
    writer = Writer(base_url, skip)
    for lead in leads(root):
        writer.element(lead)
    writer.children(root)
    writer.flush()
    writer.keep(prune(writer.blocks, writer.plain))
    while len(writer.blocks) > 1 and writer.blocks[-1].startswith("#"):
        writer.pop()  # a heading closing the content titles what was left out
    return _content(writer)


def _content(writer: Writer) -> MainContent:
    # the plain text as the Writer collected it: markdown_text(markdown), without the regex
    text = writer.text()
    return MainContent(writer.markdown(), text, tuple(b for b in writer.blocks if b))


def _extract(tree: LexborHTMLParser, base_url: str) -> MainContent:
    body = tree.body or tree.root
    if body is None:
        return MainContent("", "")
    root = main_root(body)
    main = _render(root, base_url, Skipper(len(root.text(deep=True))))
    if len(main.text) < _MIN_TEXT and root is not body:
        main = _render(body, base_url, Skipper(len(body.text(deep=True))))
    if not main.text:
        whole = Writer(base_url, lambda node: False)
        whole.children(body)
        main = _content(whole)
    return main


def main_content(tree: LexborHTMLParser, base_url: str) -> MainContent:
    """The main content of the page parsed into ``tree``; relative URLs are resolved against
    ``base_url`` (the document base URL). Never raises; falls back to the whole body's text
    when no main content is found. Does not mutate ``tree``."""
    try:
        return _extract(tree, base_url)
    except (RecursionError, ValueError, TypeError, AttributeError) as error:
        log.warning("main content of %s not extracted: %r", base_url, error)
        root = tree.body or tree.root
        text = " ".join(root.text(separator=" ").split()) if root is not None else ""
        markdown = text.replace("\\", "\\\\")
        return MainContent(markdown, text, (markdown,) if markdown else ())
