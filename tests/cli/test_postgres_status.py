"""`scraper status` on a shared crawl while real workers (the CLI in child processes) come and
go: a worker that ends says so in the database as it goes."""

import asyncio
import signal
import socket
from pathlib import Path

from aiohttp.test_utils import TestServer

from scraper.storage import crawl_running
from scraper.testing import CONFIG
from tests.conftest import pg_rows, run_cli, scraper

PAGES = 60
FLAGS = ["--delay", "0", "--retries", "0", "--concurrency", "2"]


async def status_lines(url: str) -> list[str]:
    code, out, err = await run_cli("status", "--db", url)
    assert code == 0, err
    return str(out).splitlines()


async def stored(url: str) -> int:
    """Pages stored; 0 until the first worker has made the schema."""
    [(made,)] = await pg_rows(url, "SELECT to_regclass('pages') IS NOT NULL")
    found = await pg_rows(url, "SELECT count(*) FROM pages") if made else [(0,)]
    return int(found[0][0])


async def test_status_right_after_a_worker_is_stopped_and_another_finishes(
    tmp_path: Path, site: TestServer, pg_url: str
):
    """At once after a worker stopped by Ctrl-C exits: not running, that worker stopped (not
    dead), the resume command; after a second worker finished the crawl: both said as they
    ended, and no resume command."""
    site.app[CONFIG].gen_pages = PAGES
    site.app[CONFIG].gen_latency_ms = 20
    seed = str(site.make_url("/gen/0"))
    async with scraper(tmp_path, "crawl", seed, "--db", pg_url, *FLAGS) as first:
        async with asyncio.timeout(30):
            while await stored(pg_url) < 5:  # noqa: ASYNC110 -- no event to await
                await asyncio.sleep(0.05)
        first.proc.send_signal(signal.SIGINT)
        code, _out, err = await first.finish()
    assert code == 130, err
    assert not crawl_running(pg_url)
    lines = await status_lines(pg_url)
    assert lines[0].endswith("not running; 1 worker, 0 alive, 1 stopped"), lines
    pid = first.proc.pid
    assert lines[1].startswith("crawl: "), lines  # the crawl's totals, then each worker
    assert lines[2].startswith(f"worker {socket.gethostname()}:{pid} (pid {pid}): stopped "), lines
    assert not any("dead" in line for line in lines), lines
    assert lines[-1] == f"to continue the crawl, run: scraper resume --db {pg_url}"
    code, _out, err = await run_cli("resume", "--db", pg_url, *FLAGS)
    assert code == 0, err
    assert await stored(pg_url) == PAGES
    lines = await status_lines(pg_url)
    assert lines[0].endswith("not running; 2 workers, 0 alive, 1 finished, 1 stopped"), lines
    assert not any("dead" in line or "resume" in line for line in lines), lines
