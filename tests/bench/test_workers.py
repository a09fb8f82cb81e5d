"""`scraper bench --workers`: workers sharing a crawl on PostgreSQL, tiny scale (no timings)."""

import re
from pathlib import Path

import pytest

from scraper.testing import PostgresServer
from tests.conftest import scraper

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_bench_workers_on_a_given_server_uses_a_new_database_per_run(
    tmp_path: Path, pg_server: PostgresServer
):
    """With --db, each PostgreSQL run crawls a new database of that server, dropped after it,
    and no database CPU is reported."""
    args = ["bench", "--workers", "2", "--hosts", "3", "--pages-per-host", "4"]
    args += ["--concurrency", "2", "--db", pg_server.url()]
    async with scraper(tmp_path, *args) as child:
        code, out, err = await child.finish(100)
    assert code == 0, err
    assert "Traceback" not in err
    for backend, workers in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
        line = re.search(rf"^{backend}, {workers} worker\(s\): 12 pages in .*$", out, re.M)
        assert line, out
        assert "database CPU" not in line[0]
        assert "the site answered 12 requests (0 twice)" in line[0]
    left = pg_server.psql("SELECT datname FROM pg_database WHERE datname LIKE '%bench%'")
    assert left == ""


KILL_LINE = re.compile(
    r"^kill -9 of the (?P<victim>joiner|creator) at \d+ pages: 100 of 100 pages stored \(0 lost\),"
    r" 0 stored twice; (?P<refetched>\d+) re-fetched, it had (?P<claimed>\d+) URLs claimed"
    r" uncommitted \(concurrency 3\); its \d+ hosts requested again (?P<takeover>[\d.]+) s"
    r" \(median [\d.]+ s\) after the kill \(lease 5.0 s\); 0 gaps shorter than the delay"
    r" - 10 ms \(shortest [\d.]+ s\),"
    r" at most 1 in flight to one host; [\d.]+ s$",
    re.M,
)


async def test_bench_kill_loses_nothing_and_takes_the_dead_workers_hosts_over(
    tmp_path: Path, pg_server: PostgresServer
):
    """--kill: with the last joiner or the creator killed, every page is stored once, re-fetches
    stay within what the dead worker had claimed, its hosts go on within the lease + 10 s."""
    args = ["bench", "--workers", "3", "--kill", "--hosts", "20", "--pages-per-host", "5"]
    args += ["--concurrency", "3", "--db", pg_server.url()]
    async with scraper(tmp_path, *args) as child:
        code, out, err = await child.finish(100)
    assert code == 0, err
    found = {m["victim"]: m for m in KILL_LINE.finditer(out)}
    assert found.keys() == {"joiner", "creator"}, out
    for m in found.values():
        assert int(m["refetched"]) <= int(m["claimed"]), out
        assert 0 < float(m["takeover"]) <= 5 + 10, out
