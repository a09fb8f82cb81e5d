"""Terminal output through rich: a live progress line on stderr while a crawl runs, and tables.

Only ``cli`` uses this module; it shows what it is given and decides nothing.
"""

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Self

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

CELL_MAX_CHARS = 80  # a table cell longer than this is cut (on the terminal only)
HIGHLIGHT = ("\x02", "\x03")  # markers print_table highlights between (never in page text)


class ProgressLine:
    """A live display on stderr, shown only when stderr is a terminal: a progress row that fits
    80 columns whole (label, bar, pages, elapsed time), the detail line under it (failed,
    in flight, queued, rate: it wraps rather than being cut), then a few notes (busiest hosts,
    latest failures)."""

    BAR_WIDTH = 24  # the bar gives way first: label, pages and time always fit 80 columns

    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self.enabled = self._console.is_terminal
        pages = "{task.completed}/{task.total} pages" if total else "{task.completed} pages"
        self._progress = Progress(
            TextColumn("[bold]crawling"),
            BarColumn(bar_width=self.BAR_WIDTH),
            TextColumn(pages),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._task = self._progress.add_task("crawl", total=total)
        self._detail = Text()
        self._notes = Text(overflow="ellipsis", no_wrap=True)
        self.renderable = Group(self._progress, self._detail, self._notes)
        self._live = Live(
            self.renderable, console=self._console, transient=True, refresh_per_second=4
        )

    def __enter__(self) -> Self:
        if self.enabled:
            self._live.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._live.stop()

    def update(self, completed: int, detail: str, notes: Sequence[str] = ()) -> None:
        self._progress.update(self._task, completed=completed)
        self._detail.plain = f"  {detail}"
        self._notes.plain = "\n".join(notes)


def is_terminal() -> bool:
    """Is standard output a terminal (where tables are drawn)?"""
    return Console().is_terminal


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    markers: tuple[str, str] | None = None,
    max_chars: int = CELL_MAX_CHARS,
    console: Console | None = None,
) -> None:
    """Draw rows as a table on standard output.

    Cells are cut to ``max_chars`` (an ellipsis shows the cut) and kept on one line; NULL is
    shown dimmed; text between ``markers`` is highlighted (search snippets).
    """
    table = Table(title=title, title_justify="left", title_style="bold", show_header=any(columns))
    row_list = [list(row) for row in rows]
    for i, name in enumerate(columns):
        numeric = bool(row_list) and all(
            isinstance(row[i], int | float) or row[i] is None for row in row_list
        )
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in row_list:
        table.add_row(*(_cell(value, markers, max_chars) for value in row))
    (console or Console()).print(table)


def _cell(value: object, markers: tuple[str, str] | None, max_chars: int) -> Text:
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, bytes):
        return Text(f"<{len(value)} bytes>", style="dim")
    flat = " ".join(str(value).split()) if isinstance(value, str) else str(value)
    text = Text()
    if markers is None:
        text.append(flat)
    else:
        start, end = markers
        for n, part in enumerate(flat.replace(end, start).split(start)):
            text.append(part, style="bold reverse" if n % 2 else "")
    text.truncate(max_chars, overflow="ellipsis")
    return text


def clear_screen() -> None:
    """Clear the terminal (for `status --watch`); nothing when stdout is not a terminal."""
    console = Console()
    if console.is_terminal:
        console.clear()
