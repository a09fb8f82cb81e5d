"""``scraper bench --import``: the speed of ``scraper import`` on a synthetic WARC.

The bench's site of --pages pages (:mod:`scraper.bench.site`) is written as a WARC with warcio,
one gzip member per response record, a second apart. Timed, in one run: reading it alone
(the first pass and every capture read back, decoded: the reader's share), then the import
(read, parse with Markdown and chunks, write), pages/s and CPU seconds (this process and the
parse pool's).
"""

import asyncio
import functools
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scraper.bench.site import generate_site, page_file, page_path
from scraper.config import Settings
from scraper.crawl import import_archives
from scraper.importing import CaptureReader, survey
from scraper.parse import pool_size
from scraper.testing.warcs import Captured, write_warc

HOST = "http://bench.test"


@dataclass(frozen=True, slots=True)
class Timed:
    name: str
    pages: int
    wall_s: float
    cpu_s: float  # this process (threads included) and its parse pool's processes

    def line(self) -> str:
        return (
            f"{self.name}: {self.pages} pages in {self.wall_s:.2f} s, "
            f"{self.pages / self.wall_s:.0f} pages/s; {self.cpu_s:.2f} s CPU, "
            f"{self.cpu_s / self.pages * 1000:.2f} ms per page "
            f"({self.pages / self.cpu_s:.0f} pages per CPU-second)"
        )


@dataclass(frozen=True, slots=True)
class ImportRun:
    pages: int
    warc_bytes: int
    runs: tuple[Timed, ...]  # the reader alone, then the imports


def write_bench_warc(directory: Path, pages: int) -> Path:
    """The bench site's pages as one WARC.gz of response records."""
    site = generate_site(directory / "site", pages)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    captures = (
        Captured(
            HOST + page_path(i),
            (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            (site.directory / page_file(i)).read_bytes(),
        )
        for i in range(site.pages)
    )
    warc = directory / "bench.warc.gz"
    write_warc(warc, captures)
    return warc


def _cpu_s() -> float:
    deadline = time.monotonic() + 10  # the parse pool ends without waiting: reap it first,
    while multiprocessing.active_children() and time.monotonic() < deadline:  # so its CPU counts
        time.sleep(0.05)
    own = resource.getrusage(resource.RUSAGE_SELF)
    pool = resource.getrusage(resource.RUSAGE_CHILDREN)  # parse processes, once joined
    return own.ru_utime + own.ru_stime + pool.ru_utime + pool.ru_stime


def _read_all(warc: Path) -> int:
    found = survey([warc])
    with CaptureReader(found) as reader:
        return len(reader.read(found.entries))


def _import(settings: Settings, warc: Path) -> int:
    return asyncio.run(import_archives(settings, [warc])).pages


def _timed(name: str, run: Callable[[], int]) -> Timed:
    cpu, started = _cpu_s(), time.perf_counter()
    pages = run()
    return Timed(name, pages, time.perf_counter() - started, _cpu_s() - cpu)


def run_import_bench(
    pages: int, parse_workers: int | None, content: bool, note: Callable[[str], None]
) -> ImportRun:
    """The reader alone, then an import with the main content (Markdown, chunks) as
    ``content`` says, then one with it the other way: in one run, on the same WARC."""
    with tempfile.TemporaryDirectory(prefix="scraper-bench-import-") as tmp:
        work = Path(tmp)
        note(f"writing a WARC of {pages} pages ...")
        warc = write_bench_warc(work, pages)
        runs = [
            _timed("reader alone (warcio: both passes, payloads decoded)", lambda: _read_all(warc))
        ]
        for markdown in (content, not content):
            db = work / f"bench-{markdown}.db"
            settings = Settings(
                db=str(db), parse_workers=parse_workers, markdown=markdown, chunks=markdown,
                max_depth=1,
            )  # fmt: skip
            workers = pool_size(parse_workers, markdown)
            name = f"import, {workers} parse workers, content {'on' if markdown else 'off'}"
            note(f"{name} ...")
            runs.append(_timed(name, functools.partial(_import, settings, warc)))
        return ImportRun(pages, warc.stat().st_size, tuple(runs))


def report_lines(run: ImportRun) -> list[str]:
    head = f"WARC: {run.pages} response records, {run.warc_bytes / 1e6:.1f} MB (gzip per record)"
    return [head, *(t.line() for t in run.runs)]
