"""`scraper query`, `search`, `export` and `stats` through the real CLI, on real crawl databases.

Databases come from real crawls of the synthetic site (or, for the memory test, are built with
the real schema); every command runs as a subprocess and its output is parsed with the standard
library and compared with a plain sqlite3 read of the same file.
"""

import asyncio
import csv
import io
import json
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from datasette.utils import detect_fts  # type: ignore[import-untyped]

from scraper.errors import UsageError
from scraper.storage.sqlite.readstore import ReadStore, fts_query
from scraper.storage.sqlite.schema import APPLICATION_ID, SCHEMA, SCHEMA_VERSION
from scraper.testing import CONFIG, cli_peak_rss_code
from tests.conftest import CrawlFn, CrawlResult, assert_one_error_line, run_cli

COMMANDS = [["query", "SELECT 1"], ["search", "home"], ["export", "-f", "jsonl"], ["stats"]]


@pytest.fixture
async def crawled(site: TestServer, crawl: CrawlFn) -> CrawlResult:
    """The synthetic site crawled from its home page (11 pages: Home, Page A, Page B...)."""
    return await crawl(site.make_url("/"))


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def write(db: Path, sql: str, *params: object) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql, params)


def pages_stored(db: Path) -> int:
    """Pages in a database a crawl may still be creating (0 until its schema exists)."""
    try:
        return int(rows(db, "SELECT count(*) FROM pages")[0][0]) if db.exists() else 0
    except sqlite3.OperationalError:
        return 0


def file_state(db: Path) -> tuple[bytes, bytes]:
    """The database file's bytes and its WAL's (a missing or empty WAL holds nothing)."""
    wal = Path(f"{db}-wal")
    return db.read_bytes(), wal.read_bytes() if wal.exists() else b""


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


# -- query --------------------------------------------------------------------------------------

PAGES_SQL = "SELECT id, url, status, title, text, elapsed_ms FROM pages ORDER BY id"
PAGE_KEYS = ["id", "url", "status", "title", "text", "elapsed_ms"]


async def test_query_jsonl_and_json_match_the_database(crawled: CrawlResult):
    """JSON Lines (the default when piped) and JSON hold exactly the rows sqlite3 reads."""
    expected = [dict(zip(PAGE_KEYS, row, strict=True)) for row in rows(crawled.db, PAGES_SQL)]
    assert len(expected) == 11
    db = str(crawled.db)
    (
        (c1, jsonl_out, e1),
        (c2, json_out, e2),
        (c3, default_out, _),
        (c4, empty, _),
    ) = await asyncio.gather(
        run_cli("query", "--db", db, PAGES_SQL, "-f", "jsonl"),
        run_cli("query", "--db", db, PAGES_SQL, "--format", "json"),
        run_cli("query", "--db", db, PAGES_SQL),
        run_cli("query", "--db", db, "SELECT 1 WHERE 0", "-f", "json"),
    )
    assert (c1, c2, c3, c4) == (0, 0, 0, 0), e1 + e2
    assert jsonl(jsonl_out) == jsonl(default_out) == json.loads(json_out) == expected
    assert json.loads(empty) == []


async def test_query_csv_parses_and_matches_the_database(crawled: CrawlResult):
    """CSV output has a BOM, a header and CRLF rows that csv.reader reads back as the rows."""
    code, out, err = await run_cli("query", "--db", str(crawled.db), PAGES_SQL, "-f", "csv")
    assert code == 0, err
    assert out.startswith("\ufeffid,url,")
    assert out.endswith("\r\n")
    header, *body = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"), newline="")))
    assert header == PAGE_KEYS
    expected = [["" if v is None else str(v) for v in row] for row in rows(crawled.db, PAGES_SQL)]
    assert body == expected


async def test_query_table_cuts_long_text_but_json_keeps_it(crawled: CrawlResult):
    """A 200-character cell is cut with an ellipsis in a table and kept whole in jsonl."""
    sql = "SELECT title, printf('%.200c', 'x') AS long FROM pages WHERE title = 'Home'"
    (code, out, err), (_, json_out, _) = await asyncio.gather(
        run_cli("query", "--db", str(crawled.db), sql, "-f", "table"),
        run_cli("query", "--db", str(crawled.db), sql, "-f", "jsonl"),
    )
    assert code == 0, err
    assert "Home" in out
    assert "x" * 79 + "…" in out
    assert "x" * 81 not in out
    assert jsonl(json_out) == [{"title": "Home", "long": "x" * 200}]


async def test_a_table_shows_the_first_1000_rows_and_says_so(crawled: CrawlResult):
    """A table of a 1500-row result shows 1000 rows and warns that jsonl or csv give all."""
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
    sql += "SELECT i FROM n"
    code, out, err = await run_cli("query", "--db", str(crawled.db), sql, "-f", "table")
    assert code == 0, err
    assert " 1000 " in out
    assert " 1001 " not in out
    assert "first 1000 rows" in err


# Through the CLI: the writes named in the issue, each a subprocess.
WRITES = [
    "INSERT INTO meta VALUES ('k', 'v')",
    "UPDATE pages SET title = 'pwned'",
    "DELETE FROM pages",
    "DROP TABLE pages",
    "CREATE TABLE t (x)",
    "ALTER TABLE pages ADD COLUMN x",
    "ATTACH '{tmp}/attached.db' AS a",
    "PRAGMA user_version = 5",
    "PRAGMA journal_mode = DELETE",
    "VACUUM",
    "WITH doomed AS (SELECT id FROM pages) DELETE FROM pages WHERE id IN doomed",
    "SELECT 1; DROP TABLE pages",
]
# In process, through ReadStore (the same code path): more ways to write.
MORE_WRITES = [
    "CREATE TEMP TABLE t (x)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE INDEX i ON pages (title)",
    "DROP INDEX frontier_pending",
    "DROP TRIGGER pages_fts_insert",
    "DETACH main",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA writable_schema = 1",
    "PRAGMA optimize",
    "VACUUM INTO '{tmp}/copy.db'",
    "REINDEX",
    "ANALYZE",
    "BEGIN EXCLUSIVE",
    "SAVEPOINT s",
    "INSERT INTO pages_fts (pages_fts) VALUES ('delete-all')",
    "REPLACE INTO meta VALUES ('schema_version', '9')",
    "UPDATE sqlite_master SET sql = ''",
]


async def test_every_kind_of_write_is_refused_and_the_file_is_unchanged(
    crawled: CrawlResult, tmp_path: Path
):
    """Each write exits 2 with one `refused`/one-statement line; file and WAL keep their bytes."""
    db = crawled.db
    before = file_state(db)
    statements = [sql.format(tmp=tmp_path) for sql in WRITES]
    results = await asyncio.gather(
        *(run_cli("query", "--db", str(db), sql, "-f", "jsonl") for sql in statements)
    )
    for sql, (code, out, err) in zip(statements, results, strict=True):
        assert code == 2, (sql, out, err)
        assert_one_error_line(err, "refused" if ";" not in sql else "one SQL statement")
        assert out == "", sql
    assert file_state(db) == before
    assert not (tmp_path / "attached.db").exists()
    assert rows(db, "SELECT count(*) FROM pages") == [(11,)]
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]


async def test_the_read_store_refuses_more_writes(crawled: CrawlResult, tmp_path: Path):
    """Temp tables, views, indexes, checkpoints, VACUUM INTO, transactions: all refused."""
    before = file_state(crawled.db)
    async with ReadStore(crawled.db) as store:
        for sql in MORE_WRITES:
            with pytest.raises(UsageError) as refusal:
                async with store.rows(sql.format(tmp=tmp_path)) as result:
                    await result.fetch()
            assert "refused" in str(refusal.value) or "may not be modified" in str(refusal.value)
        async with store.rows("SELECT count(*) FROM pages") as result:
            assert await result.fetch() == [(11,)]
    assert file_state(crawled.db) == before
    assert not (tmp_path / "copy.db").exists()


async def test_reading_pragmas_and_functions_are_allowed(crawled: CrawlResult):
    """Pragmas that only report (table_info, integrity_check) and FTS functions still work."""
    async with ReadStore(crawled.db) as store:
        for sql, expected in [
            ("PRAGMA integrity_check", [("ok",)]),
            ("PRAGMA table_info(pages)", None),
            ("SELECT count(*) FROM pragma_table_info('pages')", [(24,)]),
            ("SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'welcome'", [(1,)]),
            ("SELECT json_extract('{\"a\": 1}', '$.a')", [(1,)]),
            ("PRAGMA user_version", [(0,)]),
        ]:
            async with store.rows(sql) as result:
                found = await result.fetch()
            assert found == expected or (expected is None and len(found) == 24), sql


async def test_bad_sql_exits_2_with_sqlites_message(crawled: CrawlResult):
    """SQL that SQLite cannot run exits 2 with SQLite's own message on one line."""
    cases = [
        ("SELEC 1", 'near "SELEC": syntax error'),
        ("SELECT * FROM nope", "no such table: nope"),
        ("SELECT nope FROM pages", "no such column: nope"),
    ]
    results = await asyncio.gather(
        *(run_cli("query", "--db", str(crawled.db), sql) for sql, _ in cases)
    )
    for (sql, message), (code, out, err) in zip(cases, results, strict=True):
        assert (code, out) == (2, ""), sql
        assert_one_error_line(err, message)


async def test_a_query_without_a_statement_is_a_usage_error(crawled: CrawlResult):
    """Empty, blank, `;`-only or comment-only SQL exits 2 saying no statement was given."""
    cases = ["", "   \n", ";", "-- just a comment", "/* a */ ; -- b\n", "/* never closed"]
    results = await asyncio.gather(
        *(run_cli("query", "--db", str(crawled.db), "--", sql) for sql in cases)
    )
    for sql, (code, out, err) in zip(cases, results, strict=True):
        assert (code, out) == (2, ""), sql
        assert_one_error_line(err, "error: no SQL statement given")


async def test_a_reader_that_goes_away_ends_the_output_quietly(crawled: CrawlResult):
    """Output cut off by its reader (`| head`) ends with exit 141 and nothing on stderr."""
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
    script = (
        '"$0" -m scraper query --db "$1" "$2" -f jsonl 2>"$3" | head -n 2; '
        'echo "exit ${PIPESTATUS[0]}"'
    )
    err_file = crawled.db.parent / "err"
    proc = await asyncio.create_subprocess_exec(
        *["bash", "-c", script, sys.executable, str(crawled.db), sql, str(err_file)],
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert out.decode().splitlines() == ['{"i": 1}', '{"i": 2}', "exit 141"]
    assert err_file.read_text() == ""


# -- every command: which files it accepts ------------------------------------------------------


async def test_a_missing_database_exits_2(tmp_path: Path):
    """Each command on a path with no file exits 2 with one line naming it."""
    db = tmp_path / "nothing.db"
    results = await asyncio.gather(*(run_cli(*args, "--db", str(db)) for args in COMMANDS))
    for args, (code, _, err) in zip(COMMANDS, results, strict=True):
        assert code == 2, (args, err)
        assert_one_error_line(err, f"no crawl database at {db}")
    assert not db.exists()


async def test_a_database_that_is_not_a_crawl_exits_1_untouched(tmp_path: Path):
    """Each command on someone else's SQLite file or a text file exits 1, leaving it as it was."""
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    text = tmp_path / "notes.db"
    text.write_text("these are my notes\n" * 100)
    before = {db: db.read_bytes() for db in (other, text)}
    cases = [(db, args) for db in (other, text) for args in COMMANDS]
    results = await asyncio.gather(*(run_cli(*args, "--db", str(db)) for db, args in cases))
    for (db, args), (code, _, err) in zip(cases, results, strict=True):
        assert code == 1, (db, args, err)
        assert_one_error_line(err, "not a crawl database" if db == other else "cannot open")
    assert {db: db.read_bytes() for db in (other, text)} == before


async def test_a_newer_schema_version_is_refused(crawled: CrawlResult):
    """A crawl database from a newer scraper is refused with exit 1 and one line."""
    write(crawled.db, "UPDATE meta SET value = ? WHERE key = 'schema_version'", SCHEMA_VERSION + 1)
    code, _, err = await run_cli("stats", "--db", str(crawled.db))
    assert code == 1
    assert_one_error_line(err, f"schema version {SCHEMA_VERSION + 1}")


# -- search -------------------------------------------------------------------------------------


async def search(db: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = await run_cli("search", "--db", str(db), "-f", "jsonl", *args)
    assert code == 0, err
    return jsonl(out)


async def test_search_ranks_pages_with_the_words_first_and_titles_higher(crawled: CrawlResult):
    """ "welcome test site" finds Home, words marked; "leaf" finds the Leaf page before Page A,
    which only has the word in its text."""
    welcome, leaf = await asyncio.gather(
        search(crawled.db, "welcome", "test site"), search(crawled.db, "leaf")
    )
    assert welcome[0]["title"] == "Home"
    assert welcome[0]["url"].endswith("/")
    for word in ("[Welcome]", "[test]", "[site]"):
        assert word in welcome[0]["snippet"]
    assert set(welcome[0]) == {"url", "title", "snippet", "score"}
    assert [page["title"] for page in leaf] == ["Leaf", "Page A"]
    assert leaf[0]["score"] > leaf[1]["score"]
    assert "[leaf]" in leaf[1]["snippet"]


async def test_search_of_the_title_column_marks_the_word_in_the_title(crawled: CrawlResult):
    """`--raw 'title:leaf'` matches the title only, so its snippet is the title, word marked; a
    word of the text still gets a snippet of the text."""
    titled, texted = await asyncio.gather(
        search(crawled.db, "--raw", "title:leaf"), search(crawled.db, "--raw", "text:leaf")
    )
    assert [(page["title"], page["snippet"]) for page in titled] == [("Leaf", "[Leaf]")]
    assert texted
    assert all("[leaf]" in page["snippet"].lower() for page in texted)


async def test_search_scores_of_a_word_on_every_page_are_not_zero(site: TestServer, crawl: CrawlFn):
    """A word on every page has tiny bm25 values: shown to 3 significant digits, best first,
    not rounded to 0."""
    site.app[CONFIG].gen_pages = 30
    result = await crawl(site.make_url("/gen/0"))
    found = await search(result.db, "generated", "--limit", "0")
    scores = [page["score"] for page in found]
    assert len(scores) == 30
    assert all(0 < score < 1e-3 for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]
    assert all(
        len(f"{score:.6e}".split("e")[0].rstrip("0").replace(".", "")) <= 3 for score in scores
    )


async def test_search_terms_are_plain_words_whatever_their_punctuation(crawled: CrawlResult):
    """Quotes, colons, dashes, parentheses and FTS keywords in terms never cause syntax errors."""
    found, keywords, (code, _, err) = await asyncio.gather(
        search(crawled.db, "--", 'welcome"', "home:", "(test", "-site", "welc*"),
        search(crawled.db, "NOT", "OR", "AND"),
        run_cli("search", "--db", str(crawled.db), '"', ":", "--", "-"),
    )
    assert [page["title"] for page in found] == ["Home"]
    assert keywords == []
    assert code == 2
    assert_one_error_line(err, "nothing to search for")


async def test_raw_search_takes_fts5_syntax_and_reports_its_errors(crawled: CrawlResult):
    """--raw passes FTS5 syntax through (OR, column filters); a syntax error exits 2."""
    found, (code, _, err) = await asyncio.gather(
        search(crawled.db, "--raw", "title:leaf OR title:home"),
        run_cli("search", "--db", str(crawled.db), "--raw", "AND ("),
    )
    assert sorted(page["title"] for page in found) == ["Home", "Leaf"]
    assert code == 2
    assert_one_error_line(err, "syntax error")


async def test_search_limit_and_table(crawled: CrawlResult):
    """--limit caps the pages found; the table shows the words without the markers."""
    two, (code, out, err) = await asyncio.gather(
        search(crawled.db, "page", "--limit", "2"),
        run_cli("search", "--db", str(crawled.db), "welcome", "-f", "table"),
    )
    assert len(two) == 2
    assert code == 0, err
    assert "Welcome to the test site" in out
    assert "\x02" not in out
    assert "[Welcome]" not in out


async def test_search_and_stats_work_while_a_crawl_writes(
    site: TestServer, crawl: CrawlFn, tmp_path: Path
):
    """During a crawl, search, stats and query answer from the database and the crawl goes on."""
    site.app[CONFIG].gen_pages = 300
    site.app[CONFIG].gen_latency_ms = 40  # 280 pages after the first 20: ~3 s left to read in
    async with asyncio.TaskGroup() as tg:

        async def crawl_gen() -> CrawlResult:
            return await crawl(site.make_url("/gen/0"), concurrency=4, per_host=4)

        running = tg.create_task(crawl_gen())
        db = tmp_path / "crawl.db"  # where the crawl fixture writes
        async with asyncio.timeout(20):
            while pages_stored(db) < 20:  # noqa: ASYNC110
                await asyncio.sleep(0.02)  # a file has no event to await
        (
            (s_code, s_out, s_err),
            (t_code, t_out, t_err),
            (q_code, q_out, q_err),
        ) = await asyncio.gather(
            run_cli("search", "--db", str(db), "generated", "page", "-f", "jsonl"),
            run_cli("stats", "--db", str(db), "--json"),
            run_cli("query", "--db", str(db), "SELECT count(*) AS n FROM pages"),
        )
        read_mid_crawl = not running.done()  # asserted once the crawl is over
    assert read_mid_crawl
    assert s_code == 0, s_err
    assert len(jsonl(s_out)) >= 20
    assert t_code == 0, t_err
    mid = json.loads(t_out)
    assert 20 <= mid["pages"] < 300
    assert q_code == 0, q_err
    assert 20 <= jsonl(q_out)[0]["n"] < 300
    assert mid["frontier"]["done"] == mid["pages"]
    result = running.result()
    assert result.summary.pages == 300


# -- export -------------------------------------------------------------------------------------


async def test_export_jsonl_has_every_page_and_column_with_data_as_an_object(
    crawled: CrawlResult,
):
    """JSON Lines export: one object per page, all columns, `data` parsed into an object and
    `links` into an array."""
    write(crawled.db, "UPDATE pages SET data = ? WHERE title = 'Home'", '{"book_price": "£51.77"}')
    code, out, err = await run_cli("export", "--db", str(crawled.db), "--format", "jsonl")
    assert code == 0, err
    exported = jsonl(out)
    columns = [row[1] for row in rows(crawled.db, "PRAGMA table_info(pages)")]
    table = rows(crawled.db, "SELECT * FROM pages ORDER BY id")
    assert [list(page) for page in exported] == [columns] * len(table)
    for page, row in zip(exported, table, strict=True):
        expected = dict(zip(columns, row, strict=True))
        for column in ("data", "links"):
            value = expected[column]
            expected[column] = None if value is None else json.loads(value)
        assert page == expected
    assert exported[0]["data"] == {"book_price": "£51.77"}
    assert any(link.endswith("/a") for link in exported[0]["links"])


async def test_export_csv_opens_in_spreadsheets(crawled: CrawlResult, tmp_path: Path):
    """CSV export: BOM, header, CRLF, awkward cells round-trip, formulas neutralized."""
    awkward = 'Comma, "quote"\nand a newline'
    formula = '=HYPERLINK("http://evil.example/","click")'
    write(crawled.db, "UPDATE pages SET title = ?, description = ? WHERE id = 1", awkward, formula)
    write(crawled.db, "UPDATE pages SET title = ? WHERE id = 2", "-1+1")
    out_file = tmp_path / "pages.csv"
    code, out, err = await run_cli(
        "export", "--db", str(crawled.db), "-f", "csv", "-o", str(out_file)
    )
    assert (code, out) == (0, ""), err
    raw = out_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,url,final_url,status,")
    assert raw.count(b"\r\n") >= 12
    with out_file.open(encoding="utf-8-sig", newline="") as fh:
        header, *body = list(csv.reader(fh))
    assert header == [row[1] for row in rows(crawled.db, "PRAGMA table_info(pages)")]
    assert len(body) == 11
    first = dict(zip(header, body[0], strict=True))
    assert first["title"] == awkward
    assert first["description"] == "'" + formula
    assert dict(zip(header, body[1], strict=True))["title"] == "'-1+1"
    assert first["status"] == "200"


async def test_export_refuses_to_overwrite_its_database(crawled: CrawlResult):
    """`-o` naming the database itself exits 2 and leaves the database whole."""
    before = file_state(crawled.db)
    code, _, err = await run_cli(
        "export", "--db", str(crawled.db), "-f", "csv", "-o", str(crawled.db)
    )
    assert code == 2
    assert_one_error_line(err, "is the database itself")
    assert file_state(crawled.db) == before


async def test_export_into_a_directory_is_a_write_error(crawled: CrawlResult, tmp_path: Path):
    """`-o` naming a directory (or a file in a missing one) exits 1 with one line naming it."""
    missing = tmp_path / "no" / "such" / "pages.jsonl"
    results = await asyncio.gather(
        *(
            run_cli("export", "--db", str(crawled.db), "-f", "jsonl", "-o", str(target))
            for target in (tmp_path, missing)
        )
    )
    for target, (code, out, err) in zip((tmp_path, missing), results, strict=True):
        assert (code, out) == (1, ""), err
        assert_one_error_line(err, f"cannot write {target}: ")
    assert not missing.parent.exists()


def build_big_database(db: Path, pages: int) -> None:
    """A crawl database (real schema, id and version) holding ``pages`` pages of ~1 KB text.

    The full-text trigger is dropped for the bulk insert (indexing 200 MB would take a minute)
    and put back; export does not read the index.
    """
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20)[:1000]
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(
            f"BEGIN; {SCHEMA} INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
            f"PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
        )
        [(trigger,)] = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'pages_fts_insert'"
        ).fetchall()
        conn.execute("DROP TRIGGER pages_fts_insert")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO pages (url, final_url, status, content_type, title, text, depth, "
            "fetched_at, elapsed_ms, size_bytes, data) VALUES (?, ?, 200, 'text/html', ?, ?, 1, "
            "'2025-01-01T00:00:00.000+00:00', 12, 2048, ?)",
            (
                (f"https://example.com/{i}", f"https://example.com/{i}", f"Page {i}", text,
                 f'{{"n": {i}}}')
                for i in range(pages)
            ),
        )  # fmt: skip
        conn.execute(trigger)
        conn.execute("COMMIT")


async def test_exporting_200k_pages_keeps_memory_flat(tmp_path: Path):
    """Exporting 200,000 pages (~250 MB of JSON Lines) writes them all under 120 MB peak RSS."""
    db, out_file, rss_file = tmp_path / "big.db", tmp_path / "pages.jsonl", tmp_path / "rss"
    build_big_database(db, 200_000)
    code = cli_peak_rss_code(rss_file)
    proc = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-c",
            code,
            "export",
            "--db",
            str(db),
            "-f",
            "jsonl",
            "-o",
            str(out_file),
        ],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SCRAPER_DEBUG": "0"},
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    assert proc.returncode == 0, err.decode()
    peak_mb = int(rss_file.read_text()) / 1024
    print(f"export of {out_file.stat().st_size / 2**20:.0f} MB: peak RSS {peak_mb:.1f} MB")
    assert 10 < peak_mb < 120
    assert out_file.stat().st_size > 200 * 2**20
    with out_file.open("rb") as fh:
        first = json.loads(fh.readline())
        count = 1 + sum(1 for _ in fh)
    assert count == 200_000
    assert first["url"] == "https://example.com/0"
    assert first["data"] == {"n": 0}


# -- stats --------------------------------------------------------------------------------------


async def test_stats_match_the_crawl(site: TestServer, crawl: CrawlFn):
    """--json counts pages by status, host and type, the frontier, and failures by reason."""
    result = await crawl(site.make_url("/"), site.make_url("/flaky/9"), retries=0)
    db = result.db
    (code, out, err), (text_code, text, _) = await asyncio.gather(
        run_cli("stats", "--db", str(db), "--json"), run_cli("stats", "--db", str(db))
    )
    assert code == 0, err
    stats = json.loads(out)
    assert stats["pages"] == rows(db, "SELECT count(*) FROM pages")[0][0] == 10
    assert stats["links"] == rows(db, "SELECT count(*) FROM links")[0][0] > 0
    assert stats["status"] == {"200": 9, "404": 1}
    assert stats["hosts"] == {f"{site.host}:{site.port}": 10}
    assert stats["content_types"] == {"text/html": 9, "application/pdf": 1}
    assert stats["frontier"] == {
        "pending": 0, "in_progress": 0, "done": 10, "failed": 2, "blocked": 0
    }  # fmt: skip
    # /flaky/1 and /flaky/9 answer 500 first, and retries=0
    assert stats["failures"] == [{"state": "failed", "reason": "http_500", "urls": 2}]
    [(first, last)] = rows(db, "SELECT min(fetched_at), max(fetched_at) FROM pages")
    assert (stats["first_fetched_at"], stats["last_fetched_at"]) == (first, last)
    assert 0 <= stats["duration_s"] < 10
    assert text_code == 0
    assert "http_500" in text
    assert "404" in text
    assert "pages/s" in text


async def test_stats_show_durations_in_one_format(crawled: CrawlResult):
    """Durations under a minute, under an hour and over it read `5.0 s`, `2 min 13 s`,
    `1 h 02 min`."""
    outputs = []
    for seconds in (5, 133, 3720):
        write(crawled.db, "UPDATE pages SET fetched_at = '2025-01-01T00:00:00.000+00:00'")
        write(
            crawled.db,
            "UPDATE pages SET fetched_at = strftime('%Y-%m-%dT%H:%M:%S.000+00:00', "
            "'2025-01-01 00:00:00', ?) WHERE id = 1",
            f"+{seconds} seconds",
        )
        code, out, err = await run_cli("stats", "--db", str(crawled.db))
        assert code == 0, err
        outputs.append(out)
    durations = [
        line.split("duration", 1)[1].strip()
        for out in outputs
        for line in out.splitlines()
        if line.strip().startswith("duration")
    ]
    assert durations == ["5.0 s", "2 min 13 s", "1 h 02 min"]


async def test_pages_per_host_reads_the_pages_table_alone(crawled: CrawlResult):
    """Every page has its host as the frontier has it, so the README's recipe needs no join."""
    sql = "SELECT host, count(*) AS pages FROM pages GROUP BY host ORDER BY pages DESC"
    code, out, err = await run_cli("query", "--db", str(crawled.db), sql, "-f", "jsonl")
    assert code == 0, err
    [(host,)] = rows(crawled.db, "SELECT DISTINCT host FROM frontier")
    assert jsonl(out) == [{"host": host, "pages": 11}]
    mismatched = (
        "SELECT count(*) FROM pages AS p JOIN frontier AS f USING (url) WHERE p.host IS NOT f.host"
    )
    assert rows(crawled.db, mismatched) == [(0,)]


async def test_datasette_detects_the_full_text_index(crawled: CrawlResult):
    """datasette's own detect_fts finds pages_fts for the pages table of a new database."""
    with closing(sqlite3.connect(crawled.db)) as conn:
        assert detect_fts(conn, "pages") == "pages_fts"


# -- the search query builder -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "query"),
    [
        (["welcome"], '"welcome"'),
        (["welcome test", "site"], '"welcome" "test" "site"'),
        (['say "hi"'], '"say" """hi"""'),
        (["title:home", "a-b"], '"title:home" "a-b"'),
        (["crawl*"], '"crawl"*'),
        (["NOT", "-", "***"], '"NOT"'),
    ],
)
def test_words_become_quoted_fts5_strings(terms: list[str], query: str):
    """Every word is one quoted FTS5 string; a trailing * is a prefix; punctuation is dropped."""
    assert fts_query(terms) == query
