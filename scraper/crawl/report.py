"""What a crawl reports: live statistics for progress displays, and the summary at its end."""

from dataclasses import dataclass

from scraper.crawl.scheduler import SchedulerStats
from scraper.crawl.sink import SinkStats


@dataclass(frozen=True, slots=True)
class CrawlStats:
    """A snapshot of the whole crawl, for progress displays."""

    elapsed_s: float
    frontier: SchedulerStats
    sink: SinkStats
    retried: int
    in_flight: int
    robots_fetched: int
    busiest: tuple[tuple[str, int, int, float], ...] = ()  # (host, queued, in flight, delay_s)
    revisits: int | None = None  # a recrawl: the stored pages it scheduled for a revisit
    crawl_pages: int | None = None  # a shared crawl: every worker's pages, as the store counts

    @property
    def checked(self) -> int:
        """Revisits this run wrote: unchanged, changed or removed."""
        return self.sink.unchanged_written + self.sink.changed_written

    @property
    def visited(self) -> int:
        """Pages this run fetched and wrote: new ones and revisits."""
        return self.frontier.new_pages + self.checked

    @property
    def rate(self) -> float:
        """Pages visited per second."""
        return self.visited / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def pages(self) -> int:
        """The crawl's pages: every worker's on a shared crawl (as last counted), else this
        worker's count, which is the crawl's."""
        return max(self.frontier.pages, self.crawl_pages or 0)


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """Counts of the whole crawl, from the database; after a second signal (no time to count),
    ``pending`` is None, ``failures`` empty and ``failed``/``blocked`` are this run's."""

    db: str  # as messages name it (a PostgreSQL URL without its password)
    pages: int  # in the database
    new_pages: int  # stored by this run
    failed: int
    blocked: int
    pending: int | None
    elapsed_s: float
    interrupted_by: str | None  # "SIGINT" / "SIGTERM" when stopped by a signal
    nothing_to_do: bool = False  # nothing was crawled: no pending URL, or the page limit reached
    failures: tuple[tuple[str, int], ...] = ()  # failed URLs by last_error, most first
    max_pages: int = 0  # this run's page limit (0: none)
    revisits: int | None = None  # a recrawl: the stored pages it scheduled for a revisit
    unchanged: int = 0  # revisits of this run that found their page unchanged
    changed: int = 0  # revisits of this run that found it changed (removed ones included)
    removed: int = 0  # revisits of this run that found it gone (404, 410)
    pages_at_start: int | None = None  # in the database when this run started (None: unknown)
    shared: bool = False  # a shared crawl (PostgreSQL): other workers store pages too
    run_failed: int = 0  # URLs this run recorded as failed
    run_blocked: int = 0  # URLs this run recorded as blocked
    renderer: str = ""  # the headless browser's line, if it rendered any page

    @property
    def checked(self) -> int:
        """Revisits this run wrote: unchanged, changed or removed."""
        return self.unchanged + self.changed

    @property
    def visited(self) -> int:
        """Pages this run fetched and wrote: new ones and revisits."""
        return self.new_pages + self.checked

    @property
    def rate(self) -> float:
        """Pages visited per second."""
        return self.visited / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def earlier(self) -> int:
        """Pages stored before this run (on a shared crawl: when this worker started)."""
        if self.pages_at_start is not None:
            return self.pages_at_start
        return self.pages - self.new_pages
