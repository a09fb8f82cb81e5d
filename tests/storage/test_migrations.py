"""Schema migrations of an existing crawl database: from versions 1 and 4, all or nothing, and
the bodies table created only when needed."""

import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from datasette.utils import detect_fts  # type: ignore[import-untyped]

from scraper.digest import page_content_hash
from scraper.errors import StoreError
from scraper.models import PageMetadata, StoredCookie
from scraper.storage import crawl_running, is_postgres, open_crawl_store, open_read_store
from scraper.storage.postgres.schema import REVISIT_COLUMNS
from scraper.storage.sqlite.schema import SCHEMA_VERSION
from scraper.storage.sqlite.store import Store
from tests.conftest import (
    VERSION_5,
    VERSION_6,
    VERSION_7,
    VERSION_8,
    VERSION_9,
    VERSION_10,
    VERSION_11,
    CrawlFn,
    page_record,
    pg_rows,
)


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
VERSION_4 = (
    VERSION_5
    + """
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
)


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


async def test_the_batch_writer_is_not_part_of_the_file(site: TestServer, crawl: CrawlFn):
    """The view and trigger that write a sink batch in one statement are the crawl connection's
    own (TEMP): the file has neither, and a crawl of it afterwards still writes its pages."""
    result = await crawl(site.make_url("/"), max_depth=0)
    assert result.rows("SELECT name FROM sqlite_master WHERE name LIKE 'batch%'") == []
    await crawl(site.make_url("/a"), max_depth=0)
    assert result.rows("SELECT count(*) FROM pages") == [(2,)]


# What a PostgreSQL crawl of version 5 had: no versions, no revisit columns, bodies by URL.
PG_VERSION_11 = "ALTER TABLE pages DROP COLUMN rendered;"
PG_VERSION_10 = PG_VERSION_11 + "DROP TABLE proxy_health;"
PG_VERSION_9 = PG_VERSION_10 + "DROP TABLE captures;"
PG_VERSION_8 = PG_VERSION_9 + "DROP TABLE cookies;"
PG_VERSION_7 = PG_VERSION_8 + "DROP VIEW pages_metadata; DROP TABLE metadata;"
PG_VERSION_6 = PG_VERSION_7 + "DROP VIEW pages_markdown; DROP TABLE chunks; DROP TABLE contents;"
PG_VERSION_5 = (
    PG_VERSION_6
    + "DROP TABLE versions; ALTER TABLE pages "
    + ", ".join(f"DROP COLUMN {name}" for name, _kind in REVISIT_COLUMNS)
    + "; DROP TABLE bodies;"
    " CREATE TABLE bodies (url text PRIMARY KEY, charset text, body bytea NOT NULL);"
    " INSERT INTO bodies SELECT url, 'utf-8', '\\x00' FROM pages WHERE status = 200;"
    " UPDATE meta SET value = '5' WHERE key = 'schema_version';"
)


async def test_a_version_5_postgresql_crawl_is_migrated(pg_url: str):
    """Opening a schema-5 PostgreSQL crawl gives every page its first version and the content
    hash the crawler computes (jsonb's rewritten data included), and each body its version."""
    async with open_crawl_store(pg_url) as store:
        await store.add_urls([(f"http://h.test/{i}", "h.test", 0) for i in range(3)])
        items = await store.claim(3)
        await store.write_batch([
            page_record(items[0], data='{"b": "2", "a": ["1"]}'),
            page_record(items[1]),
            page_record(items[2], status=404, title=None, text=None),
        ])  # fmt: skip
    await pg_rows(pg_url, PG_VERSION_5)
    async with open_crawl_store(pg_url):
        pass
    found = await pg_rows(pg_url, "SELECT url, content_hash, status FROM pages ORDER BY id")
    expected = [
        page_content_hash(200, "text/html", 1, f"t {items[0].url}", "x", '{"a":["1"],"b":"2"}'),
        page_content_hash(200, "text/html", 1, f"t {items[1].url}", "x", None),
        None,
    ]
    assert [row[1] for row in found] == expected
    versions = await pg_rows(pg_url, "SELECT url, change, content_hash FROM versions ORDER BY id")
    assert versions == [(url, "new", h) for (url, h, status) in found if status == 200]
    bodies = await pg_rows(pg_url, "SELECT b.url FROM bodies b JOIN versions v ON v.id = "
                                   "b.version_id ORDER BY 1")  # fmt: skip
    assert [url for (url,) in bodies] == [items[0].url, items[1].url]
    version = await pg_rows(pg_url, "SELECT value FROM meta WHERE key = 'schema_version'")
    assert version == [(str(SCHEMA_VERSION),)]


def _address(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new crawl's address on ``backend``: the session's PostgreSQL database, or a file."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "c.db")


# What each schema version's crawl lacked, as (PostgreSQL, SQLite) scripts.
_DOWNGRADES = {
    6: (PG_VERSION_6, VERSION_6),
    7: (PG_VERSION_7, VERSION_7),
    8: (PG_VERSION_8, VERSION_8),
    9: (PG_VERSION_9, VERSION_9),
    10: (PG_VERSION_10, VERSION_10),
    11: (PG_VERSION_11, VERSION_11),
}
_SCHEMA = "SELECT value FROM meta WHERE key = 'schema_version'"


async def _downgrade(address: str, version: int) -> None:
    """Make the crawl at ``address`` (either backend) what schema ``version`` wrote."""
    postgres, sqlite = _DOWNGRADES[version]
    if is_postgres(address):
        meta = f"UPDATE meta SET value = '{version}' WHERE key = 'schema_version'"
        await pg_rows(address, postgres + meta)
    else:
        with closing(sqlite3.connect(address)) as conn, conn:
            conn.executescript(sqlite)


async def _rows(address: str, *queries: str) -> list[tuple[object, ...]]:
    """The rows of ``queries``, one after the other, on either backend."""
    if is_postgres(address):
        return [row for query in queries for row in await pg_rows(address, query)]
    with closing(sqlite3.connect(address)) as conn:
        return [row for query in queries for row in conn.execute(query).fetchall()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_6_crawl_gets_the_content_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-6 crawl (either backend) adds contents, chunks and pages_markdown, and
    leaves its pages and versions as they were (no page reads as changed)."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address) as store:
        await store.add_urls([("http://h.test/0", "h.test", 0)])
        (item,) = await store.claim(1)
        await store.write_batch([page_record(item)])
    hashes = (
        "SELECT p.content_hash, p.changed_at, v.content_hash FROM pages p "
        "JOIN versions v USING (url)"
    )
    await _downgrade(address, 6)
    before = await _rows(address, hashes)
    async with open_crawl_store(address):
        pass
    check = (
        "SELECT (SELECT count(*) FROM contents), (SELECT count(*) FROM chunks), "
        "(SELECT count(*) FROM pages_markdown)"
    )
    assert await _rows(address, check, _SCHEMA) == [(0, 0, 0), (str(SCHEMA_VERSION),)]
    assert await _rows(address, hashes) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_7_crawl_gets_the_metadata_table(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-7 crawl (either backend) adds metadata and pages_metadata, empty, and
    the next page written gets its row there."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address) as store:
        await store.add_urls([("http://h.test/0", "h.test", 0), ("http://h.test/1", "h.test", 0)])
        first, second = await store.claim(2)
        await store.write_batch([page_record(first)])
    await _downgrade(address, 7)
    async with open_crawl_store(address) as store:
        meta = PageMetadata({"json_ld": []}, simhash=3)
        await store.write_batch([page_record(second, metadata=meta)])
    found = await _rows(address, "SELECT url, simhash FROM pages_metadata", _SCHEMA)
    assert found == [(second.url, 3), (str(SCHEMA_VERSION),)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_8_crawl_gets_the_cookies_table(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-8 crawl (either backend) adds the empty cookies table, and its jar is
    then kept: a saved cookie loads again."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address):
        pass
    await _downgrade(address, 8)
    cookie = StoredCookie("h.test", "/", "sid", "v1", expires=int(time.time()) + 60)
    async with open_crawl_store(address) as store:
        assert await store.load_cookies() == []
        await store.save_cookies([cookie], ())
    async with open_crawl_store(address) as store:
        assert await store.load_cookies() == [cookie]
    assert await _rows(address, _SCHEMA) == [(str(SCHEMA_VERSION),)]


async def test_a_postgresql_crawl_made_before_worker_ends_gets_them(pg_url: str):
    """A crawl whose workers table has no end columns is read as it is (every worker not
    ended) and gets them from the first worker that opens it, which records its end there."""
    async with open_crawl_store(pg_url) as store:
        await store.publish_status('{"state": "running"}')
    await pg_rows(pg_url, "ALTER TABLE workers DROP COLUMN ended_at, DROP COLUMN end_error")
    await pg_rows(pg_url, "UPDATE workers SET name = 'gone:1'")
    async with open_read_store(pg_url) as reader:
        [old] = await reader.workers()
    assert (old.name, old.alive, old.ended_age_s, old.end_error) == ("gone:1", True, None, None)
    assert crawl_running(pg_url)  # its heartbeat is fresh and it never said it left
    async with open_crawl_store(pg_url):
        pass
    async with open_read_store(pg_url) as reader:
        workers = {w.name: w for w in await reader.workers()}
    assert workers["gone:1"].ended_age_s is None
    assert [w.ended_age_s is not None for name, w in workers.items() if name != "gone:1"] == [True]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_9_crawl_gets_the_captures_table(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-9 crawl (either backend) adds the empty captures table (--archive)."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address) as store:
        await store.add_urls([("http://h.test/0", "h.test", 0)])
    await _downgrade(address, 9)
    async with open_crawl_store(address):
        pass
    check = "SELECT (SELECT count(*) FROM captures), (SELECT count(*) FROM pages)"
    assert await _rows(address, check, _SCHEMA) == [(0, 0), (str(SCHEMA_VERSION),)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_10_crawl_gets_the_proxy_health_table(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-10 crawl (either backend) adds an empty proxy_health table, and
    record_proxies then sums each proxy's figures over runs."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address):
        pass
    await _downgrade(address, 10)
    for _ in range(2):
        async with open_crawl_store(address) as store:
            await store.record_proxies([("http://u:***@p:1", 5, 2, "proxy_error: refused")])
    sql = "SELECT proxy, requests, failures, last_error FROM proxy_health"
    found = await _rows(address, sql, _SCHEMA)
    assert found == [("http://u:***@p:1", 10, 4, "proxy_error: refused"), (str(SCHEMA_VERSION),)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_11_crawl_gets_pages_rendered(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Opening a schema-11 crawl (either backend) adds pages.rendered, 0 for its pages (fetched
    over HTTP), and a rendered page written after it is stored with 1."""
    address = _address(backend, tmp_path, request)
    async with open_crawl_store(address) as store:
        await store.add_urls([(f"http://h.test/{i}", "h.test", 0) for i in range(2)])
        first, second = await store.claim(2)
        await store.write_batch([page_record(first)])
    await _downgrade(address, 11)
    async with open_crawl_store(address) as store:
        await store.write_batch([replace(page_record(second), rendered=True)])
    found = await _rows(address, "SELECT url, rendered FROM pages ORDER BY url", _SCHEMA)
    assert found == [(first.url, 0), (second.url, 1), (str(SCHEMA_VERSION),)]
