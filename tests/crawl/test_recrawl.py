"""Recrawls: conditional requests, unchanged pages only marked checked, versions, changes, the
revisit schedule, the commands, and a recrawl killed and resumed."""

import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.crawl import Crawl, CrawlSummary, RevisitPlan
from scraper.testing.changing import ROUND, SEEN, make_changing_app
from scraper.timespec import now_iso
from tests.conftest import TEST_SETTINGS, rows

REVISIT = {"min_revisit_s": 100.0, "max_revisit_s": 1000.0}


async def crawl_changing(db: Path, server: TestServer, revisit: RevisitPlan | None = None,
                         **overrides: Any) -> CrawlSummary:  # fmt: skip
    values = {**TEST_SETTINGS, **REVISIT, "db": str(db), **overrides}
    settings = Settings(seeds=(str(server.make_url("/")),), **values)
    return await Crawl(settings, save_settings=revisit is None, revisit=revisit).run()


def by_path(server: TestServer, found: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    base = str(server.make_url("/"))[:-1]
    return {str(row[0]).removeprefix(base): row[1:] for row in found}


async def test_a_recrawl_asks_conditionally_and_stores_only_what_changed(
    tmp_path: Path, aiohttp_server: Any
):
    """ETag and Last-Modified go back as If-None-Match and If-Modified-Since; 304s and pages
    whose content is the same (markup noise aside) get no version; changed pages get one, the
    gone one a removal, the page linked from a changed one is crawled; intervals double or
    halve."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    first = await crawl_changing(db, server)
    assert first.pages == 9
    assert rows(db, "SELECT change, count(*) FROM versions GROUP BY 1") == [("new", 9)]
    before = now_iso()
    app[ROUND][0] = 1
    app[SEEN].clear()
    summary = await crawl_changing(db, server, RevisitPlan())
    assert (summary.revisits, summary.unchanged) == (9, 5)
    seen = {s.path: s for s in app[SEEN]}
    assert Counter(s.path for s in app[SEEN]) == Counter(set(seen))  # each asked once
    assert seen["/etag/1"].if_none_match == '"e1-v0"'
    assert seen["/lm/1"].if_modified_since is not None
    assert seen["/plain/1"].if_none_match is seen["/plain/1"].if_modified_since is None
    assert {p: s.status for p, s in seen.items()} == {
        "/": 200, "/etag/0": 200, "/etag/1": 304, "/lm/0": 200, "/lm/1": 304,
        "/plain/0": 200, "/plain/1": 200, "/noise": 200, "/gone": 404, "/fresh": 200,
    }  # fmt: skip
    assert seen["/etag/1"].body_bytes == 0
    versions = by_path(server, rows(db, "SELECT url, count(*) FROM versions GROUP BY url"))
    assert {p for p, (n,) in versions.items() if n == 2} == {
        "/etag/0",
        "/lm/0",
        "/plain/0",
        "/gone",
    }
    assert versions["/fresh"] == versions["/noise"] == (1,)
    changed = rows(db, "SELECT url, change FROM versions WHERE fetched_at >= ?", before)
    assert sorted(by_path(server, changed).items()) == [
        ("/etag/0", ("changed",)), ("/fresh", ("new",)), ("/gone", ("removed",)),
        ("/lm/0", ("changed",)), ("/plain/0", ("changed",)),
    ]  # fmt: skip
    pages = by_path(server, rows(db, "SELECT url, revisit_s, checked_at >= ?, changed_at >= ? "
                                     "FROM pages", before, before))  # fmt: skip
    assert pages["/etag/1"] == pages["/noise"] == pages["/"] == (200.0, 1, 0)
    assert pages["/etag/0"] == pages["/gone"] == (100.0, 1, 1)
    assert rows(db, "SELECT count(*) FROM pages WHERE next_visit_at <= checked_at") == [(0,)]
    found = rows(db, "SELECT p.url FROM pages_fts JOIN pages p ON p.id = pages_fts.rowid "
                     "WHERE pages_fts MATCH 'etag AND \"version 1\"'")  # fmt: skip
    assert by_path(server, found) == {"/etag/0": ()}
    assert rows(db, "SELECT status, title FROM pages WHERE url LIKE '%/gone'") == [(404, None)]


async def test_a_recrawl_of_a_migrated_database_finds_its_pages_unchanged(
    tmp_path: Path, aiohttp_server: Any
):
    """A schema-5 database gets every page as its first version, with the hashes a recrawl
    compares: nothing changed on the site, so no new version is stored."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server)
    from tests.storage.test_migrations import VERSION_5

    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript(VERSION_5)
    summary = await crawl_changing(db, server, RevisitPlan())
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("6",)]
    assert summary.unchanged == 9  # /noise too: only its markup changes
    assert rows(db, "SELECT change, count(*) FROM versions GROUP BY 1") == [("new", 9)]
