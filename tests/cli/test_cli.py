"""The real CLI in a subprocess: exit codes, one-line errors, warnings and a crawl end to end."""

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import assert_one_error_line, run_cli, traffic


def fast(db: Path) -> list[str]:
    return ["--db", str(db), "--delay", "0", "--retries", "0"]


async def test_missing_seed_file_exits_2_with_one_line(tmp_path: Path):
    """A seed file that does not exist is a usage error: exit 2 and one `error:` line."""
    code, _out, err = await run_cli("crawl", "-i", str(tmp_path / "nope.txt"))
    assert code == 2
    assert_one_error_line(err, "seed file not found")


async def test_no_seeds_at_all_exits_2(tmp_path: Path):
    """`scraper crawl` with neither URLs nor a file says how to give seeds and exits 2."""
    code, _, err = await run_cli("crawl", "--db", str(tmp_path / "x.db"))
    assert code == 2
    assert_one_error_line(err, "no seeds")


# Every command taking --db, with what else it needs to get that far.
DB_COMMANDS = [
    ["crawl", "http://127.0.0.1:9/"], ["resume"], ["recrawl"], ["reparse"], ["query", "SELECT 1"],
    ["search", "word"], ["export", "-f", "jsonl"], ["changes", "--since", "1d"], ["stats"],
    ["status"], ["bench", "--workers", "2"],
]  # fmt: skip


@pytest.mark.parametrize("db", ["mysql://me:s3cret@db/crawl", "postgresq://me@db/crawl"])
async def test_a_database_url_of_another_scheme_is_refused_by_every_command(
    tmp_path: Path, db: str
):
    """--db with a URL scheme other than PostgreSQL's (another database, a typo) is exit 2, one
    line naming the schemes that work (never the password), and nothing is created."""
    scheme = db.split(":")[0]
    for args in DB_COMMANDS:
        code, _out, err = await run_cli(*args, "--db", db, cwd=tmp_path)
        assert code == 2, (args, err)
        assert_one_error_line(err, f"unsupported database URL scheme '{scheme}://'")
        assert "postgresql:// or postgres:// URL, or an SQLite file's path" in err
        assert "s3cret" not in err
    assert os.listdir(tmp_path) == []


async def test_file_of_garbage_exits_2_after_warning_each_line(tmp_path: Path):
    """A seed file with no valid URL warns for each bad line (file:line) and exits 2."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# a comment\n\nnot a url\nftp://example.com/\nhttp://\n")
    code, _, err = await run_cli("crawl", "-i", str(seeds), "--db", str(tmp_path / "x.db"))
    assert code == 2
    assert "Traceback" not in err
    assert f"warning: {seeds}:3: " in err
    assert f"warning: {seeds}:4: " in err
    assert f"warning: {seeds}:5: " in err
    assert ":1:" not in err
    assert ":2:" not in err
    assert err.strip().splitlines()[-1] == "error: no valid seed URL to crawl"
    assert not (tmp_path / "x.db").exists()


async def test_bad_lines_are_skipped_and_good_ones_crawled(site: TestServer, tmp_path: Path):
    """Valid lines of a seed file are crawled while invalid ones are warned about; exit 0."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"garbage line\n{site.make_url('/dir/leaf')}\n")
    db = tmp_path / "crawl.db"
    code, out, err = await run_cli("crawl", "-i", str(seeds), *fast(db))
    assert code == 0, err
    assert f"warning: {seeds}:1: " in err
    assert "1 pages stored" in out
    assert traffic(site).hits == {"/robots.txt": 1, "/dir/leaf": 1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT title FROM pages").fetchall() == [("Leaf",)]


async def test_seeds_from_stdin(site: TestServer, tmp_path: Path):
    """`-i -` reads seeds from standard input."""
    db = tmp_path / "crawl.db"
    stdin = f"{site.make_url('/c')}\n".encode()
    code, _out, err = await run_cli("crawl", "-i", "-", "--max-depth", "0", *fast(db), stdin=stdin)
    assert code == 0, err
    assert traffic(site).hits == {"/robots.txt": 1, "/c": 1}


async def test_failed_pages_do_not_fail_the_crawl(site: TestServer, tmp_path: Path):
    """A crawl whose only page fails still exits 0 and reports the failure in its summary."""
    code, out, err = await run_cli(
        "crawl", str(site.make_url("/flaky/5")), *fast(tmp_path / "c.db")
    )
    assert code == 0, err
    assert "0 pages stored, 1 failed" in out


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--scope", "bogus"], "--scope"),
        (["--concurrency", "0"], "concurrency must be at least 1"),
        (["--max-pages", "many"], "--max-pages"),
        (["--deny", "(unclosed"], "bad regular expression"),
        (["--config", "/nonexistent.toml"], "config file not found"),
    ],
)
async def test_bad_options_exit_2_with_one_line(tmp_path: Path, args: list[str], text: str):
    """A bad flag value is one `error:` line and exit code 2, never a traceback."""
    code, _, err = await run_cli(
        "crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "x.db"), *args
    )
    assert code == 2
    assert_one_error_line(err, text)


async def test_config_with_unknown_key_exits_2(tmp_path: Path):
    """A settings file with an unknown key names the key and exits 2."""
    config = tmp_path / "my.toml"
    config.write_text("[crawl]\nconcurrenc = 3\n")
    code, _, err = await run_cli("crawl", "http://127.0.0.1:9/", "--config", str(config))
    assert code == 2
    assert_one_error_line(err, "unknown setting [crawl] concurrenc")


async def test_database_that_is_not_a_crawl_exits_1_untouched(tmp_path: Path):
    """Crawling into someone else's SQLite file is refused in one line; the file is unchanged."""
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    before = db.read_bytes()
    code, _, err = await run_cli("crawl", "http://127.0.0.1:9/", "--db", str(db))
    assert code == 1
    assert_one_error_line(err, "not a crawl database")
    assert db.read_bytes() == before


async def test_file_that_is_not_sqlite_exits_1(tmp_path: Path):
    """A --db path holding a text file is refused in one line and left as it was."""
    db = tmp_path / "notes.db"
    db.write_text("these are my notes\n" * 100)
    code, _, err = await run_cli("crawl", "http://127.0.0.1:9/", "--db", str(db))
    assert code == 1
    assert_one_error_line(err, "cannot open database")
    assert db.read_text() == "these are my notes\n" * 100


async def test_help_lists_the_crawl_command():
    """`scraper --help` exits 0 and names the crawl command."""
    code, out, _ = await run_cli("--help")
    assert code == 0
    assert "crawl" in out


def stored_settings(db: Path) -> dict[str, Any]:
    """The settings a crawl stored in its database (meta.settings, JSON)."""
    with sqlite3.connect(db) as conn:
        (text,) = conn.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    settings: dict[str, Any] = json.loads(text)
    return settings


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        (
            ["crawl", "--help"],
            ["[default: data/scraper.db]", "[default: 16]", "[default: 4]", "[default: 0.25]",
             "[default: 20]", "[default: host]", "[default: 30]", "[default: 3]",
             "[default: --robots]", "[default: --no-store-html]"],
        ),
        (["resume", "-h"], ["[default: data/scraper.db]", "[default: 16]", "[default: 0.25]"]),
        (["query", "-h"], ["Output format. [default: table on a terminal, else jsonl]"]),
        (["search", "--help"], ["Output format. [default: table on a terminal, else jsonl]"]),
        (["export", "-h"], ["Output format."]),
        (["-h"], ["--version", "crawl"]),
    ],
)  # fmt: skip
async def test_help_shows_defaults_and_descriptions(args: list[str], texts: list[str]):
    """`--help` (or `-h`) of each command shows every option's real default and description."""
    code, out, err = await run_cli(*args)
    assert code == 0, err
    flat = " ".join(out.split())
    for text in texts:
        assert text in flat


async def test_version_prints_the_package_version():
    """`scraper --version` prints the installed version and exits 0."""
    code, out, err = await run_cli("--version")
    assert (code, out, err) == (0, "scraper 0.1.0\n", "")


async def test_out_of_range_values_name_the_flag_or_the_config_key(tmp_path: Path):
    """A value out of range names the flag it came from, or the file and key of the config."""
    db = str(tmp_path / "x.db")
    code, _, err = await run_cli("crawl", "http://127.0.0.1:9/", "--db", db, "--delay", "-1")
    assert code == 2
    assert_one_error_line(err, "error: --delay must be at least 0 (got -1")
    config = tmp_path / "x.toml"
    config.write_text("[politeness]\ndelay_s = -1\n")
    code, _, err = await run_cli(
        "crawl", "http://127.0.0.1:9/", "--db", db, "--config", str(config)
    )
    assert code == 2
    assert_one_error_line(err, f"error: {config}: [politeness] delay_s must be at least 0 (got -1")


async def test_summary_groups_the_crawls_failures_by_reason(site: TestServer, tmp_path: Path):
    """The summary names why pages failed, most frequent reason first, over the whole crawl."""
    db = tmp_path / "c.db"
    seeds = [str(site.make_url(f"/flaky/{n}")) for n in (5, 6)] + ["http://127.0.0.1:9/gone"]
    code, out, err = await run_cli("crawl", *seeds, *fast(db), "--no-robots")
    assert code == 0, err
    assert "0 pages stored, 3 failed (http_500 2, connect_error 1), 0 blocked" in out
    code, out, err = await run_cli("crawl", str(site.make_url("/flaky/7")), *fast(db))
    assert code == 0, err
    assert "0 pages stored, 4 failed (http_500 3, connect_error 1), 0 blocked" in out


async def test_plain_progress_line_names_the_latest_failure(site: TestServer, tmp_path: Path):
    """Without a terminal, the progress line written every 5 s names the latest failure."""
    failing, slow = site.make_url("/flaky/5"), site.make_url("/slow/6000")
    code, _, err = await run_cli("crawl", str(failing), str(slow), *fast(tmp_path / "c.db"))
    assert code == 0, err
    progress = [line for line in err.splitlines() if " pages · " in line]
    assert progress, err
    assert progress[0].endswith(f" · last failure: http_500 {failing}")


async def test_resume_at_the_page_limit_says_so_and_how_to_go_on(site: TestServer, tmp_path: Path):
    """Resuming a crawl stopped by --max-pages names the limit, the pending URLs and the flag."""
    db = tmp_path / "c.db"
    code, _, err = await run_cli("crawl", str(site.make_url("/")), *fast(db), "--max-pages", "2")
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        (pending,) = conn.execute(
            "SELECT count(*) FROM frontier WHERE state = 'pending'"
        ).fetchone()
    assert pending > 0
    how = f"to go on, run: scraper resume --db {db} --max-pages 4 (0: no limit)"
    assert how in err
    traffic(site).hits.clear()
    code, out, err = await run_cli("resume", "--db", str(db))
    assert code == 0, err
    assert out.startswith(
        "nothing to do: the page limit is reached (2 pages stored, --max-pages 2) "
        f"and {pending} URLs are pending; {how}"
    )
    assert traffic(site).hits == {}


async def test_adding_a_seed_keeps_the_stored_settings(site: TestServer, tmp_path: Path):
    """`crawl URL --db` into an existing crawl runs with its stored settings, flags for that run
    only, and stores only the new seed."""
    db = tmp_path / "c.db"
    first, second = str(site.make_url("/dir/leaf")), str(site.make_url("/c"))
    code, _, err = await run_cli("crawl", first, *fast(db), "--max-depth", "0", "--per-host", "3")
    assert code == 0, err
    traffic(site).hits.clear()
    code, _, err = await run_cli("crawl", second, "--db", str(db), "--per-host", "2")
    assert code == 0, err
    assert traffic(site).hits == {"/robots.txt": 1, "/c": 1}  # max_depth 0, delay 0: stored
    stored = stored_settings(db)
    assert (stored["max_depth"], stored["per_host"], stored["delay_s"]) == (0, 3, 0.0)
    assert stored["seeds"] == [first, second]


async def test_a_config_over_an_existing_crawl_is_for_this_run(site: TestServer, tmp_path: Path):
    """`crawl URL --config` into an existing crawl applies the file to that run, like `resume`,
    and leaves the stored settings as they were."""
    db = tmp_path / "c.db"
    code, _, err = await run_cli("crawl", str(site.make_url("/dir/leaf")), *fast(db))
    assert code == 0, err
    config = tmp_path / "deep0.toml"
    config.write_text("[crawl]\nmax_depth = 0\n")
    traffic(site).hits.clear()
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/c")), *fast(db), "--config", str(config)
    )
    assert code == 0, err
    assert traffic(site).hits == {"/robots.txt": 1, "/c": 1}
    assert stored_settings(db)["max_depth"] == 20
