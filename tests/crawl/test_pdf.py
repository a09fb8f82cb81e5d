"""PDFs crawled from the CLI: their text, title, author and page count, found by `search`,
kept with --store-html and parsed again by `reparse`; a broken one stored without text."""

import json
import sqlite3
from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import run_cli


async def _crawl(db: Path, *urls: str) -> str:
    code, _, err = await run_cli(
        "crawl", *urls, "--db", str(db), "--store-html", "--delay", "0", "--max-depth", "0",
    )  # fmt: skip
    assert code == 0, err
    return str(err)


async def test_pdf_text_is_stored_and_searchable(site: TestServer, tmp_path: Path):
    """A three-page PDF gets its title, its text (every page, in order), Markdown paragraphs
    and its page count and author in the metadata; `search` finds it by a word of page 2."""
    db, url = tmp_path / "crawl.db", str(site.make_url("/report.pdf"))
    await _crawl(db, url)
    with sqlite3.connect(db) as conn:
        title, text = conn.execute("SELECT title, text FROM pages WHERE url = ?", (url,)).fetchone()
        [markdown] = conn.execute("SELECT markdown FROM contents WHERE url = ?", (url,)).fetchone()
        meta = conn.execute("SELECT metadata, author FROM pages_metadata WHERE url = ?", (url,))
        document, author = meta.fetchone()
    assert title == "The Report"
    assert text == "Quarterly report Aardvarks thrive in spring. Zebras graze at dusk."
    assert "Zebras graze at dusk." in markdown.split("\n\n")
    assert json.loads(document)["pdf"] == {
        "title": "The Report", "author": "Ada Lovelace", "pages": 3, "pages_read": 3,
    }  # fmt: skip
    assert author == "Ada Lovelace"
    code, out, err = await run_cli("search", "--db", str(db), "-f", "jsonl", "zebras")
    assert code == 0, err
    assert [json.loads(line)["url"] for line in out.splitlines()] == [url]


async def test_broken_pdf_is_stored_without_text_nor_traceback(site: TestServer, tmp_path: Path):
    """A PDF that cannot be read is stored with its type and size and no text, the crawl
    says so in one log line and goes on; `reparse` skips it and parses the good one again."""
    db, broken = tmp_path / "crawl.db", str(site.make_url("/doc.pdf"))
    err = await _crawl(db, broken, str(site.make_url("/report.pdf")))
    assert "Traceback" not in err
    assert "unreadable PDF" in err
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, text IS NULL FROM pages ORDER BY url").fetchall()
        bodies = conn.execute("SELECT count(*) FROM bodies").fetchone()[0]
    assert rows == [(broken, 1), (str(site.make_url("/report.pdf")), 0)]
    assert bodies == 2  # --store-html keeps PDF bodies
    code, out, err = await run_cli("reparse", "--db", str(db))
    assert code == 0, err
    assert out.strip() == "reparsed 1 pages"
