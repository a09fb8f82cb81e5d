"""Several workers share one crawl through PostgreSQL, each on a machine of its own.

Each worker is the real CLI in a network namespace (:class:`scraper.testing.netns.Machines`),
reaching the session's PostgreSQL server and the many-host site over veth pairs; a partition is
a link set down. What the site saw (its access log: per-host gaps between request starts,
requests in flight) and what the database holds are the outcomes asserted on.
"""

import asyncio
import contextlib
import io
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from scraper.bench.access_log import Request, analyze, parse_line
from scraper.testing import PostgresServer, listen
from scraper.testing.hosts import HostsSpec, make_hosts_app
from scraper.testing.netns import Machines
from tests.conftest import Child, scraper

HOSTS = 9
PAGES = 8
LATENCY_S = 0.1
DELAY_S = 0.3
LEASE_S = 3.0
WORKER_FLAGS = ["--concurrency", "2", "--per-host", "1", "--delay", str(DELAY_S)]
WORKER_FLAGS += ["--no-robots", "--retries", "0"]

pytestmark = pytest.mark.timeout(120)


class Site:
    """The many-host site, served here on every interface, and its access log."""

    def __init__(self, port: int, log: io.StringIO) -> None:
        self.port = port
        self._log = log

    def requests(self) -> list[Request]:
        return [parse_line(line) for line in self._log.getvalue().splitlines() if line]

    def urls(self) -> set[str]:
        return {f"http://h{h}.test:{self.port}/{n}" for h in range(HOSTS) for n in range(PAGES)}

    def seeds(self) -> list[str]:
        return [f"http://h{h}.test:{self.port}/0" for h in range(HOSTS)]


@contextlib.asynccontextmanager
async def hosts_site() -> AsyncIterator[Site]:
    log = io.StringIO()
    runner = web.AppRunner(make_hosts_app(HostsSpec(PAGES, LATENCY_S), log))
    await runner.setup()
    sock = listen(0, "0.0.0.0")
    try:
        await web.SockSite(runner, sock).start()
        yield Site(sock.getsockname()[1], log)
    finally:
        await runner.cleanup()
        sock.close()


@pytest.fixture
def machines() -> Iterator[Machines]:
    with Machines(3) as m:
        yield m


class Crawl:
    """A shared crawl: the database, the site, and how worker K is started."""

    def __init__(
        self, tmp_path: Path, pg: PostgresServer, url: str, m: Machines, site: Site
    ) -> None:
        self.tmp_path, self.pg, self.url, self.m, self.site = tmp_path, pg, url, m, site
        self.database = url.rsplit("/", 1)[1]
        self.seeds = tmp_path / "seeds.txt"
        self.seeds.write_text("\n".join(site.seeds()) + "\n")
        self.storage = ""  # more [storage] settings of every worker

    def config(self, k: int) -> Path:
        gateway = self.m.gateway(k, "site")
        resolve = ", ".join(f'"h{h}.test:{gateway}"' for h in range(HOSTS))
        path = self.tmp_path / f"worker{k}.toml"
        path.write_text(
            f"[fetch]\nresolve = [{resolve}]\n"
            f"[storage]\nlease_s = {LEASE_S}\nbatch_size = 8\nflush_interval_s = 0.1\n"
            + self.storage
        )
        return path

    def db(self, k: int) -> str:
        return self.url.replace("127.0.0.1", self.m.gateway(k, "db"))

    def worker(
        self, k: int, command: str = "resume", *extra: str
    ) -> contextlib.AbstractAsyncContextManager[Child]:
        args = [command, "--db", self.db(k), "--config", str(self.config(k)), *WORKER_FLAGS]
        if command == "crawl":
            args += ["-i", str(self.seeds)]
        return scraper(self.tmp_path, *args, *extra, prefix=self.m.prefix(k))

    def sql(self, query: str) -> str:
        return self.pg.psql(query, database=self.database)

    def pages(self) -> int:
        """Pages stored; 0 until the first worker has made the schema."""
        if self.sql("SELECT to_regclass('pages') IS NULL") == "t":
            return 0
        return int(self.sql("SELECT count(*) FROM pages"))

    def stored_urls(self) -> Counter[str]:
        return Counter(self.sql("SELECT url FROM pages").splitlines())


@contextlib.asynccontextmanager
async def workers(crawl: Crawl, count: int, *extra: str) -> AsyncIterator[list[Child]]:
    """``count`` workers: the first creates the crawl, the others join it once it has a page."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(crawl.worker(0, "crawl", *extra))
        await until_pages(crawl, 1, first)
        others = [
            await stack.enter_async_context(crawl.worker(k, "resume", *extra))
            for k in range(1, count)
        ]
        yield [first, *others]


@contextlib.asynccontextmanager
async def shared_crawl(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
) -> AsyncIterator[Crawl]:
    async with hosts_site() as site:
        yield Crawl(tmp_path, pg_server, pg_url, machines, site)


async def until_pages(crawl: Crawl, count: int, *children: Child) -> None:
    """Wait until ``count`` pages are stored; every child must still be running."""

    async def reached() -> bool:  # psql in a thread: the site shares this event loop
        pages = await asyncio.to_thread(crawl.pages)
        return pages >= count or not all(c.running for c in children)

    async with asyncio.timeout(60):
        while not await reached():  # noqa: ASYNC110 -- no event to await
            await asyncio.sleep(0.2)
    for child in children:
        assert child.running, f"a worker ended early\n{child.diagnostics()}"


async def finish_all(*children: Child) -> None:
    """Every worker exits 0 (they end the crawl together)."""
    for child in children:
        try:
            code, _, err = await child.finish(90)
        except TimeoutError:
            raise AssertionError(f"a worker did not finish\n{child.diagnostics()}") from None
        assert code == 0, err


def assert_polite(site: Site) -> None:
    view = analyze(site.requests(), DELAY_S)
    assert view.short_gaps == 0, f"shortest gap {view.shortest_gap_s} s for a {DELAY_S} s delay"
    assert view.max_in_flight == 1


def assert_complete(crawl: Crawl) -> None:
    stored = crawl.stored_urls()
    assert set(stored) == crawl.site.urls()
    assert max(stored.values()) == 1  # nothing stored twice
    pending = crawl.sql("SELECT count(*) FROM frontier WHERE state <> 'done'")
    assert pending == "0"


async def test_three_workers_crawl_every_page_once_and_keep_each_hosts_spacing(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 3) as children:
            await finish_all(*children)
        assert len(crawl.site.requests()) == HOSTS * PAGES  # no page fetched twice
        assert_complete(crawl)
        assert_polite(crawl.site)
        assert crawl.sql("SELECT count(*) FROM workers") == "3"


async def test_a_killed_worker_loses_nothing_and_its_hosts_go_on_politely(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    """kill -9 of the worker that created the crawl: the others finish it, within the lease."""
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 3) as (first, *others):
            await until_pages(crawl, HOSTS * PAGES // 3, first, *others)
            first.proc.kill()
            await first.proc.wait()
            await finish_all(*others)
        assert_complete(crawl)
        assert_polite(crawl.site)
        refetched = len(crawl.site.requests()) - HOSTS * PAGES
        assert refetched <= 2 + 2 * 8  # its window: in flight (concurrency 2) and 2 batches of 8


async def partition_worker_1(crawl: Crawl) -> None:
    """Worker 1 is cut off from the database (not from the sites) for twice the lease: it must
    start no request once its leases may have passed to another worker; healed, it drops what
    it lost and goes on."""
    crawl.m.partition(1)
    await asyncio.sleep(LEASE_S * 2)
    crawl.m.heal(1)


async def restart_database(crawl: Crawl) -> None:
    """PostgreSQL restarts (fast shutdown: connections cut, committed data kept)."""
    await asyncio.to_thread(crawl.pg.restart)


async def crash_database(crawl: Crawl) -> None:
    """PostgreSQL stopped hard (``-m immediate``: every connection cut, COMMITs in flight
    committed or not, crash recovery at the start) and started again 3 s later, on the same
    port: claims, batches and renewals in flight have an unknown outcome (issue 24)."""
    await asyncio.to_thread(crawl.pg.shut_down, "immediate")
    await asyncio.sleep(3)
    await asyncio.to_thread(crawl.pg.start_again)


@pytest.mark.parametrize("disrupt", [partition_worker_1, restart_database, crash_database])
async def test_a_disruption_mid_crawl_loses_nothing_and_breaks_no_spacing(
    tmp_path: Path,
    pg_server: PostgresServer,
    pg_url: str,
    machines: Machines,
    disrupt: Callable[[Crawl], Awaitable[None]],
):
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 2) as children:
            await until_pages(crawl, HOSTS * PAGES // 4, *children)
            await disrupt(crawl)
            await finish_all(*children)
        assert_complete(crawl)
        assert_polite(crawl.site)


async def test_max_pages_is_exact_across_workers(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 3, "--max-pages", "20") as children:
            await finish_all(*children)
        assert crawl.pages() == 20


async def test_export_runs_while_workers_write(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 2) as children:
            await until_pages(crawl, 10, *children)
            async with scraper(tmp_path, "export", "--db", pg_url, "-f", "jsonl") as export:
                code, out, err = await export.finish(30)
            running = [child.running for child in children]
            await finish_all(*children)
        assert running == [True, True]
        assert code == 0, err
        exported = [orjson.loads(line)["url"] for line in out.splitlines() if line]
        assert len(exported) >= 10
        assert len(set(exported)) == len(exported)
        assert_complete(crawl)


@pytest.mark.slow
async def test_three_workers_go_on_through_two_database_crashes(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    """Two immediate stops of PostgreSQL, 3 s each, under three workers: every worker exits 0,
    every page stored once, nothing left claimed, re-fetches within the workers' windows, and
    each host's spacing kept through the outages."""
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        async with workers(crawl, 3) as children:
            for share in (4, 2):
                await until_pages(crawl, HOSTS * PAGES // share, *children)
                await crash_database(crawl)
            await finish_all(*children)
        assert_complete(crawl)
        assert_polite(crawl.site)
        refetched = len(crawl.site.requests()) - HOSTS * PAGES
        assert refetched <= 2 * 3 * (2 + 2 * 8)  # per crash, each worker's window at most


@pytest.mark.slow
async def test_a_database_down_past_the_retries_ends_each_worker_and_resume_finishes(
    tmp_path: Path, pg_server: PostgresServer, pg_url: str, machines: Machines
):
    """PostgreSQL stopped hard for longer than ``[storage] retry_s``: each worker exits 1 with
    a one-line error; once it is back, ``scraper resume`` finishes the crawl, nothing lost."""
    async with shared_crawl(tmp_path, pg_server, pg_url, machines) as crawl:
        crawl.storage = "retry_s = 2\n"
        stopped = False
        try:
            async with workers(crawl, 2) as children:
                await until_pages(crawl, HOSTS * PAGES // 4, *children)
                await asyncio.to_thread(crawl.pg.shut_down, "immediate")
                stopped = True
                for child in children:
                    code, _, err = await child.finish(30)
                    assert code == 1, err
                    assert err.strip().splitlines()[-1].startswith("error: database "), err
        finally:
            if stopped:  # the session's server, for the tests after this one
                await asyncio.to_thread(crawl.pg.start_again)
        async with crawl.worker(0, "resume") as last:
            await finish_all(last)
        assert_complete(crawl)
        assert_polite(crawl.site)
