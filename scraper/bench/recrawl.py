"""``scraper bench --recrawl``: what revisiting a crawled site costs, against its first crawl.

The bench's static site (:mod:`scraper.bench.site`, served by nginx when installed) is crawled
once (politeness off, as the main bench), then recrawled whole three times, each timed:

- (a) nothing changed, the server honouring validators: every page answers ``304``;
- (b) nothing changed, the server ignoring them (nginx ``etag off; if_modified_since off``):
  every page comes whole and is recognised as unchanged by its hash;
- (c) 10 % of the pages changed (a paragraph added), validators honoured.

Printed: pages/s of each against the first crawl's, the versions each stored, and the
database's growth for the unchanged recrawls (its size after a WAL checkpoint).
"""

import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scraper.bench.site import Site, generate_site, page_file, serve
from scraper.bench.throughput import bench_settings
from scraper.config import Settings
from scraper.crawl import Crawl, RevisitPlan
from scraper.errors import ScraperError

CHANGED_EVERY = 10  # (c): one page in ten changes


@dataclass(frozen=True, slots=True)
class Round:
    name: str
    pages: int  # pages fetched (stored, or found unchanged)
    elapsed_s: float
    versions: int  # versions stored after the round
    db_bytes: int  # the database after the round

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed_s if self.elapsed_s > 0 else 0.0


def db_size(db: Path) -> tuple[int, int]:
    """(bytes of the database with its WAL checkpointed, versions stored)."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    return db.stat().st_size, int(versions)


def timed(name: str, settings: Settings, revisit: RevisitPlan | None, limit_s: float) -> Round:
    """One crawl (``revisit`` None) or recrawl, its pages/s and what it left in the database."""

    async def go() -> tuple[int, int]:
        async with asyncio.timeout(limit_s):
            crawl = Crawl(settings, save_settings=revisit is None, revisit=revisit)
            summary = await crawl.run()
        if summary.interrupted_by is not None:
            raise ScraperError(f"bench --recrawl: interrupted by {summary.interrupted_by}")
        return summary.visited, summary.failed

    started = time.perf_counter()
    try:
        pages, failed = asyncio.run(go())
    except TimeoutError:
        raise ScraperError(f"bench --recrawl: {name} took more than {limit_s:.0f} s") from None
    elapsed = time.perf_counter() - started
    if failed:
        raise ScraperError(f"bench --recrawl: {failed} pages failed in {name}")
    size, versions = db_size(Path(settings.db))
    return Round(name, pages, elapsed, versions, size)


def change_pages(site: Site) -> int:
    """Add a paragraph to one page in :data:`CHANGED_EVERY`; how many were changed."""
    changed = 0
    for i in range(0, site.pages, CHANGED_EVERY):
        path = site.directory / page_file(i)
        html = path.read_text()
        was = path.stat().st_mtime
        path.write_text(html.replace("</body>", f"<p>changed paragraph {i}</p></body>", 1))
        # Last-Modified has one-second steps: an edit in the second the page was written would
        # look unmodified to If-Modified-Since (as on any server); edits come later in life.
        os.utime(path, (was + 60, was + 60))
        changed += 1
    return changed


def run_recrawl_bench(
    pages: int, concurrency: int, note: Callable[[str], None]
) -> tuple[Site, list[Round]]:
    limit_s = 120 + pages * 0.1
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="scraper-benchrecrawl-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker may run as another user
        note(f"generating {pages} pages in {work} ...")
        site = generate_site(work / "site", pages)
        db = work / "bench.db"
        every = RevisitPlan()
        with serve(site.directory, work) as (root, _server):
            settings = bench_settings(root, db, pages, concurrency)
            note("first crawl ...")
            rounds.append(timed("first crawl", settings, None, limit_s))
            note("(a) recrawl, nothing changed, validators honoured ...")
            rounds.append(timed("(a) unchanged, 304", settings, every, limit_s))
        for sub in ("b", "c"):
            (work / sub).mkdir(mode=0o755)
        port = urlsplit(root).port
        with serve(site.directory, work / "b", validators=False, port=port):
            note("(b) recrawl, nothing changed, validators ignored ...")
            rounds.append(timed("(b) unchanged, 200", settings, every, limit_s))
        changed = change_pages(site)
        with serve(site.directory, work / "c", port=port):
            note(f"(c) recrawl, {changed} pages changed ...")
            rounds.append(timed("(c) 10% changed", settings, every, limit_s))
    return site, rounds


def report_lines(site: Site, concurrency: int, rounds: list[Round]) -> list[str]:
    first = rounds[0]
    lines = [
        f"site: {site.pages} pages, {site.total_bytes / site.pages / 1000:.1f} KB average, "
        f"{len(site.missing)} linked 404 paths; concurrency {concurrency}, politeness off",
    ]
    for before, r in zip([None, *rounds], rounds, strict=False):
        line = f"{r.name}: {r.pages} pages in {r.elapsed_s:.2f} s, {r.pages_per_s:.1f} pages/s"
        if before is not None:
            grew = (r.db_bytes - before.db_bytes) / before.db_bytes * 100
            line += f", {r.pages_per_s / first.pages_per_s:.2f} x the first crawl"
            line += f"; {r.versions - before.versions} versions stored, database {grew:+.2f} %"
        lines.append(f"{line} ({r.db_bytes / 1e6:.1f} MB)")
    return lines
