"""Which subtree of a page holds its main content (issue 26).

Candidates are the semantic containers (``itemprop=articleBody``, content-named blocks,
``<article>``, ``<main>``/``role=main``), tried in that order, and the container the most paragraph
text hangs from (readability's idea). Sizes are counted in *prose*: the text that is not link text,
so a page's menus and link lists do not make its real content look small.
"""

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborNode

_ARTICLE_BODY = '[itemprop="articleBody"]'
_ROOTS = (
    "article",
    '[role="main"], main',
    "#content, #main, #main-content, .content",
)
# Class or id names of the block holding an article's text ("entry-content", "article__body").
_CONTENT_NAME = re.compile(
    r"(?:entry|article|post|story|page|main|text)[-_]*(?:content|body|text)|articlebody"
    r"|post[-_]?entry|fulltext|^post$|^entry$",
    re.I,
)
_CONTENT_HOLDERS = "div, section, article, main"


def text_len(node: LexborNode) -> int:
    """The length of ``node``'s text, whitespace collapsed."""
    return len(" ".join(node.text(deep=True).split()))


def link_len(node: LexborNode) -> int:
    """The length of the text of the links inside ``node``."""
    return sum(len(" ".join(a.text(deep=True).split())) for a in node.css("a"))


def prose_len(node: LexborNode) -> int:
    """``node``'s text that is not link text."""
    return text_len(node) - link_len(node)


def _contains(outer: LexborNode, inner: LexborNode) -> bool:
    node: LexborNode | None = inner
    while node is not None:
        if node.mem_id == outer.mem_id:
            return True
        node = node.parent
    return False


def _dominant(found: list[LexborNode], sizes: list[int]) -> int | None:
    """The index of the candidate clearly bigger than each rival that is not nested with it."""
    best = max(range(len(found)), key=sizes.__getitem__)
    for i, node in enumerate(found):
        if i == best or _contains(found[best], node) or _contains(node, found[best]):
            continue
        if sizes[i] * 2 > sizes[best]:
            return None
    return best


_CONTAINERS = frozenset(["li", "td", "dd", "blockquote"])
_INNER = frozenset(["p", "div", "ul", "ol", "table", "blockquote", "pre", "section", "article"])
_SHORT = 80  # a block shorter than this (a caption, a date) is not counted
_BLOCK_TAGS = "p, pre, td, blockquote, li, dd, h1, h2, h3, h4, h5, h6, div"


def block_value(block: LexborNode) -> float | None:
    """A block's weight: its prose length, minus its length when it is mostly links, None for
    a short or empty block and for a container (its inner blocks count)."""
    if block.tag == "div":  # its own text only (text set with <br> rather than in paragraphs)
        length = len(" ".join(block.text(deep=False).split()))
        return float(length) if length >= _SHORT else None
    if block.tag in _CONTAINERS and any(child.tag in _INNER for child in block.iter()):
        return None
    length = text_len(block)
    if length == 0:
        return None
    links = link_len(block)
    if links > 0.3 * length:
        return -float(length)
    return float(length - links) if length >= _SHORT else None


def by_blocks(body: LexborNode) -> LexborNode:
    """The element that holds the most prose blocks less linky blocks (each counted in chars)."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    body_id = body.mem_id
    for block in body.css(_BLOCK_TAGS):
        value = block_value(block)
        if value is None:
            continue
        parent = block.parent
        while parent is not None:
            key = parent.mem_id
            if key not in nodes:
                nodes[key] = parent
            scores[key] = scores.get(key, 0.0) + value
            if key == body_id:
                break
            parent = parent.parent
    if not scores:
        return body
    best = max(scores, key=scores.__getitem__)
    return nodes[best]


def _named(body: LexborNode) -> list[LexborNode]:
    found = []
    for node in body.css(_CONTENT_HOLDERS):
        attrs = node.attributes
        for name in (attrs.get("class"), attrs.get("id")):
            if name and _CONTENT_NAME.search(name):
                found.append(node)
                break
    return found


def _candidates(body: LexborNode) -> Iterator[list[LexborNode]]:
    """The semantic candidates, one group at a time, most specific first."""
    yield body.css(_ARTICLE_BODY)
    yield _named(body)
    for selector in _ROOTS:
        yield body.css(selector)


def main_root(body: LexborNode) -> LexborNode:
    """The element of ``body`` holding the page's main content (``body`` itself if none).

    The first semantic group with a candidate clearly bigger than its rivals (and a tenth of the
    page's text) wins; else the element with the most prose blocks less linky ones. When that
    element lies inside the chosen candidate and holds most of its text, it is the tighter root.
    """
    total = text_len(body)
    blocks = by_blocks(body)
    for found in _candidates(body):
        found = [node for node in found if node.parent is not None]
        if not found:
            continue
        sizes = [text_len(node) for node in found]
        best = _dominant(found, sizes)
        if best is not None and sizes[best] >= 0.1 * total:
            root = found[best]
            inside = root.mem_id != blocks.mem_id and _contains(root, blocks)
            if inside and text_len(blocks) >= 0.6 * sizes[best]:
                return blocks
            return root
    return blocks
