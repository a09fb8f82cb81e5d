"""HTML tables as GFM pipe tables; layout tables (cells holding blocks) as their cells' blocks."""

from typing import TYPE_CHECKING

from selectolax.lexbor import LexborNode

if TYPE_CHECKING:
    from scraper.parse.markdown import Writer

# A table whose cells hold these is a page layout, not data.
_LAYOUT = "table, p, div, ul, ol, pre, blockquote, h1, h2, h3, h4, h5, h6"


def _rows(node: LexborNode) -> list[LexborNode]:
    """The table's own rows (not those of a nested table)."""
    rows = []
    for child in node.iter():
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows.extend(row for row in child.iter() if row.tag == "tr")
    return rows


def _cell(writer: "Writer", cell: LexborNode) -> str:
    return writer.sub(cell).replace("\n", " ")  # "|" in text is escaped already


def table(writer: "Writer", node: LexborNode) -> None:
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
