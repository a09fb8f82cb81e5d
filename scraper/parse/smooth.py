"""The rendered Markdown blocks of the main content, pruned at their edges and between
boilerplate (issue 26), as jusText does with its context-sensitive pass: a block is *good*
(long prose), *bad* (over a third link text) or *short* (a date, a caption, a label, a one-line
teaser); a short block is kept only when good blocks stand on both sides of it (or it is long
enough to be near-good with good content on one side). Headings stay when good text follows.
"""

import re
from collections.abc import Callable, Iterable

_LINK = re.compile(r"!?\[((?:[^\]\\]|\\.)*)\]\([^)\s]*\)")
GOOD = 100  # a block of this many characters (or more) is prose
NEAR = 40  # a short block this long keeps its place next to good content
_GOOD, _BAD, _SHORT, _FIXED = 0, 1, 2, 3  # fixed: code and tables, content where they stand
_SENTENCE_END = (".", "!", "?", "…", "“", '"', ")")


def _kind(block: str) -> int:
    if block.startswith(("```", "|")):
        return _FIXED
    length = len(block)  # less the link targets: about the length of the text a reader sees
    if "](" not in block:  # no link nor image: no regex
        return _GOOD if length >= GOOD else _SHORT
    links = 0
    for match in _LINK.finditer(block):
        label = len(match.group(1))
        links += label
        length -= len(match.group(0)) - label
    if links > 0.35 * length:
        return _BAD
    return _GOOD if length >= GOOD else _SHORT


def _near(plain: str) -> bool:
    """A short block that reads as a sentence (or is long enough for one)."""
    return len(plain) >= NEAR or plain.endswith(_SENTENCE_END)


def _kept(block: str, kind: int, before: int, after: int, text: Callable[[], str]) -> bool:
    """Whether a block that is not good prose stays, given the kinds of its nearest non-short
    neighbours (the edges of the content count as boilerplate)."""
    if block.startswith("#"):
        return after == _GOOD
    if kind != _SHORT:
        return False
    if before == _GOOD and after == _GOOD:
        return True
    return (before == _GOOD or after == _GOOD) and _near(text())


def _neighbour(kinds: Iterable[int]) -> int:
    """The kind of the first block that is not short (code and tables count as good)."""
    kind = next((k for k in kinds if k != _SHORT), _BAD)
    return _GOOD if kind == _FIXED else kind


def prune(blocks: list[str], text: Callable[[int], str]) -> list[int]:
    """The indices of ``blocks`` kept: all but the short ones that stand among boilerplate or
    at the edges. ``text(i)``: block ``i``'s plain text."""
    if len(blocks) < 3:
        return list(range(len(blocks)))
    kinds = [_kind(block) for block in blocks]
    if _GOOD not in kinds:
        return list(range(len(blocks)))
    keep = []
    for i, block in enumerate(blocks):
        kind = kinds[i]
        if kind in (_BAD, _SHORT):
            before = _neighbour(reversed(kinds[:i]))
            after = _neighbour(kinds[i + 1 :])
            if not _kept(block, kind, before, after, lambda: text(i)):  # noqa: B023 - called now
                continue
        keep.append(i)
    return keep
