"""``scraper bench --hosts N``: a polite crawl of many hosts, against the floor politeness sets.

N host names (``h00000.bench.test`` ...) all reach one local server (nginx, else
``http.server``: :func:`scraper.bench.site.serve`) on 127.0.0.1: the crawler pins them with its
``resolve`` setting, Scrapy with a resolver in its spider. Every host serves the same P pages of
about 9 KB from one directory; page 0, the seed, links to all the others, and each other page
to the home page and a few siblings. With one request at a time per host and ``delay_s``
between the starts of a host's requests, no crawl can take less than the floor
``(P - 1) x delay_s``; the bench says how close it comes, at what cost, and whether the site saw
the delay kept (:mod:`scraper.bench.access_log`: per-host gaps and requests in flight).

The crawler runs as its real command line in a child process (``scraper crawl -i seeds.txt
--no-robots --delay S --per-host K --concurrency C``, no autothrottle): wall time is the
child's, start-up included; CPU is the child's and its parse process's (``wait4``); peak RSS
the crawl process's own ``VmHWM``. Scrapy (``--scrapy PYTHON``) crawls the same hosts with the
same politeness (:mod:`scraper.bench.scrapy_peer`), measured the same way. Each crawl gets its
own server and access log.
"""

import asyncio
import dataclasses
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scraper.bench.access_log import (
    TOLERANCE_MS,
    SiteView,
    Timeline,
    analyze,
    read_access_log,
    timeline,
)
from scraper.bench.frontier import log_tail, run_child
from scraper.bench.scrapy_peer import run_scrapy, scrapy_version
from scraper.bench.site import SEED, page_file, page_path, paragraphs, render_html, serve
from scraper.errors import ScraperError, UsageError
from scraper.query import read_counts
from scraper.testing import cli_peak_rss_code

DOMAIN = "bench.test"
PAGE_BYTES = (8_000, 10_000)
SIBLINGS = (4, 12)  # links from a page other than the seed to other pages of its host
NO_VIEW = analyze([], 0)  # a crawl's site figures until its server's log is read


def host_name(n: int) -> str:
    return f"h{n:05d}.{DOMAIN}"


@dataclass(frozen=True, slots=True)
class WideSpec:
    """What to crawl and how politely."""

    hosts: int
    pages: int  # per host
    delay_s: float
    concurrency: int
    per_host: int = 1

    @property
    def floor_s(self) -> float:
        """The least time a crawl can take: a host's P requests start ``delay_s`` apart."""
        return (self.pages - 1) * self.delay_s

    @property
    def limit_s(self) -> float:
        """How long a crawl may take before it is killed: a bound, far above any real run."""
        return 3 * self.floor_s + 60 + self.hosts * self.pages / 100


@dataclass(frozen=True, slots=True)
class CrawlRun:
    """One crawler's crawl: what it stored, its costs, and what the site saw."""

    crawler: str
    pages: int  # responses stored (scraper: page rows; Scrapy: items)
    failed: int
    wall_s: float  # the child process, start-up included
    cpu_s: float
    peak_rss_mb: float
    site: SiteView
    timeline: Timeline | None = None  # from the child's start, as the site's log saw it

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_s_per_1000(self) -> float:
        return self.cpu_s * 1000 / max(1, self.pages)


@dataclass(frozen=True, slots=True)
class WideReport:
    spec: WideSpec
    server: str
    page_bytes: float  # average
    scraper: CrawlRun
    scrapy: CrawlRun | None


# -- the site ------------------------------------------------------------------------------------


def _links(i: int, pages: int, rng: random.Random) -> list[tuple[str, str]]:
    if i == 0:
        return [(page_path(t), f"Page {t}") for t in range(1, pages)]
    siblings = [rng.randrange(pages) for _ in range(rng.randint(*SIBLINGS))]
    return [("/", "Home"), *((page_path(t), f"See page {t}") for t in siblings)]


def generate_wide_site(directory: Path, pages: int, seed: int = SEED) -> float:
    """Write the ``pages`` pages every host serves; their average size in bytes."""
    rng = random.Random(seed)
    pool = paragraphs(rng, 200)
    (directory / "p").mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(pages):
        target = rng.randint(*PAGE_BYTES)
        data = render_html(i, _links(i, pages, rng), target, rng, pool).encode()
        (directory / page_file(i)).write_bytes(data)
        total += len(data)
    return total / pages


def write_seeds(path: Path, hosts: int, root: str) -> Path:
    """One seed per host: ``root`` (``http://127.0.0.1:PORT/``) with each host's name."""
    port = root.rstrip("/").rpartition(":")[2]
    path.write_text("".join(f"http://{host_name(n)}:{port}/\n" for n in range(hosts)))
    return path


def write_config(path: Path, spec: WideSpec) -> Path:
    """The crawl's settings: the politeness of the flags, no autothrottle, the hosts pinned."""
    pins = ",\n".join(f'  "{host_name(n)}:127.0.0.1"' for n in range(spec.hosts))
    path.write_text(
        f"[politeness]\nper_host = {spec.per_host}\ndelay_s = {spec.delay_s}\n"
        "autothrottle = false\nrobots = false\nsitemaps = false\n"
        f"[fetch]\nresolve = [\n{pins}\n]\n"
    )
    return path


# -- the crawls ----------------------------------------------------------------------------------


def crawl_with_scraper(spec: WideSpec, seeds: Path, work: Path) -> CrawlRun:
    """Crawl the seeds with ``scraper crawl`` in a child (the site's figures left empty)."""
    db, rss_file, log = work / "crawl.db", work / "crawl.rss", work / "crawl.log"
    argv = [sys.executable, "-c", cli_peak_rss_code(rss_file), "crawl", "-i", str(seeds)]
    argv += ["--db", str(db), "--config", str(write_config(work / "bench.toml", spec))]
    argv += ["--no-robots", "--delay", str(spec.delay_s), "--per-host", str(spec.per_host)]
    argv += ["--concurrency", str(spec.concurrency)]
    run = run_child(argv, log, spec.limit_s, rss_file, what="bench --hosts")
    if run.exit_code != 0:
        raise ScraperError(f"bench --hosts: the crawl exited with {run.exit_code}: {log_tail(log)}")
    counts = asyncio.run(read_counts(db))
    states = dict(counts.frontier)
    failed = states.get("failed", 0) + states.get("blocked", 0)
    rss_mb = run.peak_rss_kb / 1024
    return CrawlRun("scraper", counts.pages, failed, run.elapsed_s, run.cpu_s, rss_mb, NO_VIEW)


def crawl_with_scrapy(python: str, spec: WideSpec, seeds: Path, work: Path) -> CrawlRun:
    """Crawl the seeds with Scrapy, the same politeness (the site's figures left empty)."""
    settings = {
        "CONCURRENT_REQUESTS": str(spec.concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(spec.per_host),
        "DOWNLOAD_DELAY": str(spec.delay_s),
        "RANDOMIZE_DOWNLOAD_DELAY": "False",
        "TWISTED_DNS_RESOLVER": "spider.PinnedResolver",
        # Scrapy's documented choice for crawls of many domains ("Broad crawls").
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
    }
    run = run_scrapy(
        python,
        "",
        work,
        spec.concurrency,
        spec.limit_s,
        settings=settings,
        spider_args={"seeds_file": str(seeds), "domains": DOMAIN},
    )
    name = f"scrapy {run.version}"
    return CrawlRun(name, run.items, run.errors, run.elapsed_s, run.cpu_s, run.peak_rss_mb, NO_VIEW)


def _crawl_served(
    site: Path, work: Path, spec: WideSpec, crawl: Callable[[Path, Path], CrawlRun]
) -> tuple[CrawlRun, str]:
    """Serve the site with an access log in ``work``, run ``crawl(seeds, work)``, and add what
    the log says to its figures; (the run, the server's name)."""
    work.mkdir()
    access_log = work / "access.log"
    with serve(site, work, access_log=access_log) as (root, server):
        seeds = write_seeds(work / "seeds.txt", spec.hosts, root)
        started_ms = round(time.time() * 1000)
        run = crawl(seeds, work)
    requests = read_access_log(access_log)
    view = analyze(requests, spec.delay_s)
    return dataclasses.replace(run, site=view, timeline=timeline(requests, started_ms)), server


def check_spec(spec: WideSpec) -> None:
    """UsageError for sizes the bench cannot run."""
    if not 1 <= spec.hosts <= 99_999:
        raise UsageError(f"bench --hosts: between 1 and 99999 hosts, got {spec.hosts}")
    if spec.pages < 1 or spec.delay_s < 0 or spec.concurrency < 1 or spec.per_host < 1:
        raise UsageError("bench --hosts: pages, concurrency and per-host at least 1, delay >= 0")


def run_wide_bench(
    spec: WideSpec, note: Callable[[str], None], scrapy_python: str | None = None
) -> WideReport:
    """Generate the site, crawl it with scraper (and Scrapy), each against its own server.

    Servers and children are always stopped (on Ctrl-C too) and the files removed; a crawl
    that outlives ``spec.limit_s`` is killed (ScraperError).
    """
    check_spec(spec)
    if scrapy_python is not None:
        scrapy_version(scrapy_python)  # fail at once, not after the crawl
    with tempfile.TemporaryDirectory(prefix="scraper-benchwide-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker may run as another user
        page_bytes = generate_wide_site(work / "site", spec.pages)
        note(f"scraper: {spec.hosts} hosts x {spec.pages} pages, floor {spec.floor_s:g} s ...")
        ours, server = _crawl_served(
            work / "site",
            work / "scraper",
            spec,
            lambda seeds, w: crawl_with_scraper(spec, seeds, w),
        )
        theirs = None
        if scrapy_python is not None:
            python = scrapy_python
            note(f"scrapy with {python} ...")
            theirs, _ = _crawl_served(
                work / "site",
                work / "scrapy",
                spec,
                lambda seeds, w: crawl_with_scrapy(python, spec, seeds, w),
            )
    return WideReport(spec, server, page_bytes, ours, theirs)


# -- the report ----------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def run_lines(run: CrawlRun, spec: WideSpec) -> list[str]:
    """Two lines for one crawl: its own figures, and the site's view of it."""
    v = run.site
    short = max(0.0, spec.delay_s - TOLERANCE_MS / 1000)
    ratio = run.wall_s / spec.floor_s if spec.floor_s > 0 else float("inf")
    lines = [
        f"{run.crawler}: wall {run.wall_s:.2f} s, {ratio:.2f} x the floor; {run.pages} pages"
        f" ({run.failed} failed), {run.pages_per_s:.1f} pages/s;"
        f" CPU {run.cpu_s_per_1000:.2f} s/1000 pages; peak RSS {run.peak_rss_mb:.0f} MB",
        f"{run.crawler} as the site saw it: {v.requests} requests ({v.ok} status 200) to"
        f" {v.hosts} hosts ({v.fewest_per_host}-{v.most_per_host} each) in {v.span_s:.2f} s;"
        f" gaps between a host's request starts: {v.gaps}, shortest {_s(v.shortest_gap_s)},"
        f" median {_s(v.median_gap_s)}, p99 {_s(v.p99_gap_s)}, {v.short_gaps} below"
        f" {short:.3f} s; at most {v.max_in_flight} in flight to one host",
    ]
    return lines + _timeline_lines(run)


def _timeline_lines(run: CrawlRun) -> list[str]:
    """Where the wall time beyond the site's span went: before the first request, after the
    last answer (start-up, and seeing the end and exiting)."""
    t = run.timeline
    if t is None:
        return []
    return [
        f"{run.crawler} timeline: first request {t.first_request_s:.2f} s after the start,"
        f" last answer at {t.last_answer_s:.2f} s, exit at {run.wall_s:.2f} s"
    ]


def report_lines(r: WideReport) -> list[str]:
    """The figures, one per line, for the CLI to print."""
    s = r.spec
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    lines = [
        f"machine: {machine}, {platform.system()} {platform.release()}",
        f"server: {r.server}, separate process on 127.0.0.1; {s.hosts} hosts"
        f" ({host_name(0)} ...) x {s.pages} pages of {r.page_bytes / 1000:.1f} KB",
        f"politeness: delay {s.delay_s:g} s, {s.per_host} per host, concurrency {s.concurrency};"
        f" floor (pages - 1) x delay = {s.floor_s:.2f} s",
        *run_lines(r.scraper, s),
    ]
    if r.scrapy is not None:
        lines += run_lines(r.scrapy, s)
    return lines
