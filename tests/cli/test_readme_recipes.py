"""The README's SQL recipes run against a real crawled database, and the time recipes select
the rows they say they do."""

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestServer

from scraper.timespec import iso
from tests.conftest import CrawlFn, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"
# The sections whose recipes are SQLite's (the PostgreSQL section speaks another dialect).
SQLITE_SECTIONS = ("## What is in the database", "## Keeping a crawl current",
                   "## Querying what was scraped", "## Custom extraction")  # fmt: skip


def _sections() -> str:
    parts = re.split(r"(?m)^(?=## )", README.read_text(encoding="utf-8"))
    return "\n".join(p for p in parts if p.startswith(SQLITE_SECTIONS))


def readme_statements() -> list[str]:
    """Every statement of every ```sql block, and every `scraper query "..."` of a shell block."""
    text = _sections()
    statements = []
    for block in re.findall(r"```sql\n(.*?)```", text, flags=re.S):
        body = "\n".join(line for line in block.splitlines() if not line.startswith("--"))
        statements += [s.strip() for s in body.split(";\n") if s.strip()]
    statements += re.findall(r'scraper query (?:-f \w+ )?"([^"]+)"', text)
    return [s.rstrip(";") for s in statements]


async def _query(db: Path, sql: str) -> tuple[int, list[dict[str, object]], str]:
    code, out, err = await run_cli("query", "--db", str(db), "-f", "jsonl", sql)
    return code, [json.loads(line) for line in out.splitlines()], err


async def test_every_readme_recipe_runs(site: TestServer, crawl: CrawlFn):
    """Each SQL recipe of the README runs on a crawled database (the DELETE is refused)."""
    result = await crawl(site.make_url("/"), max_depth=1)
    statements = readme_statements()
    assert len(statements) >= 15
    for sql in statements:
        code, _rows, err = await _query(result.db, sql)
        if sql.startswith("DELETE"):
            assert code == 2, sql
            assert "refused" in err, sql
        else:
            assert code == 0, f"{sql}: {err}"


async def test_the_readme_time_recipe_selects_the_last_seven_days(site: TestServer, crawl: CrawlFn):
    """ "Pages that changed this week" selects a page changed 6 days ago, not one changed a
    minute before the cutoff on the cutoff's day nor 8 days ago."""
    result = await crawl(site.make_url("/"), max_depth=1)
    (sql,) = [s for s in readme_statements() if "-7 days" in s and "changed_at" in s]
    now = datetime.now(UTC)
    times = {"recent": now - timedelta(days=6), "just_before": now - timedelta(days=7, minutes=1),
             "old": now - timedelta(days=8)}  # fmt: skip
    with sqlite3.connect(result.db) as conn:
        urls = [row[0] for row in conn.execute("SELECT url FROM pages ORDER BY url LIMIT 3")]
        conn.execute("UPDATE pages SET changed_at = ?", (iso(now - timedelta(days=30)),))
        for url, moment in zip(urls, times.values(), strict=True):
            conn.execute("UPDATE pages SET changed_at = ? WHERE url = ?", (iso(moment), url))
    code, rows, err = await _query(result.db, sql)
    assert code == 0, err
    assert [row["url"] for row in rows] == [urls[0]]
