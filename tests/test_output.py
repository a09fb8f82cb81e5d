"""The terminal display: the live progress display at the widths people use."""

import io

import pytest
from rich.console import Console

from scraper.output import ProgressLine

DETAIL = "3 failed · 1 blocked · 16 in flight · 2048 queued · 5 retries · 123.4 pages/s"


@pytest.mark.parametrize("width", [80, 100])
def test_progress_display_shows_its_essentials_whole(width: int):
    """At 80 and 100 columns the label, page count, elapsed time and every detail are uncut."""
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    progress = ProgressLine(100_000, console=console)
    progress.update(12_345, DETAIL, ["  www.example.com: 12 queued, 4 in flight, delay 0.25s"])
    console.print(progress.renderable)
    text = out.getvalue()
    assert "…" not in text
    assert "crawling" in text
    assert "12345/100000 pages" in text
    assert "0:00:0" in text  # the elapsed time
    for part in DETAIL.split(" · "):
        assert part in text
    assert all(len(line) <= width for line in text.splitlines())
