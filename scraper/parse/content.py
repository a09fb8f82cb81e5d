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
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.boilerplate import Skipper
from scraper.parse.markdown import Writer
from scraper.parse.root import main_root
from scraper.parse.smooth import prune

log = logging.getLogger(__name__)

_MIN_TEXT = 100  # a root with less text than this falls back to the whole body
# Markdown syntax, removed to give the plain text: code fences (with their language), escapes,
# emphasis, code ticks, link targets, images, heading/list/quote markers, table pipes and rules.
_SYNTAX = re.compile(
    r"^`{3,}[^`\n]*$|\\([!-/:-@\[-`{-~])|!\[([^\]]*)\]\([^)\s]*\)|\]\([^)\s]*\)|(?<!\\)[\[*~`]+"
    r"|^(?:#{1,6} |\s*(?:[-+] |\d+\. |> ?)+)|^\|( --- \|)+$|(?<!\\)\|",
    re.M,
)


@dataclass(frozen=True, slots=True)
class MainContent:
    """The page's main content: ``markdown`` (CommonMark/GFM, links and images absolute,
    blocks separated by one blank line) and ``text`` (the same content as plain text, whitespace
    collapsed, for the full-text index and scoring)."""

    markdown: str
    text: str


def _plain(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2) or ""


def markdown_text(markdown: str) -> str:
    """The text a reader sees in ``markdown`` (as written here), whitespace collapsed."""
    return " ".join(_SYNTAX.sub(_plain, markdown).split())


def _render(root: LexborNode, base_url: str, skip: Skipper) -> str:
    writer = Writer(base_url, skip)
    writer.children(root)
    writer.flush()
    writer.blocks = prune(writer.blocks, markdown_text)
    while len(writer.blocks) > 1 and writer.blocks[-1].startswith("#"):
        writer.blocks.pop()  # a heading closing the content titles what was left out
    return writer.markdown()


def _extract(tree: LexborHTMLParser, base_url: str) -> MainContent:
    body = tree.body or tree.root
    if body is None:
        return MainContent("", "")
    root = main_root(body)
    markdown = _render(root, base_url, Skipper(len(root.text(deep=True))))
    text = markdown_text(markdown)
    if len(text) < _MIN_TEXT and root is not body:
        markdown = _render(body, base_url, Skipper(len(body.text(deep=True))))
        text = markdown_text(markdown)
    if not text:
        whole = Writer(base_url, lambda node: False)
        whole.children(body)
        markdown = whole.markdown()
        text = markdown_text(markdown)
    return MainContent(markdown, text)


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
        return MainContent(text.replace("\\", "\\\\"), text)
