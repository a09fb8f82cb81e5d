"""The frontier memory bench: two real crawls (child processes) of sitegen's /wide/ site."""

import sys
import time
from pathlib import Path

import pytest

from scraper.bench.frontier import fan_for, report_lines, run_frontier_bench, run_measured
from scraper.errors import ScraperError, UsageError
from scraper.testing import peak_rss_prelude, wide_links


def test_wide_site_is_a_tree_or_folds_onto_its_pages():
    """Unbounded, no two /wide/ pages share a link; with a total, every link stays inside."""
    unbounded = [t for n in range(500) for t in wide_links(n, 7, 0)]
    assert len(unbounded) == len(set(unbounded)) == 500 * 7
    assert 0 not in unbounded
    folded = [t for n in range(500) for t in wide_links(n, 7, 300)]
    assert set(folded) == set(range(300))


def test_fan_reaches_the_large_frontier():
    """The fan chosen makes ``pages`` pages discover at least ``large`` URLs, and not many more."""
    for pages, large in [(20_000, 1_000_000), (200, 20_000), (7, 1_000)]:
        fan = fan_for(pages, large)
        assert large <= 1 + pages * fan < large + pages


def test_impossible_sizes_are_usage_errors():
    """A small frontier below the pages crawled, or a large one not above it, is refused."""
    with pytest.raises(UsageError, match="small"):
        run_frontier_bench(100, 50, 1000, lambda _: None)
    with pytest.raises(UsageError, match="large"):
        run_frontier_bench(100, 1000, 1000, lambda _: None)


@pytest.mark.slow
def test_small_and_large_frontier_crawls_fetch_the_same_pages():
    """Both crawls store exactly ``pages`` pages; their frontiers end at 1,000 and 20,001 URLs."""
    notes: list[str] = []
    report = run_frontier_bench(200, 1_000, 20_000, notes.append)
    assert report.fan == 100
    small, large = report.small, report.large
    assert (small.pages, large.pages) == (200, 200)
    assert (small.failed, large.failed) == (0, 0)
    assert small.frontier_urls == 1_000
    assert large.frontier_urls == 1 + 200 * 100
    assert large.pending == large.frontier_urls - 200
    for run in (small, large):
        assert 20 < run.peak_rss_mb < 1000
        assert 0 < run.elapsed_s < 25
    assert abs(report.growth_mb) < 50
    assert len(notes) == 2
    lines = report_lines(report)
    assert lines[1].startswith("small: frontier 1000 URLs")
    assert lines[2].startswith("large: frontier 20001 URLs")
    assert "MB limit" in lines[-1]


def test_run_measured_reports_the_childs_own_peak_rss(tmp_path: Path):
    """A child that allocates 80 MB reports a peak RSS above that, and its exit code; this
    process's own peak (a 160 MB block held while the child starts) does not count."""
    held = bytearray(160 << 20)  # touched: resident
    rss = tmp_path / "rss"
    code = peak_rss_prelude(rss) + "import sys; block = bytearray(80 << 20); sys.exit(3)"
    exit_code, rss_kb, elapsed_s = run_measured(
        [sys.executable, "-c", code], tmp_path / "log", 10, rss
    )
    del held
    assert exit_code == 3
    assert 80 << 10 < rss_kb < 150 << 10
    assert 0 < elapsed_s < 10


def test_run_measured_says_so_when_the_child_recorded_nothing(tmp_path: Path):
    """A child killed (or never running the prelude) leaves no figure: a one-line error."""
    with pytest.raises(ScraperError, match="no peak RSS recorded"):
        run_measured([sys.executable, "-c", "pass"], tmp_path / "log", 10, tmp_path / "rss")


def test_run_measured_kills_a_child_past_its_limit(tmp_path: Path):
    """A child still running after the limit is killed and reported as a ScraperError."""
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    started = time.monotonic()
    with pytest.raises(ScraperError, match="more than"):
        run_measured(argv, tmp_path / "log", 0.5, tmp_path / "rss")
    assert 0.5 <= time.monotonic() - started < 5
