"""Shared fixtures: the synthetic site on a real socket, and crawls into a real SQLite file."""

import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.crawl.engine import Crawl, CrawlSummary
from scraper.testing import TRAFFIC, Traffic, make_app

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
