"""Shared fixtures and helpers, the one place test modules import from (never from each other).

The synthetic site on a real socket, crawls into a real SQLite file, the CLI in a child process
(piped: ``run_cli``; in a session of its own with output in files: ``scraper``, ``run``), and
checks of a crawl database.
"""

import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.crawl import Crawl, CrawlSummary, RevisitPlan
from scraper.models import FailureRecord, FrontierItem, PageRecord
from scraper.testing import CONFIG, TRAFFIC, PostgresServer, Traffic, make_app
from scraper.testing.proxies import Dante, Squid, Tinyproxy, free_port

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_TOML = Path(__file__).parent.parent / "config" / "default.toml"

# Fast, deterministic defaults for tests: no politeness delay, no retry waits, inline parsing.
TEST_SETTINGS = {
    "delay_s": 0.0,
    "retry_backoff_s": 0.0,
    "retry_backoff_max_s": 0.0,
    "parse_workers": 0,
    "flush_interval_s": 0.02,
    "timeout_s": 10.0,
}


@dataclasses.dataclass
class CrawlResult:
    summary: CrawlSummary
    db: Path

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()

    def pages(self) -> dict[str, tuple[Any, ...]]:
        """url -> (status, title, content_type, depth)."""
        return {
            row[0]: row[1:]
            for row in self.rows("SELECT url, status, title, content_type, depth FROM pages")
        }


CrawlFn = Callable[..., Awaitable[CrawlResult]]


@pytest.fixture
async def site(aiohttp_server: Any) -> TestServer:
    """The synthetic test site on 127.0.0.1."""
    server: TestServer = await aiohttp_server(make_app())
    return server


def traffic(server: TestServer) -> Traffic:
    return server.app[TRAFFIC]


@pytest.fixture
def crawl(tmp_path: Path) -> CrawlFn:
    """Run a real crawl into ``tmp_path/crawl.db`` with test settings plus overrides."""

    async def run(*seeds: object, **overrides: Any) -> CrawlResult:
        db = tmp_path / "crawl.db"
        values = {**TEST_SETTINGS, "db": str(db), **overrides}
        settings = Settings(seeds=tuple(str(s) for s in seeds), **values)
        summary = await Crawl(settings).run()
        return CrawlResult(summary, db)

    return run


# -- the CLI in a child process -------------------------------------------------------------------


async def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None):
    """Run ``python -m scraper`` without blocking the loop the test server runs on."""
    env = {**os.environ, "SCRAPER_DEBUG": "0", "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scraper",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=50)
    return proc.returncode, out.decode(), err.decode()


def path_without_nginx() -> str:
    """$PATH without the directories that hold nginx: the bench then uses its fallback server."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if not (Path(d) / "nginx").exists())


def assert_one_error_line(err: str, text: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert text in lines[0]


CONCURRENCY = 8
BATCH = 16  # tests/fixtures/small_batches.toml
# Flags for a child crawl: fast, and the small batches of fixtures/small_batches.toml.
FAST = ["--concurrency", str(CONCURRENCY), "--per-host", str(CONCURRENCY)]
FAST += ["--delay", "0", "--retries", "0"]
FAST += ["--config", str(FIXTURES / "small_batches.toml")]
BOTH_COUNTS = (
    "SELECT (SELECT count(*) FROM frontier WHERE state = 'done'), (SELECT count(*) FROM pages)"
)
EXIT_TIMEOUT_S = 30.0


# -- child crawls: killed, signalled, resumed ------------------------------------------------


@dataclasses.dataclass
class Child:
    """A running ``python -m scraper`` whose output goes to files (no pipe can fill up)."""

    proc: asyncio.subprocess.Process
    out_path: Path
    err_path: Path

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    async def finish(self, timeout_s: float = EXIT_TIMEOUT_S) -> tuple[int, str, str]:
        """Wait for the exit; return (exit code, stdout, stderr)."""
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        return code, self.out_path.read_text(), self.err_path.read_text()

    def diagnostics(self) -> str:
        return f"stdout: {self.out_path.read_text()!r}\nstderr: {self.err_path.read_text()!r}"


@contextlib.asynccontextmanager
async def scraper(
    tmp_path: Path, *args: str, cwd: Path | None = None, prefix: Sequence[str] = ()
) -> AsyncIterator[Child]:
    """Start ``python -m scraper ARGS`` without blocking the loop, in a session of its own (its
    process group id is its pid, as a terminal's job); kill it if still running. ``prefix``
    runs it through another program that execs it (``ip netns exec NAME``: the same pid)."""
    env = {**os.environ, "SCRAPER_DEBUG": "0", "COLUMNS": "200"}
    name = f"{args[0]}-{time.monotonic_ns()}"
    out_path, err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "scraper",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    child = Child(proc, out_path, err_path)
    try:
        yield child
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)


async def run(tmp_path: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m scraper ARGS`` to the end."""
    async with scraper(tmp_path, *args, cwd=cwd) as child:
        return await child.finish()


async def poll(condition: Callable[[], bool], timeout_s: float) -> None:
    """Wait until ``condition()`` holds, checking every 2 ms, for at most ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 -- the server's counters have no event to await
            await asyncio.sleep(0.002)


async def wait_for_requests(site: TestServer, child: Child, count: int) -> None:
    """Poll the server until it has seen ``count`` requests; the crawl must still be running."""
    starts = traffic(site).starts
    await poll(lambda: len(starts) >= count or not child.running, 20)
    assert child.running, f"crawl ended before {count} requests\n{child.diagnostics()}"


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


# The renderer's crawls: one request at a time, no delay, no retries.
ONE_BY_ONE = ["--concurrency", "1", "--per-host", "1", "--delay", "0", "--retries", "0"]


def stored(db: Path) -> dict[str, tuple[Any, ...]]:
    """path -> (rendered, text, links) of every stored page."""
    found = rows(db, "SELECT url, rendered, text, links FROM pages")
    return {url.split("/", 3)[3]: (r, text or "", links or "") for url, r, text, links in found}


def assert_consistent(db: Path) -> dict[str, int]:
    """Integrity ok, every 'done' URL has its page and vice versa; return counts by state."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        done_without_page = conn.execute(
            "SELECT url FROM frontier f WHERE state = 'done'"
            " AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.url = f.url)"
        ).fetchall()
        assert done_without_page == []
        done, pages = conn.execute(BOTH_COUNTS).fetchone()
        assert done == pages
        states = conn.execute("SELECT state, count(*) FROM frontier GROUP BY state").fetchall()
    return dict(states)


def gen_urls(site: TestServer, count: int) -> set[str]:
    return {str(site.make_url(f"/gen/{n}")) for n in range(count)}


def assert_gen_site_stored(db: Path, site: TestServer, count: int) -> None:
    """The database holds each of the ``count`` generated pages once and nothing is left to do."""
    assert assert_consistent(db) == {"done": count}
    urls = [url for (url,) in rows(db, "SELECT url FROM pages")]
    assert len(urls) == len(set(urls))
    assert set(urls) == gen_urls(site, count)
    fetched = {path for path in traffic(site).hits if path.startswith("/gen/")}
    assert fetched == {f"/gen/{n}" for n in range(count)}


@pytest.fixture
def gen(site: TestServer) -> str:
    """The seed of the generated site: 1000 pages answering after 2 ms each."""
    site.app[CONFIG].gen_pages = 1000
    site.app[CONFIG].gen_latency_ms = 2
    return str(site.make_url("/gen/0"))


# -- PostgreSQL: one private server per test session, one database per test ------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session (initdb into a temporary directory as the
    ``postgres`` user, a private port, fsync off). A test that needs it fails if it cannot start:
    ``.ci/run`` installs the ``postgresql`` package."""
    server = PostgresServer(listen="*")  # network namespaces reach it over veth pairs
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database on the session's server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


async def pg_rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` on the PostgreSQL database at ``url`` (one connection, committed)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(sql, params or None)
        return await cur.fetchall() if cur.description else []


def page_record(
    item: FrontierItem, *, new_urls: tuple[tuple[str, str], ...] = (), **fields: Any
) -> PageRecord:
    """The sink's record of a fetched HTML page for a claimed URL (``fields`` override)."""
    values: dict[str, Any] = {
        "frontier_id": item.id, "url": item.url, "final_url": item.url, "status": 200,
        "content_type": "text/html", "title": f"t {item.url}", "description": None,
        "text": "x", "depth": item.depth, "fetched_at": "2026-12-06T00:00:00Z",
        "elapsed_ms": 1, "size_bytes": 1, "attempts": 1, "new_urls": new_urls,
    }  # fmt: skip
    return PageRecord(**{**values, **fields})


def failure_record(item: FrontierItem) -> FailureRecord:
    """The sink's record of a claimed URL that failed (timeouts, after three attempts)."""
    return FailureRecord(frontier_id=item.id, url=item.url, attempts=3, reason="timeout")


# What version 12 had (either backend): the views' latest version by highest id, not fetch time.
PG_VERSION_12 = """
DROP VIEW pages_markdown; DROP VIEW pages_metadata;
CREATE VIEW pages_markdown (url, version_id, markdown) AS
SELECT p.url, c.version_id, c.markdown FROM pages AS p
JOIN contents AS c ON c.version_id = (SELECT max(v.id) FROM versions AS v WHERE v.url = p.url);
CREATE VIEW pages_metadata AS SELECT p.url, m.version_id, m.metadata, m.canonical_url, m.lang,
    m.published_at, m.modified_at, m.author, m.simhash, m.band0, m.band1, m.band2, m.band3
FROM pages AS p
JOIN metadata AS m ON m.version_id = (SELECT max(v.id) FROM versions AS v WHERE v.url = p.url);
"""
VERSION_12 = PG_VERSION_12 + "UPDATE meta SET value = '12' WHERE key = 'schema_version';"
# What version 11 had: no pages.rendered.
VERSION_11 = (
    "ALTER TABLE pages DROP COLUMN rendered;"
    "UPDATE meta SET value = '11' WHERE key = 'schema_version';"
)
# What version 10 had: no proxy_health.
VERSION_10 = VERSION_11 + (
    "DROP TABLE proxy_health; UPDATE meta SET value = '10' WHERE key = 'schema_version';"
)
# What version 9 had: no captures (--archive).
VERSION_9 = VERSION_10 + (
    "DROP TABLE captures; UPDATE meta SET value = '9' WHERE key = 'schema_version';"
)
# What version 8 had: no cookies table (the session's jar).
VERSION_8 = VERSION_9 + (
    "DROP TABLE cookies; UPDATE meta SET value = '8' WHERE key = 'schema_version';"
)
# What version 7 had: no metadata table (issue 29).
VERSION_7 = (
    VERSION_8 + "DROP VIEW pages_metadata; DROP TABLE metadata;"
    "UPDATE meta SET value = '7' WHERE key = 'schema_version';"
)
# What version 6 had: no contents, chunks nor pages_markdown (the main content).
VERSION_6 = (
    VERSION_7 + "DROP VIEW pages_markdown; DROP TABLE chunks; DROP TABLE contents;"
    "UPDATE meta SET value = '6' WHERE key = 'schema_version';"
)
# What version 5 had: no versions, no revisit columns in pages, bodies by URL (made on demand).
VERSION_5 = (
    VERSION_6
    + "DROP INDEX pages_next_visit; DROP INDEX pages_changed; DROP TABLE versions;"
    + "".join(
        f"ALTER TABLE pages DROP COLUMN {name};"
        for name in (
            "next_visit_at",
            "revisit_s",
            "changed_at",
            "checked_at",
            "content_hash",
            "body_hash",
            "last_modified",
            "etag",
        )
    )
    + "DROP TABLE IF EXISTS bodies; UPDATE meta SET value = '5' WHERE key = 'schema_version';"
)


# -- recrawls of the changing site (scraper.testing.changing) ----------------------------------

REVISIT = {"min_revisit_s": 100.0, "max_revisit_s": 1000.0}


async def crawl_changing(db: Path, server: TestServer, revisit: RevisitPlan | None = None,
                         **overrides: Any) -> CrawlSummary:  # fmt: skip
    values = {**TEST_SETTINGS, **REVISIT, "db": str(db), **overrides}
    settings = Settings(seeds=(str(server.make_url("/")),), **values)
    return await Crawl(settings, save_settings=revisit is None, revisit=revisit).run()


def by_path(server: TestServer, found: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    base = str(server.make_url("/"))[:-1]
    return {str(row[0]).removeprefix(base): row[1:] for row in found}


# -- real proxies on loopback (Debian's tinyproxy, squid and dante-server: see .ci/run) -----------


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path / "tinyproxy") as proxy:
        yield proxy


@pytest.fixture
def authproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path / "authproxy", user="crawler", password="s3cr3t-pw") as proxy:
        yield proxy


@pytest.fixture
def dante(tmp_path: Path) -> Iterator[Dante]:
    with Dante(tmp_path / "dante") as proxy:
        yield proxy


@pytest.fixture
def squid(tmp_path: Path) -> Iterator[Squid]:
    with Squid(tmp_path / "squid") as proxy:
        yield proxy


def dead_proxy() -> str:
    """A proxy URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there
