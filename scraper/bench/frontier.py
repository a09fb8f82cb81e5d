"""``scraper bench --frontier``: does the crawler's memory stay flat as the frontier grows?

Issue 7 asks for peak RSS "growing by no more than 50 MB between a 20,000-URL and a
1,000,000-URL frontier". Two crawls fetch the same number of pages of the test site's ``/wide/``
site, whose every page links to ``fan`` others (:func:`scraper.testing.wide_links`):

- small: the site is folded onto ``small`` pages, so the frontier ends at ``small`` URLs;
- large: the site is an unbounded tree (no two pages share a link), so the frontier ends at
  ``1 + pages * fan`` URLs whatever order the pages are fetched in; ``fan`` is the smallest
  that makes this at least ``large``.

Each page is the same in both crawls (same links, same parse, same link rows written); only how
many of its links are new URLs differs. The site is served by a separate process
(``python -m scraper.testing``) on 127.0.0.1, and each crawl is a child process
(``scraper crawl``, politeness off) whose peak RSS is the crawler process's own high-water mark
(``VmHWM``, written at its exit: :func:`scraper.testing.peak_rss_prelude`).
"""

import asyncio
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scraper.errors import ScraperError, UsageError
from scraper.query import read_counts
from scraper.testing import cli_peak_rss_code, read_peak_rss_kb, reap_within, stop_process

LIMIT_MB = 50  # issue 7: allowed growth of peak RSS from the small frontier to the large one
SERVER_START_S = 10.0
LOG_TAIL_BYTES = 2000
EXTRAPOLATE_FROM = 100_000  # frontier URLs more in the large crawl


@dataclass(frozen=True, slots=True)
class FrontierRun:
    """One crawl: the site's size, what the database holds at the end, and the child's costs."""

    site_pages: int  # pages of the /wide/ site, the most URLs the frontier can reach (0: any)
    frontier_urls: int  # rows of the frontier table at the end, in any state
    pending: int  # of which still pending
    pages: int  # pages stored
    failed: int  # frontier rows failed or blocked
    peak_rss_kb: int
    elapsed_s: float

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kb / 1024

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class FrontierReport:
    pages: int  # asked of each crawl (--max-pages)
    fan: int  # links per page
    concurrency: int
    small: FrontierRun
    large: FrontierRun

    @property
    def growth_mb(self) -> float:
        """Peak RSS of the large-frontier crawl minus that of the small one."""
        return self.large.peak_rss_mb - self.small.peak_rss_mb

    @property
    def growth_mb_per_million(self) -> float:
        """Growth per million more frontier URLs (0 when both frontiers are the same size)."""
        more = self.large.frontier_urls - self.small.frontier_urls
        return self.growth_mb * 1_000_000 / more if more > 0 else 0.0

    @property
    def within_limit(self) -> bool:
        return self.growth_mb <= LIMIT_MB


def fan_for(pages: int, large: int) -> int:
    """Links per page so that ``pages`` pages, breadth-first from /wide/0, discover ``large``
    URLs (the root plus ``fan`` per page); at least 2."""
    return max(2, -(-(large - 1) // pages))


def _check_sizes(pages: int, small: int, large: int) -> None:
    if pages < 1:
        raise UsageError(f"bench --frontier: pages must be at least 1, got {pages}")
    if small < pages:
        raise UsageError(f"bench --frontier: small ({small}) must be at least pages ({pages})")
    if large <= small:
        raise UsageError(f"bench --frontier: large ({large}) must be more than small ({small})")


# -- child processes ---------------------------------------------------------------------------


def log_tail(log: Path) -> str:
    """The end of a child's log, for an error message."""
    try:
        data = log.read_bytes()[-LOG_TAIL_BYTES:]
    except OSError:
        return ""
    return data.decode(errors="replace").strip()


def _root_url(proc: "subprocess.Popen[bytes]") -> str | None:
    """The first line the server prints (its root URL), or None if none came in time."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], SERVER_START_S)
    if not ready:
        return None
    line = proc.stdout.readline().decode().strip()  # one short line, written in one go
    return line if line.startswith("http://127.0.0.1:") else None


@contextmanager
def serve_site(work: Path) -> Iterator[str]:
    """Run the test site in a separate process; yields its root URL; always stops it."""
    log = work / "testsite.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scraper.testing"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        root = _root_url(proc)
        if root is None:
            raise ScraperError(f"bench --frontier: the site did not start: {log_tail(log)}")
        yield root
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A measured child process: exit code, its own peak RSS, wall time, CPU."""

    exit_code: int
    peak_rss_kb: int
    elapsed_s: float
    cpu_s: float  # user + system: the child's and its reaped children's (the parse process)


def run_child(
    argv: list[str], log: Path, limit_s: float, rss_file: Path, what: str = "bench --frontier"
) -> ChildRun:
    """Run ``argv`` to its end, its output to ``log``.

    ``argv`` is a ``python -c`` whose code starts with ``peak_rss_prelude(rss_file)``. The child
    is killed after ``limit_s`` (ScraperError, prefixed ``what``) or when this process is
    interrupted.
    """
    started = time.monotonic()
    rss_file.unlink(missing_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    exited, usage = reap_within(proc, limit_s)
    elapsed_s = time.monotonic() - started
    if not exited:
        raise ScraperError(f"{what}: a crawl took more than {limit_s:.0f} s")
    cpu_s = usage.ru_utime + usage.ru_stime
    return ChildRun(proc.returncode, read_peak_rss_kb(rss_file), elapsed_s, cpu_s)


def run_measured(
    argv: list[str], log: Path, limit_s: float, rss_file: Path
) -> tuple[int, int, float]:
    """:func:`run_child`'s (exit code, peak RSS in KiB, seconds)."""
    run = run_child(argv, log, limit_s, rss_file)
    return run.exit_code, run.peak_rss_kb, run.elapsed_s


# -- the crawls --------------------------------------------------------------------------------


def write_config(path: Path, concurrency: int, fan: int) -> Path:
    """Crawl settings for the bench: politeness off, no retries, every link of a page kept."""
    path.write_text(
        f"[crawl]\nconcurrency = {concurrency}\nmax_depth = 1000\n"
        f"[politeness]\nper_host = {concurrency}\ndelay_s = 0.0\nautothrottle = false\n"
        "robots = false\nsitemaps = false\n"
        "[fetch]\nallow_private = true\nretries = 0\n"
        f"[parse]\nmax_links_per_page = {max(1000, fan)}\nparse_workers = 1\n"
    )
    return path


def crawl_wide(
    root: str, work: Path, name: str, site_pages: int, fan: int, pages: int, config: Path
) -> FrontierRun:
    """Crawl ``pages`` pages of a /wide/ site of ``site_pages`` pages (0: unbounded) into
    ``work/name.db``."""
    db = work / f"{name}.db"
    seed = f"{root}wide/0?fan={fan}&total={site_pages}"
    rss_file = work / f"{name}.rss"
    argv = [sys.executable, "-c", cli_peak_rss_code(rss_file), "crawl", seed, "--db", str(db)]
    argv += ["--config", str(config), "--max-pages", str(pages)]
    log = work / f"{name}.log"
    code, rss_kb, elapsed_s = run_measured(argv, log, 60 + pages * 0.05, rss_file)
    if code != 0:
        raise ScraperError(
            f"bench --frontier: the {name} crawl exited with {code}: {log_tail(log)}"
        )
    counts = asyncio.run(read_counts(db))
    states = dict(counts.frontier)
    return FrontierRun(
        site_pages=site_pages,
        frontier_urls=sum(states.values()),
        pending=states.get("pending", 0),
        pages=counts.pages,
        failed=states.get("failed", 0) + states.get("blocked", 0),
        peak_rss_kb=rss_kb,
        elapsed_s=elapsed_s,
    )


def run_frontier_bench(
    pages: int, small: int, large: int, note: Callable[[str], None], *, concurrency: int = 16
) -> FrontierReport:
    """Crawl ``pages`` pages with a frontier ending at ``small`` URLs, then at ``large`` or a
    little more (``1 + pages * fan``).

    The site's server is always stopped and the databases removed. UsageError for sizes that
    cannot work (``small < pages`` or ``large <= small``); ScraperError if a crawl fails.
    """
    _check_sizes(pages, small, large)
    fan = fan_for(pages, large)
    with tempfile.TemporaryDirectory(prefix="scraper-benchfrontier-") as tmp:
        work = Path(tmp)
        config = write_config(work / "bench.toml", concurrency, fan)
        with serve_site(work) as root:
            runs = []
            for name, size in (("small", small), ("large", 0)):
                site = f"a {size}-page site" if size else "an unbounded site"
                note(f"{name}: {pages} pages of {site}, {fan} links a page ...")
                runs.append(crawl_wide(root, work, name, size, fan, pages, config))
    return FrontierReport(pages, fan, concurrency, runs[0], runs[1])


def _run_line(name: str, run: FrontierRun) -> str:
    return (
        f"{name}: frontier {run.frontier_urls} URLs ({run.pending} pending), {run.pages} pages"
        f" stored, {run.failed} failed, peak RSS {run.peak_rss_mb:.1f} MB,"
        f" {run.elapsed_s:.1f} s ({run.pages_per_s:.0f} pages/s)"
    )


def report_lines(report: FrontierReport) -> list[str]:
    """The figures, one per line, for the CLI to print."""
    verdict = "within" if report.within_limit else "OVER"
    more = report.large.frontier_urls - report.small.frontier_urls
    per_million = (  # an extrapolation from a small difference would be noise
        f" ({report.growth_mb_per_million:+.1f} MB per million frontier URLs)"
        if more >= EXTRAPOLATE_FROM
        else ""
    )
    return [
        f"site: sitegen /wide/, {report.fan} links a page, separate process on 127.0.0.1;"
        f" concurrency {report.concurrency}, politeness off, {report.pages} pages a crawl",
        _run_line("small", report.small),
        _run_line("large", report.large),
        f"peak RSS growth: {report.growth_mb:+.1f} MB{per_million},"
        f" {verdict} the {LIMIT_MB} MB limit",
    ]
