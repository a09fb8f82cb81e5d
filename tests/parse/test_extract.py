"""Custom extraction ([extract] rules), stored bodies, reparse, and the schema migration."""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from datasette.utils import detect_fts  # type: ignore[import-untyped]

from scraper.config import load_settings
from scraper.errors import StoreError, UsageError
from scraper.models import ExtractRule
from scraper.parse.extract import check_rules
from scraper.parse.html import parse_html
from scraper.storage.sqlite.schema import SCHEMA_VERSION
from scraper.storage.sqlite.store import Store
from tests.conftest import DEFAULT_TOML, FIXTURES, CrawlFn, run_cli, traffic


def test_default_rules_extract_quotes_from_a_quotes_page():
    """The shipped quote rules give every quote's text and author, in page order."""
    rules = load_settings(DEFAULT_TOML).extract
    body = (FIXTURES / "quotes_page.html").read_bytes()
    page = parse_html(body, "http://quotes.toscrape.com/page/1/", None, 1000, rules)
    assert page.data is not None
    assert set(page.data) == {"quote_text", "quote_author"}  # book rules do not match the URL
    assert page.data["quote_author"] == ["Albert Einstein", "J.K. Rowling", "Albert Einstein"]
    texts = page.data["quote_text"]
    assert isinstance(texts, list)
    assert texts[1] == (
        "“It is our choices, Harry, that show what we truly are, far more than our abilities.”"
    )


def test_rules_take_attributes_all_matches_or_the_first():
    """attr takes an attribute, all=true a list, otherwise the first match or null."""
    rules = (
        ExtractRule("titles", "article.product_pod h3 a", attr="title", all=True),
        ExtractRule("first_price", "p.price_color"),
        ExtractRule("missing", "div.nothing-like-this"),
        ExtractRule("none_listed", "div.nothing-like-this", all=True),
    )
    body = (FIXTURES / "books_catalogue.html").read_bytes()
    page = parse_html(body, "http://books.toscrape.com/", None, 1000, rules)
    assert page.data is not None
    titles = page.data["titles"]
    assert isinstance(titles, list)
    assert titles[:2] == ["In Her Wake", "How Music Works"]
    assert len(titles) == 20
    assert page.data["first_price"] == "£12.84"
    assert page.data["missing"] is None
    assert page.data["none_listed"] == []


def test_url_attributes_are_resolved_against_the_base_url():
    """href, src, data-src, poster and action values become absolute against <base href>;
    other schemes, other attributes and srcset stay as written."""
    rules = (
        ExtractRule("hrefs", "a.doc", attr="href", all=True),
        ExtractRule("titles", "a.doc", attr="title", all=True),
        ExtractRule("src", "img.logo", attr="src"),
        ExtractRule("data_src", "img.logo", attr="data-src"),
        ExtractRule("srcset", "img.logo", attr="srcset"),
        ExtractRule("poster", "video", attr="poster"),
        ExtractRule("action", "form", attr="action"),
    )
    body = (FIXTURES / "relative_urls.html").read_bytes()
    page = parse_html(body, "https://example.com/guide/intro/page.html", None, 1000, rules)
    assert page.data == {
        "hrefs": [
            "https://example.com/docs/reference/x.html",
            "https://example.com/docs/v2/guide.html#install",
            "https://example.com/about",
            "https://other.example/page",
            "mailto:docs@example.com",
        ],
        "titles": ["Reference", "Guide", "About", "Elsewhere", "Mail"],
        "src": "https://example.com/docs/v2/img/logo.png",
        "data_src": "https://example.com/docs/v2/img/logo@2x.png",
        "srcset": "img/a.png 1x, img/b.png 2x",
        "poster": "https://example.com/docs/v2/media/poster.jpg",
        "action": "https://example.com/docs/v2/search",
    }


def test_url_attributes_without_a_base_resolve_against_the_page():
    """Without <base>, a relative href resolves against the page's own URL."""
    rule = ExtractRule("link", "a", attr="href")
    body = b'<p><a href="../reference/x.html">x</a></p>'
    page = parse_html(body, "http://example.com/guide/intro/page.html", None, 1000, (rule,))
    assert page.data == {"link": "http://example.com/guide/reference/x.html"}


def test_no_applicable_rule_leaves_data_null():
    """A page whose URL matches no rule's pattern gets no data at all."""
    rules = (ExtractRule("x", "h1", url="^https://elsewhere/"),)
    page = parse_html(b"<h1>Hi</h1>", "http://books.toscrape.com/", None, 1000, rules)
    assert page.data is None


def test_bad_selector_is_a_usage_error():
    """A CSS selector lexbor cannot parse is refused before any crawl starts."""
    with pytest.raises(UsageError, match=r"\[extract.bad\]: bad CSS selector"):
        check_rules((ExtractRule("bad", "p:::nope"),))


RULES_TOML = """
[extract.heading]
selector = "h1"

[extract.hub_links]
selector = "a"
attr = "href"
all = true
url = "/hub"
"""


async def test_crawl_stores_extracted_fields_as_json(
    site: TestServer, tmp_path: Path, crawl: CrawlFn
):
    """Fields land in pages.data and are queryable with json_extract."""
    config = tmp_path / "rules.toml"
    config.write_text(RULES_TOML)
    rules = load_settings(config).extract
    result = await crawl(site.make_url("/hub?u=/a&u=/c"), max_depth=1, extract=rules)
    rows = dict(
        result.rows("SELECT url, json_extract(data, '$.heading') FROM pages WHERE data IS NOT NULL")
    )
    assert sorted(rows.values()) == ["Hub", "Page A", "Page C"]
    [(links,)] = result.rows(
        "SELECT json_extract(data, '$.hub_links') FROM pages WHERE url LIKE '%hub%'"
    )
    assert json.loads(links) == [str(site.make_url("/a")), str(site.make_url("/c"))]


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
    assert bodies == 9  # the 8 parsed pages and the 404's body; not the PDF's


async def test_reparse_without_stored_bodies_says_so(site: TestServer, crawl: CrawlFn):
    """A crawl without --store-html has nothing to reparse, and the command says why."""
    result = await crawl(site.make_url("/"), max_depth=1)
    code, out, err = await run_cli("reparse", "--db", str(result.db))
    assert code == 0, err
    assert "reparsed 0 pages: 5 pages have no stored body (crawl with --store-html" in out


async def test_a_version_1_database_is_migrated(site: TestServer, crawl: CrawlFn):
    """A schema-1 database gets pages.data, bodies, a full-text index and its links table turned
    into pages.links (the links view shows the same rows) on the next crawl."""
    result = await crawl(site.make_url("/"), max_depth=0)
    links_sql = "SELECT from_url, to_url FROM links ORDER BY 1, 2"
    with sqlite3.connect(result.db) as conn:
        links_before = conn.execute(links_sql).fetchall()
        conn.executescript(
            VERSION_4 + "DROP TRIGGER pages_fts_insert; DROP TRIGGER pages_fts_delete;"
            "DROP TRIGGER pages_fts_update; DROP TABLE pages_fts; DROP TABLE bodies;"
            "ALTER TABLE pages DROP COLUMN data;"
            "CREATE TABLE old_links (from_url TEXT NOT NULL, to_url TEXT NOT NULL,"
            " PRIMARY KEY (from_url, to_url)) WITHOUT ROWID;"
            "INSERT INTO old_links SELECT from_url, to_url FROM links;"
            "DROP VIEW links; ALTER TABLE old_links RENAME TO links;"
            "ALTER TABLE pages DROP COLUMN links; DROP INDEX frontier_pending_host;"
            "UPDATE meta SET value = '1' WHERE key = 'schema_version';"
        )
    await crawl(site.make_url("/a"), max_depth=0)
    with sqlite3.connect(result.db) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        found = conn.execute(
            "SELECT p.title FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid "
            "WHERE pages_fts MATCH 'welcome'"
        ).fetchall()
        home = str(site.make_url("/"))
        links_after = conn.execute(links_sql).fetchall()
    assert version == (str(SCHEMA_VERSION),)
    assert found == [("Home",)]  # indexed by the migration's rebuild, not by a new write
    assert len(links_before) > 3
    assert [row for row in links_after if row[0] == home] == links_before


# What version 4 had: the FTS table declared with content = 'pages' (which datasette does not
# recognise), no pages.host, and an empty bodies table in every database.
VERSION_4 = """
DROP INDEX pages_host; ALTER TABLE pages DROP COLUMN host;
DROP TRIGGER pages_fts_insert; DROP TRIGGER pages_fts_delete; DROP TRIGGER pages_fts_update;
DROP TABLE pages_fts;
CREATE VIRTUAL TABLE pages_fts USING fts5(
    title, text, content = 'pages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO pages_fts (pages_fts) VALUES ('rebuild');
CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER pages_fts_update AFTER UPDATE OF title, text ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO pages_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TABLE IF NOT EXISTS bodies (url TEXT PRIMARY KEY, charset TEXT, body BLOB NOT NULL);
UPDATE meta SET value = '4' WHERE key = 'schema_version';
"""


async def test_a_version_4_database_is_migrated(tmp_path: Path, site: TestServer, crawl: CrawlFn):
    """A schema-4 database gets a full-text index datasette detects (rebuilt: old pages are
    found, and new ones), and pages.host filled for its pages and written for new ones."""
    result = await crawl(site.make_url("/"), max_depth=0)
    with closing(sqlite3.connect(result.db)) as conn, conn:
        conn.executescript(VERSION_4)
        assert detect_fts(conn, "pages") is None
    await crawl(site.make_url("/a"), max_depth=0)
    with closing(sqlite3.connect(result.db)) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        fts = detect_fts(conn, "pages")
        found = conn.execute(
            "SELECT p.title FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid "
            "WHERE pages_fts MATCH 'welcome OR page' ORDER BY p.id"
        ).fetchall()
        hosts = conn.execute(
            "SELECT p.host, f.host FROM pages AS p JOIN frontier AS f USING (url)"
        ).fetchall()
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT host, count(*) FROM pages GROUP BY host"
        ).fetchall()
        check = conn.execute("PRAGMA integrity_check").fetchall()
    assert version == (str(SCHEMA_VERSION),)
    assert fts == "pages_fts"
    assert found == [("Home",), ("Page A",)]
    assert len(hosts) == 2
    assert all(page == frontier == f"{site.host}:{site.port}" for page, frontier in hosts)
    assert "pages_host" in str(plan)
    assert check == [("ok",)]


async def test_the_version_5_migration_is_all_or_nothing(tmp_path: Path, crawl: CrawlFn, site):
    """A migration that fails half-way (a pages_host index already there) leaves version 4
    exactly as it was: the old declaration, no host column."""
    result = await crawl(site.make_url("/"), max_depth=0)
    with closing(sqlite3.connect(result.db)) as conn, conn:
        conn.executescript(VERSION_4 + "CREATE INDEX pages_host ON pages (url);")
        before = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(StoreError, match="pages_host already exists"):
        async with Store(result.db):
            pass
    with closing(sqlite3.connect(result.db)) as conn:
        after = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert after == before
    assert version == ("4",)


async def test_the_bodies_table_exists_only_once_a_body_is_stored(site: TestServer, crawl: CrawlFn):
    """A crawl without --store-html leaves no bodies table; one with it creates the table."""
    result = await crawl(site.make_url("/"), max_depth=0)
    tables_sql = "SELECT name FROM sqlite_master WHERE name = 'bodies'"
    assert result.rows(tables_sql) == []
    await crawl(site.make_url("/a"), max_depth=0, store_html=True)
    assert result.rows(tables_sql) == [("bodies",)]
    assert result.rows("SELECT url FROM bodies") == [(str(site.make_url("/a")),)]
