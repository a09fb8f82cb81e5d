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
