"""A lexbor subtree as CommonMark/GFM Markdown (issue 26): headings, paragraphs, nested lists,
GFM tables, fenced code with its language, block quotes, emphasis, absolute links and images.

One recursive walk over the tree (read only). Subtrees the ``skip`` predicate rejects
(:mod:`scraper.parse.boilerplate`) are left out. Blocks are joined by one blank line; lines never
end in spaces; text is escaped so that it reads back as the same text.
"""

import re
from collections.abc import Callable

from selectolax.lexbor import LexborNode

from scraper.urls import join_url

Skip = Callable[[LexborNode], bool]

_HEADINGS = {"h1": "#", "h2": "##", "h3": "###", "h4": "####", "h5": "#####", "h6": "######"}
_EMPHASIS = {"em": "*", "i": "*", "strong": "**", "b": "**", "del": "~~", "s": "~~"}
# Never rendered: their text is not the page's text.
_INVISIBLE = frozenset(
    [
        "head",
        "title",
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "object",
        "embed",
        "canvas",
        "video",
        "audio",
        "map",
        "select",
        "option",
        "button",
        "input",
        "textarea",
        "math",
    ]
)
# Elements after which a paragraph ends (the others are inline: their text flows on).
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "body",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hgroup",
        "hr",
        "html",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
        *_HEADINGS,
        "caption",
    ]
)
# Markdown's special characters in text; "\\" first so escapes are not escaped again.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LINE_START = re.compile(r"^(?:([#+-])|(\d+)([.)]))(?=\s|$)")
_BREAK = "\x00"  # a hard line break inside a paragraph, until it is written out
_SPACES = re.compile(r"\s+")
# After each link, until written out: before another link, a soft line break (read as a space),
# so that a run of links kept in the content (a menu) can be cut by a chunker; else nothing.
_AFTER_LINK = "\x01"
_LINK_END = re.compile(r"\x01 ?(?=!?\[)")
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


def _url(base: str, href: str | None) -> str | None:
    if not href:
        return None
    url = join_url(base, href)
    return None if url is None else url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


class Writer:
    """Blocks of Markdown, and the inline text of the paragraph being built."""

    __slots__ = ("base", "blocks", "line", "skip")

    def __init__(self, base: str, skip: Skip) -> None:
        self.base = base
        self.skip = skip
        self.blocks: list[str] = []
        self.line: list[str] = []

    def flush(self) -> None:
        """End the paragraph being built (if it has text)."""
        if not self.line:
            return
        text = _SPACES.sub(" ", "".join(self.line)).strip()
        self.line = []
        if text:
            text = _LINE_START.sub(_escape_start, text)
            text = text.replace(" " + _BREAK, _BREAK).replace(_BREAK + " ", _BREAK)
            if _AFTER_LINK in text:
                text = _LINK_END.sub("\n", text).replace(_AFTER_LINK, "")
            self.blocks.append(text.strip(_BREAK).replace(_BREAK, "\\\n"))

    def markdown(self) -> str:
        """The blocks, one blank line apart."""
        self.flush()
        return "\n\n".join(self.blocks)

    def sub(self, node: LexborNode) -> str:
        """``node``'s children rendered on their own (list items, quotes, cells)."""
        inner = Writer(self.base, self.skip)
        inner.children(node)
        return inner.markdown()

    def children(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            if child.is_text_node:
                self.line.append(escape(child.text_content or ""))
            elif child.is_element_node:
                self.element(child)

    def element(self, node: LexborNode) -> None:
        tag = node.tag or ""
        if tag in _INVISIBLE:
            return
        if self.skip(node):
            # A heading right before boilerplate is its title ("Related", "Comments"): dropped.
            if self.blocks and self.blocks[-1].startswith("#") and not "".join(self.line).strip():
                self.blocks.pop()
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
        elif tag == "code" or tag == "kbd" or tag == "samp":
            code = _SPACES.sub(" ", node.text(deep=True))
            if code.strip():
                fence = "``" if "`" in code else "`"
                self.line.append(f"{fence}{code}{fence}")
        elif tag in _EMPHASIS:
            self.emphasis(node, _EMPHASIS[tag])
        else:
            self.children(node)

    def emphasis(self, node: LexborNode, mark: str) -> None:
        start = len(self.line)
        self.children(node)
        inner = "".join(self.line[start:])
        del self.line[start:]
        core = inner.strip()
        if core:
            lead = " " if inner[:1].isspace() else ""
            tail = " " if inner[-1:].isspace() else ""
            self.line.append(f"{lead}{mark}{_SPACES.sub(' ', core)}{mark}{tail}")
        else:
            self.line.append(inner)

    def link(self, node: LexborNode) -> None:
        start = len(self.line)
        self.children(node)
        label = _SPACES.sub(" ", "".join(self.line[start:])).strip()
        del self.line[start:]
        url = _url(self.base, node.attrs.get("href"))
        if label and url:
            self.line.append(f"[{label}]({url}){_AFTER_LINK}" if "\n" not in label else label)
        elif label:
            self.line.append(f"{label}{_AFTER_LINK}")

    def image(self, node: LexborNode) -> None:
        attrs = node.attrs
        url = _url(self.base, attrs.get("src") or attrs.get("data-src"))
        if url:
            alt = escape(_SPACES.sub(" ", attrs.get("alt") or "").strip())
            self.line.append(f"![{alt}]({url})")

    def block(self, node: LexborNode, tag: str) -> None:
        self.flush()
        if tag in _HEADINGS:
            self.children(node)
            text = _SPACES.sub(" ", "".join(self.line)).strip()
            self.line = []
            if text:
                self.blocks.append(f"{_HEADINGS[tag]} {text}")
        elif tag == "ul" or tag == "ol" or tag == "menu" or tag == "dir":
            self.listing(node, tag == "ol")
        elif tag == "pre":
            self.code(node)
        elif tag == "blockquote":
            self.quote(node)
        elif tag == "table":
            table(self, node)
        elif tag == "hr":
            self.blocks.append("---")
        else:
            self.children(node)
        self.flush()

    def listing(self, node: LexborNode, ordered: bool) -> None:
        items = []
        number = 1
        for child in node.iter(include_text=False):
            if child.tag != "li" and child.tag not in _BLOCKS:
                continue
            if self.skip(child):
                continue
            body = self.sub(child) if child.tag == "li" else self.sub_node(child)
            if not body:
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            pad = " " * len(marker)
            lines = [line for line in body.split("\n") if line.strip()]
            items.append(marker + f"\n{pad}".join(lines))
        if items:
            self.blocks.append("\n".join(items))

    def sub_node(self, node: LexborNode) -> str:
        inner = Writer(self.base, self.skip)
        inner.element(node)
        return inner.markdown()

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
        self.blocks.append(f"{fence}{lang}\n{lines}\n{fence}")

    def quote(self, node: LexborNode) -> None:
        body = self.sub(node)
        if body:
            self.blocks.append("\n".join(f"> {line}".rstrip() for line in body.split("\n")))


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
    writer.blocks.append("\n".join(lines))
