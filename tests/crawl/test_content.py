"""A crawl stores each HTML page's main content as Markdown and chunks, readable with sqlite3;
reparse re-derives them from stored bodies; [parse] markdown = false stores none."""

import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from scraper.crawl import RevisitPlan
from scraper.parse.chunks import count_tokens
from scraper.testing.changing import ROUND, make_changing_app
from tests.conftest import CrawlFn, by_path, crawl_changing, rows, run_cli


async def test_a_crawl_stores_markdown_and_chunks_per_page(site: TestServer, crawl: CrawlFn):
    """Every parsed HTML page has its Markdown by URL in pages_markdown and chunks of its
    version whose tokens the tokenizer confirms; a PDF or a 404 has none."""
    result = await crawl(site.make_url("/"), max_depth=1)
    with sqlite3.connect(result.db) as conn:
        html = {u for (u,) in conn.execute(
            "SELECT url FROM pages WHERE status = 200 AND content_type = 'text/html'")}  # fmt: skip
        markdown = dict(conn.execute("SELECT url, markdown FROM pages_markdown"))
        chunks = conn.execute(
            "SELECT c.url, c.seq, c.markdown, c.tokens FROM chunks c "
            "JOIN pages_markdown m ON m.version_id = c.version_id ORDER BY c.url, c.seq"
        ).fetchall()
    assert html
    assert set(markdown) == html
    assert "Welcome" in markdown[str(site.make_url("/"))]
    assert {url for url, *_ in chunks} == {u for u, m in markdown.items() if m}
    assert all(tokens == count_tokens(text) > 0 for _, _, text, tokens in chunks)


async def test_markdown_off_stores_no_content(site: TestServer, crawl: CrawlFn):
    """With [parse] markdown = false the crawl stores pages as before, and no content."""
    result = await crawl(site.make_url("/"), max_depth=1, markdown=False)
    with sqlite3.connect(result.db) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM pages), (SELECT count(*) FROM contents), "
            "(SELECT count(*) FROM chunks)"
        ).fetchone()
    assert counts[0] > 3
    assert counts[1:] == (0, 0)


async def test_reparse_derives_markdown_and_chunks_from_stored_bodies(
    site: TestServer, tmp_path: Path
):
    """A crawl made with markdown off and --store-html gets every version's Markdown and
    chunks from `scraper reparse`, nothing fetched."""
    db = tmp_path / "c.db"
    off = tmp_path / "off.toml"
    off.write_text("[parse]\nmarkdown = false\n")
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db), "--config", str(off),
        "--store-html", "--delay", "0", "--retries", "0", "--max-depth", "1",
    )  # fmt: skip
    assert code == 0, err
    small = tmp_path / "small.toml"
    small.write_text("[parse]\nmarkdown = true\nchunk_tokens = 16\n")
    code, _, err = await run_cli("reparse", "--db", str(db), "--config", str(small))
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        bodies = conn.execute(
            "SELECT count(*) FROM bodies JOIN versions v ON v.id = version_id "
            "WHERE v.status = 200 AND v.content_type = 'text/html'"
        ).fetchone()[0]
        contents = conn.execute("SELECT count(*) FROM contents").fetchone()[0]
        sizes = [t for (t,) in conn.execute("SELECT tokens FROM chunks")]
    assert contents == bodies > 0
    assert sizes
    assert max(sizes) <= 32  # cut at about 16 tokens (a long line stays whole)


async def test_a_recrawl_stores_content_only_for_changed_pages(tmp_path: Path, aiohttp_server: Any):
    """A changed page gets its new version's Markdown and chunks; a 304, the same body or the
    same content writes none, and a removed page none for its removal."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server)
    app[ROUND][0] = 1
    await crawl_changing(db, server, RevisitPlan())
    count = "SELECT url, count(*) FROM {} GROUP BY url"
    contents = by_path(server, rows(db, count.format("contents")))
    chunks = by_path(
        server, rows(db, count.format("(SELECT DISTINCT url, version_id FROM chunks)"))
    )
    assert {p for p, (n,) in contents.items() if n == 2} == {"/etag/0", "/lm/0", "/plain/0"}
    assert contents["/etag/1"] == contents["/noise"] == contents["/gone"] == (1,)
    assert chunks == contents
    latest = by_path(server, rows(db, "SELECT url, markdown FROM pages_markdown"))
    assert "version 1" in latest["/etag/0"][0]
    assert "/gone" not in latest  # its latest version is the removal: no content
