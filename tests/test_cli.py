"""The real CLI in a subprocess: exit codes, one-line errors, warnings and a crawl end to end."""

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import traffic


async def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None):
    """Run ``python -m scraper`` without blocking the loop the test server runs on."""
    env = {**os.environ, "SCRAPER_DEBUG": "0", "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scraper",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=50)
    return proc.returncode, out.decode(), err.decode()


def fast(db: Path) -> list[str]:
    return ["--db", str(db), "--delay", "0", "--retries", "0"]


def assert_one_error_line(err: str, text: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert text in lines[0]


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
