"""A page's main content (Markdown) cut in chunks for retrieval: at headings first, then at
blank-line block boundaries up to a target size in tokens. Pure functions.

- A chunk opens with its heading path (``## Install > Linux``, at the deepest heading's level)
  so it stands alone; content before the first heading has no heading line.
- A fenced code block or a table is never split, unless it alone exceeds the target: then it is
  split at lines, each piece fenced again (a table's pieces repeat its header rows). A single
  line longer than the target stays whole (a chunk over the target).
- ``tokens`` are counted with OpenAI's cl100k_base BPE, by ``rs-bpe`` (GitHub's rust-gems BPE
  algorithm; the vocabulary is in the wheel: nothing is downloaded), whose counts are tiktoken's
  (checked by the tests) at a third of its CPU. Each block is counted once, with the blank line
  that follows it (a chunk's last one without: only its last pre-token differs); a chunk's count
  is the sum, the same as counting it whole (cl100k_base's pre-tokenizer cuts after a blank line
  that a block without leading space follows).
"""

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from scraper.models import Chunk

_HEADING = re.compile(r"(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})")
_SEP = "\n\n"
# The last piece cl100k_base's pre-tokenizer cuts from a block ending in punctuation: a space
# and a run of what is neither space, letter nor digit (it takes a following blank line in).
_TAIL = re.compile(r" ?(?:[^\s\w]|_)+$")


@functools.cache
def _tokenizer() -> Any:
    from rs_bpe.bpe import openai  # loaded once per process, in the parse pool: 20 ms

    return openai.cl100k_base()


def _counter() -> Callable[[str], int]:
    count: Callable[[str], int] = _tokenizer().count
    return count


def _count_up_to(text: str, limit: int) -> int | None:
    """``text``'s token count, or None once it is over ``limit`` (counting stops there)."""
    try:
        count: int | None = _tokenizer().count_till_limit(text, limit)
    except UnicodeEncodeError:
        count = _tokenizer().count_till_limit(_without_surrogates(text), limit)
    return count


def _without_surrogates(text: str) -> str:
    """``text`` with its lone surrogates (a broken PDF's text layer has them) as U+FFFD, as
    tiktoken counts them: the tokenizer takes UTF-8 only."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


@functools.lru_cache(maxsize=1024)
def _tail_cost(piece: str) -> int:
    """What a blank line after ``piece`` (a block's last pre-token) adds to its token count:
    pieces repeat (".", "?", ".)"), so each is counted once per process."""
    return count_tokens(piece + _SEP) - count_tokens(piece)


def count_tokens(text: str) -> int:
    """``text``'s length in cl100k_base tokens."""
    try:
        return _counter()(text)
    except UnicodeEncodeError:
        return _counter()(_without_surrogates(text))


def chunk_hash(markdown: str) -> str:
    """A chunk's fingerprint: blake2b of its Markdown, 32 hex digits (as scraper.digest's)."""
    return hashlib.blake2b(markdown.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class _Block:
    """A Markdown block and its token counts: ``joined`` (followed by a blank line) and
    ``alone`` (last in its chunk). Only the last pre-token piece differs between the two: the
    blank line is a token of its own, unless a punctuation run takes it in."""

    __slots__ = ("alone", "joined", "text")

    def __init__(self, text: str, joined: int | None = None) -> None:
        self.text = text
        self.joined = count_tokens(text + _SEP) if joined is None else joined
        self.alone = self.joined - _tail_cost(_tail(text))


# Over the target by more than this with its blank line, a block is over it alone: a tail
# piece (<= 64 characters, :func:`_tail`) and the blank line are never worth more tokens.
_SURELY_OVER = 80


def _counted(text: str, target: int) -> _Block | None:
    """``text`` as a block, or None when it has lines to cut at and is surely over ``target``
    (counted only that far: its pieces are counted instead)."""
    if "\n" not in text:
        return _Block(text)
    joined = _count_up_to(text + _SEP, target + _SURELY_OVER)
    return None if joined is None else _Block(text, joined)


def _tail(text: str) -> str:
    """What ``_TAIL`` finds in the last 64 characters of ``text`` (its last character if
    nothing), read backwards from the end: a regex search tries each of the 64 starts."""
    if text.endswith("\n"):  # $ matches before a final newline too: let the regex say
        match = _TAIL.search(text, max(0, len(text) - 64))
        return match.group(0) if match else text[-1:]
    low = max(0, len(text) - 64)
    start = len(text)
    while start > low and not text[start - 1].isspace() and not text[start - 1].isalnum():
        start -= 1  # [^\s\w]|_ : neither space nor letter nor digit ("_" is neither)
    if start == len(text):
        return text[-1:]
    if start > low and text[start - 1] == " ":
        start -= 1
    return text[start:]


def _blocks(markdown: str) -> Iterator[str]:
    """The blank-line separated blocks of ``markdown``; a fenced code block is one block
    whatever blank lines it holds."""
    lines: list[str] = []
    fence = ""
    for line in markdown.split("\n"):
        if fence:
            lines.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            lines.append(line)
        elif line.strip():
            lines.append(line.rstrip())
        elif lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


def _sections(markdown: Iterable[str]) -> Iterator[tuple[int, str, list[str]]]:
    """(level, heading path, blocks) per heading of the blocks ``markdown``, in order; level 0
    and path "" before the first heading."""
    path: list[tuple[int, str]] = []
    blocks: list[str] = []
    for block in markdown:
        match = _HEADING.match(block) if block.startswith("#") and "\n" not in block else None
        if match is None:
            blocks.append(block)
            continue
        if blocks:
            yield (path[-1][0] if path else 0), " > ".join(t for _, t in path), blocks
        blocks = []
        level = len(match.group(1))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, match.group(2).strip()))
    if blocks:
        yield (path[-1][0] if path else 0), " > ".join(t for _, t in path), blocks


def _pieces(block: str, target: int) -> list[str]:
    """A block too big for one chunk, cut at lines into pieces of about ``target`` tokens; a
    fenced block's pieces each fenced, a table's each under its header rows."""
    lines = block.split("\n")
    if len(lines) == 1:
        return [block]  # one line: nothing to cut at
    head: list[str] = []
    tail: list[str] = []
    if _FENCE.match(lines[0]):
        fence = _FENCE.match(lines[0])
        head = [lines[0]]
        closing = fence.group(1) if fence else "```"
        body = lines[1:]
        if body and body[-1].strip().startswith(closing[0] * 3):
            body = body[:-1]
        tail = [closing]
        lines = body
    elif lines[0].startswith("|") and len(lines) > 2:
        head, lines = lines[:2], lines[2:]
    frame = count_tokens("\n".join(head + tail)) if head else 0
    pieces: list[str] = []
    current: list[str] = []
    size = frame
    for line in lines:
        cost = count_tokens(line + "\n")
        if current and size + cost > target:
            pieces.append("\n".join(head + current + tail))
            current, size = [], frame
        current.append(line)
        size += cost
    if current or not pieces:
        pieces.append("\n".join(head + current + tail))
    return pieces


def chunk_markdown(markdown: str, target: int) -> tuple[Chunk, ...]:
    """``markdown`` cut in chunks of at most about ``target`` tokens each (see the module)."""
    return chunk_blocks(_blocks(markdown), target)


def chunk_blocks(blocks: Iterable[str], target: int) -> tuple[Chunk, ...]:
    """:func:`chunk_markdown` of the Markdown whose blank-line separated blocks are ``blocks``
    (as :class:`scraper.parse.markdown.Writer` wrote them: no re-split)."""
    chunks: list[Chunk] = []
    for level, heading, texts in _sections(blocks):
        title = _Block(f"{'#' * level} {heading}") if heading else None
        start = title.joined if title else 0
        parts: list[_Block] = [title] if title else []
        size = start
        for text in texts:
            block = _counted(text, target)
            fits = block is not None and (block.alone <= target or "\n" not in text)
            pieces = [block] if block is not None and fits else None
            for piece in pieces or map(_Block, _pieces(text, target)):
                if len(parts) > (1 if title else 0) and size + piece.alone > target:
                    chunks.append(_chunk(len(chunks), heading, parts))
                    parts, size = ([title] if title else []), start
                parts.append(piece)
                size += piece.joined
        if len(parts) > (1 if title else 0):
            chunks.append(_chunk(len(chunks), heading, parts))
    return tuple(chunks)


def _chunk(seq: int, heading: str, parts: list[_Block]) -> Chunk:
    text = _SEP.join(p.text for p in parts)
    tokens = sum(p.joined for p in parts[:-1]) + parts[-1].alone
    return Chunk(seq, heading, text, tokens, chunk_hash(text))
