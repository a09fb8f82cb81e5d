"""Terminal output through rich: a live progress line on stderr while a crawl runs.

Only ``cli`` uses this module; it shows what it is given and decides nothing.
"""

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class ProgressLine:
    """A transient progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self.enabled = self._console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]crawling"),
            BarColumn(),
            TextColumn("{task.completed} pages"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._task = self._progress.add_task("crawl", total=total, detail="")

    def __enter__(self) -> Self:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._progress.stop()

    def update(self, completed: int, detail: str) -> None:
        if self.enabled:
            self._progress.update(self._task, completed=completed, detail=detail)
