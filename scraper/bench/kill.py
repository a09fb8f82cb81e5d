"""``scraper bench --workers N --kill``: kill -9 of one of N workers sharing a crawl.

N workers (the real command line, each a child process) crawl the latency-bound many-host site
(:mod:`scraper.testing.hosts`, its own process, with an access log) on PostgreSQL, each host
politely (one request at a time, ``delay_s`` apart) and with a short host lease. Worker 0
creates the crawl, the others join it once it exists. When a third of the pages are stored, one
worker gets SIGKILL (as soon as it holds a host with work left): the last to join, or the
creator; the others must finish the crawl.

At the kill, the database says what the dead worker held: the hosts leased to it with work left
(``hosts.owner``, the worker being ``hostname:pid``) and the URLs it had claimed but not
committed (``frontier.claimed_by``), the most it can cost in re-fetches. At the end: pages stored
against the site's, URLs stored twice, re-fetches (requests the site answered less pages), the
takeover time (from the kill until every host the dead worker held was requested again, by the
site's clock, which is this machine's), and politeness as the site saw it (request starts to one
host closer than the delay less 10 ms, most requests in flight to one host).
"""

import asyncio
import math
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scraper.bench.access_log import Request, analyze, read_access_log
from scraper.bench.frontier import log_tail
from scraper.bench.workers import (
    WorkersSpec,
    hosts_site,
    postgres_base,
    scratch_database,
    write_inputs,
)
from scraper.errors import ScraperError, UsageError
from scraper.query import select_rows
from scraper.storage import crawl_exists
from scraper.storage.reading import Row
from scraper.testing import reap_within, stop_process

POLL_S = 0.1


DELAY_S = 0.2  # between request starts to one host: gaps the site can check
LEASE_S = 5.0  # short, so the takeover is measured in seconds


def kill_spec(
    workers: int, hosts: int, pages: int, concurrency: int, db: str | None
) -> WorkersSpec:
    """The kill scenario's crawl: polite hosts, short leases."""
    return WorkersSpec(workers, hosts, pages, 0.1, concurrency, db, DELAY_S, LEASE_S)


@dataclass(frozen=True, slots=True)
class KillRun:
    victim: str  # "creator" or "joiner"
    expected: int  # pages of the site
    pages: int  # stored
    distinct_urls: int  # of the stored pages
    requests: int  # the site answered
    wall_s: float  # first start to last exit
    killed_at_pages: int
    held_hosts: int  # hosts leased to the dead worker with work left, at the kill
    claimed: int  # URLs it had claimed and not committed, at the kill
    takeovers_s: tuple[float, ...]  # kill to each of its hosts requested again, ascending
    short_gaps: int
    shortest_gap_s: float | None
    max_in_flight: int

    @property
    def refetched(self) -> int:
        return self.requests - self.pages


async def _all_rows(db: str, sql: str) -> list[Row]:
    found: list[Row] = []
    async with select_rows(db, sql) as rows:
        while chunk := await rows.fetch():
            found += chunk
    return found


def rows(db: str, sql: str) -> list[Row]:
    """The rows of one read-only statement on ``db``."""
    return asyncio.run(_all_rows(db, sql))


def number(db: str, sql: str) -> int:
    value = rows(db, sql)[0][0]
    return int(value) if isinstance(value, int | str) else 0


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Workers:
    """The crawl's worker processes (``python -m scraper crawl``), always stopped at the end."""

    def __init__(self, work: Path, db: str, seeds: Path, config: Path) -> None:
        self.work, self.db, self.seeds, self.config = work, db, seeds, config
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "scraper", "crawl", "-i", str(self.seeds), "--db", self.db]
        argv += ["--config", str(self.config)]
        with (self.work / f"w{len(self.procs)}.log").open("wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.procs.append(proc)
        return proc

    def check_running(self) -> None:
        for k, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise ScraperError(
                    f"bench --kill: worker {k} exited {proc.returncode} early: "
                    f"{log_tail(self.work / f'w{k}.log')}"
                )

    def finish(self, limit_s: float) -> None:
        """Wait for every worker still running; ScraperError unless each exits 0 in time."""
        for k, proc in enumerate(self.procs):
            if proc.returncode is not None:
                continue
            exited, _ = reap_within(proc, limit_s)
            if not exited or proc.returncode != 0:
                raise ScraperError(
                    f"bench --kill: worker {k} exited {proc.returncode}: "
                    f"{log_tail(self.work / f'w{k}.log')}"
                )

    def stop_all(self) -> None:
        for proc in self.procs:
            stop_process(proc)


def wait_for(what: str, workers: Workers, limit_s: float, done: Callable[[], bool]) -> None:
    """Poll ``done`` until it holds; ScraperError if a worker exits first or time runs out."""
    deadline = time.monotonic() + limit_s
    while not done():
        workers.check_running()
        if time.monotonic() > deadline:
            raise ScraperError(f"bench --kill: no {what} after {limit_s:.0f} s")
        time.sleep(POLL_S)


@dataclass(frozen=True, slots=True)
class Kill:
    """What the dead worker held when it died, and when (epoch ms, the access log's clock)."""

    at_ms: int
    at_pages: int
    hosts: frozenset[str]
    claimed: int


def kill_one(spec: WorkersSpec, workers: Workers, victim: int) -> Kill:
    """SIGKILL to worker ``victim`` once a third of the pages are stored and it holds a host
    with work left; what it held then."""
    db, proc = workers.db, workers.procs[victim]
    name = literal(f"{socket.gethostname()}:{proc.pid}")
    wait_for("pages", workers, spec.limit_s, lambda: stored(db) >= spec.total // 3)
    wait_for("hosts held", workers, spec.limit_s, lambda: bool(held_hosts(db, name)))
    proc.kill()
    at_ms = round(time.time() * 1000)
    proc.wait()
    claimed = number(
        db, f"SELECT count(*) FROM frontier WHERE claimed_by = {name} AND state = 'in_progress'"
    )
    return Kill(at_ms, stored(db), frozenset(held_hosts(db, name)), claimed)


def held_hosts(db: str, name: str) -> list[str]:
    """Hosts leased to the worker ``name`` (an SQL literal) that have work left."""
    found = rows(
        db,
        f"SELECT h.host FROM hosts h WHERE h.owner = {name} AND EXISTS (SELECT FROM frontier f"
        " WHERE f.host = h.host AND f.state IN ('pending', 'in_progress'))",
    )
    return [str(row[0]) for row in found]


def stored(db: str) -> int:
    return number(db, "SELECT count(*) FROM pages") if crawl_exists(db) else 0


def takeovers_s(requests: list[Request], kill: Kill) -> tuple[float, ...]:
    """For each host the dead worker held, ascending: seconds from the kill until it was
    requested again (a request starting after the kill; the log's host names have no port);
    infinity for a host never requested again."""
    held = {host.rsplit(":", 1)[0] for host in kill.hosts}
    first: dict[str, int] = {}
    for r in requests:
        if r.host in held and r.start_ms > kill.at_ms:
            first[r.host] = min(first.get(r.host, r.start_ms), r.start_ms)
    return tuple(sorted((first[h] - kill.at_ms) / 1000 if h in first else math.inf for h in held))


def crawl_and_kill(spec: WorkersSpec, work: Path, db: str, victim: str) -> KillRun:
    work.mkdir()
    log = work / "access.log"
    with hosts_site(spec, work, log) as port:
        seeds, config = write_inputs(spec, work, port)
        workers = Workers(work, db, seeds, config)
        started = time.monotonic()
        try:
            workers.start()
            wait_for("crawl", workers, spec.limit_s, lambda: crawl_exists(db))
            for _ in range(1, spec.workers):
                workers.start()
            kill = kill_one(spec, workers, 0 if victim == "creator" else spec.workers - 1)
            workers.finish(spec.limit_s)
        finally:
            workers.stop_all()
        wall_s = time.monotonic() - started
    requests = read_access_log(log)
    view = analyze(requests, spec.delay_s)
    pages, distinct = rows(db, "SELECT count(*), count(DISTINCT url) FROM pages")[0]
    return KillRun(
        victim, spec.total, int(str(pages)), int(str(distinct)), view.requests, wall_s,
        kill.at_pages, len(kill.hosts), kill.claimed, takeovers_s(requests, kill),
        view.short_gaps, view.shortest_gap_s, view.max_in_flight,
    )  # fmt: skip


def run_kill_bench(spec: WorkersSpec, note: Callable[[str], None]) -> list[KillRun]:
    """Two crawls, each into a new database: one kills the last worker to join, one the
    creator. Servers and workers always stopped."""
    if spec.workers < 2 or spec.hosts < 1 or spec.pages < 3:
        raise UsageError("bench --kill: at least 2 workers, 1 host and 3 pages per host")
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="scraper-benchkill-") as tmp,
        postgres_base(spec.db) as (base, _),
    ):
        for victim in ("joiner", "creator"):
            note(f"{spec.workers} workers, kill -9 of the {victim} after a third of the pages ...")
            with scratch_database(base, f"kill_{victim}") as db:
                runs.append(crawl_and_kill(spec, Path(tmp) / victim, db, victim))
    return runs


def report_lines(spec: WorkersSpec, runs: list[KillRun]) -> list[str]:
    lines = [
        f"site: {spec.hosts} hosts x {spec.pages} pages, {spec.latency_s * 1000:.0f} ms per"
        f" answer; {spec.workers} workers on PostgreSQL, each: concurrency {spec.concurrency},"
        f" one request at a time per host, delay {spec.delay_s} s, lease {spec.lease_s} s",
    ]
    for r in runs:
        took = "-"
        if r.takeovers_s:
            median = r.takeovers_s[(len(r.takeovers_s) - 1) // 2]
            took = f"{r.takeovers_s[-1]:.1f} s (median {median:.1f} s)"
        gap = "-" if r.shortest_gap_s is None else f"{r.shortest_gap_s:.3f} s"
        lines.append(
            f"kill -9 of the {r.victim} at {r.killed_at_pages} pages: {r.pages} of {r.expected}"
            f" pages stored ({r.expected - r.pages} lost), {r.pages - r.distinct_urls} stored"
            f" twice; {r.refetched} re-fetched, it had {r.claimed} URLs claimed uncommitted"
            f" (concurrency {spec.concurrency}); its {r.held_hosts} hosts requested again"
            f" {took} after the kill (lease {spec.lease_s} s); {r.short_gaps} gaps shorter"
            f" than the delay - 10 ms (shortest {gap}), at most {r.max_in_flight} in flight to"
            f" one host; {r.wall_s:.1f} s"
        )
    return lines
