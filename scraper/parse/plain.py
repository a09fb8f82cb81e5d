"""The plain text of the Markdown :class:`scraper.parse.markdown.Writer` writes: what a reader
sees in it, whitespace collapsed (the full-text index and scoring use it).

:func:`markdown_text` reads it from the Markdown; the Writer collects it as it writes instead
(:func:`read_paragraph`), with the same result: the regex costs about a third of the Markdown
walk, and the Writer falls back to it only for the blocks it does not collect (code, tables,
paragraphs with a hard break or a backslash).
"""

import re

# What str.split() splits on in ASCII text besides the space.
_ASCII_SPACES = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def collapse_whitespace(text: str) -> str:
    """Whitespace runs (as ``str.split`` sees them) become one space; the ends are stripped.

    ASCII text is done with C-level scans and replaces instead of a string per word: a
    paragraph of 1,000 words in ~5 us against ~30 us split into words (minified HTML, without
    runs, is only scanned and stripped).
    """
    if not text.isascii():
        return " ".join(text.split())
    for space in _ASCII_SPACES:
        if space in text:
            text = text.replace(space, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text.strip(" ")


# Markdown syntax, removed to give the plain text: code fences (with their language), escapes,
# emphasis, code ticks, link targets, images, heading/list/quote markers, table pipes and rules.
_SYNTAX = re.compile(
    r"^`{3,}[^`\n]*$|\\([!-/:-@\[-`{-~])|!\[([^\]]*)\]\([^)\s]*\)|\]\([^)\s]*\)|(?<!\\)[\[*~`]+"
    r"|^(?:#{1,6} |\s*(?:[-+] |\d+\. |> ?)+)|^\|( --- \|)+$|(?<!\\)\|",
    re.M,
)


def _plain(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2) or ""


def markdown_text(markdown: str) -> str:
    """The text a reader sees in ``markdown`` (as written here), whitespace collapsed."""
    return " ".join(_SYNTAX.sub(_plain, markdown).split())


# After each link, until written out: before another link, a soft line break (read as a space),
# so that a run of links kept in the content (a menu) can be cut by a chunker; else nothing.
AFTER_LINK = "\x01"
# The paragraph as a reader sees it is collected beside its Markdown (``Writer.raw``), with these
# marks where markdown_text's reading depends on the syntax: before a link or an image (OPEN),
# around emphasis (EMPHASIZED); AFTER_LINK as in the Markdown.
OPEN = "\x02"
EMPHASIZED = "\x03"
_RAW_LINK_END = re.compile(r"\x01\s*(?=\x02)")


def read_paragraph(raw: str, heading: bool = False) -> str | None:
    """A paragraph's (or a heading's) collected text as :func:`markdown_text` reads its Markdown,
    or None when only the Markdown tells ("## x" is not escaped; "!" before a link reads as an
    image)."""
    if "!" + OPEN in raw or (not heading and raw.lstrip().startswith("#")):
        return None
    if AFTER_LINK in raw:
        raw = _RAW_LINK_END.sub(" ", raw).replace(AFTER_LINK, "")
    raw = raw.replace(OPEN, "")  # str.replace, not translate: a scan, not a lookup a character
    return raw.replace(EMPHASIZED, "") if EMPHASIZED in raw else raw
