"""`search` ranks the pages of one crawl in the same order on SQLite and PostgreSQL."""

import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import CrawlFn, run_cli

WORDS = ("page", "leaf", "home", "test site", "link", "a")


async def order(db: str, words: str) -> list[str]:
    """The URLs ``search WORDS`` finds, best first."""
    code, out, err = await run_cli("search", "--db", db, "-f", "jsonl", "-n", "0", *words.split())
    assert code == 0, err
    return [json.loads(line)["url"] for line in out.splitlines()]


async def test_search_ranks_alike_on_sqlite_and_postgresql(
    site: TestServer, crawl: CrawlFn, pg_url: str, tmp_path: Path
):
    """One site crawled into both backends: every search lists the same pages in the same
    order (a title match weighs 10x the text on both)."""
    await crawl(site.make_url("/"), db=str(tmp_path / "crawl.db"))
    await crawl(site.make_url("/"), db=pg_url)
    found = {}
    for words in WORDS:
        on_sqlite, on_pg = await asyncio.gather(
            order(str(tmp_path / "crawl.db"), words), order(pg_url, words)
        )
        assert on_sqlite == on_pg, (words, on_sqlite, on_pg)
        found[words] = len(on_sqlite)
    assert found["page"] >= 3, found  # Page A, B and C: their order is what is compared
