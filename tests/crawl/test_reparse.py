"""`scraper reparse`: stored bodies parsed again with new extraction rules, no request made."""

import json
import sqlite3
from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import CrawlFn, run_cli, traffic


async def test_reparse_applies_new_rules_without_fetching(site: TestServer, tmp_path: Path):
    """After --store-html, reparse with changed rules updates data and no request is made."""
    db = tmp_path / "c.db"
    first = tmp_path / "first.toml"
    first.write_text('[extract.heading]\nselector = "h1"\n')
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db), "--config", str(first),
        "--store-html", "--delay", "0", "--retries", "0",
    )  # fmt: skip
    assert code == 0, err
    hits_after_crawl = sum(traffic(site).hits.values())
    second = tmp_path / "second.toml"
    second.write_text('[extract.first_link]\nselector = "a"\nattr = "href"\n')
    code, out, err = await run_cli("reparse", "--db", str(db), "--config", str(second))
    assert code == 0, err
    assert out.strip() == "reparsed 8 pages"  # 2xx HTML pages (/flaky/1 failed: no retries)
    assert sum(traffic(site).hits.values()) == hits_after_crawl
    with sqlite3.connect(db) as conn:
        data = dict(conn.execute("SELECT url, data FROM pages WHERE data IS NOT NULL"))
        bodies = conn.execute("SELECT count(*) FROM bodies").fetchone()[0]
    home = json.loads(data[str(site.make_url("/"))])
    assert home == {"first_link": str(site.make_url("/a"))}  # href="a", resolved
    assert bodies == 9  # one per version: the 8 parsed pages and the PDF (a 404 has none)


async def test_reparse_without_stored_bodies_says_so(site: TestServer, crawl: CrawlFn):
    """A crawl without --store-html has nothing to reparse, and the command says why."""
    result = await crawl(site.make_url("/"), max_depth=1)
    code, out, err = await run_cli("reparse", "--db", str(result.db))
    assert code == 0, err
    assert "reparsed 0 pages: 5 pages have no stored body (crawl with --store-html" in out


async def test_reparse_without_bodies_keeps_the_crawls_rules(site: TestServer, tmp_path: Path):
    """Reparse with new rules on a crawl without bodies leaves meta.settings.extract and
    pages.data as they were, and says the stored rules are unchanged."""
    db = tmp_path / "c.db"
    first = tmp_path / "first.toml"
    first.write_text('[extract.heading]\nselector = "h1"\n')
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db), "--config", str(first),
        "--delay", "0", "--retries", "0", "--max-depth", "1",
    )  # fmt: skip
    assert code == 0, err

    def stored() -> tuple[object, list[tuple[str, str]]]:
        with sqlite3.connect(db) as conn:
            settings = conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
            data = conn.execute("SELECT url, data FROM pages ORDER BY url").fetchall()
        return json.loads(settings[0])["extract"], data

    before = stored()
    second = tmp_path / "second.toml"
    second.write_text('[extract.first_link]\nselector = "a"\nattr = "href"\n')
    code, out, err = await run_cli("reparse", "--db", str(db), "--config", str(second))
    assert code == 0, err
    assert "stored settings and [extract] rules are unchanged" in out
    assert stored() == before
    assert "heading" in json.dumps(before[0])


async def test_crawl_stores_metadata_and_reparse_fills_every_version(
    site: TestServer, tmp_path: Path
):
    """Every parsed HTML version gets a metadata row with its simhash and bands when crawled;
    reparse fills them again for every stored version (as after the migration that adds them)."""
    db = tmp_path / "c.db"
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db), "--store-html", "--delay", "0",
        "--retries", "0",
    )  # fmt: skip
    assert code == 0, err
    rows = "SELECT url, simhash, band0 FROM metadata ORDER BY version_id"
    with sqlite3.connect(db) as conn:
        crawled = conn.execute(rows).fetchall()
        conn.execute("DELETE FROM metadata")
    assert len(crawled) == 8  # the parsed pages, one version each
    assert all(h != 0 and band == h & 0xFFFF for _, h, band in crawled)
    code, _, err = await run_cli("reparse", "--db", str(db))
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute(rows).fetchall() == crawled
        by_url = conn.execute("SELECT count(*) FROM pages_metadata").fetchone()[0]
    assert by_url == 8


async def test_metadata_off_stores_none_and_reparse_with_it_on_fills_it(
    site: TestServer, tmp_path: Path
):
    """With ``[parse] metadata = false`` the pages are stored (text, links, content) without a
    metadata row; a reparse with it on (``--config``: a reparse applies the crawl's stored
    settings) fills every version; with follow_canonical = false the setting is refused in one
    line."""
    db = tmp_path / "c.db"
    off = tmp_path / "off.toml"
    off.write_text("[parse]\nmetadata = false\n")
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db), "--config", str(off),
        "--store-html", "--delay", "0", "--retries", "0",
    )  # fmt: skip
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        pages = conn.execute("SELECT count(*) FROM pages WHERE status = 200").fetchone()[0]
        contents = conn.execute("SELECT count(*) FROM contents").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM metadata").fetchone()[0] == 0
    assert pages >= 8
    assert contents == 8
    on = tmp_path / "on.toml"
    on.write_text("[parse]\nmetadata = true\n")
    code, _, err = await run_cli("reparse", "--db", str(db), "--config", str(on))
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM metadata").fetchone()[0] == 8
    both = tmp_path / "both.toml"
    both.write_text("[crawl]\nfollow_canonical = false\n[parse]\nmetadata = false\n")
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(tmp_path / "d.db"), "--config", str(both)
    )
    assert code == 2, err
    assert err.strip().splitlines() == [
        "error: [crawl] follow_canonical = false needs [parse] metadata = true (the canonical URL"
        " is read with the page's metadata)"
    ]
