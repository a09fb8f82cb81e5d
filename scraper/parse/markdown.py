"""A lexbor subtree as CommonMark/GFM Markdown (issue 26): headings, paragraphs, nested lists,
GFM tables, fenced code with its language, block quotes, emphasis, absolute links and images.

One recursive walk over the tree (read only). Subtrees the ``skip`` predicate rejects
(:mod:`scraper.parse.boilerplate`) are left out. Blocks are joined by one blank line; lines never
end in spaces; text is escaped so that it reads back as the same text.
"""

import re
from collections.abc import Callable

from selectolax.lexbor import LexborNode

from scraper.parse.joins import join_href, origin_of
from scraper.parse.plain import (
    AFTER_LINK,
    EMPHASIZED,
    OPEN,
    collapse_whitespace,
    markdown_text,
    read_paragraph,
)

Skip = Callable[[LexborNode], bool]


def _names(text: str) -> list[str]:
    return text.split()


_HEADINGS = {"h1": "#", "h2": "##", "h3": "###", "h4": "####", "h5": "#####", "h6": "######"}
_EMPHASIS = {"em": "*", "i": "*", "strong": "**", "b": "**", "del": "~~", "s": "~~"}
# Never rendered: their text is not the page's text.
_INVISIBLE = frozenset(
    _names(
        "head title script style noscript template svg iframe object embed canvas video audio map"
        " select option button input textarea math"
    )
)
# Elements after which a paragraph ends (the others are inline: their text flows on).
_BLOCKS = frozenset(
    [
        *_names(
            "address article aside body blockquote center dd details dialog dir div dl dt fieldset"
            " figcaption figure footer form header hgroup hr html li main menu nav ol p pre section"
            " summary table tbody td tfoot th thead tr ul caption"
        ),
        *_HEADINGS,
    ]
)
# Markdown's special characters in text; "\\" first so escapes are not escaped again.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^(?:([#+-])|(\d+)([.)]))(?=\s|$)")
_BREAK = "\x00"  # a hard line break inside a paragraph, until it is written out
_SPACES = re.compile(r"\s+")
# After each link, until written out: before another link, a soft line break (read as a space),
# so that a run of links kept in the content (a menu) can be cut by a chunker; else nothing.
_LINK_END = re.compile(r"\x01 ?(?=!?\[)")
_WHITESPACE = re.compile(r"\s")
_LANG = re.compile(r"(?:^|\s)(?:language|lang|highlight-source|brush:?)-?\s*([\w+#.-]+)", re.I)


def escape(text: str) -> str:
    """``text`` with Markdown's special characters backslash-escaped."""
    if _SPECIAL.search(text) is None:  # most text nodes: no new string, no substitution
        return text
    return _SPECIAL.sub(r"\\\1", text)


def _escape_start(match: re.Match[str]) -> str:
    """A line start that would read as a heading or list marker, escaped."""
    if match.group(1):
        return "\\" + match.group(1)
    return f"{match.group(2)}\\{match.group(3)}"


def _url(base: str, origin: str | None, href: str) -> str | None:
    """``href`` resolved against ``base`` as a Markdown link target (memoized: a page's content
    links are mostly its page links, resolved already)."""
    url = join_href(base, origin, href)
    if url is None or ("(" not in url and ")" not in url and " " not in url):
        return url
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


class Writer:
    """Blocks of Markdown, and the inline text of the paragraph being built.

    Beside each block, its plain text (``texts``; None: read from the Markdown by
    :func:`markdown_text`), collected as the block is written: exactly what markdown_text reads.
    """

    __slots__ = ("base", "blocks", "line", "nested", "origin", "raw", "simple", "skip", "texts")

    def __init__(self, base: str, skip: Skip, origin: str | None = None) -> None:
        self.base = base
        self.origin = origin or origin_of(base)
        self.skip = skip
        self.blocks: list[str] = []
        self.texts: list[str | None] = []
        self.line: list[str] = []
        self.raw: list[str] = []  # the paragraph's text, unescaped, with the marks above
        self.simple = True  # raw reads as the paragraph's Markdown does (no code, break, "\\")
        self.nested = True  # no heading: the blocks read the same in a list item or a quote

    def add(self, markdown: str, text: str | None) -> None:
        """Append a block and its plain text (None: read it from the Markdown)."""
        self.blocks.append(markdown)
        self.texts.append(text)

    def pop(self) -> None:
        """Drop the last block."""
        self.blocks.pop()
        self.texts.pop()

    def keep(self, indices: list[int]) -> None:
        """Keep only the blocks at ``indices`` (in order), with their plain text."""
        self.blocks = [self.blocks[i] for i in indices]
        self.texts = [self.texts[i] for i in indices]

    def plain(self, i: int) -> str:
        """Block ``i``'s plain text."""
        text = self.texts[i]
        return markdown_text(self.blocks[i]) if text is None else text

    def flush(self) -> None:
        """End the paragraph being built (if it has text)."""
        if not self.line:
            return
        text = collapse_whitespace("".join(self.line))  # a paragraph's text nodes
        raw, simple = "".join(self.raw), self.simple
        self.line, self.raw, self.simple = [], [], True
        if text:
            text = _LINE_START.sub(_escape_start, text)
            breaks = _BREAK in text
            if breaks:
                text = text.replace(" " + _BREAK, _BREAK).replace(_BREAK + " ", _BREAK)
            if AFTER_LINK in text:
                text = _LINK_END.sub("\n", text).replace(AFTER_LINK, "")
            if breaks:
                text = text.strip(_BREAK).replace(_BREAK, "\\\n")
            self.add(text, read_paragraph(raw) if simple else None)

    def markdown(self) -> str:
        """The blocks, one blank line apart."""
        self.flush()
        return "\n\n".join(self.blocks)

    def text(self) -> str:
        """The blocks' plain text, whitespace collapsed: :func:`markdown_text` of
        :meth:`markdown`, without reading the Markdown again where the text was collected."""
        self.flush()
        texts = [self.plain(i) for i in range(len(self.blocks))]
        return collapse_whitespace(" ".join(texts))

    def reading(self) -> str | None:
        """The blocks' plain text as they read nested (list item, quote), or None if unknown."""
        self.flush()
        if not self.nested or None in self.texts:
            return None
        return " ".join(t or "" for t in self.texts)

    def sub(self, node: LexborNode) -> str:
        """``node``'s children rendered on their own (list items, quotes, cells)."""
        return self.inner(node, True).markdown()

    def inner(self, node: LexborNode, children: bool) -> "Writer":
        """A writer of ``node``'s children (or of ``node`` itself) on their own."""
        inner = Writer(self.base, self.skip, self.origin)
        if children:
            inner.children(node)
        else:
            inner.element(node)
        inner.flush()
        return inner

    def children(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            if child.is_text_node:
                text = child.text_content or ""
                self.line.append(text if _SPECIAL.search(text) is None else escape(text))
                self.raw.append(text)
                if "\\" in text:
                    self.simple = False
            elif child.is_element_node:
                self.element(child)

    def element(self, node: LexborNode) -> None:
        tag = node.tag or ""
        if tag in _INVISIBLE:
            return
        if self.skip(node):
            # A heading right before boilerplate is its title ("Related", "Comments"): dropped.
            if self.blocks and self.blocks[-1].startswith("#") and not "".join(self.line).strip():
                self.pop()
            return
        if tag in _BLOCKS:
            self.block(node, tag)
        else:
            self.inline(node, tag)

    def inline(self, node: LexborNode, tag: str) -> None:
        if tag == "a":
            self.link(node)
        elif tag == "img":
            self.image(node)
        elif tag == "br":
            self.line.append(_BREAK)
            self.simple = False
        elif tag == "code" or tag == "kbd" or tag == "samp":
            code = _SPACES.sub(" ", node.text(deep=True))
            if code.strip():
                fence = "``" if "`" in code else "`"
                self.line.append(f"{fence}{code}{fence}")
                self.simple = False
        elif tag in _EMPHASIS:
            self.emphasis(node, _EMPHASIS[tag])
        else:
            self.children(node)

    def emphasis(self, node: LexborNode, mark: str) -> None:
        start, raw_start = len(self.line), len(self.raw)
        self.children(node)
        inner = "".join(self.line[start:])
        raw = "".join(self.raw[raw_start:])
        del self.line[start:], self.raw[raw_start:]
        core = inner.strip()
        if core:
            lead = " " if inner[:1].isspace() else ""
            tail = " " if inner[-1:].isspace() else ""
            self.line.append(f"{lead}{mark}{collapse_whitespace(core)}{mark}{tail}")
            self.raw.append(f"{lead}{EMPHASIZED}{raw.strip()}{EMPHASIZED}{tail}")
        else:
            self.line.append(inner)
            self.raw.append(raw)

    def link(self, node: LexborNode) -> None:
        start, raw_start = len(self.line), len(self.raw)
        self.children(node)
        label = " ".join("".join(self.line[start:]).split())
        raw = "".join(self.raw[raw_start:]).strip()
        del self.line[start:], self.raw[raw_start:]
        href = node.attrs.get("href")
        url = _url(self.base, self.origin, href) if href else None
        if label and url:
            if "\n" not in label:
                self.line.append(f"[{label}]({url}){AFTER_LINK}")
                self.raw.append(f"{OPEN}{raw}{AFTER_LINK}")
                if _WHITESPACE.search(url):
                    self.simple = False
            else:
                self.line.append(label)
                self.raw.append(raw)
        elif label:
            self.line.append(f"{label}{AFTER_LINK}")
            self.raw.append(f"{raw}{AFTER_LINK}")

    def image(self, node: LexborNode) -> None:
        attrs = node.attrs
        src = attrs.get("src") or attrs.get("data-src")
        url = _url(self.base, self.origin, src) if src else None
        if url:
            alt = escape(collapse_whitespace(attrs.get("alt") or ""))
            self.line.append(f"![{alt}]({url})")
            self.raw.append(OPEN + alt)  # markdown_text keeps the alt as written (escaped)
            if "]" in alt or _WHITESPACE.search(url):
                self.simple = False

    def block(self, node: LexborNode, tag: str) -> None:
        self.flush()
        if tag in _HEADINGS:
            self.heading(node, _HEADINGS[tag])
        elif tag == "ul" or tag == "ol" or tag == "menu" or tag == "dir":
            self.listing(node, tag == "ol")
        elif tag == "pre":
            self.code(node)
        elif tag == "blockquote":
            self.quote(node)
        elif tag == "table":
            table(self, node)
        elif tag == "hr":
            self.add("---", "---")
        else:
            self.children(node)
        self.flush()

    def heading(self, node: LexborNode, marker: str) -> None:
        """A heading: one line, so a break or the end of a link is a space in it."""
        self.children(node)
        text = collapse_whitespace("".join(self.line).replace(_BREAK, " "))
        raw, simple = "".join(self.raw), self.simple
        self.line, self.raw, self.simple = [], [], True
        if text:
            if AFTER_LINK in text:
                text = _LINK_END.sub(" ", text).replace(AFTER_LINK, "")
            self.add(f"{marker} {text}", read_paragraph(raw, heading=True) if simple else None)
            self.nested = False

    def listing(self, node: LexborNode, ordered: bool) -> None:
        items = []
        texts: list[str] | None = []
        number = 1
        for child in node.iter(include_text=False):
            if child.tag != "li" and child.tag not in _BLOCKS:
                continue
            if self.skip(child):
                continue
            inner = self.inner(child, child.tag == "li")
            body = inner.markdown()
            if not body:
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            pad = " " * len(marker)
            lines = [line for line in body.split("\n") if line.strip()]
            items.append(marker + f"\n{pad}".join(lines))
            text = inner.reading()
            texts = None if texts is None or text is None else [*texts, text]
        if items:
            self.add("\n".join(items), None if texts is None else " ".join(texts))

    def sub_node(self, node: LexborNode) -> str:
        return self.inner(node, False).markdown()

    def code(self, node: LexborNode) -> None:
        text = node.text(deep=True).strip("\n")
        if not text.strip():
            return
        lang = ""
        inner = node.css_first("code")
        for holder in (node, inner):
            match = _LANG.search(holder.attrs.get("class") or "") if holder is not None else None
            if match:
                lang = match.group(1).lower()
                break
        fence = "```"
        while fence in text:
            fence += "`"
        lines = "\n".join(line.rstrip() for line in text.split("\n"))
        self.add(f"{fence}{lang}\n{lines}\n{fence}", None)

    def quote(self, node: LexborNode) -> None:
        inner = self.inner(node, True)
        body = inner.markdown()
        if body:
            lines = "\n".join(f"> {line}".rstrip() for line in body.split("\n"))
            self.add(lines, inner.reading())


# A table whose cells hold these is a page layout, not data.
_LAYOUT = ", ".join(
    f"{cell} {tag}"
    for cell in ("td", "th")
    for tag in [
        "table",
        "p",
        "div",
        "ul",
        "ol",
        "pre",
        "blockquote",
        *_HEADINGS,
    ]
)  # (css_first from the table itself would match the table)


def _rows(node: LexborNode) -> list[LexborNode]:
    """The table's own rows (not those of a nested table)."""
    rows = []
    for child in node.iter():
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(row for row in child.iter() if row.tag == "tr")
    return rows


def _cell(writer: Writer, cell: LexborNode) -> str:
    return writer.sub(cell).replace("\n", " ")  # "|" in text is escaped already


def table(writer: Writer, node: LexborNode) -> None:
    """Append ``node`` to ``writer``: a GFM table, or its cells' content for a layout table."""
    inner = node.css_first(_LAYOUT)
    rows = _rows(node)
    if inner is not None or not rows:
        writer.children(node)  # cells are blocks: each its own paragraph
        return
    grid = []
    for row in rows:
        cells = [_cell(writer, cell) for cell in row.iter() if cell.tag in ("td", "th")]
        if any(cells):
            grid.append(cells)
    if not grid:
        return
    width = max(len(cells) for cells in grid)
    lines = []
    for i, cells in enumerate(grid):
        cells = cells + [""] * (width - len(cells))
        lines.append(("| " + " | ".join(cells) + " |").replace("|  |", "| |"))
        if i == 0:
            lines.append("|" + " --- |" * width)
    writer.add("\n".join(lines), None)
