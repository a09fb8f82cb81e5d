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
