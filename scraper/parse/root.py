"""Which subtree of a page holds its main content (issue 26).

Candidates are the semantic containers (``itemprop=articleBody``, content-named blocks,
``<article>``, ``<main>``/``role=main``, ``#content``), tried in that order; without a clear one,
the element with the best block score (:mod:`scraper.parse.blocks`: most prose, fewest link
lists) is the root, and inside a chosen candidate it gives the tighter root.
"""

import re
from collections.abc import Iterator
from functools import lru_cache

from selectolax.lexbor import LexborNode

from scraper.parse.blocks import best_block_holder, text_len
from scraper.parse.boilerplate import named_boilerplate

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
_CONTENT_HOLDERS = frozenset(["div", "section", "article", "main"])
# What the names above hold, matched by lexbor itself so that few elements reach the regex.
_NAME_PARTS = (
    ", ".join(
        f"[{attr}*={part} i]" for attr in ("class", "id") for part in ("content", "body", "text")
    )
    + ", [class*=post i], [class*=entry i]"
)


def contains(outer: LexborNode, inner: LexborNode) -> bool:
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
        if i == best or sizes[i] * 3 <= sizes[best]:
            continue
        if not (contains(found[best], node) or contains(node, found[best])):
            return None
    return best


@lru_cache(maxsize=4096)
def _content_name(name: str) -> bool:
    """Whether a class or id value names the block of an article's text (cached: sites repeat
    their names)."""
    return _CONTENT_NAME.search(name) is not None


def _named(body: LexborNode) -> list[LexborNode]:
    found = []
    for node in body.css(_NAME_PARTS):
        if node.tag not in _CONTENT_HOLDERS:
            continue
        attrs = node.attrs
        name, ident = attrs.get("class"), attrs.get("id")
        if (name and _content_name(name)) or (ident and _content_name(ident)):
            found.append(node)
    return found


def _candidates(body: LexborNode) -> Iterator[list[LexborNode]]:
    """The semantic candidates, one group at a time, most specific first."""
    yield body.css(_ARTICLE_BODY)
    yield _named(body)
    for selector in _ROOTS:
        yield body.css(selector)


def _boilerplate(node: LexborNode) -> bool:
    attrs = node.attributes
    return bool(attrs) and named_boilerplate(node, attrs)


def main_root(body: LexborNode) -> LexborNode:
    """The element of ``body`` holding the page's main content (``body`` itself if none).

    The first semantic group with a candidate clearly bigger than its rivals (and a tenth of the
    page's text) wins; else the element with the most prose blocks less linky ones, unless it
    holds less text than the first clear candidate under a tenth. Inside a chosen candidate, that
    best element is the tighter root when it holds most of the candidate's text.
    """
    total = text_len(body)
    small: tuple[LexborNode, int] | None = None  # the first clear candidate under a tenth
    for found in _candidates(body):
        found = [node for node in found if node.parent is not None]
        if not found:
            continue
        sizes = [text_len(node) for node in found]
        best = _dominant(found, sizes)
        if best is None:
            continue
        if sizes[best] >= 0.1 * total:
            return _tighter(found[best], sizes[best])
        small = small or (found[best], sizes[best])
    holder = best_block_holder(body, _boilerplate)
    if small is not None and not contains(holder, small[0]) and text_len(holder) < small[1]:
        return _tighter(*small)  # the block scorer found less than the candidate holds
    return holder


def _tighter(root: LexborNode, size: int) -> LexborNode:
    """The best block holder inside ``root`` when it holds most of ``root``'s text."""
    inner = best_block_holder(root, _boilerplate)
    if inner.mem_id != root.mem_id and text_len(inner) >= 0.6 * size:
        return inner
    return root
