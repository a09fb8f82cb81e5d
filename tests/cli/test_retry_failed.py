"""`resume --retry-failed`: failed URLs fetched again, all or by reason; and the hint when
every URL failed for a network reason."""

from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import run_cli

FLAGS = ["--delay", "0", "--retries", "0", "--no-robots"]


async def test_a_crawl_that_only_met_network_failures_says_so(tmp_path: Path):
    """When every URL failed with no answer (DNS, refused connection), the summary hints at the
    network and names --retry-failed; the rerun says how to try the failed URLs again."""
    db = str(tmp_path / "c.db")
    seeds = ["http://no-such-host.invalid/", "http://127.0.0.1:9/"]
    code, out, err = await run_cli("crawl", *seeds, "--db", db, *FLAGS)
    assert code == 0, err
    assert "0 pages stored, 2 failed (" in out
    assert "hint: every URL failed for a network reason (" in err
    assert "is this machine online? Does DNS resolve here? Once it is, run: " in err
    assert f"scraper resume --db {db} --retry-failed" in err
    code, out, err = await run_cli("resume", "--db", db, *FLAGS)
    assert code == 0, err
    assert out.startswith(f"nothing to do: {db} has no pending URL (0 pages); 2 URLs failed (")
    assert out.rstrip().endswith(f"to try them again, run: scraper resume --db {db} --retry-failed")


async def test_resume_retry_failed_fetches_failed_urls_again(site: TestServer, tmp_path: Path):
    """--retry-failed REASON retries only the URLs failed with that reason; a bare
    --retry-failed retries every failed URL, which is fetched and stored once it answers."""
    db = str(tmp_path / "c.db")
    flaky = str(site.make_url("/flaky/1"))  # a 500 the first time, then a page
    code, out, err = await run_cli("crawl", flaky, "http://127.0.0.1:9/", "--db", db, *FLAGS)
    assert code == 0, err
    assert "0 pages stored, 2 failed (" in out
    assert "hint:" not in err  # an http_500 is an answer: the network works
    code, out, err = await run_cli("resume", "--db", db, "--retry-failed", "dns_error", *FLAGS)
    assert code == 0, err
    assert "retrying 0 failed URLs (last_error dns_error)" in err
    assert out.startswith("nothing to do: ")
    code, out, err = await run_cli("resume", "--retry-failed", "--db", db, *FLAGS)
    assert code == 0, err
    assert "retrying 2 failed URLs\n" in err
    assert "1 pages stored, 1 failed (connect_error 1)" in out
    code, out, err = await run_cli("resume", "--db", db, *FLAGS, "--retry-failed", "http_500,x")
    assert code == 0, err
    assert "retrying 0 failed URLs (last_error http_500, x)" in err
