"""Recrawls: conditional requests, unchanged pages only marked checked, versions, changes, the
revisit schedule, the commands, and a recrawl killed and resumed."""

import json
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

from scraper.config import Settings
from scraper.crawl import Crawl, RevisitPlan, reparse_bodies
from scraper.models import ExtractRule
from scraper.storage.sqlite.schema import SCHEMA_VERSION
from scraper.testing.changing import ROUND, SEEN, make_changing_app
from scraper.timespec import now_iso
from tests.conftest import (
    FAST,
    REVISIT,
    TEST_SETTINGS,
    VERSION_5,
    by_path,
    crawl_changing,
    pg_rows,
    poll,
    rows,
    run,
    scraper,
)


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
    assert (summary.changed, summary.removed, summary.new_pages) == (4, 1, 1)  # /fresh is new
    assert (summary.pages, summary.earlier, summary.visited) == (10, 9, 10)
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
    """Reading a schema-5 database for changes says how to upgrade it; a recrawl upgrades it,
    every page its first version with the hashes a recrawl compares: nothing changed on the
    site, so no new version is stored."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server)

    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript(VERSION_5)
    code, _, err = await run(tmp_path, "changes", "--since", "1d", "--db", str(db))
    assert code == 2
    assert "has schema version 5, from before revisits; `scraper resume --db" in err
    summary = await crawl_changing(db, server, RevisitPlan())
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert summary.unchanged == 9  # /noise too: only its markup changes
    assert rows(db, "SELECT change, count(*) FROM versions GROUP BY 1") == [("new", 9)]


async def test_the_commands_recrawl_list_changes_and_export_the_delta(
    tmp_path: Path, aiohttp_server: Any
):
    """`recrawl --due` has nothing to do before pages are due; `recrawl --older-than 0s`
    revisits them; `changes --since` lists new, changed and removed pages oldest first;
    `export --changed-since` writes only the pages new or changed since then."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    config = tmp_path / "revisit.toml"
    config.write_text("[recrawl]\nmin_revisit_s = 3600.0\nmax_revisit_s = 7200.0\n")
    code, _, err = await run(tmp_path, "crawl", str(server.make_url("/")), "--db", str(db),
                             *FAST, "--config", str(config))  # fmt: skip
    assert code == 0, err
    code, out, _ = await run(tmp_path, "recrawl", "--due", "--db", str(db))
    assert (code, out.strip()) == (0, "nothing to do: no stored page is due for a revisit")
    before = now_iso()
    app[ROUND][0] = 1
    code, out, err = await run(tmp_path, "recrawl", "--older-than", "0s", "--db", str(db))
    assert code == 0, err
    revisits, totals = out.splitlines()
    assert revisits == (
        "recrawl: 9 of 9 scheduled pages checked (5 unchanged, 3 changed, 1 removed), 1 new page"
    )
    assert totals.startswith("10 pages stored (9 before this run), 0 failed")
    code, out, err = await run(
        tmp_path, "changes", "--since", before, "-f", "jsonl", "--db", str(db)
    )
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    assert [row["change"] for row in listed].count("changed") == 3
    assert {row["change"] for row in listed} == {"new", "changed", "removed"}
    assert [row["at"] for row in listed] == sorted(row["at"] for row in listed)
    code, out, err = await run(tmp_path, "export", "-f", "jsonl", "--changed-since", "10m",
                               "--db", str(db))  # fmt: skip
    assert code == 0, err
    assert len(out.splitlines()) == 9  # the first crawl's pages are 10 minutes old at most
    code, out, err = await run(tmp_path, "export", "-f", "jsonl", "--changed-since", before,
                               "--db", str(db))  # fmt: skip
    assert code == 0, err
    exported = {json.loads(line)["url"] for line in out.splitlines()}
    assert sorted(u.removeprefix(str(server.make_url(""))) for u in exported) == [
        "/etag/0", "/fresh", "/lm/0", "/plain/0",
    ]  # fmt: skip
    code, _, err = await run(tmp_path, "changes", "--since", "yesterday", "--db", str(db))
    assert code == 2
    assert "--since: 'yesterday' is neither an ISO-8601 date" in err


async def test_a_recrawl_killed_and_resumed_checks_every_page_once(
    tmp_path: Path, aiohttp_server: Any
):
    """kill -9 in the middle of a recrawl, then `resume`: every page is checked, none twice
    beyond what was in flight or unflushed, and no version is stored twice or lost."""
    app = make_changing_app(pages=300)
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    flags = ["--db", str(db), *FAST, "--concurrency", "2", "--per-host", "2", "--delay", "0.005"]
    code, _, err = await run(tmp_path, "crawl", str(server.make_url("/")), *flags)
    assert code == 0, err
    before = now_iso()
    app[ROUND][0] = 1
    app[SEEN].clear()
    async with scraper(tmp_path, "recrawl", *flags) as child:
        await poll(lambda: len(app[SEEN]) >= 120 or not child.running, 20)
        assert child.running, child.diagnostics()
        child.proc.kill()
        await child.finish()
    killed_at = len(app[SEEN])
    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    asked = Counter(s.path for s in app[SEEN])
    assert len(asked) == 309 + 1  # every page, and /fresh
    assert sum(asked.values()) - len(asked) <= 2 + 2 * 16  # in flight + unflushed (BATCH)
    assert killed_at < sum(asked.values())
    assert rows(db, "SELECT count(*) FROM pages WHERE checked_at < ?", before) == [(0,)]
    assert rows(db, "SELECT count(*) FROM (SELECT url, content_hash FROM versions "
                    "GROUP BY 1, 2 HAVING count(*) > 1)") == [(0,)]  # fmt: skip
    changes = dict(rows(db, "SELECT change, count(*) FROM versions WHERE fetched_at >= ? "
                            "GROUP BY 1", before))  # fmt: skip
    assert changes == {"changed": 30 + 3, "new": 1, "removed": 1}
    assert rows(db, "SELECT count(*) FROM frontier WHERE state <> 'done'") == [(0,)]


async def test_reparse_re_derives_every_version_from_its_own_body(
    tmp_path: Path, aiohttp_server: Any
):
    """With --store-html each version keeps its body; reparse with a new rule fills every
    version's data from its own body, and the page's from its latest."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server, store_html=True)
    app[ROUND][0] = 1
    await crawl_changing(db, server, RevisitPlan(), store_html=True)
    assert rows(db, "SELECT count(*) FROM bodies") == rows(db, "SELECT count(*) FROM versions")
    rule = ExtractRule("said", "p")
    values: dict[str, Any] = {**TEST_SETTINGS, **REVISIT, "db": str(db), "extract": (rule,)}
    summary = await reparse_bodies(Settings(**values))
    assert summary.pages == rows(db, "SELECT count(*) FROM versions WHERE status = 200")[0][0]
    said = rows(db, "SELECT v.data, p.data FROM versions v JOIN pages p USING (url) "
                    "WHERE v.url LIKE '%/etag/0' ORDER BY v.id")  # fmt: skip
    first, latest = (json.loads(v)["said"] for v, _p in said)
    assert (first, latest) == ("etag page 0 version 0", "etag page 0 version 1")
    assert {json.loads(p)["said"] for _v, p in said} == {"etag page 0 version 1"}


async def test_a_recrawl_on_postgresql_keeps_the_same_history(aiohttp_server: Any, pg_url: str):
    """The same recrawl into PostgreSQL: 304s and unchanged pages add nothing, changed pages a
    version each, the gone one a removal, the new one its first version."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    values: dict[str, Any] = {**TEST_SETTINGS, **REVISIT, "db": pg_url}
    settings = Settings(seeds=(str(server.make_url("/")),), **values)
    await Crawl(settings).run()
    app[ROUND][0] = 1
    app[SEEN].clear()
    summary = await Crawl(settings, save_settings=False, revisit=RevisitPlan()).run()
    assert (summary.revisits, summary.unchanged) == (9, 5)
    statuses = {s.path: s.status for s in app[SEEN]}
    assert (statuses["/etag/1"], statuses["/lm/1"]) == (304, 304)
    found = await pg_rows(pg_url, "SELECT change, count(*) FROM versions GROUP BY 1 ORDER BY 1")
    assert found == [("changed", 3), ("new", 10), ("removed", 1)]
    due = await pg_rows(pg_url, "SELECT count(*) FROM pages WHERE next_visit_at <= checked_at")
    assert due == [(0,)]


async def test_an_interrupted_recrawl_says_how_to_go_on(tmp_path: Path, aiohttp_server: Any):
    """Ctrl-C stops a recrawl like a crawl (exit 130) and names the command that finishes it
    without a page limit, as the recrawl ran, even over a crawl that had one."""
    app = make_changing_app(pages=300)
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    flags = ["--db", str(db), *FAST, "--concurrency", "2", "--per-host", "2", "--delay", "0.005"]
    code, _, err = await run(tmp_path, "crawl", str(server.make_url("/")), *flags,
                             "--max-pages", "309")  # fmt: skip
    assert code == 0, err
    app[SEEN].clear()
    async with scraper(tmp_path, "recrawl", "--db", str(db)) as child:
        await poll(lambda: len(app[SEEN]) >= 60 or not child.running, 20)
        assert child.running, child.diagnostics()
        child.proc.send_signal(signal.SIGINT)
        code, _, err = await child.finish()
    assert code == 130
    assert f"to continue, run: scraper resume --db {db} --max-pages 0" in err
    code, _, err = await run(tmp_path, "resume", "--db", str(db), "--max-pages", "0")
    assert code == 0, err
    assert rows(db, "SELECT count(*) FROM frontier WHERE state <> 'done'") == [(0,)]
    assert len({s.path for s in app[SEEN]}) == 309
