"""Small things a new user met: defaults and wording that agree with each other."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from aiohttp.test_utils import TestServer

from scraper.cli.app import app
from tests.conftest import CrawlFn, assert_one_error_line, run_cli


async def test_export_defaults_to_json_lines(site: TestServer, crawl: CrawlFn):
    """`export` without --format writes JSON Lines, as `query` does into a pipe."""
    result = await crawl(site.make_url("/"), max_depth=0)
    code, out, err = await run_cli("export", "--db", str(result.db))
    assert code == 0, err
    assert [json.loads(line)["url"] for line in out.splitlines()] == [str(site.make_url("/"))]


async def test_older_than_help_and_error_list_the_same_units(tmp_path: Path):
    """`recrawl --older-than`'s help and its error for a bad value give the same examples."""
    code, out, _ = await run_cli("recrawl", "--help")
    assert code == 0
    assert "(90s, 15m, 6h, 2d, 1w)" in " ".join(out.split())
    code, _, err = await run_cli("recrawl", "--older-than", "soon", "--db", str(tmp_path / "c.db"))
    assert code == 2
    assert "(examples: 90s, 15m, 6h, 2d, 1w)" in err


async def test_query_takes_sql_that_starts_with_a_comment(site: TestServer, crawl: CrawlFn):
    """SQL starting with `--` (a comment) is taken as the statement, not as an option."""
    result = await crawl(site.make_url("/"), max_depth=0)
    sql = "-- how many pages\nSELECT count(*) AS n FROM pages"
    code, out, err = await run_cli("query", sql, "--db", str(result.db), "-f", "jsonl")
    assert code == 0, err
    assert json.loads(out) == {"n": 1}
    code, out, err = await run_cli("query", "--db", str(result.db), "-- only a comment")
    assert code == 2
    assert "no SQL statement given" in err


async def test_bad_flags_are_told_in_plain_words_naming_the_flag(tmp_path: Path):
    """An unknown flag, a value of the wrong kind and a value not in a list each get one plain
    error line naming the flag, exit 2."""
    cases = [
        (["crawl", "x", "--bogus"], "error: --bogus is not an option of this command"),
        (["crawl", "x", "--concurrency", "lots"], "error: --concurrency needs a whole number"),
        (["export", "-f", "xml"], "error: --format: 'xml' is not one of 'jsonl', 'csv'"),
    ]
    for args, line in cases:
        code, _, err = await run_cli(*args, "--db", str(tmp_path / "c.db"))
        assert code == 2, args
        assert err.startswith(line), err
        assert len(err.splitlines()) == 1


COMMANDS = ("crawl", "resume", "recrawl", "reparse", "bench", "query", "search", "export",
            "changes", "stats", "status")  # fmt: skip
PYTHON_TYPES = ("<bool>", "<int", "<float", "<str>", "<list[", "<path>")


async def help_at(columns: int, *args: str) -> str:
    """`scraper ARGS --help` as printed on a terminal this many columns wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scraper", *args, "--help", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    assert proc.returncode == 0, err
    return out.decode()


async def test_help_names_values_not_python_types():
    """Every command's help names option values (N, S, RE, PATH) or nothing for a flag, and its
    arguments by a name (URL, SQL, WORDS), never by a Python type such as <bool> or <list[str]>."""
    for command in ("", *COMMANDS):
        out = await help_at(200, *filter(None, [command]))
        for kind in PYTHON_TYPES:
            assert kind not in out, (command, kind, out)
    for command, name in (("crawl", "URL"), ("query", "SQL"), ("search", "WORDS")):
        out = await help_at(200, command)
        assert f"\n  {name}  " in out, out


async def test_help_fits_80_columns_without_breaking_words():
    """At 80 columns no help line is wider, and every option's description reads whole: its
    words are not cut, truncated or broken mid-word."""
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    for command in ("", *COMMANDS):
        out = await help_at(80, *filter(None, [command]))
        assert max(len(line) for line in out.splitlines()) <= 80, (command, out)
        assert "…" not in out
        flat = " ".join(out.split())
        params = root.commands[command].params if command else root.params
        texts = [getattr(param, "help", None) or "" for param in params]
        if not command:  # each command's first sentence whole, not cut with "..."
            texts += [c.get_short_help_str() for c in root.commands.values()]
            assert "..." not in out.split("Commands:")[1], out
        for text in texts:
            assert " ".join(text.split()) in flat, (command, text)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs directory that can be remounted read-only (chmod does not stop root)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


async def test_a_database_in_a_read_only_directory(
    site: TestServer, crawl: CrawlFn, read_only_dir: Path
):
    """In a read-only directory the read commands still read the crawl, and crawl and resume
    say the directory must be writable (one line, exit 1)."""
    db = str(read_only_dir / "c.db")
    await crawl(site.make_url("/"), max_depth=0, db=db)
    remount = ["mount", "-o", "remount,ro", str(read_only_dir)]
    proc = await asyncio.create_subprocess_exec(*remount)
    assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    reads = [
        ["query", "SELECT count(*) AS n FROM pages", "-f", "jsonl"],
        ["search", "Welcome", "-f", "jsonl"],
        ["export"],
        ["stats", "--json"],
        ["status"],
    ]
    for args in reads:
        code, out, err = await run_cli(*args, "--db", db)
        assert code == 0, (args, err)
        assert out, args
    line = f"cannot write the crawl database's directory {read_only_dir} (SQLite's WAL needs it"
    for args in (["crawl", str(site.make_url("/a"))], ["resume"]):
        code, _, err = await run_cli(*args, "--db", db)
        assert code == 1, (args, err)
        assert_one_error_line(err, line)
