"""``scraper bench --workers N``: how a crawl shared through PostgreSQL scales with its workers.

A latency-bound site (:mod:`scraper.testing.hosts`: H hosts, P pages each, every answer after
``latency_s``, served by its own process on this machine) is crawled by 1 worker on SQLite,
then by 1, 2, 4 ... N workers on PostgreSQL, each run into a new database of a private server
(:class:`scraper.testing.PostgresServer`: Debian's ``postgresql`` package, fsync off, so the
figures are the crawler's and the database's work, not the disk's), or of the server a
``--db`` URL names (``<its database>_bench<N>``, dropped after the run). Every worker is the real
command line in a child process (``scraper crawl -i seeds --db URL``: the first creates the
crawl, the others join it), with the same concurrency; one request at a time per host and no
delay, so one worker's rate is bounded by ``concurrency / latency`` and more workers should
multiply it. Printed per run: wall time (first start to last exit), pages/s, the ratio to one
PostgreSQL worker, the workers' CPU and the private database server's (its postmaster's own
and reaped children's; none for a ``--db`` server, maybe remote), and what the site saw
(pages fetched twice, per-host requests in flight).
"""

import asyncio
import concurrent.futures
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scraper.bench.access_log import Timeline, analyze, read_access_log, timeline
from scraper.bench.frontier import ChildRun, log_tail, run_child
from scraper.errors import ScraperError, UsageError
from scraper.query import read_counts
from scraper.storage import drop_database, fresh_database, is_postgres
from scraper.testing import PostgresServer, cli_peak_rss_code, stop_process


@dataclass(frozen=True, slots=True)
class WorkersSpec:
    workers: int
    hosts: int = 200
    pages: int = 25  # per host
    latency_s: float = 0.1
    concurrency: int = 16  # per worker
    db: str | None = None  # an existing PostgreSQL server's URL; None: a private server
    delay_s: float = 0.0  # between request starts to one host
    lease_s: float | None = None  # the workers' host leases; None: the setting's default

    @property
    def total(self) -> int:
        return self.hosts * self.pages

    @property
    def limit_s(self) -> float:
        return 120 + 3 * self.total * max(self.latency_s, self.delay_s) / self.concurrency


@dataclass(frozen=True, slots=True)
class SharedRun:
    backend: str
    workers: int
    pages: int
    wall_s: float
    cpu_s: float  # the workers'
    db_cpu_s: float | None  # the PostgreSQL server's
    fetched: int  # requests the site answered
    max_in_flight: int  # most requests in flight to one host
    timeline: Timeline | None  # from the first worker's start

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0


def steps(workers: int) -> list[int]:
    """1, 2, 4 ... up to ``workers``, and ``workers`` itself."""
    counts, n = [], 1
    while n < workers:
        counts.append(n)
        n *= 2
    return [*counts, workers]


@contextmanager
def hosts_site(spec: WorkersSpec, work: Path, log: Path) -> Iterator[int]:
    """The many-host site in its own process, its access log at ``log``; yields its port."""
    argv = [sys.executable, "-m", "scraper.testing", "hosts", str(spec.pages)]
    argv += [str(spec.latency_s), str(log)]
    with (work / "site.err").open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline() if proc.stdout is not None else b""
        if not line.strip().isdigit():
            raise ScraperError(
                f"bench --workers: the site did not start: {log_tail(work / 'site.err')}"
            )
        yield int(line)
    finally:
        stop_process(proc)  # SIGTERM first: the site flushes its access log


def write_inputs(spec: WorkersSpec, work: Path, port: int) -> tuple[Path, Path]:
    """(seeds, config): a seed per host, the hosts pinned to 127.0.0.1, one request at a time
    per host ``spec.delay_s`` apart, no robots.txt, the spec's lease if any."""
    seeds = work / "seeds.txt"
    seeds.write_text("".join(f"http://h{h}.bench.test:{port}/0\n" for h in range(spec.hosts)))
    pins = ", ".join(f'"h{h}.bench.test:127.0.0.1"' for h in range(spec.hosts))
    config = work / "bench.toml"
    config.write_text(
        f"[crawl]\nconcurrency = {spec.concurrency}\n"
        f"[politeness]\nper_host = 1\ndelay_s = {spec.delay_s}\nautothrottle = false\n"
        f"robots = false\nsitemaps = false\n[fetch]\nretries = 0\nresolve = [{pins}]\n"
        + ("" if spec.lease_s is None else f"[storage]\nlease_s = {spec.lease_s}\n")
    )
    return seeds, config


def crawl_with(
    spec: WorkersSpec, work: Path, seeds: Path, config: Path, db: str, workers: int
) -> list[ChildRun]:
    """``workers`` crawls of ``db`` at once, each ``scraper crawl -i seeds``; their runs."""

    def one(k: int) -> ChildRun:
        rss, log = work / f"w{k}.rss", work / f"w{k}.log"
        argv = [sys.executable, "-c", cli_peak_rss_code(rss), "crawl", "-i", str(seeds)]
        argv += ["--db", db, "--config", str(config)]
        run = run_child(argv, log, spec.limit_s, rss, what="bench --workers")
        if run.exit_code != 0:
            raise ScraperError(
                f"bench --workers: worker {k} exited {run.exit_code}: {log_tail(log)}"
            )
        return run

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(workers)))


def server_cpu_s(server: PostgresServer) -> float:
    """CPU seconds of the server so far: the postmaster's own and its reaped children's."""
    pid = (server.data / "postmaster.pid").read_text().split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def one_run(
    spec: WorkersSpec, work: Path, backend: str, workers: int, db: str,
    server: PostgresServer | None,
) -> SharedRun:  # fmt: skip
    work.mkdir()
    log = work / "access.log"
    with hosts_site(spec, work, log) as port:
        seeds, config = write_inputs(spec, work, port)
        cpu_before = server_cpu_s(server) if server is not None else 0.0
        started, started_ms = time.monotonic(), round(time.time() * 1000)
        runs = crawl_with(spec, work, seeds, config, db, workers)
        wall_s = time.monotonic() - started
        db_cpu = server_cpu_s(server) - cpu_before if server is not None else None
    pages = asyncio.run(read_counts(db)).pages
    requests = read_access_log(log)
    view = analyze(requests, 0.0)
    cpu = sum(r.cpu_s for r in runs)
    return SharedRun(
        backend, workers, pages, wall_s, cpu, db_cpu, view.requests, view.max_in_flight,
        timeline(requests, started_ms),
    )  # fmt: skip


def run_workers_bench(spec: WorkersSpec, note: Callable[[str], None]) -> list[SharedRun]:
    """1 worker on SQLite, then 1, 2, 4 ... N on PostgreSQL: the server ``spec.db`` names (a
    new database ``<its database>_bench<N>`` per run, dropped after it) or else a private one;
    servers always stopped."""
    if spec.workers < 1 or spec.hosts < 1 or spec.pages < 1:
        raise UsageError("bench --workers: workers, hosts and pages at least 1")
    runs: list[SharedRun] = []
    with tempfile.TemporaryDirectory(prefix="scraper-benchworkers-") as tmp:
        work = Path(tmp)
        note(f"1 worker on SQLite: {spec.hosts} hosts x {spec.pages} pages ...")
        runs.append(one_run(spec, work / "sqlite", "sqlite", 1, str(work / "crawl.db"), None))
        with postgres_base(spec.db) as (base, server):
            for n in steps(spec.workers):
                note(f"{n} worker(s) on PostgreSQL ...")
                with scratch_database(base, f"bench{n}") as db:
                    runs.append(one_run(spec, work / f"pg{n}", "postgresql", n, db, server))
    return runs


@contextmanager
def postgres_base(db: str | None) -> Iterator[tuple[str, PostgresServer | None]]:
    """(the URL new databases are made next to, the private server or None): ``db`` if given
    (no server of ours, so no database CPU figure), else a private server, always stopped."""
    if db is not None:
        if not is_postgres(db):
            raise UsageError(f"bench --workers: --db must be a PostgreSQL URL, got {db!r}")
        yield db, None
        return
    server = PostgresServer()
    try:
        server.start()
        yield server.url(), server
    finally:
        server.stop()


@contextmanager
def scratch_database(base: str, suffix: str) -> Iterator[str]:
    """A new empty database next to ``base``'s, dropped afterwards; yields its URL."""
    db = fresh_database(base, suffix)
    try:
        yield db
    finally:
        drop_database(base, suffix)


def report_lines(spec: WorkersSpec, runs: list[SharedRun]) -> list[str]:
    machine = f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.machine()}"
    lines = [
        f"machine: {machine}, {platform.system()} {platform.release()}",
        f"site: {spec.hosts} hosts x {spec.pages} pages, {spec.latency_s * 1000:.0f} ms per"
        f" answer, one request at a time per host; each worker: concurrency {spec.concurrency}",
    ]
    base = next((r.pages_per_s for r in runs if r.backend == "postgresql"), 0.0)
    for r in runs:
        ratio = f", {r.pages_per_s / base:.2f} x one PostgreSQL worker" if base else ""
        db = "" if r.db_cpu_s is None else f", database CPU {r.db_cpu_s:.1f} s"
        lines.append(
            f"{r.backend}, {r.workers} worker(s): {r.pages} pages in {r.wall_s:.2f} s,"
            f" {r.pages_per_s:.1f} pages/s{ratio}; workers' CPU {r.cpu_s:.1f} s{db};"
            f" the site answered {r.fetched} requests ({r.fetched - r.pages} twice),"
            f" at most {r.max_in_flight} in flight to one host"
        )
        if (t := r.timeline) is not None:
            lines.append(
                f"  timeline: first request {t.first_request_s:.2f} s, half the hosts done"
                f" {t.half_hosts_done_s:.2f} s, nine tenths {t.most_hosts_done_s:.2f} s, last"
                f" answer {t.last_answer_s:.2f} s, last exit {r.wall_s:.2f} s"
            )
    return lines
