"""Custom extraction ([extract] rules), stored bodies, reparse, and the schema migration."""

import json
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import load_settings
from scraper.errors import UsageError
from scraper.extract import check_rules
from scraper.models import ExtractRule
from scraper.parse import parse_html
from scraper.schema import SCHEMA_VERSION
from tests.conftest import CrawlFn, traffic
from tests.test_cli import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_TOML = Path(__file__).parent.parent / "config" / "default.toml"


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
    assert json.loads(links) == ["/a", "/c"]


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
    assert home == {"first_link": "a"}
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
            "DROP TRIGGER pages_fts_insert; DROP TRIGGER pages_fts_delete;"
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
