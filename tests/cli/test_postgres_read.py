"""`scraper query`, `search`, `export`, `stats` and `status` on a crawl database on PostgreSQL.

Each test gets a new database on the session's server, holding the PostgreSQL schema and rows
inserted with psycopg (the same rows go into an SQLite crawl database where the outputs are
compared); the commands run as subprocesses with ``--db <url>``.
"""

import asyncio
import json
import os
import re
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scraper.crawl.status import FlightInfo, HostInfo, Snapshot
from scraper.errors import StoreError, UsageError
from scraper.storage import crawl_running, open_read_store
from scraper.storage.postgres import readonly
from scraper.storage.postgres.schema import SCHEMA as PG_SCHEMA
from scraper.storage.sqlite.schema import APPLICATION_ID, SCHEMA, SCHEMA_VERSION
from scraper.testing import PostgresServer, cli_peak_rss_code
from scraper.testing.postgres import free_port
from tests.conftest import assert_one_error_line, run_cli

COLUMNS = (
    "url, final_url, status, content_type, title, description, text, depth, fetched_at, "
    "elapsed_ms, size_bytes, data, links, host"
)
# (url, title, text, status, content_type, fetched_at, data, links): data as jsonb writes it
# (keys shortest first), links as SQLite keeps them (compact).
PAGES = [
    ("https://a.test/", "Home", "Welcome to the test site. Read the leaf page.", 200,
     "text/html", "2026-12-06T00:00:00.000+00:00", '{"a": "£51.77", "bb": ["x", "y"]}',
     '["https://a.test/leaf","https://a.test/b"]'),
    ("https://a.test/leaf", "Leaf", "A page at the end of the tree.", 200, "text/html",
     "2026-12-06T00:00:02.500+00:00", None, '["https://a.test/"]'),
    ("https://a.test/b", '=HYPERLINK("x")', 'Comma, "quote"\nnewline; crawler crawling', 404,
     "text/html", "2026-12-06T00:01:05.123+00:00", None, None),
    ("https://b.test/doc.pdf", None, None, 200, "application/pdf",
     "2026-12-06T00:02:00.000+00:00", None, None),
]  # fmt: skip
FRONTIER = [
    ("https://a.test/", "a.test", 0, "done", None),
    ("https://a.test/leaf", "a.test", 1, "done", None),
    ("https://a.test/b", "a.test", 1, "done", None),
    ("https://b.test/doc.pdf", "b.test", 1, "done", None),
    ("https://a.test/gone", "a.test", 2, "failed", "http_500"),
    ("https://a.test/later", "a.test", 2, "pending", None),
]


def page_rows() -> list[tuple[Any, ...]]:
    return [
        (url, url, status, ctype, title, None, text, 0 if url.endswith(".test/") else 1,
         fetched, 12, 345, data, links, url.split("/")[2])
        for url, title, text, status, ctype, fetched, data, links in PAGES
    ]  # fmt: skip


def fill_postgres(url: str, *, pages: bool = True) -> None:
    """The PostgreSQL schema and the rows of PAGES and FRONTIER."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PG_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '5')")
        if pages:
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO pages ({COLUMNS}) VALUES ({', '.join(['%s'] * 14)})",
                    page_rows(),
                )
                cur.executemany(
                    "INSERT INTO frontier (url, host, depth, state, last_error) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    FRONTIER,
                )


def fill_sqlite(db: Path) -> None:
    """The same crawl in an SQLite crawl database (real schema, id and version)."""
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.executescript(
            f"BEGIN; {SCHEMA} INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
            f"PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
        )
        conn.executemany(f"INSERT INTO pages ({COLUMNS}) VALUES ({', '.join('?' * 14)})",
                         page_rows())  # fmt: skip
        conn.executemany(
            "INSERT INTO frontier (url, host, depth, state, last_error) VALUES (?, ?, ?, ?, ?)",
            FRONTIER,
        )


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def crawl_pg(pg_url: str) -> str:
    fill_postgres(pg_url)
    return pg_url


@pytest.fixture
def both(crawl_pg: str, tmp_path: Path) -> tuple[str, str]:
    """The same crawl on PostgreSQL and in an SQLite file: (url, path)."""
    db = tmp_path / "crawl.db"
    fill_sqlite(db)
    return crawl_pg, str(db)


async def cli_ok(*args: str) -> str:
    code, out, err = await run_cli(*args)
    assert code == 0, (args, err)
    return str(out)


# -- the same output as SQLite ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "table"])
async def test_query_output_is_the_same_as_on_sqlite(both: tuple[str, str], fmt: str):
    """A query of every kind of column prints the same bytes from both backends."""
    sql = (
        "SELECT id, url, status, title, text, fetched_at, data, links, size_bytes * 2 AS twice "
        "FROM pages ORDER BY id"
    )
    pg, lite = await asyncio.gather(*(cli_ok("query", "--db", db, sql, "-f", fmt) for db in both))
    assert pg == lite
    assert "2026-12-06T00:01:05.123+00:00" in pg


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_is_the_same_as_on_sqlite(both: tuple[str, str], fmt: str):
    """Export writes every page, SQLite's columns (not `search`), byte for byte as on SQLite."""
    pg, lite = await asyncio.gather(*(cli_ok("export", "--db", db, "-f", fmt) for db in both))
    assert pg == lite
    if fmt == "jsonl":
        first = json.loads(pg.splitlines()[0])
        assert first["data"] == {"a": "£51.77", "bb": ["x", "y"]}
        assert first["links"] == ["https://a.test/leaf", "https://a.test/b"]
        assert "search" not in first


async def test_stats_are_the_same_as_on_sqlite(both: tuple[str, str]):
    """stats --json and the text sections agree between the backends."""
    (pg_json, lite_json, pg_text, lite_text) = await asyncio.gather(
        *(cli_ok("stats", "--db", db, "--json") for db in both),
        *(cli_ok("stats", "--db", db) for db in both),
    )
    assert json.loads(pg_json) == json.loads(lite_json)
    assert pg_text == lite_text
    stats = json.loads(pg_json)
    assert stats["pages"] == 4
    assert stats["links"] == 3
    assert stats["status"] == {"200": 3, "404": 1}
    assert stats["failures"] == [{"state": "failed", "reason": "http_500", "urls": 1}]
    assert stats["duration_s"] == 120.0


async def test_an_empty_result_still_has_its_columns(crawl_pg: str):
    """A query without rows prints its CSV header, as SQLite does."""
    out = await cli_ok("query", "--db", crawl_pg, "SELECT url, title FROM pages WHERE false",
                       "-f", "csv")  # fmt: skip
    assert out == "\ufeffurl,title\r\n"


# -- read-only, enforced by PostgreSQL ----------------------------------------------------------

REFUSED = [
    "DELETE FROM pages",
    "COMMIT; DELETE FROM pages",
    "SELECT 1; DELETE FROM pages",
    "UPDATE pages SET title = 'x'",
    "INSERT INTO meta VALUES ('k', 'v')",
    "DROP TABLE pages",
    "CREATE TABLE t (x int)",
    "TRUNCATE pages",
    "WITH d AS (DELETE FROM pages RETURNING 1) SELECT * FROM d",
    "SELECT * FROM pages FOR UPDATE",
    "SELECT nextval(pg_get_serial_sequence('pages', 'id'))",
    "SET default_transaction_read_only = off",
    "SELECT set_config('transaction_read_only', 'off', true), count(*) FROM pages",
    "COPY pages TO '{tmp}/copy.txt'",
    "COPY (SELECT 1) TO PROGRAM 'touch {tmp}/program'",
    "SELECT lo_export(lo_from_bytea(0, 'x'), '{tmp}/lo.txt')",
    "SELECT lo_export(1, '{tmp}/lo.txt')",
    "SELECT pg_read_file('/etc/hostname')",
    "SELECT * FROM pg_ls_dir('.')",
    "DO $$BEGIN DELETE FROM pages; END$$",
    "CALL nothing()",
    "VACUUM pages",
    "LOAD 'plpgsql'",
]


@pytest.fixture
def shared_tmp(tmp_path: Path) -> Path:
    """A directory the server's user could write into (so that only the guard stops it)."""
    path = tmp_path / "server"
    path.mkdir()
    path.chmod(0o777)
    tmp_path.chmod(0o755)
    return path


async def test_every_write_is_refused_and_nothing_is_written(crawl_pg: str, shared_tmp: Path):
    """Writes, several statements, server files and code: exit 2, one line, nothing changed."""
    statements = [sql.format(tmp=shared_tmp) for sql in REFUSED]
    results = await asyncio.gather(
        *(run_cli("query", "--db", crawl_pg, sql, "-f", "jsonl") for sql in statements)
    )
    for sql, (code, out, err) in zip(statements, results, strict=True):
        assert (code, out) == (2, ""), (sql, err)
        # `COMMIT; ...` is refused for its COMMIT before PostgreSQL counts its statements
        expected = "one SQL statement" if sql.startswith("SELECT 1;") else "refused"
        assert_one_error_line(err, expected)
    assert pg_rows(crawl_pg, "SELECT count(*) FROM pages") == [(4,)]
    assert pg_rows(crawl_pg, "SELECT count(*) FROM meta") == [(1,)]
    assert pg_rows(crawl_pg, "SELECT count(*) FROM pg_largeobject_metadata") == [(0,)]
    assert os.listdir(shared_tmp) == []


async def test_another_session_cannot_be_terminated(crawl_pg: str):
    """pg_terminate_backend and pg_cancel_backend of another session are refused."""
    with psycopg.connect(crawl_pg, autocommit=True) as other:
        pid = other.info.backend_pid
        for function in ("pg_terminate_backend", "pg_cancel_backend"):
            code, _, err = await run_cli("query", "--db", crawl_pg, f"SELECT {function}({pid})")
            assert code == 2
            assert_one_error_line(err, "refused")
        assert other.execute("SELECT 1").fetchone() == (1,)


async def test_settings_changed_in_one_statement_do_not_reach_the_next(crawl_pg: str):
    """A session setting turned off by one statement (SET or set_config) leaves the next
    statements read-only: each runs in a READ ONLY transaction of its own."""
    async with open_read_store(crawl_pg) as store:
        for sql in (
            "SET default_transaction_read_only = off",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            "RESET ROLE",
        ):
            with pytest.raises(UsageError, match="refused"):
                async with store.rows(sql) as rows:
                    await rows.fetch()
        for sql in (
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            "SELECT set_config('role', 'none', false)",
        ):
            async with store.rows(sql) as rows:
                assert await rows.fetch() == [("off" if "read_only" in sql else "none",)]
            with pytest.raises(UsageError, match="refused"):
                async with store.rows("DELETE FROM pages") as rows:
                    await rows.fetch()
            with pytest.raises(UsageError, match="refused"):
                async with store.rows("SELECT pg_read_file('/etc/hostname')") as rows:
                    await rows.fetch()
        async with store.rows("SELECT count(*) AS n FROM pages") as rows:
            assert await rows.fetch() == [(4,)]


async def test_reports_and_queries_of_every_type_work(crawl_pg: str):
    """EXPLAIN, SHOW and values of types SQLite lacks (dates, intervals, arrays, numeric)."""
    async with open_read_store(crawl_pg) as store:
        for sql, expected in [
            ("SHOW TimeZone", [("UTC",)]),
            ("SELECT avg(elapsed_ms), sum(size_bytes) FROM pages", [(12.0, 1380)]),
            ("SELECT date '2026-12-06', interval '1 day', ARRAY[1, 2], true",
             [("2026-12-06", "1 day", "[1, 2]", True)]),
            ("SELECT min(fetched_at)::date FROM pages", [("2026-12-06",)]),
            ("SELECT jsonb_array_length(links) FROM pages WHERE id = 1", [(2,)]),
        ]:  # fmt: skip
            async with store.rows(sql) as rows:
                assert await rows.fetch() == expected, sql
        async with store.rows("EXPLAIN SELECT * FROM pages") as rows:
            assert rows.columns == ("QUERY PLAN",)
            assert "Seq Scan on pages" in str(await rows.fetch())


async def test_a_slow_statement_is_stopped_by_the_timeout(
    crawl_pg: str, monkeypatch: pytest.MonkeyPatch
):
    """statement_timeout ends a statement that runs too long, with one line (exit 1)."""
    monkeypatch.setattr(readonly, "STATEMENT_TIMEOUT_S", 0.2)
    async with open_read_store(crawl_pg) as store:
        with pytest.raises(StoreError, match="statement timeout"):
            async with store.rows("SELECT pg_sleep(5)") as rows:
                await rows.fetch()


async def test_bad_sql_is_postgresqls_message_on_one_line(crawl_pg: str):
    """Syntax errors and unknown names exit 2 with PostgreSQL's message, one line."""
    cases = [
        ("SELEC 1", 'syntax error at or near "SELEC"'),
        ("SELECT * FROM nope", 'relation "nope" does not exist'),
        ("SELECT nope FROM pages", 'column "nope" does not exist'),
    ]
    results = await asyncio.gather(*(run_cli("query", "--db", crawl_pg, sql) for sql, _ in cases))
    for (sql, message), (code, out, err) in zip(cases, results, strict=True):
        assert (code, out) == (2, ""), sql
        assert_one_error_line(err, message)


# -- search -------------------------------------------------------------------------------------


async def search(url: str, *args: str) -> list[dict[str, Any]]:
    out = await cli_ok("search", "--db", url, "-f", "jsonl", *args)
    return [json.loads(line) for line in out.splitlines()]


async def test_search_ranks_titles_first_and_marks_words(crawl_pg: str):
    """ "leaf" finds the Leaf page (title) before Home (text), words marked in the snippet;
    plain words are all required, whatever their punctuation; a trailing * is a prefix."""
    leaf, welcome, punctuated, prefix, keywords = await asyncio.gather(
        search(crawl_pg, "leaf"),
        search(crawl_pg, "welcome", "test site"),
        search(crawl_pg, "--", 'welcome"', "site:", "(test", "-read", "o'clock*"),
        search(crawl_pg, "crawl*"),
        search(crawl_pg, "NOT", "OR", "AND"),
    )
    assert [page["title"] for page in leaf] == ["Leaf", "Home"]
    assert leaf[0]["score"] > leaf[1]["score"] > 0
    assert leaf[0]["snippet"] == "[Leaf]"  # only the title has the word: the title's snippet
    assert "[leaf]" in leaf[1]["snippet"]
    assert set(leaf[0]) == {"url", "title", "snippet", "score"}
    assert [page["title"] for page in welcome] == ["Home"]
    for word in ("[Welcome]", "[test]", "[site]"):
        assert word in welcome[0]["snippet"]
    assert punctuated == []  # o'clock is on no page: every word is required
    assert [page["url"] for page in prefix] == ["https://a.test/b"]
    assert keywords == []


async def test_raw_search_takes_websearch_syntax(crawl_pg: str):
    """--raw is websearch_to_tsquery: `or`, `-word` and quoted phrases; --limit caps it."""
    either, without, phrase, one = await asyncio.gather(
        search(crawl_pg, "--raw", "leaf or crawler"),
        search(crawl_pg, "--raw", "leaf -welcome"),
        search(crawl_pg, "--raw", '"end of the tree"'),
        search(crawl_pg, "leaf", "--limit", "1"),
    )
    assert sorted(page["title"] for page in either) == ['=HYPERLINK("x")', "Home", "Leaf"]
    assert [page["title"] for page in without] == ["Leaf"]
    assert [page["title"] for page in phrase] == ["Leaf"]
    assert [page["title"] for page in one] == ["Leaf"]
    code, _, err = await run_cli("search", "--db", crawl_pg, '"', "--")
    assert code == 2
    assert_one_error_line(err, "nothing to search for")


async def test_search_table_highlights_without_markers(crawl_pg: str):
    """The table shows the words without the markers."""
    out = await cli_ok("search", "--db", crawl_pg, "welcome", "-f", "table")
    assert "Welcome to the test site" in out
    assert "\x02" not in out
    assert "[Welcome]" not in out


# -- export streams -----------------------------------------------------------------------------


async def test_exporting_100k_pages_keeps_memory_flat(pg_url: str, tmp_path: Path):
    """100,000 pages of ~1 KB stream through a server-side cursor under 120 MB peak RSS."""
    fill_postgres(pg_url, pages=False)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE pages DROP COLUMN search")  # indexing would take long
        conn.execute(
            f"INSERT INTO pages ({COLUMNS}) SELECT 'https://example.com/' || i, "
            "'https://example.com/' || i, 200, 'text/html', 'Page ' || i, NULL, "
            "repeat('Lorem ipsum dolor sit amet. ', 36), 1, '2025-01-01T00:00:00Z', 12, 2048, "
            "jsonb_build_object('n', i), NULL, 'example.com' FROM generate_series(0, 99999) AS i"
        )
    out_file, rss_file = tmp_path / "pages.jsonl", tmp_path / "rss"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", cli_peak_rss_code(rss_file),
        "export", "--db", pg_url, "-f", "jsonl", "-o", str(out_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SCRAPER_DEBUG": "0"},
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    assert proc.returncode == 0, err.decode()
    peak_mb = int(rss_file.read_text()) / 1024
    assert out_file.stat().st_size > 100 * 1000 * 1000
    print(f"export of 100,000 pages from PostgreSQL: peak RSS {peak_mb:.1f} MB")
    assert 10 < peak_mb < 120, peak_mb
    with out_file.open("rb") as fh:
        first = json.loads(fh.readline())
        count = 1 + sum(1 for _ in fh)
    assert count == 100_000
    assert first["data"] == {"n": 0}
    assert first["fetched_at"] == "2025-01-01T00:00:00.000+00:00"


# -- status -------------------------------------------------------------------------------------


def snapshot(pid: int, state: str, url: str | None) -> str:
    """A worker's snapshot, fetching ``url`` (None: fetching nothing, holding no host)."""
    return Snapshot(
        pid=pid, state=state, updated_at="2026-12-06T00:00:00.000+00:00",
        started_at="2026-12-06T00:00:00.000+00:00", elapsed_s=12.0,
        counters={"stored": pid}, rates_per_min={"stored": 6.0},
        in_flight=[FlightInfo(url, "a.test", 1.5, 1)] if url else [],
        hosts=[HostInfo("a.test", 3, 1, 0.5, 0.2)] if url else [],
    ).to_json()  # fmt: skip


async def test_status_shows_every_worker_and_a_dead_one(crawl_pg: str):
    """Two workers: the live one with its in-flight URL, the silent one said dead."""
    with psycopg.connect(crawl_pg, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workers (name, heartbeat_at, status) VALUES "
            "('m1:101', now(), %s), ('m2:202', now() - interval '1 minute', %s)",
            (snapshot(101, "running", "https://a.test/live"),
             snapshot(202, "running", "https://a.test/stuck")),
        )  # fmt: skip
    assert crawl_running(crawl_pg)
    text, as_json = await asyncio.gather(
        cli_ok("status", "--db", crawl_pg), cli_ok("status", "--db", crawl_pg, "--json")
    )
    lines = text.splitlines()
    assert lines[0].endswith("running; 2 workers, 1 alive, 1 dead")
    assert any(line.startswith("worker m1:101 (pid 101, running), heartbeat ") for line in lines)
    dead = [line for line in lines if line.startswith("worker m2:202")]
    assert len(dead) == 1
    assert "dead, no heartbeat for 6" in dead[0]
    assert "https://a.test/live" in text
    assert "https://a.test/stuck" not in text  # a dead worker's in-flight URLs are not its own
    report = json.loads(as_json)
    assert report["running"] is True
    assert [(w["name"], w["alive"]) for w in report["workers"]] == [
        ("m1:101", True), ("m2:202", False)
    ]  # fmt: skip
    assert report["snapshot"]["pid"] == 101


async def test_status_of_a_crawl_whose_workers_all_died(crawl_pg: str):
    """No heartbeat for a minute: not running, and the resume command without a password."""
    with psycopg.connect(crawl_pg, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workers (name, heartbeat_at, status) "
            "VALUES ('m1:1', now() - interval '1 minute', %s)",
            (snapshot(1, "running", "https://a.test/x"),),
        )
    assert not crawl_running(crawl_pg)
    out = await cli_ok("status", "--db", crawl_pg)
    assert out.splitlines()[0].endswith("not running; 1 worker, 0 alive, 1 dead")
    assert f"run: scraper resume --db {crawl_pg}" in out


async def test_status_says_how_workers_ended_and_not_that_they_died(crawl_pg: str):
    """Workers that left (finished, stopped by a signal, failed), heartbeats still fresh: not
    running, each said as it ended, none dead; the resume command, as not all finished."""
    with psycopg.connect(crawl_pg, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO workers (name, heartbeat_at, status, ended_at, end_error) VALUES "
            "('m1:1', now(), %s, now() - interval '2 s', NULL), "
            "('m2:2', now(), %s, now() - interval '3 s', NULL), "
            "('m3:3', now(), %s, now(), 'database unavailable for 60 s: gone')",
            (snapshot(1, "finished", None), snapshot(2, "interrupted", None),
             snapshot(3, "running", "https://a.test/x")),
        )  # fmt: skip
    assert not crawl_running(crawl_pg)
    text, as_json = await asyncio.gather(
        cli_ok("status", "--db", crawl_pg), cli_ok("status", "--db", crawl_pg, "--json")
    )
    lines = text.splitlines()
    assert lines[0].endswith("not running; 3 workers, 0 alive, 1 finished, 1 stopped, 1 failed")
    # Ages as the CLI saw them (its start-up may take seconds on a loaded machine): each
    # worker's own, 1 s apart as ended.
    ages = {
        m[1]: float(m[2])
        for m in re.finditer(r"^worker (m\d):\d \(pid \d\): \w+ ([\d.]+)s ago", text, re.M)
    }
    assert any(line.startswith("worker m1:1 (pid 1): finished ") for line in lines), text
    assert any(line.startswith("worker m2:2 (pid 2): stopped ") for line in lines), text
    assert ages["m1"] >= 2.0, text
    assert abs(ages["m2"] - ages["m1"] - 1.0) < 0.15, text
    assert abs(ages["m1"] - ages["m3"] - 2.0) < 0.15, text
    failed = [line for line in lines if line.startswith("worker m3:3 (pid 3): failed ")]
    assert failed == [failed[0]]
    assert failed[0].endswith("s ago: database unavailable for 60 s: gone")
    assert "dead" not in text
    assert "https://a.test/x" not in text  # an ended worker fetches nothing
    assert f"run: scraper resume --db {crawl_pg}" in text
    report = json.loads(as_json)
    assert report["running"] is False
    ends = [(w["ended"], w["alive"], w["error"] is None) for w in report["workers"]]
    assert ends == [("finished", False, True), ("stopped", False, True), ("failed", False, False)]


async def test_status_names_an_idle_worker_and_why(crawl_pg: str):
    """A live worker holding no host while the other holds every host with pending URLs is
    idle, for that reason; once nothing is pending, for that one."""
    with psycopg.connect(crawl_pg, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO hosts (host, owner, lease_until) VALUES "
            "('a.test', 'm1:1', now() + interval '30 s'), ('b.test', NULL, NULL)"
        )
        conn.execute(
            "INSERT INTO workers (name, heartbeat_at, status) VALUES "
            "('m1:1', now(), %s), ('m2:2', now(), %s)",
            (snapshot(1, "running", "https://a.test/later"), snapshot(2, "running", None)),
        )
    text, as_json = await asyncio.gather(
        cli_ok("status", "--db", crawl_pg), cli_ok("status", "--db", crawl_pg, "--json")
    )
    lines = text.splitlines()
    headline = "running; 2 workers, 2 alive, 1 idle: every host with pending URLs is held"
    assert lines[0].endswith(headline), text
    assert any(line.startswith("worker m1:1 (pid 1, running), ") and line.endswith(
        "s ago, holds 1 host") for line in lines), text  # fmt: skip
    assert any(line.endswith("s ago, holds 0 hosts, idle") for line in lines), text
    report = json.loads(as_json)
    assert [(w["hosts_held"], w["idle"]) for w in report["workers"]] == [(1, False), (0, True)]
    assert report["pending_hosts"] == {"hosts": 1, "held": 1}
    with psycopg.connect(crawl_pg, autocommit=True) as conn:
        conn.execute("UPDATE frontier SET state = 'done'")
    text = await cli_ok("status", "--db", crawl_pg)
    assert text.splitlines()[0].endswith("running; 2 workers, 2 alive, 1 idle: no URL is pending")


# -- errors -------------------------------------------------------------------------------------


async def test_unreachable_missing_or_foreign_databases_are_one_line(
    pg_server: PostgresServer, pg_url: str
):
    """A server that does not answer, a database or role that does not exist, a database that
    is not a crawl: exit 1, one line, never the password."""
    down = f"postgresql://me:s3cret@127.0.0.1:{free_port()}/crawl"
    missing = pg_server.url("no_such_db").replace("postgres@", "postgres:s3cret@")
    cases = [
        (down, "cannot connect to postgresql://me@127.0.0.1:"),
        (missing, 'database "no_such_db" does not exist'),
        (pg_server.url(user="nobody"), 'role "nobody" does not exist'),
        (pg_url, "is not a crawl database"),
        ("postgresql://[bad", "invalid PostgreSQL address"),
    ]
    for command in (["query", "SELECT 1"], ["stats"], ["status"], ["export", "-f", "jsonl"]):
        results = await asyncio.gather(*(run_cli(*command, "--db", url) for url, _ in cases))
        for (url, message), (code, out, err) in zip(cases, results, strict=True):
            assert (code, out) == (2 if "[bad" in url else 1, ""), (command, url, err)
            assert_one_error_line(err, message)
            assert "s3cret" not in err
