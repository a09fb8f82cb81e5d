"""What a worker says at its end: its own work and the crawl's totals, both right."""

import asyncio
import re
from pathlib import Path

import psycopg
from aiohttp.test_utils import TestServer

from tests.conftest import pg_rows, scraper

FLAGS = ["--delay", "0.3", "--per-host", "1", "--retries", "0", "--no-robots"]


async def pages_stored(pg_url: str) -> int:
    """Pages in the crawl; 0 before the first worker made the schema."""
    try:
        rows = await pg_rows(pg_url, "SELECT count(*) FROM pages")
    except psycopg.errors.UndefinedTable:
        return 0
    return int(rows[0][0])


async def test_a_worker_joining_a_shared_crawl_says_what_it_and_the_crawl_did(
    site: TestServer, pg_url: str, tmp_path: Path
):
    """A second worker that joins a one-host crawl (held by the first) stores nothing, and its
    summary says so beside the crawl's totals: every page stored, and how many it found."""
    url = str(site.make_url("/"))
    async with scraper(tmp_path, "crawl", url, "--db", pg_url, *FLAGS) as first:
        async with asyncio.timeout(30):
            while await pages_stored(pg_url) < 1:  # noqa: ASYNC110 -- another process writes
                await asyncio.sleep(0.05)
        async with scraper(tmp_path, "resume", "--db", pg_url, *FLAGS) as second:
            code, out, err = await second.finish(50)
        assert code == 0, err
        assert (await first.finish(50))[0] == 0
    total = await pages_stored(pg_url)
    line = out.strip().splitlines()[-1]
    assert line.startswith("this worker: 0 pages stored, 0 failed, 0 blocked, "), line
    found = re.search(r"the crawl: (\d+) pages stored \((\d+) when this worker started\)", line)
    assert found, line
    assert int(found[1]) == total
    assert 1 <= int(found[2]) < total
