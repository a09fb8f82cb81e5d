"""`scraper export -f markdown` and `--chunks`: a file per page with front matter, a row per
chunk, and the chunk delta since a time (upserts and deletes)."""

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from scraper.crawl import RevisitPlan
from scraper.export import export_chunks, export_markdown
from scraper.models import Chunk, Content
from scraper.storage import open_crawl_store
from scraper.testing.changing import ROUND, make_changing_app
from scraper.timespec import now_iso
from tests.conftest import (
    CrawlFn,
    assert_one_error_line,
    crawl_changing,
    page_record,
    rows,
    run_cli,
)


async def test_markdown_export_writes_a_file_per_page(site: TestServer, crawl: CrawlFn):
    """Each page with a main content is a .md file under its host and path, opening with YAML
    front matter; without -o it is refused in one line."""
    result = await crawl(site.make_url("/"), max_depth=1)
    out = result.db.parent / "md"
    code, _, err = await run_cli("export", "-f", "markdown", "-o", str(out), "--db", str(result.db))
    assert code == 0, err
    pages = rows(result.db, "SELECT url FROM pages_markdown")
    host = str(site.make_url("/")).split("//")[1].rstrip("/").replace(":", "_")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.md"))
    assert len(files) == len(pages)
    assert f"{host}/index.md" in files
    home = (out / host / "index.md").read_text()
    assert home.startswith(f'---\nurl: "{site.make_url("/")}"\ntitle: "Home"\nfetched_at: "')
    assert "\n---\n\n" in home
    assert "Welcome" in home.split("\n---\n\n", 1)[1]
    code, _, err = await run_cli("export", "-f", "markdown", "--db", str(result.db))
    assert code == 2
    assert_one_error_line(err, "-f markdown writes a directory of files")


async def test_chunk_export_and_its_delta_since_a_time(tmp_path: Path, aiohttp_server: Any):
    """--chunks lists every latest chunk; with --changed-since, the changed and new pages'
    new chunks as upserts and the replaced or removed ones as deletes, nothing of the others."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server)
    code, out, err = await run_cli("export", "--chunks", "-f", "jsonl", "--db", str(db))
    assert code == 0, err
    first = [json.loads(line) for line in out.splitlines()]
    assert {r["op"] for r in first} == {"upsert"}
    assert len(first) == rows(db, "SELECT count(*) FROM chunks")[0][0]
    assert all(r["id"] == f"{r['url']}#{r['hash']}" and r["markdown"] for r in first)
    before = now_iso()
    app[ROUND][0] = 1
    await crawl_changing(db, server, RevisitPlan())
    args = ("export", "--chunks", "-f", "jsonl", "--changed-since", before, "--db", str(db))
    code, out, err = await run_cli(*args)
    assert code == 0, err
    base = str(server.make_url("/"))[:-1]
    delta = sorted(
        (r["op"], r["url"].removeprefix(base)) for r in map(json.loads, out.splitlines())
    )
    assert {p for op, p in delta if op == "upsert"} == {"/etag/0", "/lm/0", "/plain/0", "/fresh"}
    assert {p for op, p in delta if op == "delete"} == {"/etag/0", "/lm/0", "/plain/0", "/gone"}
    assert all(
        r["markdown"] is None for r in map(json.loads, out.splitlines()) if r["op"] == "delete"
    )


async def test_the_exports_read_a_postgresql_crawl(pg_url: str, tmp_path: Path):
    """The Markdown files and the chunk rows come the same way from PostgreSQL."""
    async with open_crawl_store(pg_url) as store:
        await store.add_urls([("http://h.test/a/", "h.test", 0)])
        (item,) = await store.claim(1)
        chunk = Chunk(0, "", "Hello", 1, "abc")
        await store.write_batch([page_record(item, content=Content("Hello", (chunk,)))])
    assert await export_markdown(pg_url, tmp_path, None) == 1
    text = (tmp_path / "h.test" / "a" / "index.md").read_text()
    assert '\nfetched_at: "2026-12-06T00:00:00.000+00:00"\n' in text
    assert text.endswith("---\n\nHello\n")
    async with export_chunks(pg_url, "2026-12-05T00:00:00.000+00:00") as found:
        assert await found.fetch() == [("upsert", "http://h.test/a/#abc", "http://h.test/a/", 0,
                                        "", 1, "abc", "Hello")]  # fmt: skip


async def test_llms_txt_lists_a_hosts_pages_with_links_to_their_markdown(
    site: TestServer, crawl: CrawlFn
):
    """-f llms-txt writes the Markdown files and an llms.txt per host: the home page's title
    as its heading, and a line per page linking to a file that exists."""
    result = await crawl(site.make_url("/"), max_depth=1)
    out = result.db.parent / "llms"
    code, _, err = await run_cli("export", "-f", "llms-txt", "-o", str(out), "--db", str(result.db))
    assert code == 0, err
    (llms,) = out.glob("*/llms.txt")
    text = llms.read_text()
    assert text.startswith("# Home\n\n")
    links = [line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines() if "](" in line]
    assert len(links) == len(rows(result.db, "SELECT url FROM pages_markdown"))
    assert all((llms.parent / link).is_file() for link in links)
