"""``scraper bench``: the real crawl of a generated local site, against a raw fetch of its URLs.

A deterministic site (:mod:`scraper.bench.site`) is written as static files to a temporary
directory and served on 127.0.0.1 by a separate process (nginx if installed). Then, in this
process:

- raw: the crawler's own :class:`Fetcher` (one aiohttp session, same concurrency, same retries)
  GETs every in-site URL once from a list: no frontier, no parsing, no storage;
- crawl: :class:`Crawl` from the root, with the real engine (scheduler, workers, parse
  process, sink, SQLite), politeness off (``delay_s=0``, no autothrottle, no robots.txt);
- with ``--scrapy PYTHON``: Scrapy crawls the same site (:mod:`scraper.bench.scrapy_peer`).

CPU is the crawler's own: this process (``RUSAGE_SELF``: event loop, aiosqlite thread) plus its
parse process (``RUSAGE_CHILDREN``, read once the pool's workers are reaped and before the server
is stopped, so the server's CPU is never counted). Peak RSS is this process's high-water mark
over the whole run (the crawl dominates) and, apart, the parse process's (its ``VmHWM``, sampled
while it runs).
"""

import asyncio
import contextlib
import multiprocessing
import os
import platform
import resource
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scraper.bench.scrapy_peer import ScrapyRun, run_scrapy, scrapy_version
from scraper.bench.site import Site, generate_site, serve
from scraper.config import Settings
from scraper.crawl import Crawl, interrupted_by_signals
from scraper.errors import FetchError, Interrupted, ScraperError
from scraper.fetch import Fetcher, FetchHooks
from scraper.parse import pool_size
from scraper.query import read_counts
from scraper.testing import STOP_S

RSS_SAMPLE_S = 0.2


@dataclass(frozen=True, slots=True)
class Phase:
    """One timed phase: responses (2xx and 404 alike), failures, seconds, CPU seconds."""

    responses: int
    failed: int
    elapsed_s: float
    cpu_s: float
    child_cpu_s: float = 0.0
    child_peak_rss_mb: float = 0.0  # the parse process, sampled while it runs

    @property
    def pages_per_s(self) -> float:
        return self.responses / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def cpu_s_per_1000(self) -> float:
        return self.per_1000(self.cpu_s + self.child_cpu_s)

    def per_1000(self, seconds: float) -> float:
        """``seconds`` (of this phase) per 1000 responses."""
        return seconds * 1000 / max(1, self.responses)


@dataclass(frozen=True, slots=True)
class BenchReport:
    site: Site
    concurrency: int
    server: str
    raw: Phase
    crawl: Phase
    html_pages: int  # pages the crawl stored with status 200
    not_found: int  # pages the crawl stored with status 404
    db_mb: float  # the crawl's SQLite file (with its WAL) at the end
    peak_rss_mb: float  # this process, whole run
    scrapy: ScrapyRun | None = None  # the same site crawled by Scrapy (``--scrapy PYTHON``)
    parse_workers: int = 1  # the crawl's parse processes
    content: bool = True  # main content, Markdown and chunks derived
    metadata: bool = True  # page metadata and simhash derived
    kept: tuple[int, int] | None = None  # bodies, captures stored (--store-html, --archive)


# -- the measurements ----------------------------------------------------------------------------


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bench_settings(
    root: str,
    db: Path,
    pages: int,
    concurrency: int,
    parse_workers: int | None = None,
    content: bool = True,
    keep: tuple[bool, bool] = (False, False),
    metadata: bool = True,
) -> Settings:
    """The crawl's settings; ``keep``: (--store-html, --archive)."""
    return Settings(
        seeds=(root,),
        db=str(db),
        concurrency=concurrency,
        per_host=concurrency,
        delay_s=0,
        autothrottle=False,
        robots=False,
        sitemaps=False,
        max_depth=pages + 1,
        parse_workers=parse_workers,
        markdown=content,
        chunks=content,
        metadata=metadata,
        store_html=keep[0],
        archive=keep[1],
    )


async def _nothing(_attempt: int) -> None:
    return None


async def _no_redirect(_target: str) -> bool:
    return False


async def fetch_raw(settings: Settings, urls: list[str], limit_s: float) -> tuple[int, int]:
    """GET every URL once with ``settings.concurrency`` workers; (responses, failures)."""
    hooks = FetchHooks(_nothing, _no_redirect, lambda *_: None)
    todo = iter(urls)
    counts = [0, 0]

    async def work(fetcher: Fetcher) -> None:
        for url in todo:
            try:
                await fetcher.fetch(url, hooks)
                counts[0] += 1
            except FetchError:
                counts[1] += 1

    async with (
        Fetcher(settings, ["127.0.0.1"]) as fetcher,
        asyncio.timeout(limit_s),
        asyncio.TaskGroup() as tg,
    ):
        for n in range(settings.concurrency):
            tg.create_task(work(fetcher), name=f"raw-worker-{n}")
    return counts[0], counts[1]


async def _fetch_raw_interruptible(
    settings: Settings, urls: list[str], limit_s: float
) -> tuple[int, int]:
    with interrupted_by_signals("bench"):
        return await fetch_raw(settings, urls, limit_s)


def _run_raw(settings: Settings, urls: list[str], limit_s: float) -> Phase:
    cpu, started = _cpu_s(resource.RUSAGE_SELF), time.perf_counter()
    try:
        ok, failed = asyncio.run(_fetch_raw_interruptible(settings, urls, limit_s))
    except TimeoutError:
        raise ScraperError(f"bench: the raw fetch took more than {limit_s:.0f} s") from None
    elapsed = time.perf_counter() - started
    return Phase(ok, failed, elapsed, _cpu_s(resource.RUSAGE_SELF) - cpu)


async def _crawl(settings: Settings, limit_s: float) -> tuple[int, int]:
    async with asyncio.timeout(limit_s):
        summary = await Crawl(settings).run()  # stops gracefully on SIGINT/SIGTERM
    if summary.interrupted_by is not None:
        signum = signal.Signals[summary.interrupted_by]
        raise Interrupted(f"bench: interrupted by {summary.interrupted_by}", signum)
    return summary.new_pages, summary.failed


def _high_water_mb(pid: int) -> float:
    """A live process's own peak RSS (Linux ``VmHWM``); 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


@contextlib.contextmanager
def _children_peak_rss(peak: list[float]) -> Iterator[None]:
    """Sample the peak RSS of this process's multiprocessing children (the parse process) into
    ``peak[0]`` until the block ends.

    Not ``RUSAGE_CHILDREN``: a child started by fork and exec is charged the RSS its parent had
    at the fork, which is the crawler's, not its own.
    """
    done = threading.Event()

    def sample() -> None:
        while not done.wait(RSS_SAMPLE_S):
            for child in multiprocessing.active_children():
                if child.pid is not None:
                    peak[0] = max(peak[0], _high_water_mb(child.pid))

    watcher = threading.Thread(target=sample, name="bench-rss", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _run_crawl(settings: Settings, limit_s: float) -> Phase:
    cpu, children = _cpu_s(resource.RUSAGE_SELF), _cpu_s(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    peak = [0.0]
    try:
        with _children_peak_rss(peak):
            stored, failed = asyncio.run(_crawl(settings, limit_s))
    except TimeoutError:
        raise ScraperError(f"bench: the crawl took more than {limit_s:.0f} s") from None
    elapsed = time.perf_counter() - started
    cpu = _cpu_s(resource.RUSAGE_SELF) - cpu
    for child in multiprocessing.active_children():  # the parse process: reap it, count its CPU
        child.join(STOP_S)
    child_cpu = _cpu_s(resource.RUSAGE_CHILDREN) - children
    return Phase(stored, failed, elapsed, cpu, child_cpu, peak[0])


def run_bench(
    pages: int,
    concurrency: int,
    note: Callable[[str], None],
    scrapy_python: str | None = None,
    *,
    parse_workers: int | None = None,
    content: bool = True,
    keep: tuple[bool, bool] = (False, False),
    metadata: bool = True,
) -> BenchReport:
    """Generate, serve, fetch raw, crawl, and with ``scrapy_python`` crawl with Scrapy too; the
    server is always stopped and the files removed."""
    limit_s = 120 + pages * 0.1  # far above any plausible run: a bound, not a target
    if scrapy_python is not None:
        scrapy_version(scrapy_python)  # fail at once, not after the crawl
    with tempfile.TemporaryDirectory(prefix="scraper-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker may run as another user
        note(f"generating {pages} pages in {work} ...")
        site = generate_site(work / "site", pages)
        with serve(site.directory, work) as (root, server):
            settings = bench_settings(
                root, work / "bench.db", pages, concurrency, parse_workers, content, keep,
                metadata,
            )  # fmt: skip
            note(f"raw fetch of {pages + len(site.missing)} URLs from {server} ...")
            raw = _run_raw(settings, [root.rstrip("/") + p for p in site.paths()], limit_s)
            note("crawl ...")
            crawl = _run_crawl(settings, limit_s)
            by_status = dict(asyncio.run(read_counts(work / "bench.db")).by_status)
            kept = _kept(work / "bench.db") if any(keep) else None
            db_files = (work / "bench.db", work / "bench.db-wal")
            db_mb = sum(f.stat().st_size for f in db_files if f.exists()) / 1e6
            scrapy = None
            if scrapy_python is not None:
                note(f"scrapy crawl with {scrapy_python} ...")
                (work / "scrapy").mkdir()
                scrapy = run_scrapy(scrapy_python, root, work / "scrapy", concurrency, limit_s)
    return BenchReport(
        site=site,
        concurrency=concurrency,
        server=server,
        raw=raw,
        crawl=crawl,
        html_pages=by_status.get(200, 0),
        not_found=by_status.get(404, 0),
        db_mb=db_mb,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        scrapy=scrapy,
        parse_workers=pool_size(parse_workers, content),
        content=content,
        metadata=metadata,
        kept=kept,
    )


def _kept(db: Path) -> tuple[int, int]:
    """(raw bodies, captures) the crawl stored."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        bodies = (
            conn.execute("SELECT count(*) FROM bodies").fetchone() if "bodies" in tables else (0,)
        )
        return int(bodies[0]), int(conn.execute("SELECT count(*) FROM captures").fetchone()[0])


def report_lines(r: BenchReport) -> list[str]:
    """The figures, one per line, for the CLI to print."""
    c, raw = r.crawl, r.raw
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    return [
        f"machine: {machine}, {platform.system()} {platform.release()}",
        f"server: {r.server}, separate process on 127.0.0.1",
        f"site: {r.site.pages} pages, {r.site.total_bytes / r.site.pages / 1000:.1f} KB average,"
        f" {len(r.site.missing)} linked 404 paths; concurrency {r.concurrency}",
        f"parse: {r.parse_workers} processes; main content, Markdown and chunks"
        f" {'on' if r.content else 'off'}; metadata {'on' if r.metadata else 'off'}",
        f"crawled: {r.html_pages} pages (status 200), {r.not_found} 404, {c.failed} failed;"
        f" database {r.db_mb:.0f} MB",
        f"crawl: {c.pages_per_s:.1f} pages/s ({c.responses} in {c.elapsed_s:.2f} s)",
        f"raw: {raw.pages_per_s:.1f} pages/s ({raw.responses} in {raw.elapsed_s:.2f} s,"
        f" {raw.failed} failed)",
        f"ratio crawl/raw: {c.pages_per_s / max(raw.pages_per_s, 1e-9):.2f}",
        f"crawl CPU: {c.cpu_s_per_1000:.2f} s/1000 pages (crawler {c.per_1000(c.cpu_s):.2f}"
        f" + parse process {c.per_1000(c.child_cpu_s):.2f})",
        f"raw CPU: {raw.cpu_s_per_1000:.2f} s/1000 pages",
        f"peak RSS: {r.peak_rss_mb:.0f} MB (crawler),"
        f" {r.crawl.child_peak_rss_mb:.0f} MB (parse process)",
        *([f"kept: {r.kept[0]} raw bodies, {r.kept[1]} captures"] if r.kept else []),
        *(_scrapy_lines(r.scrapy, c) if r.scrapy else []),
    ]


def _scrapy_lines(s: ScrapyRun, crawl: Phase) -> list[str]:
    return [
        f"scrapy {s.version}: {s.pages_per_s:.1f} pages/s ({s.items} in {s.crawl_s:.2f} s:"
        f" {s.ok_200} status 200, {s.not_found} 404, {s.errors} errors),"
        f" CPU {s.cpu_s * 1000 / max(1, s.items):.2f} s/1000 pages,"
        f" peak RSS {s.peak_rss_mb:.0f} MB",
        f"ratio crawl/scrapy: {crawl.pages_per_s / max(s.pages_per_s, 1e-9):.2f}",
    ]
