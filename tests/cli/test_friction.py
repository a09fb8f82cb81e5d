"""Small things a new user met: defaults and wording that agree with each other."""

import json
from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import CrawlFn, run_cli


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


async def test_help_names_values_not_python_types():
    """`crawl`, `recrawl` and `search` help name option values (N, S, RE, PATH) or nothing for
    a flag, never a Python type such as <bool>, <int> or <list[str]>."""
    for command in ("crawl", "recrawl", "search"):
        code, out, _ = await run_cli(command, "--help")
        assert code == 0
        options = [line for line in out.splitlines() if "│ --" in line and "--help" not in line]
        assert options, out
        for kind in ("<bool>", "<int>", "<float>", "<str>", "<list[str]>", "<path>"):
            assert not [line for line in options if kind in line], (command, kind)
