"""The live progress line: what a recrawl and a joining worker show while they run."""

from scraper.cli.summary import progress_detail, progress_plain
from scraper.crawl import CrawlStats
from scraper.crawl.scheduler import SchedulerStats
from scraper.crawl.sink import SinkStats


def stats(*, new: int, unchanged: int = 0, changed: int = 0, **more: int) -> CrawlStats:
    frontier = SchedulerStats(
        buffered=0, outstanding=0, dispatched=new + unchanged + changed, pages=529 + new,
        new_pages=new, failed=0, blocked=0, discovered=0, idle_workers=0,
    )  # fmt: skip
    sink = SinkStats(
        pages_written=new + changed, failures_written=0, unchanged_written=unchanged,
        changed_written=changed, removed_written=0, batches=1, last_batch_ms=1.0, queued=0,
    )  # fmt: skip
    return CrawlStats(10.0, frontier, sink, 0, 0, 0, **more)  # type: ignore[arg-type]


def test_a_recrawl_shows_its_revisits_and_their_rate():
    """During a recrawl the line counts pages checked of those scheduled, and the rate counts
    revisits (not only new pages: a recrawl finding nothing new is not stalled)."""
    line = progress_detail(stats(new=1, unchanged=90, changed=9, revisits=529))
    assert line.startswith("99/529 checked (90 unchanged, 9 changed) · 1 new · ")
    assert line.endswith(" · 10.0 pages/s")


def test_a_joining_worker_shows_the_crawls_pages_and_its_own():
    """A worker of a shared crawl shows every worker's pages (as the store counts them) and
    what it stored itself."""
    line = progress_plain(stats(new=0, crawl_pages=1170))
    assert line.startswith("1170 pages · 0 stored by this worker · ")
