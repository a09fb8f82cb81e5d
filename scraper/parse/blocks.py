"""Block scoring on the lexbor tree (issue 26), jusText's idea: each text block (a paragraph, a
list item, a cell, a div's own text) weighs its prose length, or minus its length when most of it
is link text; short blocks (captions, dates, bylines) weigh nothing. An element's score is the sum
over the blocks inside it, so the best-scoring element holds the most prose and the fewest menus.

One pass: ``css`` once for the blocks and once for the links, and each element's parent looked up
once (cached by ``mem_id``), since calls into the tree, not arithmetic, are what cost here.
"""

import heapq
from collections.abc import Callable

from selectolax.lexbor import LexborNode

_BLOCK_TAGS = "p, pre, td, blockquote, li, dd, h1, h2, h3, h4, h5, h6"
_TRIES = 5  # the best-scoring elements tried before giving up on the page (its body then)
SHORT = 70  # a block shorter than this (a caption, a date) is not counted
LINKY = 0.4  # a block whose link text is more than this share of its text is boilerplate


def text_len(node: LexborNode) -> int:
    """The length of ``node``'s text without its whitespace at the ends of text nodes (cheap:
    no Python string work), enough to compare sizes."""
    return len(node.text(deep=True, strip=True))


def collapsed_len(text: str) -> int:
    """The length of ``text`` with each run of whitespace collapsed to one space, ends stripped."""
    return len(" ".join(text.split()))


class Tree:
    """Parents and depths of the elements seen so far, by ``mem_id``."""

    __slots__ = ("depths", "nodes", "parents", "root_id")

    def __init__(self, root: LexborNode) -> None:
        self.root_id = root.mem_id
        self.nodes: dict[int, LexborNode] = {self.root_id: root}
        self.parents: dict[int, int] = {}
        self.depths: dict[int, int] = {self.root_id: 0}

    def add(self, node: LexborNode) -> int:
        """Record ``node`` and its ancestors up to the root; ``node``'s id."""
        key = node.mem_id
        depths, nodes, parents = self.depths, self.nodes, self.parents
        chain = []
        while key not in depths:
            parent = node.parent
            if parent is None:  # outside the root: treated as its child
                parents[key] = self.root_id
                depths[key] = 1
                break
            parent_id = parent.mem_id
            parents[key] = parent_id
            nodes.setdefault(parent_id, parent)
            chain.append(key)
            node, key = parent, parent_id
        depth = depths[key]
        for child in reversed(chain):
            depth += 1
            depths[child] = depth
        return node.mem_id if not chain else chain[0]

    def holder(self, key: int, blocks: set[int]) -> int | None:
        """The nearest ancestor of ``key`` in ``blocks``."""
        parents = self.parents
        key = parents.get(key, self.root_id)
        while key != self.root_id:
            if key in blocks:
                return key
            key = parents.get(key, self.root_id)
        return None

    def discount(self, scores: dict[int, float], key: int, own: float) -> None:
        """``key``'s subtree taken out of ``scores`` (its own and its ancestors')."""
        lost = scores.pop(key) + own
        while key != self.root_id:
            key = self.parents.get(key, self.root_id)
            if key in scores:
                scores[key] -= lost

    def sums(self, values: dict[int, float]) -> dict[int, float]:
        """Each element's sum of ``values`` over its subtree (itself included)."""
        totals = dict(values)
        parents = self.parents
        for key in sorted(self.parents, key=self.depths.__getitem__, reverse=True):
            value = totals.get(key)
            if value:
                parent = parents[key]
                totals[parent] = totals.get(parent, 0.0) + value
        return totals


def _link_lengths(body: LexborNode, tree: Tree, blocks: set[int]) -> dict[int, int]:
    """Link text length in each block (the nearest block holding the link)."""
    links: dict[int, int] = {}
    for link in body.css("a"):
        length = len(link.text(deep=True, strip=True))
        if not length:
            continue
        holder = tree.holder(tree.add(link), blocks)
        if holder is not None:
            links[holder] = links.get(holder, 0) + length
    return links


def best_block_holder(body: LexborNode, reject: Callable[[LexborNode], bool]) -> LexborNode:
    """The element of ``body`` (itself included) with the highest block score, among those
    ``reject`` does not rule out (a block of comments is prose too)."""
    tree = Tree(body)
    found = body.css(_BLOCK_TAGS)
    ids = [tree.add(node) for node in found]
    blocks = set(ids)
    divs = {key for node, key in zip(found, ids, strict=True) if node.tag == "div"}
    containers = set()  # blocks holding blocks: their inner blocks count instead
    for key in ids:  # (a div counts its own text only, so it never holds another's)
        holder = tree.holder(key, blocks)
        if holder is not None and holder not in divs:
            containers.add(holder)
    links = _link_lengths(body, tree, blocks)
    values: dict[int, float] = {}
    for node, key in zip(found, ids, strict=True):
        if key not in containers:
            value = _value(node, links.get(key, 0))
            if value:
                values[key] = value
    if not values:
        return body
    totals = tree.sums(values)
    # a holder is an ancestor of blocks: its score is what hangs from it, not its own text
    scores = {key: totals.get(key, 0.0) - values.get(key, 0.0) for key in tree.nodes}
    # the best-scoring elements that ``reject`` rules out no longer count for their ancestors
    for key in heapq.nlargest(_TRIES, scores, key=scores.__getitem__):
        if reject(tree.nodes[key]):
            tree.discount(scores, key, values.get(key, 0.0))
    if not scores:
        return body
    depths = tree.depths
    return tree.nodes[max(scores, key=lambda key: (scores[key], depths[key]))]  # ties: tightest


def _value(node: LexborNode, links: int) -> float:
    if node.tag == "div":  # its own text only (text set with <br> rather than in paragraphs)
        length = collapsed_len(node.text(deep=False))
        return float(length) if length >= SHORT else 0.0
    length = len(node.text(deep=True, strip=True))
    if links > LINKY * length:
        return -float(length)
    return float(length - links) if length >= SHORT else 0.0
